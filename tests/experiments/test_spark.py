"""Spark engine: the same plan as DuckDB and pandas, equal to 1e-9 relative; sources, errors.

One local[2] session for the whole run (``spark`` fixture in tests/conftest.py).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from causal import (
    CausalError,
    ConfigError,
    DuplicateUnitError,
    MissingColumnError,
    MissingValuesError,
    NonNumericColumnError,
    OptionalDependencyError,
)
from causal.cli import main
from causal.experiments import (
    AggregateRequest,
    DuckDBEngine,
    ExperimentDesign,
    GroupKey,
    Mean,
    PandasEngine,
    Proportion,
    Ratio,
    readout,
)
from causal.experiments._spark import SparkEngine
from tests.experiments.test_engines import METRICS, _assert_same, _data

# The bar: Spark, DuckDB and pandas give the same numbers to 1e-9 relative
# (_assert_same uses PARITY_RTOL = 1e-9, PARITY_ATOL = 1e-9 for covariances near 0).
READOUT_RTOL = 1e-9


def _engines(spark):
    return DuckDBEngine(), PandasEngine(), SparkEngine(spark)


@pytest.mark.parametrize(
    ("unit", "cluster"), [(None, None), ("user", None), ("user", "creator")], ids=str
)
def test_spark_duckdb_pandas_parity(spark, unit, cluster):
    """Unit roll-ups, clusters, two segment columns (one with missing values), CUPED with a
    partly missing covariate, a capped mean, a proportion of booleans and a CUPED ratio."""
    df = _data()
    metrics = METRICS
    if cluster is not None:  # no cap, one covariate per metric with clusters
        metrics = (Mean("revenue", "revenue", covariate="rev_pre"), *METRICS[2:])
    req = AggregateRequest(
        "arm", metrics, unit=unit, cluster=cluster, segments=("country", "platform")
    )
    duck, pand, spk = (e.aggregate(df, req) for e in _engines(spark))
    _assert_same(spk, duck)
    _assert_same(spk, pand)
    assert spk.engine == "spark" and spk.clustered == (cluster is not None)
    if cluster is None:
        assert len(spk.moments) == 3 + 3 * 6
        assert GroupKey("t1", "country", "(missing)") in spk.moments
    else:  # the per-cluster rows CR2 needs are kept and consistent with the moments
        for key in spk.moments:
            m, ref = spk.moments[key]["ctr"], duck.moments[key]["ctr"]
            assert m.rows is not None
            np.testing.assert_allclose(
                np.sort(m.rows, axis=0), np.sort(ref.rows, axis=0), rtol=1e-9, atol=1e-12
            )


def test_spark_reads_its_dataframes_tables_and_files(spark, tmp_path):
    df = _data(1500)
    req = AggregateRequest("arm", METRICS, unit="user", segments=("platform",))
    ref = PandasEngine().aggregate(df, req)
    sdf = spark.createDataFrame(df)
    eng = SparkEngine(spark)
    _assert_same(eng.aggregate(sdf, req), ref)
    sdf.createOrReplaceTempView("causal_exp_view")
    _assert_same(eng.aggregate("causal_exp_view", req), ref)
    pq = tmp_path / "x.parquet"
    df.to_parquet(pq)
    _assert_same(eng.aggregate(str(pq), req), ref)


def test_unique_integer_units_and_integer_sums_exact(spark):
    """Unique integer unit ids skip the roll-up (exact integer path) as in DuckDB; integers
    at 1e9 use exact LONG sums."""
    rng = np.random.default_rng(5)
    n = 4000
    df = pd.DataFrame(
        {
            "uid": rng.permutation(n) + 10**6,
            "arm": rng.choice(["a", "b"], n),
            "x": 10**9 + rng.integers(0, 100, n),
            "y": rng.integers(0, 50, n),
            "flag": rng.random(n) < 0.3,
        }
    )
    req = AggregateRequest("arm", (Ratio("r", "x", "y"), Proportion("p", "flag")), unit="uid")
    spk = SparkEngine(spark).aggregate(df, req)
    _assert_same(spk, DuckDBEngine().aggregate(df, req))
    sub = df[df["arm"] == "a"]
    ref = np.cov(sub[["x", "y"]].to_numpy(float), rowvar=False)
    np.testing.assert_allclose(spk.moments[GroupKey("a")]["r"].cov, ref, rtol=1e-9)


def test_shifted_moments_at_offset_1e12(spark):
    """Values at 1e12 with sd 1e-3: the shift keeps the variance (raw AVG would lose it)."""
    rng = np.random.default_rng(3)
    n = 6000
    y = 1e12 + rng.normal(0, 1e-3, n)
    df = pd.DataFrame({"arm": np.where(np.arange(n) % 2 == 0, "a", "b"), "y": y})
    req = AggregateRequest("arm", (Mean("y", "y"),))
    spk = SparkEngine(spark).aggregate(df, req)
    _assert_same(spk, PandasEngine().aggregate(df, req))
    yy = y[::2]
    ref = (yy - yy.min()).var(ddof=1)  # y - min(y) is exact (Sterbenz): an exact reference
    got = spk.moments[GroupKey("a")]["y"].cov[0, 0]
    np.testing.assert_allclose(got, ref, rtol=1e-9)


def test_readout_engine_spark_equals_duckdb(spark):
    df = _data(3000, seed=2)
    d = ExperimentDesign(
        "arm", "control",
        [Mean("revenue", "revenue", covariate="rev_pre"), Ratio("ctr", "clicks", "views")],
        guardrails=[Proportion("conversion", "converted")], unit="user",
        segments=["platform"],
    )  # fmt: skip
    kw = {"margins": {"conversion": 0.5}}
    a = readout(df, d, engine="duckdb", **kw)
    b = readout(spark.createDataFrame(df), d, engine="spark", connection=spark, **kw)
    assert b.engine == "spark"
    rows = list(zip(a.metrics + a.segments, b.metrics + b.segments, strict=True))
    assert len(rows) == 3 * 2 + 3 * 2 * 2  # (revenue, ctr, conversion) x 2 arms x platforms
    for ra, rb in rows:
        assert (ra.metric, ra.variant, ra.segment_value) == (
            rb.metric,
            rb.variant,
            rb.segment_value,
        )
        np.testing.assert_allclose(
            [ra.effect, ra.se, ra.pvalue, ra.effect_ci_lower],
            [rb.effect, rb.se, rb.pvalue, rb.effect_ci_lower], rtol=READOUT_RTOL,
        )  # fmt: skip


def test_cli_readout_spark_table_and_file(spark, tmp_path):
    df = _data(2000, seed=4)[["arm", "revenue", "clicks", "views", "platform"]]
    spark.createDataFrame(df).createOrReplaceTempView("causal_cli_table")
    pq = tmp_path / "e.parquet"
    df.to_parquet(pq)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "variant: arm\ncontrol: control\nmetrics:\n"
        "  - {name: revenue, type: mean, column: revenue}\n"
        "  - {name: ctr, type: ratio, numerator: clicks, denominator: views}\n"
        "segments: [platform]\n"
    )
    docs = []
    for data, engine in (("causal_cli_table", "spark"), (str(pq), "spark"), (str(pq), "duckdb")):
        out = tmp_path / f"o_{engine}_{len(docs)}"
        main(["readout", data, "-c", str(cfg), "-o", str(out), "--engine", engine, "-q"])
        docs.append(json.loads((out / "readout.json").read_text()))
    for doc in docs[:2]:
        for got, want in zip(doc["metrics"], docs[2]["metrics"], strict=True):
            np.testing.assert_allclose([got["effect"], got["se"]], [want["effect"], want["se"]],
                                       rtol=READOUT_RTOL)  # fmt: skip


# -- bad input: clear errors ------------------------------------------------------------------


def test_missing_table_is_a_clear_error(spark):
    req = AggregateRequest("arm", (Mean("y", "y"),))
    with pytest.raises(ConfigError, match="No table or view named 'no_such_table'") as err:
        SparkEngine(spark).aggregate("no_such_table", req)
    assert "SPARK_CONF_DIR" in str(err.value)  # how a command-line process sees a metastore
    with pytest.raises(ConfigError, match="does not exist"):
        SparkEngine(spark).aggregate("/nonexistent/x.parquet", req)


def test_string_metric_and_missing_column_are_clear_errors(spark):
    sdf = spark.createDataFrame(
        pd.DataFrame({"arm": ["a", "b"] * 5, "y": ["1.5"] * 10, "z": np.arange(10.0)})
    )
    with pytest.raises(NonNumericColumnError, match="'y'"):
        SparkEngine(spark).aggregate(sdf, AggregateRequest("arm", (Mean("m", "y"),)))
    with pytest.raises(MissingColumnError, match="'w'"):
        SparkEngine(spark).aggregate(sdf, AggregateRequest("arm", (Mean("m", "w"),)))


def test_row_problems_are_the_same_errors_as_duckdb(spark):
    base = pd.DataFrame({"u": [1, 1, 2, 3] * 5, "arm": ["a", "b", "a", "b"] * 5,
                         "y": np.arange(20.0), "p": [0, 1, 2, 0] * 5})  # fmt: skip
    eng = SparkEngine(spark)
    with pytest.raises(DuplicateUnitError, match="more than one variant"):
        eng.aggregate(base, AggregateRequest("arm", (Mean("m", "y"),), unit="u"))
    with pytest.raises(ConfigError, match="only 0 and 1"):
        eng.aggregate(base, AggregateRequest("arm", (Proportion("p", "p"),)))
    nan = base.assign(y=np.where(np.arange(20) % 7 == 0, np.nan, base["y"]))
    with pytest.raises(MissingValuesError, match="missing .* for 3 rows"):
        eng.aggregate(nan, AggregateRequest("arm", (Mean("m", "y"),)))


def test_quoted_column_names_with_dots_and_backticks(spark):
    df = pd.DataFrame({"my.arm": ["a", "b"] * 50, "re`v": np.arange(100.0) % 7})
    req = AggregateRequest("my.arm", (Mean("m", "re`v"),))
    _assert_same(SparkEngine(spark).aggregate(df, req), PandasEngine().aggregate(df, req))


def test_without_pyspark_the_error_names_the_extra(monkeypatch):
    for mod in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark → ImportError
    df = pd.DataFrame({"arm": ["a", "b"], "y": [1.0, 2.0]})
    d = ExperimentDesign("arm", "a", [Mean("y", "y")])
    with pytest.raises(OptionalDependencyError, match=r"content-causal\[spark\]"):
        readout(df, d, engine="spark")
    assert issubclass(OptionalDependencyError, CausalError)
