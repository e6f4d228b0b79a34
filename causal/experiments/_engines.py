"""Engines: thin executors of the aggregate plan, computing every moment inside the engine.

Every engine implements :class:`Engine` (``aggregate(source, request) -> Aggregates``) in three
steps shared through :mod:`causal.experiments._plan`:

1. a cheap ungrouped pre-pass over the raw rows (row count, and per metric column its null
   count, minimum and maximum; a Parquet file answers it from its statistics) becomes
   :class:`~causal.experiments._plan.ColumnStats`;
2. :func:`~causal.experiments._plan.build_plan` turns the request and those statistics into the
   per-unit expressions and the aggregates each group needs (pure, database-free);
3. the executor computes them per (variant[, segment value]) group and
   :meth:`~causal.experiments._plan.AggregatePlan.rebuild` turns each group's aggregates into
   :class:`~causal.stats.Moments`.

:class:`DuckDBEngine` (the embedded default) renders the plan as ONE grouped SQL statement over
a DataFrame, a .parquet/.csv path or a table: rows are summed per unit (``unit``) or cluster
(``cluster``) first; segments come from ``GROUPING SETS`` in the same statement.
:class:`PandasEngine` computes the same aggregates with numpy (grouped sums by ``bincount``,
centred two-pass covariances, exact ``int64`` sums); the two agree to ~1e-12 relative. Moments
are exact at any offset: columns whose values sit at an offset larger than their range are
taken around their minimum (the plan's shift), integer columns use exact integer sums.

Identifiers are validated and double-quoted (embedded quotes escaped); file paths are query
parameters; numbers computed from the data (shifts) are rendered as exact float literals.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import duckdb
import numpy as np
import pandas as pd

from causal._errors import (
    CausalError,
    ConfigError,
    DuplicateUnitError,
    MissingValuesError,
)
from causal.data import missing_column_error, quote_ident
from causal.data._rules import RowRule, check_numeric, duckdb_numeric, row_rules, sql_double
from causal.experiments._plan import (
    AggregatePlan,
    AggregateRequest,
    Aggregates,
    ColumnStats,
    Expr,
    GroupKey,
    build_plan,
)
from causal.stats import Moments

__all__ = ["DuckDBEngine", "Engine", "PandasEngine", "get_engine", "quote_ident"]

Source = pd.DataFrame | str | os.PathLike[str]

_INT_DUCK = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "BOOLEAN",
)  # fmt: skip
MISSING_LABEL = "(missing)"


@runtime_checkable
class Engine(Protocol):
    """What an engine does: reduce a table to per-group, per-metric Moments.

    Implementations compute every sufficient statistic where the data live (pandas, DuckDB,
    Spark) and return :class:`~causal.experiments.Aggregates`.
    """

    name: str

    def aggregate(self, source: Any, request: AggregateRequest) -> Aggregates:
        """Aggregate ``source`` (a table the engine can read) as ``request`` asks."""
        ...


# ---------------------------------------------------------------------------------------------
# shared by every executor
# ---------------------------------------------------------------------------------------------


def _check_schema(types: dict[str, str], request: AggregateRequest, numeric) -> None:
    """Missing or non-numeric columns → a CausalError naming the column."""
    avail = list(types)
    for col in request.source_columns():
        if col not in types:
            raise missing_column_error(col, avail)
    for m in request.metrics:
        for col in m.columns():
            check_numeric(m.name, col, types[col], numeric(types[col]))


def _apply_rules(
    request: AggregateRequest,
    stats: dict[str, ColumnStats],
    count_bad: Callable[[list[RowRule]], list[int]],
) -> None:
    """The row rules of :mod:`causal.data._rules`: decided from the pre-pass where its range
    and type prove them, else by one counting pass (``count_bad``) over the rules left."""
    left = [
        r
        for r in row_rules(request.metrics)
        if not r.proven(
            minimum=stats[r.column].minimum,
            maximum=stats[r.column].maximum,
            integer=stats[r.column].integer,
        )
    ]
    if left:
        for rule, bad in zip(left, count_bad(left), strict=True):
            rule.check(int(bad))


def _check_prepass(request: AggregateRequest, stats: dict[str, ColumnStats]) -> None:
    """Row-level problems the pre-pass already shows (no roll-up: null metric values)."""
    if request.cluster or request.unit:
        return  # a unit's sum skips null rows; a unit with no value is caught per group
    for c in request.value_columns():
        if stats[c].nulls:
            raise MissingValuesError(
                f"The metric column '{c}' is missing (null/NaN) for {stats[c].nulls} rows; "
                "fill them (e.g. 0 for no activity) or drop those rows before the readout."
            )


def _collect(
    plan: AggregatePlan,
    groups: Iterable[tuple[GroupKey, bool, dict[str, Any]]],
    engine: str,
    cluster_rows: Mapping[GroupKey, Mapping[str, np.ndarray]] | None = None,
) -> Aggregates:
    """Executor rows → Aggregates: row checks, then :meth:`AggregatePlan.rebuild` per group.

    ``groups`` yields (key, variant_is_null, aggregates by alias) for every group;
    ``cluster_rows`` (clustered designs) the per-cluster expression values of each group.
    """
    request = plan.request
    out: dict[GroupKey, dict[str, Moments]] = {}
    caps: dict[str, float] = {}
    for key, v_null, row in groups:
        if key.segment is None:
            _raise_row_problems(row, plan, key.variant, v_null)
        if plan.caps and not caps:
            caps = plan.cap_values(row)
        out[key] = plan.rebuild(row, None if cluster_rows is None else cluster_rows[key])
    if not any(k.segment is None for k in out):
        raise CausalError(f"The data have no rows (variant column '{request.variant}').")
    _check_results(out)
    order = sorted(out, key=GroupKey.sort_key)
    return Aggregates(
        {k: out[k] for k in order}, clustered=plan.clustered, engine=engine, caps=caps
    )


def _raise_row_problems(r: dict[str, Any], plan: AggregatePlan, variant: str, v_null: bool) -> None:
    request, roll = plan.request, plan.roll
    what = "units" if roll else "rows"
    if v_null:
        raise MissingValuesError(
            f"The variant column '{request.variant}' is empty (null) for {int(r['n'])} "
            f"{what}; drop or label those rows."
        )
    if int(r.get("mixed", 0) or 0):
        raise DuplicateUnitError(
            f"{int(r['mixed'])} value(s) of '{roll}' appear in more than one variant of "
            f"'{request.variant}'; each {'cluster' if request.cluster else 'unit'} must be "
            "randomized to exactly one variant."
        )
    for col in request.value_columns():
        alias = plan.column(col).alias
        miss = next((a.alias for a in plan.aggregates if a.op == "miss" and a.args == (alias,)),
                    None)  # fmt: skip
        n_miss = int(r[miss] or 0) if miss else 0
        if n_miss:
            raise MissingValuesError(
                f"The metric column '{col}' is missing (null/NaN) for {n_miss} {what} of "
                f"variant '{variant}'; fill them (e.g. 0 for no activity) or drop those rows "
                "before the readout."
            )


def _check_results(aggs: dict[GroupKey, dict[str, Moments]]) -> None:
    for key, group in aggs.items():
        for mname, mom in group.items():
            if not (np.all(np.isfinite(mom.mean)) and np.all(np.isfinite(mom.comoment))):
                bad = [
                    nm
                    for i, nm in enumerate(mom.names)
                    if not np.isfinite(mom.mean[i]) or not np.all(np.isfinite(mom.comoment[i]))
                ]
                raise MissingValuesError(
                    f"Metric '{mname}': column(s) {', '.join(bad)} hold infinite values "
                    f"(variant '{key.variant}'); remove or cap them before the readout."
                )


# ---------------------------------------------------------------------------------------------
# DuckDB
# ---------------------------------------------------------------------------------------------


def _lit(x: float) -> str:
    """An exact SQL DOUBLE literal of a number computed from the data (never user text)."""
    v = float(x)
    if not np.isfinite(v):
        raise ValueError(f"not a finite number: {v!r}")
    return f"CAST({v!r} AS DOUBLE)"


class DuckDBEngine:
    """The embedded default engine: one grouped DuckDB query per table.

    Parameters
    ----------
    connection : duckdb.DuckDBPyConnection, optional
        Connection to use (needed to read a table by name); a private in-memory one otherwise.

    Examples
    --------
    >>> import pandas as pd
    >>> from causal.experiments import AggregateRequest, Mean
    >>> df = pd.DataFrame({"arm": ["a", "a", "b", "b"], "y": [1.0, 2.0, 3.0, 5.0]})
    >>> agg = DuckDBEngine().aggregate(df, AggregateRequest("arm", (Mean("y", "y"),)))
    >>> float(agg.moments[GroupKey("b")]["y"].mean[0])
    4.0
    """

    name = "duckdb"

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection | None = None,
        *,
        memory_limit: str | None = "1GB",
        temp_directory: str | os.PathLike[str] | None = None,
    ) -> None:
        self.connection = connection
        self.memory_limit = memory_limit
        self.temp_directory = temp_directory

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A private in-memory connection that spills to disk beyond ``memory_limit``.

        With a per-unit roll-up of tens of millions of units the hash aggregate would
        otherwise hold every unit in memory (4.6 GB for 20M users); with a limit DuckDB
        spills its partitions to ``temp_directory`` (default: a folder in the system's
        temporary directory) and stays near the limit.
        """
        con = duckdb.connect()
        settings: dict[str, Any] = {"enable_progress_bar": False, "preserve_insertion_order": False}
        if self.memory_limit is not None:
            settings["memory_limit"] = str(self.memory_limit)
            tmp = self.temp_directory or os.path.join(tempfile.gettempdir(), "causal_duckdb")
            settings["temp_directory"] = os.fspath(tmp)
        for key, value in settings.items():
            # (in Jupyter, DuckDB refuses a progress bar without ipywidgets)
            with contextlib.suppress(duckdb.Error):
                con.execute(f"SET {key} = ?", [value])
        return con

    # the source as a FROM clause plus its parameters
    def _from(self, con: duckdb.DuckDBPyConnection, source: Any) -> tuple[str, list[Any]]:
        if isinstance(source, pd.DataFrame):
            con.register("__causal_source", source)
            return "__causal_source", []
        if isinstance(source, os.PathLike) or (
            isinstance(source, str) and source.lower().endswith((".parquet", ".csv", ".pq"))
        ):
            path = os.fspath(source)
            glob = any(ch in path for ch in "*?[")  # e.g. daily partitions: day=*/part.parquet
            if not glob and not Path(path).exists():
                raise ConfigError(f"The data file '{path}' does not exist.")
            if path.lower().endswith(".csv"):
                return "read_csv_auto(?)", [path]
            if path.lower().endswith((".parquet", ".pq")):
                return "read_parquet(?)", [path]
            raise ConfigError(
                f"Cannot read '{path}': give a .parquet or .csv file, a DataFrame or a table name."
            )
        if isinstance(source, str):
            parts = source.split(".")
            if not all(parts):
                raise ConfigError(f"'{source}' is not a valid table name.")
            rows = con.execute(
                "SELECT 1 FROM duckdb_tables() WHERE table_name = ? UNION ALL "
                "SELECT 1 FROM duckdb_views() WHERE view_name = ?",
                [parts[-1], parts[-1]],
            ).fetchall()
            if not rows:
                raise ConfigError(
                    f"No table or view named '{source}' in the DuckDB connection; pass a "
                    "DataFrame, a .parquet/.csv path, or the connection that holds the table."
                )
            return ".".join(quote_ident(p) for p in parts), []
        raise ConfigError(
            f"Cannot read data of type {type(source).__name__}: give a pandas DataFrame, a "
            ".parquet/.csv path or a DuckDB table name."
        )

    def aggregate(self, source: Any, request: AggregateRequest) -> Aggregates:
        """One grouped query → :class:`Aggregates` (see the module docstring)."""
        con = self.connection if self.connection is not None else self._connect()
        try:
            return self._aggregate(con, source, request)
        finally:
            if isinstance(source, pd.DataFrame):
                con.unregister("__causal_source")
            if self.connection is None:
                con.close()

    def _aggregate(
        self, con: duckdb.DuckDBPyConnection, source: Any, request: AggregateRequest
    ) -> Aggregates:
        src, params = self._from(con, source)
        schema = con.execute(f"DESCRIBE SELECT * FROM {src}", params).fetchall()
        types = {str(r[0]): str(r[1]) for r in schema}
        _check_schema(types, request, duckdb_numeric)
        n_rows, stats = self._prepass(con, src, params, request, types)
        _check_prepass(request, stats)

        def count_bad(rules: list[RowRule]) -> list[int]:
            sel = ", ".join(
                f"COUNT(*) FILTER (WHERE {r.sql_bad(_as_double(quote_ident(r.column), types[r.column]))})"
                for r in rules
            )
            return [int(v) for v in con.execute(f"SELECT {sel} FROM {src}", params).fetchall()[0]]

        _apply_rules(request, stats, count_bad)
        if (
            request.unit is not None
            and request.cluster is None
            and _units_unique(con, src, params, request.unit, types[request.unit], n_rows)
        ):
            request = dataclasses.replace(request, unit=None)  # one row per unit: no roll-up
        plan = build_plan(request, stats, n_rows)
        sql = _duckdb_sql(plan, src, types)
        cur = con.execute(sql, params)
        cols_out = [d[0] for d in cur.description]
        rows = [dict(zip(cols_out, row, strict=True)) for row in cur.fetchall()]
        cluster_rows = None
        if plan.clustered:  # the per-cluster sums themselves (G rows), for CR2
            frame = con.execute(_duckdb_sql(plan, src, types, cluster_rows=True), params).df()
            cluster_rows = _split_clusters(plan, frame)
        return _collect(plan, (_duck_key(r, plan) for r in rows), self.name, cluster_rows)

    @staticmethod
    def _prepass(
        con: duckdb.DuckDBPyConnection,
        src: str,
        params: list[Any],
        request: AggregateRequest,
        types: dict[str, str],
    ) -> tuple[int, dict[str, ColumnStats]]:
        q = quote_ident
        cols = [*request.value_columns(), *request.covariate_columns()]
        is_int = {c: types[c].split("(")[0] in _INT_DUCK for c in cols}

        def num(c: str) -> str:
            return f"CAST({q(c)} AS INTEGER)" if types[c] == "BOOLEAN" else q(c)

        exprs = [f"COUNT({q(c)})" for c in cols]
        exprs += [f"MIN({num(c)}), MAX({num(c)})" for c in cols]
        vals = _prepass(con, src, params, exprs, n_counts=1 + len(cols))
        n_rows = int(vals[0])
        lim = vals[1 + len(cols) :]
        stats = {
            c: ColumnStats(
                nulls=n_rows - int(vals[1 + i]),
                minimum=_py_num(lim[2 * i]),
                maximum=_py_num(lim[2 * i + 1]),
                integer=is_int[c],
            )
            for i, c in enumerate(cols)
        }
        return n_rows, stats


#: Largest id range checked with a bitmap (bits): 2**31 bits = 256 MB.
_MAX_BITMAP = 2**31


def _units_unique(
    con: duckdb.DuckDBPyConnection,
    src: str,
    params: list[Any],
    unit: str,
    duck_type: str,
    n_rows: int,
) -> bool:
    """Exactly whether every row has its own (non-null) integer unit id, cheaply.

    Integer ids whose range spans at most a few bits per row are checked with a bitmap
    (``bitstring_agg``: one bit per possible id, ~2.5 MB and a fraction of a scan for 20M
    users); other ids (text, sparse 64-bit) are not checked and take the roll-up.

    Why exact, and why a pass of its own: skipping the roll-up is right only when no id
    repeats, and nothing short of reading every id proves that — the minimum, maximum and
    count (free from Parquet statistics) of ``[0, 0, 2]`` and ``[0, 1, 2]`` are equal, and a
    HyperLogLog estimate can only prove the opposite. Reading the id column is most of the
    cost (~0.45 of ~0.7 CPU-s for 20M ids); the bitmap computed inside the main grouped pass
    measured no cheaper (1.19 CPU-s vs 0.46 + 0.74 apart), so it stays separate and the run
    with ``unit`` is kept below tea-tasting's CPU by the main pass computing only what the
    data need (no missing-indicator aggregates for covariates without nulls).
    """
    if duck_type.split("(")[0] not in _INT_DUCK or duck_type == "BOOLEAN" or n_rows == 0:
        return False
    q = quote_ident(unit)
    lo, hi, cnt = con.execute(
        f"SELECT MIN({q}), MAX({q}), COUNT({q}) FROM {src}", params
    ).fetchall()[0]
    if cnt != n_rows or lo is None:
        return False
    span = int(hi) - int(lo) + 1
    if span < n_rows:
        return False  # pigeonhole: some id repeats
    if span > min(_MAX_BITMAP, 64 * n_rows):
        return False
    bits = con.execute(
        f"SELECT bit_count(bitstring_agg(CAST({q} AS BIGINT), {int(lo)}, {int(hi)})) FROM {src}",
        params,
    ).fetchall()[0][0]
    return int(bits) == n_rows


def _py_num(v: Any) -> float | int | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    return float(v)


def _duckdb_sql(
    plan: AggregatePlan, src: str, types: dict[str, str], *, cluster_rows: bool = False
) -> str:
    """The plan as one grouped statement: level 1 (one row per unit) → groups.

    ``cluster_rows``: instead, level 1's labels and expression values, one row per cluster.
    """
    q = quote_ident
    request = plan.request
    roll = plan.roll
    segs = plan.segments
    if roll is None:
        l1 = [f"{q(request.variant)} AS v", "1 AS nu"]
        l1 += [f"{q(s)} AS {a}" for s, a in segs.items()]
        for u in plan.columns:
            if u.integer:
                l1.append(f"{_as_bigint(q(u.column), types[u.column])} AS {u.alias}")
            else:
                x = _as_double(q(u.column), types[u.column])
                l1.append(
                    f"({x} - {_lit(u.shift)}) AS {u.alias}" if u.shift else f"{x} AS {u.alias}"
                )
        level1 = f"SELECT {', '.join(l1)} FROM {src}"
    else:
        clustered = request.cluster is not None
        # group keys keep their own type (cheaper than text); text only in the output
        l1 = [f"MIN({q(request.variant)}) AS v", f"MAX({q(request.variant)}) AS v2"]
        if clustered:  # the cluster's unit count (only cluster designs use it)
            nu = f"COUNT(DISTINCT {q(request.unit)})" if request.unit else "COUNT(*)"
            l1.append(f"{nu} AS nu")
        l1 += [f"MIN({q(s)}) AS {a}" for s, a in segs.items()]
        for u in plan.columns:
            x = _as_double(q(u.column), types[u.column])
            if u.shift:
                l1.append(f"SUM({x} - {_lit(u.shift)}) AS {u.alias}")
            else:
                l1.append(f"SUM({x}) AS {u.alias}")
            if u.count:
                l1.append(f"COUNT({q(u.column)}) AS {u.count}")
        level1 = f"SELECT {', '.join(l1)} FROM {src} GROUP BY {q(roll)}"
    sql_of = {e.alias: _expr_sql(e) for e in plan.exprs}
    integer = {e.alias for e in plan.exprs if e.integer}

    def dbl(e: str) -> str:
        return f"CAST({sql_of[e]} AS DOUBLE)" if e in integer else sql_of[e]

    aggs: list[str] = []
    for a in plan.aggregates:
        op, args = a.op, a.args
        if op == "count":
            sql = "COUNT(*)"
        elif op == "mixed":
            sql = "COUNT(*) FILTER (WHERE v <> v2)"
        elif op == "miss":
            sql = f"COUNT(*) - COUNT({args[0]})"
        elif op == "avg":
            sql = f"AVG({sql_of[args[0]]})"
        elif op == "isum":
            sql = f"SUM({sql_of[args[0]]})"
        elif op == "covar":
            x, y = args
            sql = f"VAR_SAMP({dbl(x)})" if x == y else f"COVAR_SAMP({dbl(x)}, {dbl(y)})"
        elif op == "iprod":
            sql = f"SUM({sql_of[args[0]]} * {sql_of[args[1]]})"
        elif op == "favg":
            sql = f"AVG({sql_of[args[0]]}) FILTER (WHERE {args[1]} IS NULL)"
        elif op == "fsum":
            sql = f"SUM({sql_of[args[0]]}) FILTER (WHERE {args[1]} IS NULL)"
        elif op == "both":
            sql = f"COUNT(*) FILTER (WHERE {args[0]} IS NULL AND {args[1]} IS NULL)"
        elif op == "capv":
            sql = f"MIN({args[0]})"
        else:  # pragma: no cover - the plan only emits the ops above
            raise AssertionError(op)
        aggs.append(f"{sql} AS {a.alias}")
    group_cols = ["v", *segs.values()]
    if segs:
        sets = ", ".join(["(v)", *[f"(v, {a})" for a in segs.values()]])
        group_by = f"GROUPING SETS ({sets})"
        keys = [f"CAST({c} AS VARCHAR) AS l_{c}" for c in group_cols]
        keys += [f"GROUPING({a}) AS g_{a}" for a in segs.values()]
    else:
        group_by, keys = "v", ["CAST(v AS VARCHAR) AS l_v"]
    cte = [f"l1 AS ({level1})"]
    from_ = "l1"
    if cluster_rows:
        labels = [f"CAST({c} AS VARCHAR) AS l_{c}" for c in group_cols]
        values = [f"{sql_of[e.alias]} AS {e.alias}" for e in plan.exprs]
        return f"WITH {cte[0]} SELECT {', '.join(labels + values)} FROM l1"
    if plan.caps:
        qs = ", ".join(
            f"QUANTILE_CONT({_unit_value_sql(plan.expr(c.expr))}, {c.quantile!r}) AS {c.alias}"
            for c in plan.caps
        )
        cte.append(f"caps AS (SELECT {qs} FROM l1)")
        from_ = "l1, caps"
    return f"WITH {', '.join(cte)} SELECT {', '.join(keys + aggs)} FROM {from_} GROUP BY {group_by}"


def _split_clusters(
    plan: AggregatePlan, frame: pd.DataFrame
) -> dict[GroupKey, dict[str, np.ndarray]]:
    """Per-cluster expression values (one row per cluster) split by group."""
    out: dict[GroupKey, dict[str, np.ndarray]] = {}
    aliases = [e.alias for e in plan.exprs]
    v = frame["l_v"].astype(object).where(frame["l_v"].notna(), MISSING_LABEL).to_numpy()
    for label in dict.fromkeys(v.tolist()):
        sel = v == label
        out[GroupKey(label)] = {a: frame[a].to_numpy(float)[sel] for a in aliases}
    for s, a in plan.segments.items():
        col = frame[f"l_{a}"].astype(object).where(frame[f"l_{a}"].notna(), MISSING_LABEL)
        pairs = pd.MultiIndex.from_arrays([v, col.to_numpy()])
        for key in dict.fromkeys(pairs.tolist()):
            sel = (v == key[0]) & (col.to_numpy() == key[1])
            out[GroupKey(key[0], s, key[1])] = {e: frame[e].to_numpy(float)[sel] for e in aliases}
    return out


def _unit_value_sql(e: Expr) -> str:
    """A cap's uncapped unit value: the shifted column, or its plain sum over a roll-up."""
    if e.count:
        return f"({e.source} + {_lit(e.shift)} * {e.count})"
    return e.source


def _expr_sql(e: Expr) -> str:
    if e.kind == "value":
        return e.source
    if e.kind == "fill":
        return f"COALESCE({e.source}, {0 if e.integer else _lit(e.fill)})"
    if e.kind == "cap":
        return f"LEAST({_unit_value_sql(e)}, {e.cap})"
    if e.kind in ("units", "count"):
        return f"CAST({e.source} AS DOUBLE)"
    raise AssertionError(e.kind)  # pragma: no cover


def _duck_key(r: dict[str, Any], plan: AggregatePlan) -> tuple[GroupKey, bool, dict[str, Any]]:
    v = r["l_v"]
    variant = MISSING_LABEL if v is None else str(v)
    for s, a in plan.segments.items():
        if r[f"g_{a}"] == 0:  # this row groups by segment column s
            val = r[f"l_{a}"]
            return GroupKey(variant, s, MISSING_LABEL if val is None else str(val)), False, r
    return GroupKey(variant), v is None, r


def _prepass(
    con: duckdb.DuckDBPyConnection,
    src: str,
    params: list[Any],
    exprs: list[str],
    *,
    n_counts: int,
) -> tuple[Any, ...]:
    """``SELECT COUNT(*), <exprs>`` over the source: counts first, then MIN/MAX pairs.

    A single Parquet file answers from its statistics at no cost; DuckDB does not do that for a
    glob of files, so a glob is answered file by file and combined (sums of counts, min of
    minima, max of maxima).
    """
    sql = f"SELECT COUNT(*), {', '.join(exprs)} FROM {src}"
    if src != "read_parquet(?)" or not any(ch in params[0] for ch in "*?["):
        return tuple(con.execute(sql, params).fetchall()[0])
    files = [r[0] for r in con.execute("SELECT file FROM glob(?)", params).fetchall()]
    if not files:
        raise ConfigError(f"No Parquet files match '{params[0]}'.")
    rows = [con.execute(sql, [f]).fetchall()[0] for f in files]
    out: list[Any] = [sum(int(r[i]) for r in rows) for i in range(n_counts)]
    for i in range(n_counts, len(rows[0])):
        vals = [r[i] for r in rows if r[i] is not None]
        pick = min if (i - n_counts) % 2 == 0 else max
        out.append(pick(vals) if vals else None)
    return tuple(out)


def _as_bigint(col: str, duck_type: str) -> str:
    """SQL casting an integer or boolean column to BIGINT (exact-integer moments)."""
    if duck_type == "BOOLEAN":
        return f"CAST(CAST({col} AS INTEGER) AS BIGINT)"
    return f"CAST({col} AS BIGINT)"


#: SQL casting a numeric or boolean column to DOUBLE (booleans through INTEGER): the rule set's.
_as_double = sql_double


# ---------------------------------------------------------------------------------------------
# pandas
# ---------------------------------------------------------------------------------------------


def _labels(s: pd.Series) -> pd.Series:
    """Group labels as text, the way DuckDB casts them (booleans as 'true'/'false')."""
    if pd.api.types.is_bool_dtype(s):
        out = s.map({True: "true", False: "false"})
    else:
        out = s.astype("string").astype(object)
    return out.where(s.notna(), None)


class _Grouped:
    """Grouped aggregates over integer group codes ``0..g-1`` with numpy (one set of groups)."""

    def __init__(self, codes: np.ndarray, n_groups: int) -> None:
        self.codes = codes
        self.g = n_groups
        self.count = np.bincount(codes, minlength=n_groups)
        self._order: np.ndarray | None = None

    def sum(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if mask is None:
            return np.bincount(self.codes, weights=x, minlength=self.g)
        return np.bincount(self.codes[mask], weights=x[mask], minlength=self.g)

    def mean(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Two-pass group means (a refinement pass removes the first pass's rounding)."""
        cnt = self.count if mask is None else np.bincount(self.codes[mask], minlength=self.g)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = self.sum(x, mask) / cnt
            m = m + self.sum(x - m[self.codes], mask) / cnt
        return m

    def isum(self, x: np.ndarray, mask: np.ndarray | None = None) -> list[int]:
        """Exact int64 group sums (the plan's bounds keep every partial sum below 2**62)."""
        codes = self.codes if mask is None else self.codes[mask]
        vals = x if mask is None else x[mask]
        order = np.argsort(codes, kind="stable")
        cnt = np.bincount(codes, minlength=self.g)
        starts = np.concatenate([[0], np.cumsum(cnt)[:-1]])
        out = np.zeros(self.g, dtype=np.int64)
        present = cnt > 0
        if vals.size:
            sums = np.add.reduceat(vals[order].astype(np.int64), starts[present])
            out[present] = sums
        return [int(v) for v in out]


class PandasEngine:
    """The in-memory engine: the same plan as :class:`DuckDBEngine`, computed with numpy.

    Examples
    --------
    >>> import pandas as pd
    >>> from causal.experiments import AggregateRequest, Mean
    >>> df = pd.DataFrame({"arm": ["a", "a", "b", "b"], "y": [1.0, 2.0, 3.0, 5.0]})
    >>> agg = PandasEngine().aggregate(df, AggregateRequest("arm", (Mean("y", "y"),)))
    >>> float(agg.moments[GroupKey("b")]["y"].cov[0, 0])
    2.0
    """

    name = "pandas"

    def aggregate(self, source: Any, request: AggregateRequest) -> Aggregates:
        """Aggregate a DataFrame (or a .parquet/.csv path, read with pandas)."""
        df = self._read(source, request)
        types = {str(c): str(df[c].dtype) for c in df.columns}
        _check_schema(
            types,
            request,
            lambda t: t in ("bool", "boolean") or _is_numeric_dtype_name(t),
        )
        if request.unit is not None and request.cluster is None:
            ids = df[request.unit]
            if ids.notna().all() and ids.is_unique:  # one row per unit: no roll-up
                request = dataclasses.replace(request, unit=None)
        cols = [*request.value_columns(), *request.covariate_columns()]
        raw = {c: _as_float(df[c]) for c in cols}
        stats = {c: _pandas_stats(df[c], raw[c]) for c in cols}
        _check_prepass(request, stats)
        _apply_rules(
            request, stats, lambda rules: [int(r.bad_mask(raw[r.column]).sum()) for r in rules]
        )
        plan = build_plan(request, stats, len(df))
        roll = plan.roll
        v_code, v_uniq = _codes(df[request.variant])
        seg_codes = {s: _codes(df[s]) for s in request.segments}
        l1: dict[str, np.ndarray]  # one array per alias, one row per unit (or cluster)
        if roll is not None:
            base = {"v": v_code} | {plan.segments[s]: sc[0] for s, sc in seg_codes.items()}
            for u in plan.columns:
                base[u.alias] = raw[u.column] - u.shift if u.shift else raw[u.column]
                if u.count:
                    base[u.count] = (~np.isnan(raw[u.column])).astype(float)
            frame = pd.DataFrame(base)
            frame["roll"] = df[roll].to_numpy()
            if request.cluster is not None and request.unit:
                frame["unit"] = df[request.unit].to_numpy()
            g = frame.groupby("roll", sort=False, dropna=False)
            l1 = {"v": g["v"].min().to_numpy(float), "v2": g["v"].max().to_numpy(float)}
            for a in plan.segments.values():
                l1[a] = g[a].min().to_numpy(float)
            for u in plan.columns:
                l1[u.alias] = g[u.alias].sum(min_count=1).to_numpy(float)
                if u.count:
                    l1[u.count] = g[u.count].sum().to_numpy(float)
            nu = g["unit"].nunique() if request.cluster is not None and request.unit else g.size()
            l1["nu"] = nu.to_numpy(float)
        else:
            l1 = {"v": v_code, "v2": v_code}
            l1 |= {plan.segments[s]: sc[0] for s, sc in seg_codes.items()}
            for u in plan.columns:
                x = raw[u.column]
                l1[u.alias] = x - u.shift if u.shift else x
            l1["nu"] = np.ones(len(v_code))
        for u in plan.columns:
            n_inf = int(np.isinf(l1[u.alias]).sum())
            if n_inf:
                raise MissingValuesError(
                    f"The column '{u.column}' holds infinite values for {n_inf} units; remove "
                    "or cap them before the readout."
                )
        capv: dict[str, float] = {}
        for c in plan.caps:
            e = plan.expr(c.expr)
            uv = l1[e.source] + e.shift * l1[e.count] if e.count else l1[e.source]
            capv[c.alias] = float(np.quantile(uv[~np.isnan(uv)], c.quantile))
        ex = {e.alias: _pandas_expr(e, l1, capv) for e in plan.exprs}
        nv = len(v_uniq) + 1  # the last code is "missing"
        v_int = _int_codes(l1["v"], nv)
        mixed = (v_int != _int_codes(l1["v2"], nv)).astype(float)

        cluster_rows: dict[GroupKey, dict[str, np.ndarray]] | None = None
        if plan.clustered:
            cluster_rows = {}
            for code in np.unique(v_int):
                label = v_uniq[code] if code < len(v_uniq) else MISSING_LABEL
                sel = v_int == code
                cluster_rows[GroupKey(label)] = {a: x[sel] for a, x in ex.items()}
                for s in request.segments:
                    s_uniq = seg_codes[s][1]
                    sc = _int_codes(l1[plan.segments[s]], len(s_uniq) + 1)
                    for b in np.unique(sc[sel]):
                        value = s_uniq[b] if b < len(s_uniq) else MISSING_LABEL
                        both = sel & (sc == b)
                        cluster_rows[GroupKey(label, s, value)] = {
                            a: x[both] for a, x in ex.items()
                        }

        def groups() -> Iterator[tuple[GroupKey, bool, dict[str, Any]]]:
            for code, row in _pandas_rows(plan, v_int, nv, l1, ex, mixed, capv):
                label = v_uniq[code] if code < len(v_uniq) else None
                yield GroupKey(MISSING_LABEL if label is None else label), label is None, row
            for s in request.segments:
                s_uniq = seg_codes[s][1]
                ns = len(s_uniq) + 1
                combo = v_int * ns + _int_codes(l1[plan.segments[s]], ns)
                for code, row in _pandas_rows(plan, combo, nv * ns, l1, ex, mixed, capv):
                    a, b = divmod(code, ns)
                    key = GroupKey(
                        v_uniq[a] if a < len(v_uniq) else MISSING_LABEL,
                        s,
                        s_uniq[b] if b < len(s_uniq) else MISSING_LABEL,
                    )
                    yield key, False, row

        return _collect(plan, groups(), self.name, cluster_rows)

    @staticmethod
    def _read(source: Any, request: AggregateRequest) -> pd.DataFrame:
        if isinstance(source, pd.DataFrame):
            return source
        if isinstance(source, str | os.PathLike):
            path = os.fspath(source)
            if path.lower().endswith((".parquet", ".pq", ".csv")):
                if not Path(path).exists():
                    raise ConfigError(f"The data file '{path}' does not exist.")
                if path.lower().endswith(".csv"):
                    return pd.read_csv(path)
                return pd.read_parquet(path)
            raise ConfigError(
                f"The pandas engine reads a DataFrame or a .parquet/.csv path, not '{path}'; "
                "use engine='duckdb' for a table name."
            )
        raise ConfigError(
            f"Cannot read data of type {type(source).__name__}: give a pandas DataFrame or a "
            ".parquet/.csv path."
        )


def _pandas_stats(s: pd.Series, x: np.ndarray) -> ColumnStats:
    ok = ~np.isnan(x)
    integer = pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_integer_dtype(s.dtype)
    if not ok.any():
        return ColumnStats(int(x.size), None, None, integer)
    lo, hi = float(np.min(x[ok])), float(np.max(x[ok]))
    if integer:
        return ColumnStats(int(x.size - ok.sum()), int(lo), int(hi), True)
    return ColumnStats(int(x.size - ok.sum()), lo, hi, False)


def _pandas_expr(e: Expr, l1: dict[str, np.ndarray], capv: dict[str, float]) -> np.ndarray:
    if e.kind == "value":
        x = l1[e.source]
    elif e.kind == "fill":
        x = np.where(np.isnan(l1[e.source]), e.fill, l1[e.source])
    elif e.kind == "cap":
        uv = l1[e.source] + e.shift * l1[e.count] if e.count else l1[e.source]
        x = np.minimum(uv, capv[e.cap])  # type: ignore[index]
    else:
        x = l1[e.source]
    return x.astype(np.int64) if e.integer else np.asarray(x, dtype=float)


def _pandas_rows(
    plan: AggregatePlan,
    codes: np.ndarray,
    n_codes: int,
    l1: dict[str, np.ndarray],
    ex: dict[str, np.ndarray],
    mixed: np.ndarray,
    capv: dict[str, float],
) -> list[tuple[int, dict[str, Any]]]:
    """Every aggregate of the plan for every group of ``codes`` that occurs."""
    g = _Grouped(codes, n_codes)
    cnt = g.count
    vals: dict[str, Any] = {}
    means: dict[str, np.ndarray] = {}

    def mean(e: str) -> np.ndarray:
        if e not in means:
            means[e] = g.mean(ex[e].astype(float))
        return means[e]

    for a in plan.aggregates:
        op, args = a.op, a.args
        if op == "count":
            vals[a.alias] = cnt
        elif op == "mixed":
            vals[a.alias] = g.sum(mixed)
        elif op == "miss":
            vals[a.alias] = g.sum(np.isnan(l1[args[0]]).astype(float))
        elif op == "avg":
            vals[a.alias] = mean(args[0])
        elif op == "isum":
            vals[a.alias] = g.isum(ex[args[0]])
        elif op == "covar":
            x, y = args
            dx = ex[x] - mean(x)[codes]
            dy = dx if x == y else ex[y] - mean(y)[codes]
            with np.errstate(invalid="ignore", divide="ignore"):
                vals[a.alias] = np.where(cnt > 1, g.sum(dx * dy) / (cnt - 1), np.nan)
        elif op == "iprod":
            vals[a.alias] = g.isum(ex[args[0]] * ex[args[1]])
        elif op == "favg":
            mask = np.isnan(l1[args[1]])
            vals[a.alias] = g.mean(ex[args[0]].astype(float), mask)
        elif op == "fsum":
            vals[a.alias] = g.isum(ex[args[0]], np.isnan(l1[args[1]]))
        elif op == "both":
            vals[a.alias] = g.sum((np.isnan(l1[args[0]]) & np.isnan(l1[args[1]])).astype(float))
        elif op == "capv":
            vals[a.alias] = np.full(n_codes, capv[args[0]])
        else:  # pragma: no cover - the plan only emits the ops above
            raise AssertionError(op)
    out = []
    for code in np.flatnonzero(cnt):
        row: dict[str, Any] = {}
        for k, v in vals.items():
            x = v[code]
            row[k] = None if isinstance(x, float | np.floating) and np.isnan(x) else x
        row["n"] = int(cnt[code])
        out.append((int(code), row))
    return out


def _is_numeric_dtype_name(t: str) -> bool:
    t = t.lower()
    return t.startswith(("int", "uint", "float", "double")) or t in ("bool", "boolean")


def _codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Float codes of ``s`` in sorted value order (NaN = missing), and their text labels.

    Labels are the text DuckDB's ``CAST(x AS VARCHAR)`` gives (booleans as 'true'/'false'),
    so both engines name groups the same way; the order is the column's own, as DuckDB's.
    """
    try:  # in the column's own order, as DuckDB's MIN over a unit's rows
        codes, uniq = pd.factorize(s, sort=True, use_na_sentinel=True)
        labels = [str(u) for u in _labels(pd.Series(uniq, dtype=s.dtype))]
        if len(set(labels)) != len(labels):
            raise TypeError("labels collide as text")
    except TypeError:  # unorderable mixed values: text order
        codes, uniq = pd.factorize(_labels(s), sort=True, use_na_sentinel=True)
        labels = [str(u) for u in uniq]
    out = codes.astype(float)
    out[codes < 0] = np.nan
    return out, labels


def _int_codes(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Float codes → int codes with missing as ``n_codes - 1``."""
    out = np.where(np.isnan(codes), n_codes - 1, codes)
    return out.astype(np.int64)


def _as_float(s: pd.Series) -> np.ndarray:
    """A numeric or boolean column as float64 (missing values as NaN), without a DataFrame."""
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def get_engine(engine: str | Engine, connection: Any = None) -> Engine:
    """An engine by name (``"duckdb"``, ``"pandas"`` or ``"spark"``; ``connection``: a DuckDB
    connection or a SparkSession) or the engine object itself."""
    if isinstance(engine, str):
        if engine == "duckdb":
            return DuckDBEngine(connection)
        if engine == "pandas":
            return PandasEngine()
        if engine == "spark":  # pyspark is imported lazily (the 'spark' extra)
            from causal.experiments._spark import SparkEngine

            return SparkEngine(connection)
        raise ConfigError(
            f"The 'engine' parameter must be 'duckdb', 'pandas' or 'spark' (or an Engine object). "
            f"Got {engine!r} instead."
        )
    if isinstance(engine, Engine):
        return engine
    raise ConfigError(f"The 'engine' parameter must be a name or an Engine. Got {engine!r}.")
