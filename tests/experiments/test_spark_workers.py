"""check_python_workers: a local Spark session whose Python workers run another interpreter
(PYSPARK_PYTHON unset, 'python3' on PATH without pandas) is refused before any mapInPandas job,
with the fix, instead of dying on the executor with ModuleNotFoundError (found in the session 5
acceptance check: a venv used without activating it). No Spark needed: fake sessions."""

from __future__ import annotations

import stat
import sys
from types import SimpleNamespace

import pytest

from causal import CausalError
from causal.experiments import _spark


def _session(exe: str, master: str = "local[2]", app: str = "app-1") -> SimpleNamespace:
    return SimpleNamespace(
        sparkContext=SimpleNamespace(pythonExec=exe, master=master, applicationId=app)
    )


def _python_without_pandas(tmp_path) -> str:
    exe = tmp_path / "python3"
    exe.write_text(
        "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'pandas'\" >&2\nexit 1\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(exe)


def test_workers_that_cannot_import_pandas_are_refused_with_the_fix(tmp_path):
    exe = _python_without_pandas(tmp_path)
    with pytest.raises(CausalError, match="PYSPARK_PYTHON") as err:
        _spark.check_python_workers(_session(exe, app="app-refused"))
    msg = str(err.value)
    assert exe in msg and "No module named 'pandas'" in msg and sys.executable in msg


def test_a_missing_interpreter_is_refused(tmp_path):
    with pytest.raises(CausalError, match="FileNotFoundError"):
        _spark.check_python_workers(_session(str(tmp_path / "nope"), app="app-missing"))


def test_this_interpreter_and_clusters_are_not_checked(tmp_path):
    exe = _python_without_pandas(tmp_path)
    _spark.check_python_workers(_session(sys.executable))  # the same interpreter: no subprocess
    _spark.check_python_workers(_session(exe, master="yarn"))  # a cluster's business


def test_a_working_interpreter_passes_and_is_checked_once(tmp_path, monkeypatch):
    (tmp_path / "py").symlink_to(sys.executable)  # the same Python under another path
    session = _session(str(tmp_path / "py"), app="app-ok")
    _spark.check_python_workers(session, ("json",))
    calls = []
    monkeypatch.setattr(_spark.subprocess, "run", lambda *a, **k: calls.append(a))
    _spark.check_python_workers(session, ("json",))
    assert calls == []
