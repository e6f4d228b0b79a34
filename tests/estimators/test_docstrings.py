"""Every public name's docstring example works as a reader would paste it: in an empty namespace.

Doctests collected from a module see that module's globals, so an example that forgets its own
``import`` passes there and fails for the reader (found in the session 5 acceptance check:
``nuisances``, ``dr_scores``, ``aipw_scores``, ``crump_threshold``, the ``rules`` helpers...
used without an import). Two checks: every name an example reads is imported or assigned
earlier in it (static, all examples, always on), and the examples run in an empty namespace
(always on for the cheap ones; the ones that fit estimators are ``slow``).
"""

from __future__ import annotations

import ast
import builtins
import doctest

import pytest

import estimators
import estimators.inference
import estimators.rules

MODULES = (estimators, estimators.inference, estimators.rules)
# examples that fit estimators (seconds each): run under -m slow
FITTING = {
    "AutoCate", "CausalForest", "DRLearner", "LinearDML", "SLearner", "TLearner", "XLearner",
    "evaluate", "policy_tree", "target_top_share", "tradeoff", "dose_response", "nuisances",
    "dr_scores", "honest_cate", "inference",  # the module example fits LinearDML
}  # fmt: skip


def _examples() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(recurse=False)
    seen: set[int] = set()
    out = []
    for mod in MODULES:
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if id(obj) in seen or not callable(obj):
                continue
            seen.add(id(obj))
            out += [t for t in finder.find(obj, f"{mod.__name__}.{name}", globs={}) if t.examples]
    out += [t for t in finder.find(estimators.inference, globs={}) if t.examples]
    return out


EXAMPLES = _examples()


def _unbound_names(test: doctest.DocTest) -> list[str]:
    """Names read before the example binds them (imports, assignments, loop variables...)."""
    bound = set(dir(builtins))
    missing = []
    for ex in test.examples:
        tree = ast.parse(ex.source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
        for node in ast.walk(tree):
            loads = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            if loads and node.id not in bound:
                missing.append(node.id)
    return sorted(set(missing))


def _short(test: doctest.DocTest) -> str:
    return test.name.removeprefix("estimators.").removeprefix("inference.").removeprefix("rules.")


def test_examples_were_found():
    names = {t.name for t in EXAMPLES}
    assert {"estimators.inference.nuisances", "estimators.crump_threshold"} <= names


def test_the_static_check_catches_a_missing_import():
    parser = doctest.DocTestParser()
    bad = parser.get_doctest(">>> import numpy as np\n>>> r = crump_threshold(np.ones(3))\n",
                             {}, "bad", None, 0)  # fmt: skip
    assert _unbound_names(bad) == ["crump_threshold"]


@pytest.mark.parametrize("test", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_example_imports_what_it_uses(test):
    assert _unbound_names(test) == [], f"{test.name}: import these in the example"


def _run(test: doctest.DocTest) -> None:
    test.globs = {}  # what a reader pasting the example has: nothing imported
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    lines: list[str] = []
    result = runner.run(test, out=lines.append)
    assert result.failed == 0, "".join(lines)


CHEAP = [t for t in EXAMPLES if _short(t) not in FITTING]
FITS = [t for t in EXAMPLES if _short(t) in FITTING]


@pytest.mark.parametrize("test", CHEAP, ids=[t.name for t in CHEAP])
def test_cheap_example_runs_in_an_empty_namespace(test):
    _run(test)


@pytest.mark.slow
@pytest.mark.parametrize("test", FITS, ids=[t.name for t in FITS])
def test_fitting_example_runs_in_an_empty_namespace(test):
    _run(test)
