"""Engines: pandas vs DuckDB parity, numeric stability, roll-ups, sources, quoting, merging."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from causal import MissingColumnError, MissingValuesError, NonNumericColumnError
from causal.experiments import (
    AggregateRequest,
    Aggregates,
    DuckDBEngine,
    GroupKey,
    Mean,
    PandasEngine,
    Proportion,
    Ratio,
    merge_aggregates,
    metric_inputs,
    quote_ident,
)
from causal.stats import Moments

PARITY_RTOL = 1e-9  # the bar: same specs, same numbers on both engines
# Both engines compute centred moments in float64 (DuckDB: streaming Welford; numpy: two-pass);
# they differ by rounding only, ~1e-13 relative, far inside PARITY_RTOL.
PARITY_ATOL = 1e-9  # covariances that are ~0 (independent columns) compare absolutely
STABLE_RTOL = 1e-6  # the bar for the variance at mean 1e8 (raw sums miss it by >100%)
EXACT_RTOL = 1e-12  # Chan et al. merge vs one pass over the union: float64 rounding only


def _data(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n // 3, n)
    arm_of_user = rng.choice(["control", "t1", "t2"], n // 3)
    df = pd.DataFrame(
        {
            "user": users,
            "arm": arm_of_user[users],
            "creator": users % 97,
            "revenue": rng.lognormal(0.0, 1.2, n),
            "rev_pre": np.where(rng.random(n) < 0.15, np.nan, rng.lognormal(0.0, 1.0, n)),
            "clicks": rng.poisson(2.0, n),
            "views": rng.poisson(15.0, n) + 1,
            "clicks_pre": rng.poisson(2.0, n),
            "views_pre": rng.poisson(15.0, n) + 1,
            "converted": rng.random(n) < 0.2,
            "country": rng.choice(["US", "DE", "BR", None], n),
            "platform": rng.choice(["ios", "android"], n),
        }
    )
    df["arm"] = df.groupby("creator")["arm"].transform("first")  # creator-randomized too
    return df


METRICS = (
    Mean("revenue", "revenue", covariate="rev_pre", cap=0.995),
    Mean("revenue_raw", "revenue", covariate="rev_pre"),
    Proportion("conversion", "converted"),
    Ratio("ctr", "clicks", "views", covariate=("clicks_pre", "views_pre")),
)


def _assert_same(a: Aggregates, b: Aggregates) -> None:
    assert set(a.moments) == set(b.moments)
    for key, group in a.moments.items():
        for name, ma in group.items():
            mb = b.moments[key][name]
            assert ma.n == mb.n, (key, name)
            assert ma.names == mb.names
            np.testing.assert_allclose(ma.mean, mb.mean, rtol=PARITY_RTOL, atol=PARITY_ATOL)
            np.testing.assert_allclose(ma.comoment, mb.comoment, rtol=PARITY_RTOL, atol=PARITY_ATOL)
    assert set(a.caps) == set(b.caps)
    for k in a.caps:
        np.testing.assert_allclose(a.caps[k], b.caps[k], rtol=PARITY_RTOL)


@pytest.mark.parametrize(
    ("unit", "cluster"), [(None, None), ("user", None), ("user", "creator")], ids=str
)
def test_pandas_duckdb_parity(unit, cluster):
    df = _data()
    metrics = METRICS if cluster is None else METRICS[1:]  # no cap with clusters
    if cluster is not None:
        metrics = (Mean("revenue", "revenue", covariate="rev_pre"), *METRICS[2:])
    req = AggregateRequest(
        "arm", metrics, unit=unit, cluster=cluster, segments=("country", "platform")
    )
    a = DuckDBEngine().aggregate(df, req)
    b = PandasEngine().aggregate(df, req)
    _assert_same(a, b)
    assert a.clustered == (cluster is not None)
    if cluster is None:  # (per cluster, a segment is its smallest value: fewer groups)
        # 3 overall groups + 3 arms x (4 countries incl. missing + 2 platforms)
        assert len(a.moments) == 3 + 3 * 6
        assert GroupKey("t1", "country", "(missing)") in a.moments


def test_moments_match_numpy_on_raw_rows():
    df = _data()
    req = AggregateRequest("arm", METRICS[1:])
    agg = DuckDBEngine().aggregate(df, req)
    sub = df[df["arm"] == "t2"]
    m = agg.moments[GroupKey("t2")]["ctr"]
    z = sub[["clicks", "views", "clicks_pre", "views_pre"]].to_numpy(float)
    np.testing.assert_allclose(m.mean[:4], z.mean(axis=0), rtol=PARITY_RTOL)
    np.testing.assert_allclose(m.cov[:4, :4], np.cov(z, rowvar=False), rtol=PARITY_RTOL)
    mr = agg.moments[GroupKey("t2")]["revenue_raw"]
    x = sub["rev_pre"].to_numpy()
    assert mr.names == ("revenue", "rev_pre", "rev_pre__missing")
    np.testing.assert_allclose(mr.mean[1], np.nan_to_num(x).mean(), rtol=PARITY_RTOL)
    np.testing.assert_allclose(mr.mean[2], np.isnan(x).mean(), rtol=PARITY_RTOL)


def test_unit_rollup_sums_rows_per_unit():
    df = _data()
    req = AggregateRequest("arm", (Mean("revenue", "revenue"),), unit="user")
    agg = DuckDBEngine().aggregate(df, req)
    per_user = df.groupby("user").agg(arm=("arm", "first"), revenue=("revenue", "sum"))
    for arm, g in per_user.groupby("arm"):
        m = agg.moments[GroupKey(arm)]["revenue"]
        assert m.n == len(g)
        np.testing.assert_allclose(m.mean[0], g["revenue"].mean(), rtol=PARITY_RTOL)
        np.testing.assert_allclose(m.cov[0, 0], g["revenue"].var(ddof=1), rtol=PARITY_RTOL)


def test_cluster_rollup_counts_units_per_cluster():
    df = _data()
    req = AggregateRequest("arm", (Mean("revenue", "revenue"),), unit="user", cluster="creator")
    agg = PandasEngine().aggregate(df, req)
    per = df.groupby("creator").agg(
        arm=("arm", "first"), revenue=("revenue", "sum"), n=("user", "nunique")
    )
    for arm, g in per.groupby("arm"):
        m = agg.moments[GroupKey(arm)]["revenue"]
        assert m.names == ("revenue", "n_units")
        assert m.n == len(g)
        np.testing.assert_allclose(m.mean, [g["revenue"].mean(), g["n"].mean()], rtol=1e-12)


@pytest.mark.parametrize("engine", [DuckDBEngine(), PandasEngine()], ids=lambda e: e.name)
def test_variance_stable_at_mean_1e8(engine):
    """Mean 1e8, variance 1, 1e6 rows: the engines get the variance to 1e-6; raw sums fail."""
    rng = np.random.default_rng(42)
    n = 1_000_000
    y = 1e8 + rng.standard_normal(n)
    df = pd.DataFrame({"arm": np.where(np.arange(n) % 2 == 0, "a", "b"), "y": y})
    agg = engine.aggregate(df, AggregateRequest("arm", (Mean("y", "y"),)))
    for arm, mask in (("a", np.arange(n) % 2 == 0), ("b", np.arange(n) % 2 == 1)):
        yy = y[mask]
        # reference: numpy two-pass on the data itself (exact up to rounding)
        ref = yy.var(ddof=1)
        got = agg.moments[GroupKey(arm)]["y"].cov[0, 0]
        np.testing.assert_allclose(got, ref, rtol=STABLE_RTOL)
        raw = (np.sum(yy * yy) - np.sum(yy) ** 2 / yy.size) / (yy.size - 1)
        assert abs(raw / ref - 1) > 0.01  # the raw-sum formula is off by more than 1%


@pytest.mark.parametrize("base", [10**9, 4 * 10**9], ids=["bigint", "hugeint"])
def test_integer_columns_exact(base):
    """Integer columns use exact integer power sums (BIGINT products, or HUGEINT ones when
    |x| * |y| could overflow BIGINT); both match numpy two-pass at mean/sd ~ 1e8."""
    rng = np.random.default_rng(5)
    n = 20_000
    df = pd.DataFrame(
        {
            "arm": rng.choice(["a", "b"], n),
            "x": base + rng.integers(0, 100, n),
            "y": rng.integers(0, 50, n),
            "flag": rng.random(n) < 0.3,
        }
    )
    req = AggregateRequest("arm", (Ratio("r", "x", "y"), Proportion("p", "flag")))
    agg = DuckDBEngine().aggregate(df, req)
    _assert_same(agg, PandasEngine().aggregate(df, req))
    sub = df[df["arm"] == "a"]
    m = agg.moments[GroupKey("a")]["r"]
    ref = np.cov(sub[["x", "y"]].to_numpy(float), rowvar=False)
    np.testing.assert_allclose(m.cov, ref, rtol=PARITY_RTOL)


def test_duckdb_reads_parquet_csv_and_tables(tmp_path):
    df = _data(1500)
    req = AggregateRequest("arm", METRICS, unit="user", segments=("platform",))
    ref = PandasEngine().aggregate(df, req)
    pq, csv = tmp_path / "x.parquet", tmp_path / "x.csv"
    df.to_parquet(pq)
    df.to_csv(csv, index=False)
    _assert_same(DuckDBEngine().aggregate(str(pq), req), ref)
    _assert_same(DuckDBEngine().aggregate(pq, req), ref)
    _assert_same(DuckDBEngine().aggregate(str(csv), req), ref)
    con = duckdb.connect()
    con.register("frame", df)
    con.execute("CREATE TABLE exp AS SELECT * FROM frame")
    _assert_same(DuckDBEngine(con).aggregate("exp", req), ref)
    _assert_same(PandasEngine().aggregate(str(pq), req), ref)


def test_duckdb_reads_a_glob_of_parquet_parts(tmp_path):
    df = _data(2000)
    df["rev_pre"] = df["rev_pre"].where(df.index >= 1000, 1.0)  # nulls in part 2 only
    req = AggregateRequest("arm", METRICS, segments=("platform",))
    df.iloc[:1000].to_parquet(tmp_path / "day1.parquet")
    df.iloc[1000:].to_parquet(tmp_path / "day2.parquet")
    got = DuckDBEngine().aggregate(str(tmp_path / "day*.parquet"), req)
    _assert_same(got, PandasEngine().aggregate(df, req))


def test_identifiers_are_quoted_not_pasted():
    rng = np.random.default_rng(3)
    n = 400
    weird = 'y"; DROP TABLE t; --'
    df = pd.DataFrame(
        {"my arm": rng.choice(["a", "b"], n), weird: rng.normal(size=n), "sel ect": 1.0}
    )
    req = AggregateRequest("my arm", (Mean("m", weird, covariate="sel ect"),))
    _assert_same(DuckDBEngine().aggregate(df, req), PandasEngine().aggregate(df, req))
    assert quote_ident('a"b') == '"a""b"'


def test_user_frame_not_modified():
    df = _data(900)
    before = df.copy(deep=True)
    req = AggregateRequest("arm", METRICS, unit="user", segments=("country",))
    DuckDBEngine().aggregate(df, req)
    PandasEngine().aggregate(df, req)
    pd.testing.assert_frame_equal(df, before)


def test_merge_of_two_days_equals_whole():
    df = _data()
    df["day"] = np.arange(len(df)) % 2
    metrics = METRICS[1:]
    req = AggregateRequest("arm", metrics, segments=("platform",))
    eng = DuckDBEngine()
    whole = eng.aggregate(df, req)
    d0 = eng.aggregate(df[df["day"] == 0], req)
    d1 = eng.aggregate(df[df["day"] == 1], req)
    merged = merge_aggregates(d0, d1)
    for key, group in whole.moments.items():
        for name, m in group.items():
            mm = merged.moments[key][name]
            assert mm.n == m.n
            np.testing.assert_allclose(mm.mean, m.mean, rtol=EXACT_RTOL)
            np.testing.assert_allclose(mm.comoment, m.comoment, rtol=1e-10, atol=1e-8)


def test_missing_covariate_gets_indicator_and_all_missing_is_dropped():
    df = _data(3000)
    agg = PandasEngine().aggregate(df, AggregateRequest("arm", (METRICS[1],)))
    inp = metric_inputs(METRICS[1], agg)
    assert inp.covariates == ("rev_pre", "rev_pre__missing")
    assert "missing for" in inp.notes[0]
    df2 = df.assign(rev_pre=np.nan)
    agg2 = PandasEngine().aggregate(df2, AggregateRequest("arm", (METRICS[1],)))
    inp2 = metric_inputs(METRICS[1], agg2)
    assert inp2.covariates == ()
    assert "every unit" in inp2.notes[0]
    df3 = df.assign(rev_pre=df["rev_pre"].fillna(1.0))
    agg3 = DuckDBEngine().aggregate(df3, AggregateRequest("arm", (METRICS[1],)))
    assert metric_inputs(METRICS[1], agg3).covariates == ("rev_pre",)


@pytest.mark.parametrize("engine", [DuckDBEngine(), PandasEngine()], ids=lambda e: e.name)
def test_bad_columns_raise_clear_errors(engine):
    df = _data(300)
    with pytest.raises(MissingColumnError, match="revenu.*Did you mean 'revenue'"):
        engine.aggregate(df, AggregateRequest("arm", (Mean("r", "revenu"),)))
    with pytest.raises(NonNumericColumnError, match="'platform'"):
        engine.aggregate(df, AggregateRequest("arm", (Mean("r", "platform"),)))
    bad = df.assign(revenue=df["revenue"].where(df.index % 50 != 0))
    with pytest.raises(MissingValuesError, match="'revenue' is missing"):
        engine.aggregate(bad, AggregateRequest("arm", (Mean("r", "revenue"),)))
    inf = df.assign(revenue=df["revenue"].where(df.index != 3, np.inf))
    with pytest.raises(MissingValuesError, match="infinite"):
        engine.aggregate(inf, AggregateRequest("arm", (Mean("r", "revenue"),)))


def test_unit_in_two_variants_is_an_error():
    df = pd.DataFrame({"u": [1, 1, 2, 3], "arm": ["a", "b", "a", "b"], "y": [1.0, 2, 3, 4]})
    from causal import DuplicateUnitError

    for engine in (DuckDBEngine(), PandasEngine()):
        with pytest.raises(DuplicateUnitError, match="more than one variant"):
            engine.aggregate(df, AggregateRequest("arm", (Mean("y", "y"),), unit="u"))


def test_single_unit_group_has_zero_comoment_not_nan():
    df = pd.DataFrame({"arm": ["a", "a", "b"], "y": [1.0, 3.0, 5.0]})
    for engine in (DuckDBEngine(), PandasEngine()):
        m = engine.aggregate(df, AggregateRequest("arm", (Mean("y", "y"),))).moments
        assert m[GroupKey("b")]["y"].n == 1
        assert m[GroupKey("b")]["y"].comoment[0, 0] == 0.0
        assert isinstance(m[GroupKey("a")]["y"], Moments)
