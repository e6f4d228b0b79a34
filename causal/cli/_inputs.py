"""Checks on the DATA argument and ``--database`` before any engine reads them.

Each problem a user can type (a directory, an empty file, a glob matching nothing or files with
different columns, a database file that is not a DuckDB database) becomes a
:class:`~causal.ConfigError` naming the path and the fix, instead of a DuckDB traceback.
Shared by every command that takes DATA.
"""

from __future__ import annotations

import glob as _glob
from pathlib import Path

from causal._errors import ConfigError

__all__ = ["check_data_path", "check_database"]

_PARQUET = (".parquet", ".pq")
_TABLE_SUFFIXES = (*_PARQUET, ".csv")
_GLOB_CHARS = set("*?[")


def _columns(path: str) -> list[str]:
    """Column names (and types for Parquet) of one file, read from its header/metadata only."""
    if path.lower().endswith(_PARQUET):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as exc:
            raise ConfigError(
                f"DATA file '{path}' is not a readable Parquet file ({exc}). Check that it is "
                "complete and not corrupted."
            ) from None
        return [f"{f.name}: {f.type}" for f in schema]
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = fh.readline().rstrip("\r\n")
    return header.split(",")


def check_data_path(data: str) -> None:
    """Fail early, with the path and the fix, on DATA that no engine can read.

    Examples
    --------
    >>> check_data_path("no/such/file.parquet")
    Traceback (most recent call last):
    ...
    causal._errors.ConfigError: DATA 'no/such/file.parquet' does not exist.
    """
    if "://" in data:  # a remote path (s3://, https://): the engine reads and reports it
        return
    if any(c in _GLOB_CHARS for c in data):
        files = sorted(_glob.glob(data))
        if not files:
            raise ConfigError(f"DATA '{data}' matches no files.")
        if not data.lower().endswith(_TABLE_SUFFIXES):
            raise ConfigError(
                f"DATA '{data}' must name .parquet or .csv files (e.g. 'folder/*.parquet')."
            )
        for f in files:
            check_data_path(f)
        first = _columns(files[0])
        for f in files[1:]:
            cols = _columns(f)
            if cols != first:
                diff = sorted(set(cols) ^ set(first)) or ["the column order"]
                raise ConfigError(
                    f"The files of DATA '{data}' have different columns: '{files[0]}' and "
                    f"'{f}' differ in {', '.join(diff[:6])}. Read files with the same "
                    "columns together, or pass one file."
                )
        return
    path = Path(data)
    if path.is_dir():
        raise ConfigError(
            f"DATA '{data}' is a folder; pass a file, or a glob such as '{path / '*.parquet'}'."
        )
    if not data.lower().endswith(_TABLE_SUFFIXES):
        raise ConfigError(
            f"DATA '{data}' is not a .parquet/.csv file; for a table name pass --database."
        )
    if not path.exists():
        raise ConfigError(f"DATA '{data}' does not exist.")
    if path.stat().st_size == 0:
        raise ConfigError(f"DATA file '{data}' is empty.")
    if data.lower().endswith(_PARQUET):
        _columns(data)  # reads the footer: a corrupt or truncated file fails here, by name
    elif not _columns(data) or _columns(data) == [""]:
        raise ConfigError(f"DATA file '{data}' has no header row (column names).")


def check_database(database: Path) -> None:
    """``--database`` must be an existing DuckDB database file (not Parquet/CSV, not a folder).

    Examples
    --------
    >>> check_database(Path("missing.duckdb"))
    Traceback (most recent call last):
    ...
    causal._errors.ConfigError: The DuckDB database 'missing.duckdb' does not exist.
    """
    if not database.exists():
        raise ConfigError(f"The DuckDB database '{database}' does not exist.")
    if database.is_dir():
        raise ConfigError(f"--database '{database}' is a folder; give a DuckDB database file.")
    if database.suffix.lower() in _TABLE_SUFFIXES:
        raise ConfigError(
            f"--database '{database}' is a {database.suffix} file, not a DuckDB database; "
            f"pass it as DATA without --database (causal readout {database} ...)."
        )
    with open(database, "rb") as fh:
        head = fh.read(16)
    if len(head) < 12 or head[8:12] != b"DUCK":
        raise ConfigError(
            f"--database '{database}' is not a DuckDB database file. Give a database created "
            "by DuckDB, or pass a .parquet/.csv file as DATA without --database."
        )
