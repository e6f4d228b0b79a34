"""Every public name's docstring example runs as a user would paste it: in an empty namespace.

Doctests collected from a module see that module's globals, so an example that forgets its
own ``import`` passes there and fails for the reader (found in the session 5 acceptance
check: ``nuisances``, ``dr_scores``, ``aipw_scores``, ``crump_threshold``, ... used unimported).
"""

from __future__ import annotations

import doctest

import pytest

import estimators
import estimators.inference
import estimators.rules

MODULES = (estimators, estimators.inference, estimators.rules)


def _examples() -> list[tuple[str, doctest.DocTest]]:
    finder = doctest.DocTestFinder(recurse=False)
    seen: set[int] = set()
    out = []
    for mod in MODULES:
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if id(obj) in seen or not callable(obj):
                continue
            seen.add(id(obj))
            for test in finder.find(obj, f"{mod.__name__}.{name}", globs={}):
                if test.examples:
                    out.append((test.name, test))
    for test in finder.find(estimators.inference, "estimators.inference", globs={}):
        if test.examples:
            out.append((test.name, test))
    return out


EXAMPLES = _examples()


def test_examples_were_found():
    names = {name for name, _ in EXAMPLES}
    assert {"estimators.inference.nuisances", "estimators.crump_threshold"} <= names


@pytest.mark.parametrize("test", [t for _, t in EXAMPLES], ids=[n for n, _ in EXAMPLES])
def test_example_runs_in_an_empty_namespace(test):
    test.globs = {}  # what a reader pasting the example has: nothing imported
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    lines: list[str] = []
    result = runner.run(test, out=lines.append)
    assert result.failed == 0, "".join(lines)
