"""Engines: reduce an experiment table to :class:`~causal.stats.Moments`, inside the engine.

Every engine implements :class:`Engine` (``aggregate(source, request) -> Aggregates``).
:class:`DuckDBEngine` (the embedded default) runs ONE grouped SQL statement per table over a
DataFrame, a .parquet/.csv path or a table: rows are summed per unit (``unit``) or per cluster
(``cluster``) first, then each (variant[, segment value]) group yields counts, ``avg`` and
``var_samp``/``covar_samp`` for every pair of columns a metric needs (numerically stable; never
the raw ``sum(x**2) - sum(x)**2 / n``). Segments come from ``GROUPING SETS`` in the same
statement (with a roll-up, a unit's or cluster's segment is its smallest value over its rows;
a covariate missing for a unit is zero-filled with a missing indicator, whose moments are
derived exactly from missing counts and filtered means). :class:`PandasEngine` computes the same numbers with centred two-pass numpy; the two
agree to ~1e-12 relative. A Spark engine implements the same interface.

Identifiers are validated and double-quoted (embedded quotes escaped); file paths and numbers
are query parameters, never pasted into SQL.
"""

from __future__ import annotations

import contextlib
import os
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
    NonNumericColumnError,
)
from causal.data import Mean, missing_column_error, quote_ident
from causal.experiments._plan import (
    MISSING_SUFFIX,
    N_UNITS,
    N_UNITS_PRE,
    AggregateRequest,
    Aggregates,
    GroupKey,
    moment_names,
)
from causal.stats import Moments

__all__ = ["DuckDBEngine", "Engine", "PandasEngine", "get_engine", "quote_ident"]

Source = pd.DataFrame | str | os.PathLike[str]

_NUMERIC_DUCK = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
    "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN",
)  # fmt: skip
_INT_DUCK = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "BOOLEAN",
)  # fmt: skip
MISSING_LABEL = "(missing)"
_FEW_GROUPS = 8  # pandas engine: up to this many groups, select each by a mask


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


def _check_schema(types: dict[str, str], request: AggregateRequest, numeric) -> None:
    """Missing or non-numeric columns → a CausalError naming the column."""
    avail = list(types)
    for col in request.source_columns():
        if col not in types:
            raise missing_column_error(col, avail)
    for m in request.metrics:
        for col in m.columns():
            if not numeric(types[col]):
                raise NonNumericColumnError(
                    f"Metric '{m.name}': column '{col}' must be numeric (or boolean) but holds "
                    f"{types[col]}; convert it to numbers or pick another column."
                )


def _check_results(aggs: dict[GroupKey, dict[str, Moments]], request: AggregateRequest) -> None:
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

    def __init__(self, connection: duckdb.DuckDBPyConnection | None = None) -> None:
        self.connection = connection

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
        con = self.connection
        if con is None:
            con = duckdb.connect()
            # no progress bar on stderr (in Jupyter, DuckDB refuses without ipywidgets)
            with contextlib.suppress(duckdb.Error):
                con.execute("SET enable_progress_bar = false")
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
        _check_schema(types, request, lambda t: t.split("(")[0] in _NUMERIC_DUCK)
        q = quote_ident
        clustered = request.cluster is not None
        roll = request.cluster or request.unit
        vcol = f"CAST({q(request.variant)} AS VARCHAR)"
        cols = [*request.value_columns(), *request.covariate_columns()]
        alias = {c: f"c{i}" for i, c in enumerate(cols)}
        # null counts of the raw rows: a cheap ungrouped pass (Parquet answers it from its
        # statistics). Columns without nulls need no missing-value aggregates below.
        # Integer columns (without a roll-up) take an exact path: SUM of values and of products
        # in integer arithmetic (HUGEINT sums), so moments are exact and fast; MIN/MAX (free on
        # Parquet) bound the products to rule out BIGINT overflow.
        int_cols = [c for c in cols if roll is None and types[c].split("(")[0] in _INT_DUCK]
        pre = [f"COUNT({q(c)})" for c in cols]
        pre += [f"MIN({q(c)}), MAX({q(c)})" for c in int_cols]
        counts = _prepass(con, src, params, pre, n_counts=1 + len(cols))
        n_rows = int(counts[0])
        has_null = {alias[c]: counts[0] - counts[i + 1] > 0 for i, c in enumerate(cols)}
        lim = counts[1 + len(cols) :]
        bound = {
            alias[c]: max(abs(int(lim[2 * i] or 0)), abs(int(lim[2 * i + 1] or 0)))
            for i, c in enumerate(int_cols)
        }
        # 0/1 columns (proportions): x * x == x, so their sum of squares is their sum
        binary = {
            alias[c]
            for i, c in enumerate(int_cols)
            if int(lim[2 * i] or 0) >= 0 and bound[alias[c]] <= 1
        }
        if roll is None:
            for c in request.value_columns():
                if has_null[alias[c]]:
                    raise MissingValuesError(
                        f"The metric column '{c}' is missing (null/NaN) for "
                        f"{counts[0] - counts[cols.index(c) + 1]} rows; fill them (e.g. 0 for "
                        "no activity) or drop those rows before the readout."
                    )
        segs = {s: f"s{i}" for i, s in enumerate(request.segments)}
        # level 1: one row per unit (or cluster, or source row). Without a roll-up, group keys
        # stay in their own type (cheaper to group) and become text only in the output.
        if roll is None:
            l1 = [f"{q(request.variant)} AS v", "1 AS nu"]
            l1 += [f"{q(s)} AS {a}" for s, a in segs.items()]
            l1 += [
                f"{_as_bigint(q(c), types[c]) if a in bound else _as_double(q(c), types[c])} AS {a}"
                for c, a in alias.items()
            ]
            level1 = f"SELECT {', '.join(l1)} FROM {src}"
        else:
            nu = f"COUNT(DISTINCT {q(request.unit)})" if clustered and request.unit else "COUNT(*)"
            l1 = [f"MIN({vcol}) AS v", f"MAX({vcol}) AS v2", f"{nu} AS nu"]
            l1 += [f"MIN(CAST({q(s)} AS VARCHAR)) AS {a}" for s, a in segs.items()]
            l1 += [f"SUM({_as_double(q(c), types[c])}) AS {a}" for c, a in alias.items()]
            level1 = f"SELECT {', '.join(l1)} FROM {src} GROUP BY {q(roll)}"
        # caps: pooled quantile of the unit-level metric column, in a CTE of the same statement
        caps: list[tuple[str, str, float]] = []  # (metric name, cte alias, quantile)
        for m in request.metrics:
            cap = getattr(m, "cap", None)
            if cap is not None and isinstance(m, Mean):
                caps.append((m.name, f"q{len(caps)}", float(cap)))
        cap_of = {name: a for name, a, _ in caps}
        # per metric, its Moments columns as slots: ("x", expression alias) for a value, or
        # ("ind", covariate alias) for a missing indicator. Indicator moments are derived
        # exactly from missing counts and filtered means (no per-row indicator products).
        exprs: dict[str, str] = {}  # sql -> alias, deduplicated across metrics
        ebound: dict[str, int] = {}  # integer expression alias -> bound on |value|
        ebinary: set[str] = set()  # expressions whose values are all 0 or 1

        def ex(sql: str, base: str | None = None) -> str:
            if sql not in exprs:
                exprs[sql] = f"e{len(exprs)}"
                if base is not None and base in bound:
                    ebound[exprs[sql]] = bound[base]
                if base is not None and base in binary:
                    ebinary.add(exprs[sql])
            return exprs[sql]

        plan: dict[str, list[tuple[str, str]]] = {}
        for m in request.metrics:
            slots: list[tuple[str, str]] = []
            for nm in moment_names(m, clustered=clustered):
                if nm in (N_UNITS, N_UNITS_PRE):
                    slots.append(("x", ex("CAST(nu AS DOUBLE)")))
                elif nm.endswith(MISSING_SUFFIX) and nm[: -len(MISSING_SUFFIX)] in alias:
                    slots.append(("ind", alias[nm[: -len(MISSING_SUFFIX)]]))
                elif nm in m.covariates and has_null[alias[nm]]:
                    a = alias[nm]
                    zero = "0" if a in bound else "0.0"
                    slots.append(("x", ex(f"COALESCE({a}, {zero})", a)))
                elif m.name in cap_of and isinstance(m, Mean) and nm == m.column:
                    a = alias[nm]
                    slots.append(("x", ex(f"LEAST(CAST({a} AS DOUBLE), {cap_of[m.name]})")))
                else:
                    slots.append(("x", ex(alias[nm], alias[nm])))
            plan[m.name] = slots
        sql_of = {a: s for s, a in exprs.items()}
        aggs = ["COUNT(*) AS n"]
        if roll is not None:
            aggs.append("COUNT(*) FILTER (WHERE v <> v2) AS mixed")
        aggs += [f"COUNT(*) - COUNT({a}) AS miss_{a}" for a in alias.values() if has_null[a]]
        aggs += [
            f"SUM({sql}) AS sum_{a}" if a in ebound else f"AVG({sql}) AS avg_{a}"
            for sql, a in exprs.items()
        ]
        pairs: dict[tuple[str, str], str] = {}
        extra: dict[tuple[str, str, str], str] = {}  # derived indicator aggregates

        def pair(a: str, b: str) -> str:
            key = (a, b) if a <= b else (b, a)
            if key not in pairs:
                sa, sb = sql_of[key[0]], sql_of[key[1]]
                ba, bb = ebound.get(key[0]), ebound.get(key[1])
                if key[0] == key[1] and key[0] in ebinary:
                    pairs[key] = f"bp{len(pairs)}"  # sum(x * x) == sum(x): nothing to compute
                elif ba is not None and bb is not None and ba * bb < 2**62:
                    pairs[key] = f"ip{len(pairs)}"  # exact: sum of BIGINT products
                    aggs.append(f"SUM({sa} * {sb}) AS {pairs[key]}")
                elif ba is not None and bb is not None and ba * bb * max(n_rows, 1) < 2**125:
                    pairs[key] = f"ip{len(pairs)}"  # exact, wider: HUGEINT products
                    aggs.append(f"SUM(CAST({sa} AS HUGEINT) * {sb}) AS {pairs[key]}")
                else:
                    pairs[key] = f"p{len(pairs)}"
                    if ba is not None:
                        sa = f"CAST({sa} AS DOUBLE)"
                    if bb is not None:
                        sb = f"CAST({sb} AS DOUBLE)"
                    fn = f"VAR_SAMP({sa})" if key[0] == key[1] else f"COVAR_SAMP({sa}, {sb})"
                    aggs.append(f"{fn} AS {pairs[key]}")
            return pairs[key]

        def filtered_avg(x: str, c: str) -> str:
            key = ("fa", x, c)
            if key not in extra:
                extra[key] = f"fa{len(extra)}"
                aggs.append(f"AVG({sql_of[x]}) FILTER (WHERE {c} IS NULL) AS {extra[key]}")
            return extra[key]

        def both_missing(c: str, d: str) -> str:
            key = ("both", min(c, d), max(c, d))
            if key not in extra:
                extra[key] = f"bm{len(extra)}"
                aggs.append(f"COUNT(*) FILTER (WHERE {c} IS NULL AND {d} IS NULL) AS {extra[key]}")
            return extra[key]

        for slots in plan.values():
            for i, (ka, a) in enumerate(slots):
                for kb, b in slots[i:]:
                    if ka == "x" and kb == "x":
                        pair(a, b)
                    elif ka == "ind" and kb == "ind":
                        if a != b and has_null[a] and has_null[b]:
                            both_missing(a, b)
                    elif has_null[b if ka == "x" else a]:
                        filtered_avg(a if ka == "x" else b, b if ka == "x" else a)
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
        cap_params: list[Any] = []
        if caps:
            col_of = {m.name: m.column for m in request.metrics if isinstance(m, Mean)}
            qs = ", ".join(
                f"QUANTILE_CONT({alias[col_of[n]]}, ?::DOUBLE) AS {a}" for n, a, _ in caps
            )
            cap_params = [qv for _, _, qv in caps]
            cte.append(f"caps AS (SELECT {qs} FROM l1)")
            from_ = "l1, caps"
            aggs += [f"MIN({a}) AS capv_{a}" for _, a, _ in caps]
        sql = f"WITH {', '.join(cte)} SELECT {', '.join(keys + aggs)} FROM {from_} GROUP BY {group_by}"
        cur = con.execute(sql, params + cap_params)
        cols_out = [d[0] for d in cur.description]
        rows = cur.fetchall()
        cap_values: dict[str, float] = {}
        out: dict[GroupKey, dict[str, Moments]] = {}
        for row in rows:
            r = dict(zip(cols_out, row, strict=True))
            r.setdefault("mixed", 0)
            r["v"] = r["l_v"]
            for n_, a_, _ in caps:
                cap_values[n_] = float(r[f"capv_{a_}"])
            key = self._key(r, segs)
            n = int(r["n"])
            if key.segment is None:
                _raise_row_problems(r, request, alias, key.variant, roll)
            group: dict[str, Moments] = {}
            for m in request.metrics:
                group[m.name] = _moments_from_row(
                    r, n, plan[m.name], moment_names(m, clustered=clustered), pairs, extra
                )
            out[key] = group
        if not any(k.segment is None for k in out):
            raise CausalError(f"The data have no rows (variant column '{request.variant}').")
        _check_results(out, request)
        return Aggregates(out, clustered=clustered, engine=self.name, caps=cap_values)

    @staticmethod
    def _key(r: dict[str, Any], segs: dict[str, str]) -> GroupKey:
        v = r["l_v"]
        variant = MISSING_LABEL if v is None else str(v)
        for s, a in segs.items():
            if r[f"g_{a}"] == 0:  # this row groups by segment column s
                val = r[f"l_{a}"]
                return GroupKey(variant, s, MISSING_LABEL if val is None else str(val))
        return GroupKey(variant)


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


def _moments_from_row(
    r: dict[str, Any],
    n: int,
    slots: list[tuple[str, str]],
    names: tuple[str, ...],
    pairs: dict[tuple[str, str], str],
    extra: dict[tuple[str, str, str], str],
) -> Moments:
    """Moments of one metric from one result row of the grouped query.

    Value columns use ``avg`` and ``var_samp``/``covar_samp``. A missing indicator ``d_c`` of
    covariate ``c`` (``m`` units missing) has mean ``m / n`` and exact centred cross-products
    ``sum (z - zbar)(d_c - m/n) = m (zbar_missing - zbar)``, ``sum (d_c - m/n)^2 = m - m^2/n``
    and ``sum (d_c - p_c)(d_e - p_e) = m_ce - m_c m_e / n``.
    """
    k = len(slots)
    mean = np.empty(k)
    com = np.zeros((k, k))
    miss = {a: int(r.get(f"miss_{a}", 0)) for kind, a in slots if kind == "ind"}
    for i, (kind, a) in enumerate(slots):
        if kind == "ind":
            mean[i] = miss[a] / n
        elif f"sum_{a}" in r:
            mean[i] = int(r[f"sum_{a}"]) / n  # exact integer sum, correctly rounded
        else:
            mean[i] = _num(r[f"avg_{a}"])
    for i, (ka, a) in enumerate(slots):
        for j in range(i, k):
            kb, b = slots[j]
            if ka == "x" and kb == "x":
                name = pairs[(a, b) if a <= b else (b, a)]
                val = r[f"sum_{a}"] if name.startswith("bp") else r[name]
                if name.startswith(("ip", "bp")):  # exact: (n sum(ab) - sum(a) sum(b)) / n
                    sa, sb = int(r[f"sum_{a}"]), int(r[f"sum_{b}"])
                    c = (n * int(val) - sa * sb) / n
                else:
                    c = 0.0 if n < 2 or val is None else float(val) * (n - 1)
            elif ka == "ind" and kb == "ind":
                if a == b:
                    c = miss[a] - miss[a] ** 2 / n
                elif miss[a] == 0 or miss[b] == 0:
                    c = 0.0
                else:
                    both = int(r[extra[("both", min(a, b), max(a, b))]])
                    c = both - miss[a] * miss[b] / n
            else:
                x, ind = (a, b) if ka == "x" else (b, a)
                m = miss[ind]
                fa = r[extra[("fa", x, ind)]] if m else None
                xbar = mean[i] if ka == "x" else mean[j]
                c = 0.0 if fa is None else m * (float(fa) - xbar)
            com[i, j] = com[j, i] = c
    return Moments(n=n, names=names, mean=mean, comoment=com)


def _as_bigint(col: str, duck_type: str) -> str:
    """SQL casting an integer or boolean column to BIGINT (exact-integer moments)."""
    if duck_type == "BOOLEAN":
        return f"CAST(CAST({col} AS INTEGER) AS BIGINT)"
    return f"CAST({col} AS BIGINT)"


def _as_double(col: str, duck_type: str) -> str:
    """SQL casting a numeric or boolean column to DOUBLE.

    Booleans go through INTEGER: DuckDB pushes casts into its CSV reader, where the text
    'FALSE' does not parse as a DOUBLE.
    """
    if duck_type == "BOOLEAN":
        return f"CAST(CAST({col} AS INTEGER) AS DOUBLE)"
    return f"CAST({col} AS DOUBLE)"


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _raise_row_problems(
    r: dict[str, Any],
    request: AggregateRequest,
    alias: dict[str, str],
    variant: str,
    roll: str | None,
) -> None:
    if variant == MISSING_LABEL and r["v"] is None:
        raise MissingValuesError(
            f"The variant column '{request.variant}' is empty (null) for {int(r['n'])} "
            f"{'units' if roll else 'rows'}; drop or label those rows."
        )
    if int(r["mixed"]):
        raise DuplicateUnitError(
            f"{int(r['mixed'])} value(s) of '{roll}' appear in more than one variant of "
            f"'{request.variant}'; each {'cluster' if request.cluster else 'unit'} must be "
            "randomized to exactly one variant."
        )
    for col in request.value_columns():
        miss = int(r.get(f"miss_{alias[col]}", 0))
        if miss:
            raise MissingValuesError(
                f"The metric column '{col}' is missing (null/NaN) for {miss} "
                f"{'units' if roll else 'rows'} of variant '{variant}'; fill them (e.g. 0 "
                "for no activity) or drop those rows before the readout."
            )


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


class PandasEngine:
    """The in-memory engine: the same numbers as :class:`DuckDBEngine`, computed with numpy.

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
        clustered = request.cluster is not None
        roll = request.cluster or request.unit
        cols = [*request.value_columns(), *request.covariate_columns()]
        # labels as sorted integer codes (NaN = missing), so min/max per unit run in C
        v_code, v_uniq = _codes(df[request.variant])
        seg_codes = {s: _codes(df[s]) for s in request.segments}
        l1: dict[str, np.ndarray]  # one array per column, one row per unit (or cluster)
        if roll is not None:
            base = pd.DataFrame(
                {"v": v_code}
                | {f"s:{s}": sc[0] for s, sc in seg_codes.items()}
                | {c: _as_float(df[c]) for c in cols}
            )
            base["roll"] = df[roll].to_numpy()
            if clustered and request.unit:
                base["unit"] = df[request.unit].to_numpy()
            g = base.groupby("roll", sort=False, dropna=False)
            l1 = {"v": g["v"].min().to_numpy(float), "v2": g["v"].max().to_numpy(float)}
            for s in request.segments:
                l1[f"s:{s}"] = g[f"s:{s}"].min().to_numpy(float)
            for c in cols:
                l1[c] = g[c].sum(min_count=1).to_numpy(float)
            nu = g["unit"].nunique() if clustered and request.unit else g.size()
            l1["nu"] = nu.to_numpy(float)
        else:
            l1 = {"v": v_code, "v2": v_code}
            l1 |= {f"s:{s}": sc[0] for s, sc in seg_codes.items()}
            l1 |= {c: _as_float(df[c]) for c in cols}
            l1["nu"] = np.ones(len(v_code))
        for c in cols:
            n_inf = int(np.isinf(l1[c]).sum())
            if n_inf:
                raise MissingValuesError(
                    f"The column '{c}' holds infinite values for {n_inf} units; remove or cap "
                    "them before the readout."
                )
        caps: dict[str, float] = {}
        for m in request.metrics:
            cap = getattr(m, "cap", None)
            if cap is not None and isinstance(m, Mean):
                vals = l1[m.column]
                caps[m.name] = float(np.quantile(vals[~np.isnan(vals)], float(cap)))
        # per metric: the unit-level matrix of its Moments columns
        n_units = len(l1["v"])
        mats: dict[str, np.ndarray] = {}
        for m in request.metrics:
            names = moment_names(m, clustered=clustered)
            z = np.empty((n_units, len(names)))
            for j, nm in enumerate(names):
                if nm in (N_UNITS, N_UNITS_PRE):
                    z[:, j] = l1["nu"]
                elif nm.endswith(MISSING_SUFFIX) and nm[: -len(MISSING_SUFFIX)] in l1:
                    z[:, j] = np.isnan(l1[nm[: -len(MISSING_SUFFIX)]])
                elif nm in m.covariates:
                    z[:, j] = np.nan_to_num(l1[nm], nan=0.0, posinf=np.inf, neginf=-np.inf)
                elif m.name in caps and isinstance(m, Mean) and nm == m.column:
                    z[:, j] = np.minimum(l1[nm], caps[m.name])
                else:
                    z[:, j] = l1[nm]
            mats[m.name] = z
        nv = len(v_uniq) + 1  # the last code is "missing"
        v_codes = _int_codes(l1["v"], nv)
        mixed = v_codes != _int_codes(l1["v2"], nv)
        out: dict[GroupKey, dict[str, Moments]] = {}
        for code, idx, group in self._groups(v_codes, nv, mats, request, clustered):
            label = v_uniq[code] if code < len(v_uniq) else None
            r = {"v": label, "n": len(idx), "mixed": int(mixed[idx].sum())}
            for c in request.value_columns():
                r[f"miss_{c}"] = int(np.isnan(l1[c][idx]).sum())
            variant = MISSING_LABEL if label is None else label
            _raise_row_problems(r, request, {c: c for c in cols}, variant, roll)
            out[GroupKey(variant)] = group
        for s in request.segments:
            s_uniq = seg_codes[s][1]
            ns = len(s_uniq) + 1
            combo = v_codes * ns + _int_codes(l1[f"s:{s}"], ns)
            for code, _, group in self._groups(combo, nv * ns, mats, request, clustered):
                a, b = divmod(code, ns)
                key = GroupKey(
                    v_uniq[a] if a < len(v_uniq) else MISSING_LABEL,
                    s,
                    s_uniq[b] if b < len(s_uniq) else MISSING_LABEL,
                )
                out[key] = group
        if not out:
            raise CausalError(f"The data have no rows (variant column '{request.variant}').")
        _check_results(out, request)
        return Aggregates(out, clustered=clustered, engine=self.name, caps=caps)

    @staticmethod
    def _groups(
        codes: np.ndarray,
        n_codes: int,
        mats: dict[str, np.ndarray],
        request: AggregateRequest,
        clustered: bool,
    ) -> list[tuple[int, np.ndarray, dict[str, Moments]]]:
        """(code, row positions, Moments per metric) of each code that occurs.

        Few groups: select each by a mask. Many groups: reorder each metric matrix once, then
        take contiguous slices. Either way Moments are centred two-pass (``from_array``).
        """
        counts = np.bincount(codes, minlength=n_codes)
        present = np.flatnonzero(counts)
        names = {m.name: moment_names(m, clustered=clustered) for m in request.metrics}
        out = []
        if len(present) <= _FEW_GROUPS:
            for code in present:
                idx = np.flatnonzero(codes == code)
                group = {nm: Moments.from_array(mats[nm][idx], names[nm]) for nm in names}
                out.append((int(code), idx, group))
            return out
        order = np.argsort(codes, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        sorted_mats = {nm: z[order] for nm, z in mats.items()}
        for code in present:
            lo, hi = bounds[code], bounds[code + 1]
            group = {nm: Moments.from_array(sorted_mats[nm][lo:hi], names[nm]) for nm in names}
            out.append((int(code), order[lo:hi], group))
        return out

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


def _is_numeric_dtype_name(t: str) -> bool:
    t = t.lower()
    return t.startswith(("int", "uint", "float", "double")) or t in ("bool", "boolean")


def _codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Float codes of the text labels of ``s`` in sorted label order (NaN = missing).

    Labels are the text DuckDB's ``CAST(x AS VARCHAR)`` gives (booleans as 'true'/'false'),
    so both engines name groups the same way.
    """
    text = _labels(s)
    codes, uniq = pd.factorize(text, sort=True, use_na_sentinel=True)
    out = codes.astype(float)
    out[codes < 0] = np.nan
    return out, [str(u) for u in uniq]


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
    """An engine by name (``"duckdb"`` or ``"pandas"``) or the engine object itself."""
    if isinstance(engine, str):
        if engine == "duckdb":
            return DuckDBEngine(connection)
        if engine == "pandas":
            return PandasEngine()
        if engine == "spark":
            from causal._errors import OptionalDependencyError

            raise OptionalDependencyError(
                "The 'spark' engine is not available in this version; use engine='duckdb'."
            )
        raise ConfigError(
            f"The 'engine' parameter must be 'duckdb' or 'pandas' (or an Engine object). "
            f"Got {engine!r} instead."
        )
    if isinstance(engine, Engine):
        return engine
    raise ConfigError(f"The 'engine' parameter must be a name or an Engine. Got {engine!r}.")
