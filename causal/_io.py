"""Atomic file writes shared by every layer: a temp file in the target folder, then os.replace.

A reader never sees a half-written file, and a failed write leaves the old file (if any) intact.
:func:`output_set` does the same for a set of files (a command's outputs): they are written
into a temporary folder and moved into place together, only once all of them are complete.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "atomic_write",
    "json_safe",
    "output_set",
    "table_format",
    "write_json_atomic",
    "write_table",
    "write_text_atomic",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)``, then move the temporary file onto ``path`` in one step.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(p, lambda tmp: pathlib.Path(tmp).write_text("hi")).read_text()
    'hi'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


@contextmanager
def output_set(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Write a set of output files together: yield a temporary folder, then move its files.

    Write every output into the yielded folder (sub-folders allowed). When the ``with`` block
    completes, each file replaces the file of the same name under ``out_dir`` (``os.replace``,
    so each move is atomic and all happen only after every file is complete); other files in
    ``out_dir`` are left alone. When the block raises, nothing under ``out_dir`` changes (the
    previous run's files stay as they were), the temporary folder is removed, and ``out_dir``
    itself is removed again if this call created it. ``out_dir`` is created if needed.

    Raises
    ------
    ConfigError
        ``out_dir`` names an existing file, or cannot be created (names the path).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> with output_set(out) as tmp:
    ...     _ = (tmp / "a.json").write_text("{}")
    ...     _ = (tmp / "a.html").write_text("<p>")
    >>> sorted(p.name for p in out.iterdir())
    ['a.html', 'a.json']
    """
    from causal._errors import ConfigError

    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise ConfigError(
            f"The output folder '{target}' is an existing file; give a folder name (it is "
            "created if needed)."
        )
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".causal-tmp-", dir=target))
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the output folder '{target}': {exc.strerror or exc}."
        ) from None
    try:
        yield staging
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        for f in files:  # fail before moving anything if a file cannot go where it should
            dest = target / f.relative_to(staging)
            if dest.is_dir():
                raise ConfigError(f"Cannot write '{dest}': a folder of that name exists.")
        mode = 0o666 & ~_umask()
        for f in files:
            dest = target / f.relative_to(staging)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(f, mode)
            os.replace(f, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)


def write_text_atomic(text: str, path: str | os.PathLike[str]) -> Path:
    """Write UTF-8 text to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def json_safe(obj: Any) -> Any:
    """Plain-JSON form: numpy scalars to Python, NaN/inf to ``None``, tuples to lists.

    Examples
    --------
    >>> json_safe({"a": float("nan"), "b": np.int64(3), "c": (1.5, np.inf)})
    {'a': None, 'b': 3, 'c': [1.5, None]}
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [json_safe(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def write_json_atomic(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as strict JSON (no NaN/Infinity tokens: they become null), atomically."""
    text = json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n"
    return write_text_atomic(text, path)


_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def table_format(path: str | os.PathLike[str]) -> str:
    """``"parquet"`` or ``"csv"`` from a file name; ValueError for anything else."""
    fmt = _FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"'{path}' must end in .parquet or .csv")
    return fmt


def write_table(df: pd.DataFrame, out: str | os.PathLike[str]) -> Path:
    """Write ``df`` to ``out`` (.parquet or .csv, by extension) atomically; return the path.

    Errors (bad extension, a directory, an unwritable place) raise
    :class:`~causal.ConfigError` naming the path.

    Examples
    --------
    >>> import pathlib, tempfile, pandas as pd
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_table(pd.DataFrame({"a": [1, 2]}), d / "t.csv").name
    't.csv'
    """
    from causal._errors import ConfigError

    path = Path(out)
    try:
        fmt = table_format(path)
    except ValueError:
        raise ConfigError(
            f"The output file '{path}' must end in .parquet or .csv "
            f"(got '{path.suffix or 'no extension'}')."
        ) from None
    if path.is_dir():
        raise ConfigError(f"The output path '{path}' is a directory; give a file name.")

    def write(tmp: str) -> None:
        if fmt == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)

    try:
        return atomic_write(path, write)
    except OSError as exc:
        raise ConfigError(f"Cannot write '{path}': {exc.strerror or exc}.") from exc
