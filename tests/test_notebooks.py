"""Every notebook in notebooks/ is a user story: execute each top to bottom on small data.

Notebooks never skip: the data they read ship with the repository (``tests/data``, found
through ``CAUSAL_DATA``) or are simulated; ``CAUSAL_SMALL=1`` makes them use small sizes.
"""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIMEOUT_S = 600  # per cell; the notebooks run on small data


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{path.name} is committed with outputs; clear them"
    )
    monkeypatch.setenv("CAUSAL_DATA", str(ROOT / "tests" / "data"))
    monkeypatch.setenv("CAUSAL_SMALL", "1")
    client = nbclient.NotebookClient(
        nb, timeout=TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # kernel cwd: outputs stay out of repo
    )  # fmt: skip
    client.execute()
    errors = [
        out for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    ]  # fmt: skip
    assert not errors


def test_the_user_stories_are_there():
    # Guards against the glob silently matching nothing because of a moved folder.
    names = {p.stem for p in NOTEBOOKS}
    assert {"quickstart", "what_works_content_boosts", "warehouse_duckdb"} <= names
