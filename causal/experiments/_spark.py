"""Spark executor of the aggregate plan: the same Moments as DuckDB and pandas, on a cluster.

:class:`SparkEngine` runs the three steps of :mod:`causal.experiments._engines` with Spark
aggregations (DataFrame API only: user column names are only ever passed as quoted column
references, never pasted into SQL text):

1. one ungrouped pre-pass (row count, and per metric column its non-null count, minimum and
   maximum) gives :class:`~causal.experiments._plan.ColumnStats`;
2. :func:`~causal.experiments._plan.build_plan` decides shifts, exact integer paths and the
   aggregates (the same plan as the other engines);
3. level 1 (one row per unit or cluster: ``groupBy(unit)`` sums of the shifted values) and the
   per-group aggregates in ONE ``groupingSets`` aggregation (variant, and variant × each
   segment). Integer sums run on ``LONG`` (exact; the plan keeps every partial sum below
   2**62), floating moments as ``avg`` / ``var_samp`` / ``covar_samp`` of the shifted values
   (Spark's merge of partial moments is the pairwise Chan et al. update, so the result does
   not depend on the partitioning beyond rounding).

``NaN`` in floating columns counts as missing, as in the pandas engine (Spark otherwise treats
NaN as a value). pyspark is imported lazily; without it :class:`SparkEngine` raises
:class:`~causal.OptionalDependencyError` naming the ``spark`` extra.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from typing import Any

import pandas as pd

from causal._errors import CausalError, ConfigError, OptionalDependencyError
from causal.data import missing_column_error
from causal.data._rules import RowRule, check_numeric
from causal.experiments._engines import (
    _MAX_BITMAP,
    _apply_rules,
    _check_prepass,
    _collect,
    _duck_key,
    _split_clusters,
)
from causal.experiments._plan import (
    AggregatePlan,
    AggregateRequest,
    Aggregates,
    ColumnStats,
    Expr,
    build_plan,
)

__all__ = ["SparkEngine", "require_pyspark"]

_INSTALL = "pip install 'content-causal[spark]'"


def require_pyspark() -> Any:
    """``pyspark.sql`` or an :class:`OptionalDependencyError` naming the extra to install."""
    try:
        import pyspark.sql as sql
    except ImportError:
        raise OptionalDependencyError(
            f"The Spark engine needs pyspark, which is not installed; install the 'spark' "
            f"extra: {_INSTALL} (Spark also needs Java 17 or newer)."
        ) from None
    return sql


_CHECKED_WORKERS: set[tuple[str, str]] = set()


def check_python_workers(spark: Any, modules: tuple[str, ...] = ("pandas", "pyarrow")) -> None:
    """Refuse, with the fix, a local Spark session whose Python workers cannot import ``modules``.

    Spark starts its Python workers (``mapInPandas``) with ``PYSPARK_PYTHON`` as it was when
    the session started, default ``python3`` from ``PATH`` — often not the interpreter running
    this code (a virtualenv used without activating it), and the job then dies on the executor
    with ``ModuleNotFoundError``. In local mode the workers run on this machine, so this
    checks their interpreter once per session (a subprocess, about a second); on a cluster the
    executors' environment is the cluster's business and nothing is checked.
    """
    sc = spark.sparkContext
    exe = str(getattr(sc, "pythonExec", None) or sys.executable)
    if not str(sc.master).startswith("local") or exe == sys.executable:
        return
    key = (sc.applicationId, exe)
    if key in _CHECKED_WORKERS:
        return
    code = "import " + ", ".join(modules)
    try:
        run = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=120)
        problem = run.stderr.strip().splitlines()[-1] if run.returncode else ""
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        raise CausalError(
            f"Spark's Python workers run '{exe}' (PYSPARK_PYTHON when the session started, "
            f"default 'python3'), which cannot import {', '.join(modules)} ({problem}); this "
            f"interpreter is '{sys.executable}'. Set os.environ['PYSPARK_PYTHON'] = "
            "sys.executable (or export PYSPARK_PYTHON) before the Spark session starts, or "
            "install content-causal in that interpreter."
        )
    _CHECKED_WORKERS.add(key)


def _col(name: str) -> Any:
    """A reference to the column named exactly ``name`` (dots and backticks are literal)."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


class SparkEngine:
    """Reduce a Spark table to the readout's Moments with Spark aggregations.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession, optional
        The session to use; default the active one, else ``SparkSession.builder.getOrCreate()``.

    Notes
    -----
    ``source`` may be a Spark DataFrame, a table or view name in the session's catalog, a
    ``.parquet``/``.csv`` path (read by Spark), or a pandas DataFrame (sent to Spark with
    Arrow; handy for tests, pointless for speed). Numbers equal DuckDB's and pandas' to
    ~1e-12 relative (tests: 1e-9).

    Examples
    --------
    >>> from causal.experiments import AggregateRequest, Mean
    >>> engine = SparkEngine()  # doctest: +SKIP
    >>> agg = engine.aggregate("events", AggregateRequest("arm", (Mean("y", "y"),)))  # doctest: +SKIP
    """

    name = "spark"

    def __init__(self, spark: Any = None) -> None:
        sql = require_pyspark()
        if spark is not None and not isinstance(spark, sql.SparkSession):
            raise ConfigError(
                "The Spark engine's connection must be a pyspark SparkSession. "
                f"Got {type(spark).__name__}."
            )
        self._spark = spark

    @property
    def spark(self) -> Any:
        """The session (created on first use when none was given or active)."""
        if self._spark is None:
            from pyspark.sql import SparkSession

            active = SparkSession.getActiveSession()
            if active is None:
                # Python workers (mapInPandas) of a session we start run this interpreter, not
                # whatever 'python3' is first on PATH (which may lack pandas and this package).
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            self._spark = active or SparkSession.builder.getOrCreate()
        return self._spark

    # -- the source as a Spark DataFrame -----------------------------------------------------
    def _frame(self, source: Any) -> Any:
        from pyspark.sql import DataFrame

        if isinstance(source, DataFrame):
            return source
        if isinstance(source, pd.DataFrame):
            return self.spark.createDataFrame(source)
        if isinstance(source, os.PathLike) or (
            isinstance(source, str) and source.lower().endswith((".parquet", ".pq", ".csv"))
        ):
            path = os.fspath(source)
            glob = any(ch in path for ch in "*?[")
            if not glob and "://" not in path and not os.path.exists(path):
                raise ConfigError(f"The data file '{path}' does not exist.")
            if path.lower().endswith(".csv"):
                return self.spark.read.csv(path, header=True, inferSchema=True)
            return self.spark.read.parquet(path)
        if isinstance(source, str):
            if not source or not all(source.split(".")):
                raise ConfigError(f"'{source}' is not a valid table name.")
            if not self.spark.catalog.tableExists(source):
                raise ConfigError(
                    f"No table or view named '{source}' in the Spark session's catalog; pass a "
                    "Spark DataFrame, a .parquet/.csv path, or register the table first "
                    "(df.createOrReplaceTempView). A new process (the command line) sees only "
                    "the tables of the metastore configured for it, e.g. "
                    "spark.sql.catalogImplementation hive in $SPARK_CONF_DIR/spark-defaults.conf."
                )
            return self.spark.table(source)
        raise ConfigError(
            f"Cannot read data of type {type(source).__name__}: give a Spark DataFrame, a table "
            "name, a .parquet/.csv path or a pandas DataFrame."
        )

    # -- the three steps -----------------------------------------------------------------------
    def aggregate(self, source: Any, request: AggregateRequest) -> Aggregates:
        """Pre-pass, plan, one grouping-sets aggregation → :class:`Aggregates`."""
        from pyspark.errors import PySparkException

        try:
            return self._aggregate(self._frame(source), request)
        except CausalError:
            raise
        except PySparkException as exc:  # a Spark failure: say where, without the JVM trace
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CausalError(f"Spark failed while computing the readout: {msg}") from None

    def _aggregate(self, df: Any, request: AggregateRequest) -> Aggregates:
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        schema = {f.name: f.dataType for f in df.schema.fields}
        for col in request.source_columns():
            if col not in schema:
                raise missing_column_error(col, list(schema))
        for m in request.metrics:
            for col in m.columns():
                t = schema[col]
                numeric = isinstance(t, T.NumericType | T.BooleanType)
                check_numeric(m.name, col, t.simpleString(), numeric)
        cols = [*request.value_columns(), *request.covariate_columns()]
        is_int = {c: isinstance(schema[c], T.IntegralType | T.BooleanType) for c in cols}

        # level 0: the columns used, under internal names; NaN → null; booleans → 0/1
        raw = {c: f"r{i}" for i, c in enumerate(cols)}
        sel = [_col(request.variant).alias("v")]
        segs = {s: f"s{i}" for i, s in enumerate(request.segments)}
        sel += [_col(s).alias(a) for s, a in segs.items()]
        if request.unit is not None:
            sel.append(_col(request.unit).alias("unit"))
        if request.cluster is not None:
            sel.append(_col(request.cluster).alias("cluster"))
        for c in cols:
            x = _col(c)
            t = schema[c]
            if isinstance(t, T.BooleanType):
                x = x.cast("long")
            elif isinstance(t, T.FloatType | T.DoubleType):
                x = F.when(F.isnan(x), F.lit(None)).otherwise(x.cast("double"))
            elif not isinstance(t, T.IntegralType):
                x = x.cast("double")  # decimals
            sel.append(x.alias(raw[c]))
        base = df.select(*sel)

        # 1. pre-pass
        pre = [F.count(F.lit(1)).alias("n")]
        for c in cols:
            r = raw[c]
            pre += [
                F.count(r).alias(f"k_{r}"),
                F.min(r).alias(f"lo_{r}"),
                F.max(r).alias(f"hi_{r}"),
            ]
        unit_int = request.unit is not None and request.cluster is None
        unit_int = unit_int and isinstance(schema[request.unit], T.IntegralType)
        if unit_int:
            pre += [F.count("unit").alias("u_k"), F.min("unit").alias("u_lo"),
                    F.max("unit").alias("u_hi")]  # fmt: skip
        p = base.agg(*pre).collect()[0].asDict()
        n_rows = int(p["n"])
        stats = {
            c: ColumnStats(
                nulls=n_rows - int(p[f"k_{raw[c]}"]),
                minimum=_num(p[f"lo_{raw[c]}"], is_int[c]),
                maximum=_num(p[f"hi_{raw[c]}"], is_int[c]),
                integer=is_int[c],
            )
            for c in cols
        }
        _check_prepass(request, stats)

        def count_bad(rules: list[RowRule]) -> list[int]:
            exprs = [F.count(F.when(_bad(r, F.col(raw[r.column])), 1)) for r in rules]
            return [int(v) for v in base.agg(*exprs).collect()[0]]

        _apply_rules(request, stats, count_bad)
        if unit_int and _units_unique(base, p, n_rows):
            request = dataclasses.replace(request, unit=None)  # one row per unit: no roll-up
        plan = build_plan(request, stats, n_rows)
        l1 = _level1(plan, base, raw)
        capv = _caps(plan, l1)
        ex = {e.alias: _expr(e, capv) for e in plan.exprs}
        aggs = _aggregates(plan, ex, capv)
        group_cols = ["v", *plan.segments.values()]
        # group on copies (k_*) so aggregates that read v keep the original column
        keyed = l1.select("*", *[F.col(c).alias(f"k_{c}") for c in group_cols])
        flags = [F.grouping(f"k_{a}").alias(f"g_{a}") for a in plan.segments.values()]
        if plan.segments:
            sets = [["k_v"], *[["k_v", f"k_{a}"] for a in plan.segments.values()]]
            grouped = keyed.groupingSets(
                [[F.col(c) for c in s] for s in sets], *[F.col(f"k_{c}") for c in group_cols]
            )
        else:
            grouped = keyed.groupBy("k_v")
        out = grouped.agg(*flags, *aggs)
        labels = [F.col(f"k_{c}").cast("string").alias(f"l_{c}") for c in group_cols]
        rest = [f"g_{a}" for a in plan.segments.values()] + [a.alias for a in plan.aggregates]
        rows = [r.asDict() for r in out.select(*labels, *rest).collect()]
        cluster_rows = None
        if plan.clustered:  # the per-cluster sums (G rows), for CR2
            values = [ex[e.alias].alias(e.alias) for e in plan.exprs]
            labels = [F.col(c).cast("string").alias(f"l_{c}") for c in group_cols]
            frame = l1.select(*labels, *values).toPandas()
            cluster_rows = _split_clusters(plan, frame)
        return _collect(plan, (_duck_key(r, plan) for r in rows), self.name, cluster_rows)


def _num(v: Any, integer: bool) -> float | int | None:
    if v is None:
        return None
    return int(v) if integer else float(v)


def _bad(rule: RowRule, x: Any) -> Any:
    """The Column form of :meth:`RowRule.sql_bad` (true for a bad non-null value)."""
    if rule.kind == "binary":
        return ~x.isin(0, 1)
    return x < 0


def _units_unique(base: Any, p: dict[str, Any], n_rows: int) -> bool:
    """Exactly whether every row has its own (non-null) integer unit id (as DuckDB decides:
    only for dense integer ids; the test itself is an exact distinct count)."""
    from pyspark.sql import functions as F

    if n_rows == 0 or int(p["u_k"]) != n_rows or p["u_lo"] is None:
        return False
    span = int(p["u_hi"]) - int(p["u_lo"]) + 1
    if span < n_rows or span > min(_MAX_BITMAP, 64 * n_rows):
        return False
    return int(base.agg(F.count_distinct("unit")).collect()[0][0]) == n_rows


def _level1(plan: AggregatePlan, base: Any, raw: dict[str, str]) -> Any:
    """One row per unit (cluster) with the unit columns of the plan; the rows themselves
    when there is no roll-up."""
    from pyspark.sql import functions as F

    request = plan.request
    segs = plan.segments
    if plan.roll is None:
        sel = [F.col("v")] + [F.col(a) for a in segs.values()]
        for u in plan.columns:
            x = F.col(raw[u.column])
            if u.integer:
                sel.append(x.cast("long").alias(u.alias))
            elif u.shift:
                sel.append((x.cast("double") - F.lit(float(u.shift))).alias(u.alias))
            else:
                sel.append(x.cast("double").alias(u.alias))
        return base.select(*sel)
    key = "cluster" if request.cluster is not None else "unit"
    aggs = [F.min("v").alias("v"), F.max("v").alias("v2")]
    if request.cluster is not None:
        nu = F.count_distinct("unit") if request.unit else F.count(F.lit(1))
        aggs.append(nu.alias("nu"))
    aggs += [F.min(s).alias(s) for s in segs.values()]
    for u in plan.columns:
        x = F.col(raw[u.column]).cast("double")
        aggs.append(F.sum(x - F.lit(float(u.shift)) if u.shift else x).alias(u.alias))
        if u.count:
            aggs.append(F.count(raw[u.column]).alias(u.count))
    return base.groupBy(key).agg(*aggs)


def _unit_value(e: Expr) -> Any:
    from pyspark.sql import functions as F

    if e.count:
        return F.col(e.source) + F.lit(float(e.shift)) * F.col(e.count)
    return F.col(e.source)


def _caps(plan: AggregatePlan, l1: Any) -> dict[str, float]:
    """Each cap's quantile of the unit values (exact, linear interpolation as DuckDB's
    ``QUANTILE_CONT`` and numpy's default)."""
    from pyspark.sql import functions as F

    if not plan.caps:
        return {}
    qs = [
        F.percentile(_unit_value(plan.expr(c.expr)), c.quantile).alias(c.alias) for c in plan.caps
    ]
    row = l1.agg(*qs).collect()[0].asDict()
    if any(v is None for v in row.values()):
        raise CausalError("A capped metric has no non-missing unit values to take a quantile of.")
    return {k: float(v) for k, v in row.items()}


def _expr(e: Expr, capv: dict[str, float]) -> Any:
    from pyspark.sql import functions as F

    if e.kind == "value":
        return F.col(e.source)
    if e.kind == "fill":
        return F.coalesce(F.col(e.source), F.lit(0) if e.integer else F.lit(float(e.fill)))
    if e.kind == "cap":
        return F.least(_unit_value(e), F.lit(capv[e.cap]))  # type: ignore[index]
    if e.kind in ("units", "count"):
        return F.col(e.source).cast("double")
    raise AssertionError(e.kind)  # pragma: no cover


def _aggregates(plan: AggregatePlan, ex: dict[str, Any], capv: dict[str, float]) -> list[Any]:
    """Every aggregate of the plan as a Spark Column named by its alias."""
    from pyspark.sql import functions as F

    integer = {e.alias for e in plan.exprs if e.integer}

    def dbl(a: str) -> Any:
        return ex[a].cast("double") if a in integer else ex[a]

    out = []
    for a in plan.aggregates:
        op, args = a.op, a.args
        if op == "count":
            c = F.count(F.lit(1))
        elif op == "mixed":
            c = F.count(F.when(F.col("v") != F.col("v2"), 1))
        elif op == "miss":
            c = F.count(F.lit(1)) - F.count(args[0])
        elif op == "avg":
            c = F.avg(ex[args[0]])
        elif op == "isum":
            c = F.sum(ex[args[0]])
        elif op == "covar":
            x, y = args
            c = F.var_samp(dbl(x)) if x == y else F.covar_samp(dbl(x), dbl(y))
        elif op == "iprod":
            c = F.sum(ex[args[0]] * ex[args[1]])
        elif op == "favg":
            c = F.avg(F.when(F.col(args[1]).isNull(), ex[args[0]]))
        elif op == "fsum":
            c = F.sum(F.when(F.col(args[1]).isNull(), ex[args[0]]))
        elif op == "both":
            c = F.count(F.when(F.col(args[0]).isNull() & F.col(args[1]).isNull(), 1))
        elif op == "capv":
            c = F.min(F.lit(capv[args[0]]))
        else:  # pragma: no cover - the plan only emits the ops above
            raise AssertionError(op)
        out.append(c.alias(a.alias))
    return out
