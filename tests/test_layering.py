"""The layering rule of DESIGN.md, and lazy heavy imports, checked on the real source tree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Layers from top to bottom; a module may import its own layer or any layer below it.
LAYERS = [
    "causal.cli",
    "causal.report",
    "causal.workflows",
    "causal.explain",
    "causal.graph",
    "causal.spark",
    "causal.experiments",
    "causal.data",
    "causal.stats",
]
# Always importable from anywhere inside causal: the root package, its error tree, atomic IO.
SHARED = {"causal", "causal._errors", "causal._io"}
# Deliberate upward imports, each inside a method: DESIGN.md's entry point `ww.report(path)` and
# "results render in Jupyter through the same code the reports use" (module -> allowed import).
ALLOWED_UPWARD = {("causal.workflows._results", "causal.report._whatworks")}


def _layer(module: str) -> int | None:
    for i, name in enumerate(LAYERS):
        if module == name or module.startswith(name + "."):
            return i
    return None


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno))
    return out


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_estimators_import_nothing_from_causal():
    offenders = [
        f"{p.relative_to(ROOT)}:{line} imports {mod}"
        for p in _sources("estimators")
        for mod, line in _imports(p)
        if mod == "causal" or mod.startswith("causal.")
    ]
    assert not offenders, "estimators must not import causal:\n" + "\n".join(offenders)


def test_causal_imports_point_downwards():
    offenders = []
    for p in _sources("causal"):
        here = _layer(_module_name(p))
        if here is None:
            continue
        for mod, line in _imports(p):
            if mod in SHARED or not mod.startswith("causal"):
                continue
            if (_module_name(p), mod) in ALLOWED_UPWARD:
                continue
            there = _layer(mod)
            if there is not None and there < here:
                offenders.append(f"{p.relative_to(ROOT)}:{line} imports {mod} (a higher layer)")
    assert not offenders, "imports must point down the layers:\n" + "\n".join(offenders)


def _private_estimators_imports(tree: ast.AST) -> list[tuple[str, int]]:
    """``estimators._x`` modules (and ``_x`` names from ``estimators``) a module imports."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("estimators._")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("estimators._"):
                out.append((node.module, node.lineno))
            elif node.module == "estimators":
                out += [
                    (f"estimators.{a.name}", node.lineno)
                    for a in node.names
                    if a.name.startswith("_")
                ]
    return out


def test_private_estimators_import_check_catches_each_form():
    code = (
        "import estimators._aipw\nfrom estimators._scores import band_limits\n"
        "from estimators import _rules\nfrom estimators import evaluate\n"
        "from estimators.inference import cluster_cr2\nimport estimators.rules\n"
    )
    found = _private_estimators_imports(ast.parse(code))
    assert found == [("estimators._aipw", 1), ("estimators._scores", 2), ("estimators._rules", 3)]


def test_causal_uses_only_public_estimators_modules():
    # ARCHITECTURE.md: causal reaches estimators through its public API; what only specialists
    # need is in estimators.inference (fitted nuisances, scores, CR2, bands) and
    # estimators.rules (input rules); the private modules may change without notice.
    offenders = [
        f"{p.relative_to(ROOT)}:{line} imports {mod}"
        for p in _sources("causal")
        for mod, line in _private_estimators_imports(ast.parse(p.read_text(), filename=str(p)))
    ]
    assert not offenders, (
        "causal must import estimators' public names (estimators, estimators.inference, "
        "estimators.rules), not its private modules:\n" + "\n".join(offenders)
    )


HEAVY = ["dowhy", "shap", "statsmodels", "lightgbm", "matplotlib", "econml", "sklearn"]


@pytest.mark.parametrize(
    "statement",
    [
        "import causal",
        "import causal; causal.Design; causal.ExperimentDesign",
        "import causal.cli; causal.cli._register()",
    ],
)
def test_heavy_libraries_import_lazily(statement):
    code = f"{statement}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert res.stdout.strip() == "", f"'{statement}' imported heavy modules: {res.stdout}"


def test_readout_command_stays_light(tmp_path):
    # DESIGN.md: `causal readout` must not pay for dowhy, shap, statsmodels or lightgbm
    # (matplotlib is allowed: readout.html carries a plot).
    data = tmp_path / "e.csv"
    data.write_text("arm,y\n" + "".join(f"{'c' if i % 2 else 't'},{i % 7}\n" for i in range(400)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("variant: arm\ncontrol: c\nmetrics:\n  - {name: y, type: mean, column: y}\n")
    code = (
        "import sys\nfrom causal.cli import main\n"
        f"main(['readout', {str(data)!r}, '--config', {str(cfg)!r}, '--out', "
        f"{str(tmp_path / 'out')!r}, '-q'])\n"
        f"print(','.join(m for m in {[h for h in HEAVY if h != 'matplotlib']!r} "
        "if m in sys.modules))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert (tmp_path / "out" / "readout.json").is_file()
    assert res.stdout.strip() == "", f"causal readout imported heavy modules: {res.stdout}"
