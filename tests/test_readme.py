"""Every code block in README.md runs as written (the sizes in it are small on purpose).

- ``python`` blocks run in order in one namespace (later blocks use earlier names), in a
  temporary folder;
- ``yaml`` blocks whose first line is ``# <name>.yaml`` are written to that file there;
- ``bash`` blocks run line by line: ``causal ...`` through this interpreter's console entry
  point, ``make <target>`` as ``make -n <target>`` (a dry run: the target exists and its recipe
  expands; running it would create a virtualenv).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)
TIMEOUT_S = 600


def _blocks() -> list[tuple[str, str]]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_has_the_blocks_we_check():
    kinds = [k for k, _ in _blocks()]
    assert kinds.count("python") >= 2 and "bash" in kinds and kinds.count("yaml") >= 2
    assert set(kinds) <= {"python", "bash", "yaml"}, set(kinds)


def test_readme_code_blocks_run(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for kind, body in _blocks():
        if kind == "yaml":
            first = body.splitlines()[0]
            name = re.fullmatch(r"#\s*(\S+\.ya?ml)\s*", first)
            assert name, f"a yaml block must start with '# <file>.yaml': {first!r}"
            (tmp_path / name.group(1)).write_text(body, encoding="utf-8")
    for kind, body in _blocks():
        if kind == "python":
            exec(compile(body, "README.md", "exec"), namespace)
        elif kind == "bash":
            for raw in body.splitlines():
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                words = shlex.split(line)
                if words[0] == "make":
                    cmd = ["make", "-n", "-C", str(ROOT), *words[1:]]
                elif words[0] == "causal":
                    cmd = [sys.executable, "-m", "causal.cli", *words[1:]]
                else:
                    pytest.fail(f"README bash line not covered by this test: {raw!r}")
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S,
                                     cwd=tmp_path, check=False)  # fmt: skip
                assert res.returncode == 0, f"{raw!r} failed:\n{res.stderr[-3000:]}"
    assert (tmp_path / "what_works.html").exists()
    assert {p.name for p in (tmp_path / "whatworks").iterdir()} == {
        "report.html",
        "summary.json",
        "effects.parquet",
    }
    assert (tmp_path / "readout" / "readout.json").exists()
