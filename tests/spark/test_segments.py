"""causal.spark: distributed effect scoring, segment effects (GATE) with doubly-robust
intervals as Spark aggregations, and the stratified large-fit sample.

One local[2] session for the whole run (``spark`` fixture in tests/conftest.py). Parity bars:
the Spark GATE table equals ``estimators.evaluate``'s on the same model and rows (unit level
and clustered) and ``gate_table`` on the same scores for rows not used in the fit.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import estimators
from causal import (
    ConfigError,
    MissingColumnError,
    MissingValuesError,
    NonNumericColumnError,
    OptionalDependencyError,
    UnknownVariantError,
)
from causal.spark import (
    dr_scorer,
    fit_on_sample,
    score_effects,
    segment_effects,
    stratified_sample,
)
from estimators._aipw import mean_effect_from_scores
from estimators._scores import gate_table

# The bar: Spark aggregates equal the in-process estimators to 1e-9 relative. The sup-t
# band's Monte Carlo critical value is computed from the same seed on a covariance equal to
# rounding, so the band meets the same bar.
GATE_RTOL = 1e-9
GATE_ATOL = 1e-12  # p-values far below 1e-12 are compared absolutely
SCORE_RTOL = 1e-12  # the same model code on the same rows, batch by batch: rounding only
NUMS = ["n", "effect", "se", "effect_ci_lower", "effect_ci_upper", "pvalue", "band_lower",
        "band_upper"]  # fmt: skip
SEGS = ["region", "new_user"]


def _data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n)
    a = rng.normal(size=n)
    topic = rng.choice(["art", "food", "diy"], n)
    t = (rng.random(n) < 1 / (1 + np.exp(-0.8 * w))).astype(int)
    y = a + w + t * (1.0 + 0.8 * a + (topic == "food")) + rng.normal(size=n)
    return pd.DataFrame({
        "id": rng.permutation(n) * 7 + 11, "a": a, "topic": topic, "w": w, "t": t, "y": y,
        "region": rng.choice(["eu", "us", "apac"], n, p=[0.5, 0.3, 0.2]),
        "new_user": rng.random(n) < 0.3, "creator": rng.integers(0, 30, n),
    })  # fmt: skip


@pytest.fixture(scope="module")
def fitted():
    """One model for the module, fitted with clusters (creators)."""
    df = _data(1500, 0)
    est = estimators.LinearDML(random_state=0).fit(
        df["y"], df["t"], X=df[["a", "topic"]], W=df[["w"]], groups=df["creator"]
    )
    return df, est


def _compare(got, want) -> None:
    assert list(got["segment"]) == list(want["segment"])
    for c in NUMS:
        np.testing.assert_allclose(
            got[c].to_numpy(float), want[c].to_numpy(float), rtol=GATE_RTOL, atol=GATE_ATOL,
            err_msg=c,
        )  # fmt: skip


def _compare_ate(got, want) -> None:
    np.testing.assert_allclose(
        [got.effect, got.se, got.effect_ci_lower, got.effect_ci_upper, got.pvalue],
        [want.effect, want.se, want.effect_ci_lower, want.effect_ci_upper, want.pvalue],
        rtol=GATE_RTOL, atol=GATE_ATOL,
    )  # fmt: skip


def test_gate_equals_evaluate_on_the_fitting_rows(spark, fitted):
    """The table the model was fitted on: out-of-fold scores, the same numbers as evaluate —
    cluster-robust (CR2, Bell–McCaffrey dof, from per-cluster sums) and unit level (HC1, from
    per-segment moments; evaluate's GATE function on the model's scores)."""
    df, est = fitted
    sdf = spark.createDataFrame(df).repartition(3)  # several partitions and Arrow batches
    kw = {"treatment": "t", "outcome": "y", "segments": SEGS, "row_id": "id",
          "fit_ids": df["id"], "spark": spark}  # fmt: skip
    ge = segment_effects(est, sdf, cluster="creator", **kw)
    ev = estimators.evaluate(est, df["y"], df["t"], segments=df[SEGS], n_splits=1)
    _compare(ge.table, ev.gate)
    _compare_ate(ge.ate, ev.ate)
    np.testing.assert_allclose(ge.band_critical_value, ev.band_critical_value, rtol=GATE_RTOL)
    assert ge.n_clusters == ev.ate.n_clusters == 30
    np.testing.assert_allclose(ge.ate.dof, ev.ate.dof, rtol=GATE_RTOL)
    assert ge.n == ge.n_fit_rows == len(df)
    assert "out of fold for the 1,500 rows" in ge.nuisances

    unit = segment_effects(est, sdf, **kw)
    psi = est._fitted().dr[:, 0, 0]
    want, crit = gate_table(psi, df[SEGS], rng=np.random.default_rng(0))
    _compare(unit.table, want)
    _compare_ate(unit.ate, mean_effect_from_scores(psi))
    np.testing.assert_allclose(unit.band_critical_value, crit, rtol=GATE_RTOL)
    assert unit.n_clusters is None
    assert unit.table["band_lower"].lt(unit.table["effect_ci_lower"]).all()  # band is wider
    d = unit.to_dict()
    assert d["segments"][0]["segment"] == {"region": "apac"} and d["ate"]["se"] > 0
    assert "<table" in unit._repr_html_()
    assert list(unit.to_pandas().columns)[:2] == ["segment", "column"]


def test_gate_on_new_rows_equals_gate_table_of_the_same_scores(spark, fitted):
    """Rows the model never saw: every fold model is honest, their average is the nuisance;
    the Spark aggregation equals the in-process GATE of those scores (and the scorer run in
    process equals the one the executors ran)."""
    _, est = fitted
    new = _data(900, 2)
    ge = segment_effects(est, spark.createDataFrame(new).repartition(2), treatment="t",
                         outcome="y", segments=SEGS, spark=spark)  # fmt: skip
    psi, folds = dr_scorer(est, outcome="y", treatment="t").scores(new)
    assert (folds == -1).all() and ge.n_fit_rows == 0
    want, crit = gate_table(psi, new[SEGS], rng=np.random.default_rng(0))
    _compare(ge.table, want)
    _compare_ate(ge.ate, mean_effect_from_scores(psi))
    np.testing.assert_allclose(ge.band_critical_value, crit, rtol=GATE_RTOL)
    # doubly robust: the new-row ATE is close to the truth (1 + E[food] = 1.33)
    assert abs(ge.ate.effect - (1 + 1 / 3)) < 4 * ge.ate.se


def test_score_effects_equals_in_process_effects(spark, fitted):
    df, est = fitted
    items = df.iloc[:250]
    sdf = spark.createDataFrame(items).repartition(3)
    got = score_effects(est, sdf, keep=["id"], spark=spark).toPandas()
    got = got.sort_values("id").reset_index(drop=True)
    items = items.sort_values("id").reset_index(drop=True)
    assert list(got.columns) == ["id", "effect", "effect_ci_lower", "effect_ci_upper"]
    x = items[["a", "topic"]]
    lo, hi = est.effect_interval(x, alpha=0.05)
    np.testing.assert_array_equal(got["id"], items["id"])
    np.testing.assert_allclose(got["effect"], np.asarray(est.effect(x)), rtol=SCORE_RTOL)
    np.testing.assert_allclose(got["effect_ci_lower"], np.asarray(lo), rtol=SCORE_RTOL)
    np.testing.assert_allclose(got["effect_ci_upper"], np.asarray(hi), rtol=SCORE_RTOL)
    with pytest.raises(MissingColumnError, match="'topic'"):
        score_effects(est, sdf.drop("topic"), spark=spark)
    with pytest.raises(ConfigError, match="'topic' has 250 rows with levels the model did not"):
        score_effects(est, items.assign(topic="cars"), spark=spark)


def test_stratified_sample_exact_reproducible_and_fit_on_it(spark):
    df = _data(3000, 3)
    sdf = spark.createDataFrame(df)
    strata = ["t", "region"]
    s1, rec = stratified_sample(sdf.repartition(4), strata=strata, row_id="id", max_rows=700,
                                seed=5, spark=spark)  # fmt: skip
    s2, _ = stratified_sample(sdf.repartition(1), strata=strata, row_id="id", max_rows=700,
                              seed=5, spark=spark)  # fmt: skip
    assert len(s1) == rec["n_sample"] == 700 and rec["n_rows"] == 3000 and rec["sampled"]
    np.testing.assert_array_equal(s1["id"], s2["id"])  # ids + seed decide, not partitioning
    # proportional allocation: every stratum within one row of its share
    sizes = df.groupby(strata).size()
    got = s1.groupby(strata).size().reindex(sizes.index, fill_value=0)
    assert (np.abs(got - sizes * 700 / 3000) < 1).all()
    assert sum(r["n_sample"] for r in rec["strata"]) == 700 and "seed 5" in rec["note"]
    whole, rec_all = stratified_sample(sdf, strata=strata, row_id="id", max_rows=5000,
                                       spark=spark)  # fmt: skip
    assert len(whole) == 3000 and not rec_all["sampled"]

    fit = fit_on_sample(sdf, outcome="y", treatment="t", modifiers=["a", "topic"],
                        confounders=["w"], segments=["region"], row_id="id", max_rows=700,
                        seed=5, estimator=estimators.LinearDML(random_state=0),
                        spark=spark)  # fmt: skip
    assert fit.n_sample == 700 and fit.seed == 5 and fit.to_dict()["n_rows"] == 3000
    np.testing.assert_array_equal(fit.row_ids, s1["id"])
    ge = segment_effects(fit, sdf, treatment="t", outcome="y", segments=["region"],
                         spark=spark)  # fmt: skip
    assert ge.n == 3000 and ge.n_fit_rows == 700 and ge.sample["seed"] == 5
    assert abs(ge.ate.effect - (1 + 1 / 3)) < 4 * ge.ate.se


# -- bad input: clear errors ------------------------------------------------------------------


def test_bad_input_gives_clear_errors(spark, fitted):
    df, est = fitted
    kw = {"treatment": "t", "outcome": "y", "spark": spark}
    with pytest.raises(UnknownVariantError, match="'t' has 1 rows with values other"):
        segment_effects(est, df.assign(t=np.where(np.arange(len(df)) == 3, 2, df["t"])), **kw)
    with pytest.raises(NonNumericColumnError, match="'y'"):
        segment_effects(est, df.assign(y=df["y"].astype(str)), **kw)
    with pytest.raises(MissingValuesError, match="'region' has missing values in 2 "):
        seg = df["region"].where(np.arange(len(df)) > 1, None)
        segment_effects(est, df.assign(region=seg), segments=["region"], **kw)
    with pytest.raises(MissingColumnError, match="'w'"):
        segment_effects(est, df.drop(columns="w"), **kw)
    with pytest.raises(ConfigError, match="levels the model did not see"):
        segment_effects(est, df.assign(topic="cars"), **kw)
    with pytest.raises(ConfigError, match="No table or view named 'no_such_events'"):
        segment_effects(est, "no_such_events", **kw)
    with pytest.raises(ConfigError, match="fitted on 1500 rows"):
        segment_effects(est, df, row_id="id", fit_ids=df["id"][:10], **kw)
    with pytest.raises(ConfigError, match="at least one strata column"):
        stratified_sample(df, strata=[], row_id="id", spark=spark)
    with pytest.raises(ConfigError, match="'max_rows' parameter must be a positive int"):
        stratified_sample(df, strata=["t"], row_id="id", max_rows=0, spark=spark)


def test_without_pyspark_the_error_names_the_extra(monkeypatch, fitted):
    df, est = fitted
    for mod in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    for call in (
        lambda: segment_effects(est, df, treatment="t", outcome="y"),
        lambda: score_effects(est, df),
        lambda: stratified_sample(df, strata=["t"], row_id="id"),
    ):
        with pytest.raises(OptionalDependencyError, match=r"content-causal\[spark\]"):
            call()
