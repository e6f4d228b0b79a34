"""Readers: a pandas DataFrame, a .parquet/.csv path or a DuckDB table, into the layer that needs it.

DuckDB is the embedded engine (in-process, no server). :func:`read_table` loads columns into
pandas; :func:`open_table` gives a DuckDB connection plus a safely quoted name to run SQL on
(one grouped query, say) without loading the data into pandas. User strings never become SQL
text: identifiers are quoted by :func:`quote_ident`, file paths and values are passed to
DuckDB's Python API or as query parameters.
"""

from __future__ import annotations

import difflib
import glob
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

import duckdb
import pandas as pd

from causal._errors import ConfigError, MissingColumnError

__all__ = ["Source", "TableHandle", "missing_column_error", "open_table", "quote_ident",
           "read_table"]  # fmt: skip

Source: TypeAlias = pd.DataFrame | str | os.PathLike[str]
Engine: TypeAlias = Literal["duckdb", "pandas"]

_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".csv.gz", ".tsv")


def quote_ident(name: str) -> str:
    """Double-quote an SQL identifier, escaping embedded double quotes.

    Examples
    --------
    >>> quote_ident('my "odd" col')
    '"my ""odd"" col"'
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ConfigError(f"Column and table names must be non-empty text. Got {name!r} instead.")
    return '"' + name.replace('"', '""') + '"'


def missing_column_error(
    column: str, available: Sequence[object], role: str = "column"
) -> MissingColumnError:
    """A :class:`MissingColumnError` naming ``column`` and its nearest available name.

    Examples
    --------
    >>> print(missing_column_error("boostd", ["boosted", "saves"], role="treatment column"))
    The treatment column 'boostd' is not in the data. Did you mean 'boosted'? Available columns: boosted, saves.
    """
    names = [str(c) for c in available]
    near = difflib.get_close_matches(column, names, n=1, cutoff=0.6)
    if not near:  # case-insensitive second chance ("Saves" for "saves")
        lower = {n.lower(): n for n in names}
        near = [lower[column.lower()]] if column.lower() in lower else []
    hint = f" Did you mean '{near[0]}'?" if near else ""
    shown = ", ".join(names[:15]) + (" ..." if len(names) > 15 else "")
    return MissingColumnError(
        f"The {role} '{column}' is not in the data.{hint} Available columns: {shown}."
    )


def _kind(path: str) -> Literal["parquet", "csv"] | None:
    low = path.lower()
    if low.endswith(_PARQUET):
        return "parquet"
    if low.endswith(_CSV):
        return "csv"
    return None


def _check_path(path: str) -> Literal["parquet", "csv"]:
    kind = _kind(path)
    if kind is None:
        raise ConfigError(
            f"Cannot read '{path}': give a .parquet or .csv file, a pandas DataFrame, or the "
            "name of a table in a DuckDB connection."
        )
    if glob.has_magic(path):
        if not glob.glob(path):
            raise ConfigError(f"No file matches the pattern '{path}'.")
        return kind
    if not Path(path).is_file():
        parent = Path(path).parent
        hint = ""
        if parent.is_dir():
            near = difflib.get_close_matches(Path(path).name, os.listdir(parent), n=1)
            hint = f" Did you mean '{parent / near[0]}'?" if near else ""
        raise ConfigError(f"The data file '{path}' does not exist.{hint}")
    return kind


def _is_path(source: object) -> bool:
    return isinstance(source, os.PathLike) or (
        isinstance(source, str) and (_kind(source) is not None or os.sep in source)
    )


def _table_parts(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    """Check that ``name`` (``table`` or ``schema.table``) exists; return its parts."""
    parts = name.split(".")
    if not all(parts) or len(parts) > 3:
        raise ConfigError(f"'{name}' is not a valid table name.")
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal",
    ).fetchall()
    table = parts[-1]
    schema = parts[-2] if len(parts) >= 2 else None
    found = sorted({s for s, t in rows if t == table and (schema is None or s == schema)})
    if found and schema is not None:
        return parts
    if found:  # unqualified: the default schema first, else the one schema that has it
        if "main" in found or "temp" in found:
            return parts
        if len(found) == 1:
            return [found[0], table]
        raise ConfigError(
            f"The table name '{name}' is ambiguous: schemas {found} all hold it; qualify it "
            "as 'schema.table'."
        )
    near = difflib.get_close_matches(table, [t for _, t in rows], n=1)
    hint = f" Did you mean '{near[0]}'?" if near else ""
    raise ConfigError(
        f"No table or view named '{name}' in the DuckDB connection.{hint} Pass a DataFrame, a "
        ".parquet/.csv path, or the connection that holds the table."
    )


def _drop_view(con: duckdb.DuckDBPyConnection, view: str, registered: bool) -> None:
    """Drop our temporary view; a half-read result on the connection is run to its end first
    (DuckDB refuses other work on a connection with an unfinished ``execute()`` result)."""
    for attempt in range(2):
        try:
            if registered:
                con.unregister(view)
            else:
                con.execute(f"DROP VIEW IF EXISTS {quote_ident(view)}")
            return
        except duckdb.Error:
            if attempt:
                raise
            con.complete()


@dataclass(eq=False)
class TableHandle:
    """A table DuckDB can query in place: a connection and a quoted name for ``FROM``.

    Made by :func:`open_table`; use it as a context manager (or call :meth:`close`) to drop
    the temporary view and, if it opened one, the connection.

    Attributes
    ----------
    connection : duckdb.DuckDBPyConnection
        The connection to run SQL on.
    name : str
        The table, already quoted for SQL (``"__causal_src_..."`` or ``"schema"."table"``).
    columns : tuple of str
        Column names, in table order.
    types : dict
        DuckDB type name of each column (e.g. ``"BIGINT"``, ``"VARCHAR"``, ``"DOUBLE"``).

    Examples
    --------
    >>> df = pd.DataFrame({"arm": ["a", "b", "a"], "y": [1.0, 2.0, 3.0]})
    >>> with open_table(df) as t:
    ...     t.connection.execute(
    ...         f"SELECT {quote_ident('arm')}, avg({quote_ident('y')}) FROM {t.name} "
    ...         f"GROUP BY 1 ORDER BY 1").fetchall()
    [('a', 2.0), ('b', 2.0)]
    """

    connection: duckdb.DuckDBPyConnection
    name: str
    columns: tuple[str, ...]
    types: dict[str, str]
    _view: str | None = field(default=None, repr=False)
    _registered: bool = field(default=False, repr=False)
    _owns_connection: bool = field(default=False, repr=False)

    def require(self, columns: Sequence[str], role: str = "column") -> None:
        """Raise :class:`MissingColumnError` (with a suggestion) if a column is absent."""
        for c in columns:
            if c not in self.types:
                raise missing_column_error(c, self.columns, role)

    def close(self) -> None:
        """Drop the temporary view (and the connection, if :func:`open_table` opened it)."""
        try:
            if self._view is not None:
                _drop_view(self.connection, self._view, self._registered)
        finally:
            self._view = None
            if self._owns_connection:
                self.connection.close()

    def __enter__(self) -> TableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_table(
    source: Source, *, connection: duckdb.DuckDBPyConnection | None = None
) -> TableHandle:
    """Give DuckDB access to ``source`` without loading it into pandas.

    Parameters
    ----------
    source : pandas.DataFrame, path or str
        A DataFrame (scanned in place, never copied or modified), a .parquet/.csv path (or
        glob pattern), or the name of a table or view (``table`` or ``schema.table``) in
        ``connection``.
    connection : duckdb.DuckDBPyConnection, optional
        Connection to use; a private in-memory one otherwise (closed by ``close()``).

    Returns
    -------
    TableHandle
        ``.connection``, ``.name`` (quoted, for ``FROM``), ``.columns`` and ``.types``.

    Examples
    --------
    >>> with open_table(pd.DataFrame({"y": [1, 2, 3]})) as t:
    ...     t.connection.execute(f"SELECT sum(y) FROM {t.name}").fetchone()[0]
    6
    """
    own = connection is None
    con = duckdb.connect() if own else connection
    assert con is not None
    view: str | None = None
    registered = False
    try:
        if isinstance(source, pd.DataFrame):
            view = f"__causal_src_{uuid.uuid4().hex}"
            con.register(view, source)
            registered = True
            name = quote_ident(view)
        elif _is_path(source):
            path = os.fspath(source)
            kind = _check_path(path)
            view = f"__causal_src_{uuid.uuid4().hex}"
            try:
                rel = con.read_parquet(path) if kind == "parquet" else con.read_csv(path)
            except duckdb.Error as exc:
                raise ConfigError(
                    f"Cannot read '{path}' as {kind}: {str(exc).splitlines()[0]}"
                ) from exc
            rel.create_view(view, replace=True)
            name = quote_ident(view)
        elif isinstance(source, str):
            name = ".".join(quote_ident(p) for p in _table_parts(con, source))
        else:
            raise ConfigError(
                f"Cannot read data of type {type(source).__name__}: give a pandas DataFrame, a "
                ".parquet/.csv path or a DuckDB table name."
            )
        try:
            desc = con.execute(f"DESCRIBE SELECT * FROM {name}").fetchall()
        except duckdb.Error as exc:
            raise ConfigError(
                f"Cannot read {source if isinstance(source, str) else 'the data'}: "
                f"{str(exc).splitlines()[0]}"
            ) from exc
        types = {str(r[0]): str(r[1]) for r in desc}
    except BaseException:
        if view is not None:
            _drop_view(con, view, registered)
        if own:
            con.close()
        raise
    return TableHandle(con, name, tuple(types), types, view, registered, own)


def read_table(
    source: Source,
    *,
    columns: Sequence[str] | None = None,
    engine: Engine = "duckdb",
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Read a DataFrame, a .parquet/.csv path or a DuckDB table into pandas.

    Parameters
    ----------
    source : pandas.DataFrame, path or str
        The data: a DataFrame, a .parquet/.csv path (or glob pattern) or a table name in
        ``connection``.
    columns : list of str, optional
        Only these columns, in this order (a missing one raises
        :class:`~causal.MissingColumnError` naming the nearest name).
    engine : {"duckdb", "pandas"}
        Who reads files: DuckDB (default, reads only the needed columns) or pandas.
        Table names need ``"duckdb"``.
    connection : duckdb.DuckDBPyConnection, optional
        The connection holding a named table; a private in-memory one otherwise.

    Returns
    -------
    pandas.DataFrame
        A new frame; a DataFrame source is never modified (the result does not share
        writable data with it).

    Examples
    --------
    >>> df = pd.DataFrame({"pin_id": [1, 2], "saves": [3, 4]})
    >>> read_table(df, columns=["saves"]).to_dict("list")
    {'saves': [3, 4]}
    """
    if engine not in ("duckdb", "pandas"):
        raise ConfigError(
            f"The 'engine' parameter must be 'duckdb' or 'pandas'. Got {engine!r} instead."
        )
    cols = None if columns is None else list(dict.fromkeys(columns))
    if isinstance(source, pd.DataFrame):
        if cols is None:
            return source.copy()
        for c in cols:
            if c not in source.columns:
                raise missing_column_error(c, list(source.columns))
        return source.loc[:, cols].copy()
    if engine == "pandas":
        if not _is_path(source):
            raise ConfigError(
                f"engine='pandas' reads a DataFrame or a .parquet/.csv path, not {source!r}; "
                "use engine='duckdb' (with its connection) for a table name."
            )
        path = os.fspath(source)
        if glob.has_magic(path):
            raise ConfigError("engine='pandas' does not expand glob patterns; use 'duckdb'.")
        kind = _check_path(path)
        try:
            avail = _pandas_columns(path, kind)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read '{path}' as {kind}: {exc}") from exc
        if cols is not None:
            for c in cols:
                if c not in avail:
                    raise missing_column_error(c, avail)
        if kind == "parquet":
            return pd.read_parquet(path, columns=cols)
        return pd.read_csv(path, usecols=cols)[cols] if cols else pd.read_csv(path)
    with open_table(source, connection=connection) as t:
        wanted = list(t.columns) if cols is None else cols
        t.require(wanted)
        select = ", ".join(quote_ident(c) for c in wanted)
        return t.connection.execute(f"SELECT {select} FROM {t.name}").df()


def _pandas_columns(path: str, kind: str) -> list[str]:
    if kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return [str(c) for c in pd.read_csv(path, nrows=0).columns]
