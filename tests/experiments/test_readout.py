"""End-to-end readouts against scipy/statsmodels on the raw rows; invariance; bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from causal import (
    ConfigError,
    InsufficientDataError,
    NonNumericColumnError,
    UnknownVariantError,
)
from causal.experiments import (
    ExperimentDesign,
    Mean,
    Proportion,
    Ratio,
    Readout,
    readout,
)

EXACT = 1e-9  # same estimator computed two ways in float64: rounding only
# Ratio SE: we divide each arm's variance by n_a - 1, statsmodels' HC0 by n_a (documented in
# causal.stats.ratio_effect); with ~1,000 units an arm the SEs differ by < 1/n_a ≈ 1e-3.
DDOF_RTOL = 2e-3
# Cluster-robust SE: statsmodels also multiplies by (N-1)/(N-2) over N units (≈ 1 + 1/N) and
# uses the unit-level residual correction; with N ≈ 4,000 that is < 1e-3 relative.
CLUSTER_RTOL = 2e-3


def _experiment(n: int = 4000, seed: int = 7, lift: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "treatment"], n)
    t = (arm == "treatment").astype(float)
    x = rng.gamma(2.0, 2.0, n)
    views = rng.poisson(20, n) + 1
    return pd.DataFrame(
        {
            "arm": arm,
            "y": 1.0 + 0.8 * x + lift * t + rng.normal(0, 2, n),
            "x": x,
            "clicks": rng.binomial(views, 0.1 + 0.01 * t),
            "views": views,
            "converted": (rng.random(n) < 0.2 + 0.02 * t).astype(int),
            "creator": rng.integers(0, 300, n),
            "platform": rng.choice(["ios", "android", "web"], n),
        }
    )


DESIGN = ExperimentDesign(
    "arm",
    "control",
    metrics=[
        Mean("y", "y"),
        Mean("y_cuped", "y", covariate="x"),
        Ratio("ctr", "clicks", "views"),
        Proportion("conversion", "converted"),
    ],
)


def _row(ro: Readout, metric: str, variant: str = "treatment"):
    return next(r for r in ro.metrics if r.metric == metric and r.variant == variant)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _experiment()


@pytest.fixture(scope="module")
def ro(data) -> Readout:
    return readout(data, DESIGN)


def test_welch_against_scipy(data, ro):
    c = data.loc[data["arm"] == "control", "y"]
    t = data.loc[data["arm"] == "treatment", "y"]
    ref = sps.ttest_ind(t, c, equal_var=False)
    ci = ref.confidence_interval(confidence_level=0.95)
    r = _row(ro, "y")
    np.testing.assert_allclose(r.effect, t.mean() - c.mean(), rtol=EXACT)
    np.testing.assert_allclose(r.pvalue, ref.pvalue, rtol=EXACT)
    np.testing.assert_allclose([r.effect_ci_lower, r.effect_ci_upper], ci, rtol=EXACT)
    np.testing.assert_allclose(r.control_mean, c.mean(), rtol=EXACT)


def test_cuped_against_ols_with_covariate(data, ro):
    X = sm.add_constant(
        pd.DataFrame({"T": (data["arm"] == "treatment").astype(float), "x": data["x"]})
    )
    fit = sm.OLS(data["y"], X).fit()
    r = _row(ro, "y_cuped")
    np.testing.assert_allclose(r.effect, fit.params["T"], rtol=EXACT)
    # pooled-θ CUPED treats θ as known; OLS estimates it: SEs agree to O(1/n)
    np.testing.assert_allclose(r.se, fit.bse["T"], rtol=5e-3)
    assert r.variance_reduction > 0.5  # x explains most of y's variance here
    assert r.se < _row(ro, "y").se


def test_ratio_against_wls(data, ro):
    w = data["views"].astype(float)
    X = sm.add_constant((data["arm"] == "treatment").astype(float).rename("T"))
    fit = sm.WLS(data["clicks"] / w, X, weights=w).fit(cov_type="HC0")
    r = _row(ro, "ctr")
    np.testing.assert_allclose(r.effect, fit.params["T"], rtol=EXACT)
    np.testing.assert_allclose(r.se, fit.bse["T"], rtol=DDOF_RTOL)


def test_proportion_against_z_test(data, ro):
    c = data.loc[data["arm"] == "control", "converted"]
    t = data.loc[data["arm"] == "treatment", "converted"]
    se = np.sqrt(t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c))
    z = (t.mean() - c.mean()) / se
    r = _row(ro, "conversion")
    np.testing.assert_allclose(r.se, se, rtol=EXACT)
    np.testing.assert_allclose(r.pvalue, 2 * sps.norm.sf(abs(z)), rtol=EXACT)


def test_holm_across_metrics_and_arms():
    df = _experiment(n=3000, seed=11)
    df.loc[df.index % 3 == 0, "arm"] = "treatment2"
    ro = readout(df, DESIGN, engine="pandas")
    raw = [r.pvalue for r in ro.metrics]
    assert len(raw) == 4 * 2  # metrics x arms
    ref = multipletests(raw, method="holm")[1]
    np.testing.assert_allclose([r.pvalue_adjusted for r in ro.metrics], ref, rtol=EXACT)
    bh = readout(df, DESIGN, correction="bh")
    np.testing.assert_allclose(
        [r.pvalue_adjusted for r in bh.metrics], multipletests(raw, method="fdr_bh")[1],
        rtol=EXACT,
    )  # fmt: skip


def test_segments_bh_and_exploratory(data):
    d = ExperimentDesign("arm", "control", [Mean("y", "y")], segments=["platform"])
    ro = readout(data, d)
    assert len(ro.segments) == 3
    raw = [r.pvalue for r in ro.segments]
    ref = multipletests(raw, method="fdr_bh")[1]
    np.testing.assert_allclose([r.pvalue_adjusted for r in ro.segments], ref, rtol=EXACT)
    ios = data[data["platform"] == "ios"]
    ref_t = sps.ttest_ind(
        ios.loc[ios["arm"] == "treatment", "y"], ios.loc[ios["arm"] == "control", "y"],
        equal_var=False,
    )  # fmt: skip
    r = next(r for r in ro.segments if r.segment_value == "ios")
    np.testing.assert_allclose(r.pvalue, ref_t.pvalue, rtol=EXACT)
    out = ro.to_dict()
    assert out["segments"][0]["exploratory"] is True
    assert out["segments"][0]["segment"] == {"platform": "android"}


def test_engines_give_same_readout(data):
    a = readout(data, DESIGN, engine="duckdb").to_pandas()
    b = readout(data, DESIGN, engine="pandas").to_pandas()
    num = a.select_dtypes("number").columns
    np.testing.assert_allclose(a[num].to_numpy(float), b[num].to_numpy(float), rtol=EXACT)


def test_row_order_invariance(data, ro):
    shuffled = data.sample(frac=1.0, random_state=3)
    r2 = readout(shuffled, DESIGN)
    a, b = ro.to_pandas(), r2.to_pandas()
    num = a.select_dtypes("number").columns
    np.testing.assert_allclose(a[num].to_numpy(float), b[num].to_numpy(float), rtol=EXACT)


def test_relabelling_arms_flips_sign(data, ro):
    d = ExperimentDesign("arm", "treatment", list(DESIGN.metrics))
    flipped = readout(data, d)
    for m in ("y", "ctr", "conversion"):
        a, b = _row(ro, m), _row(flipped, m, "control")
        np.testing.assert_allclose(b.effect, -a.effect, rtol=EXACT)
        np.testing.assert_allclose(b.effect_ci_lower, -a.effect_ci_upper, rtol=EXACT)
        np.testing.assert_allclose(b.pvalue, a.pvalue, rtol=EXACT)


def test_missing_covariate_equals_ols_with_indicator():
    df = _experiment(seed=5)
    df.loc[df.index % 7 == 0, "x"] = np.nan
    before = df.copy()
    d = ExperimentDesign("arm", "control", [Mean("y", "y", covariate="x")])
    ro = readout(df, d)
    pd.testing.assert_frame_equal(df, before)  # the user's frame is untouched
    r = _row(ro, "y")
    X = sm.add_constant(
        pd.DataFrame(
            {
                "T": (df["arm"] == "treatment").astype(float),
                "x": df["x"].fillna(0.0),
                "miss": df["x"].isna().astype(float),
            }
        )
    )
    fit = sm.OLS(df["y"], X).fit()
    np.testing.assert_allclose(r.effect, fit.params["T"], rtol=EXACT)
    assert any("missing for" in n for n in r.notes)


def test_cluster_randomized_against_ols_cluster(data):
    df = data.copy()
    rng = np.random.default_rng(2)
    df["arm"] = np.where(rng.random(300)[df["creator"]] < 0.5, "control", "treatment")
    d = ExperimentDesign("arm", "control", [Mean("y", "y")], cluster="creator")
    ro = readout(df, d)
    r = _row(ro, "y")
    X = sm.add_constant((df["arm"] == "treatment").astype(float).rename("T"))
    fit = sm.OLS(df["y"], X).fit(cov_type="cluster", cov_kwds={"groups": df["creator"]})
    np.testing.assert_allclose(r.effect, fit.params["T"], rtol=EXACT)
    np.testing.assert_allclose(r.se, fit.bse["T"], rtol=CLUSTER_RTOL)
    assert sum(ro.srm.observed.values()) == df["creator"].nunique()  # SRM counts clusters


def test_srm_failure_marks_untrustworthy():
    rng = np.random.default_rng(0)
    n = 20_000
    arm = np.where(rng.random(n) < 0.53, "control", "treatment")
    df = pd.DataFrame({"arm": arm, "y": rng.normal(size=n) + (arm == "treatment")})
    ro = readout(df, ExperimentDesign("arm", "control", [Mean("y", "y")]))
    assert not ro.srm.ok and not ro.trustworthy
    assert ro.decision == "untrustworthy"
    assert "sample ratio mismatch" in ro.summary().lower()
    split = ExperimentDesign(
        "arm", "control", [Mean("y", "y")], expected_split={"control": 53, "treatment": 47}
    )
    assert readout(df, split).srm.ok


def test_guardrails_and_decision(data):
    data = data.assign(latency=np.random.default_rng(1).normal(100, 10, len(data)))
    d = ExperimentDesign(
        "arm",
        "control",
        [Mean("y", "y")],
        guardrails=[Mean("latency", "latency"), Ratio("ctr", "clicks", "views")],
    )
    ro = readout(data, d, margins={"latency": 0.02, "ctr": 0.5},
                 decrease_is_good=["latency"])  # fmt: skip
    assert ro.decision == "ship"
    assert all(g.non_inferior for _, g in ro.guardrails)
    assert [g.direction for _, g in ro.guardrails] == ["decrease", "increase"]
    strict = readout(data, d, margins={"latency": 1e-6, "ctr": 0.5},
                     decrease_is_good=["latency"])  # fmt: skip
    assert strict.decision == "no_ship"
    assert strict.decisions["treatment"].failed_guardrails == ("latency",)
    with pytest.raises(ConfigError, match="margin"):
        readout(data, d)


def test_outputs_json_text_html(data, ro):
    out = json.dumps(ro.to_dict(), allow_nan=False)  # no NaN/Infinity tokens
    back = json.loads(out)
    assert set(back) >= {"srm", "metrics", "segments", "decision"}
    assert set(back["srm"]) >= {"pvalue", "observed", "expected_share", "ok"}
    keys = [
        "metric", "variant", "control_mean", "treatment_mean", "effect", "effect_ci_lower",
        "effect_ci_upper", "rel_effect", "rel_effect_ci_lower", "rel_effect_ci_upper", "se",
        "pvalue", "pvalue_adjusted", "variance_reduction",
    ]  # fmt: skip
    assert list(back["metrics"][0])[: len(keys)] == keys
    text = ro.summary()
    assert "y_cuped" in text and "Decision" in text
    d = ExperimentDesign("arm", "control", [Mean("<script>", "y")])
    html = readout(data, d)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


# ---- bad input --------------------------------------------------------------------------


def test_control_not_in_data(data):
    with pytest.raises(UnknownVariantError, match="'ctrl'.*control, treatment"):
        readout(data, ExperimentDesign("arm", "ctrl", [Mean("y", "y")]))


def test_configured_variant_not_in_data(data):
    d = ExperimentDesign(
        "arm", "control", [Mean("y", "y")],
        expected_split={"control": 1, "treatment": 1, "treatmnet_b": 1},
    )  # fmt: skip
    with pytest.raises(UnknownVariantError, match="treatmnet_b"):
        readout(data, d)


def test_text_metric_column(data):
    with pytest.raises(NonNumericColumnError, match="'platform'"):
        readout(data, ExperimentDesign("arm", "control", [Mean("p", "platform")]))


def test_zero_denominator_everywhere_is_a_flagged_row(data):
    df = data.assign(views=0)
    ro = readout(df, ExperimentDesign("arm", "control", [Ratio("ctr", "clicks", "views")]))
    r = ro.metrics[0]
    assert np.isnan(r.effect)
    assert any("sums to 0" in n for n in r.notes)
    assert json.loads(json.dumps(ro.to_dict(), allow_nan=False))["metrics"][0]["effect"] is None


def test_arm_with_one_unit_is_a_flagged_row(data):
    df = pd.concat([data, data.iloc[[0]].assign(arm="tiny")], ignore_index=True)
    ro = readout(df, ExperimentDesign("arm", "control", [Mean("y", "y")]))
    tiny = _row(ro, "y", "tiny")
    assert np.isnan(tiny.effect) and tiny.n_treatment == 1
    assert any("fewer than 2" in n or "at least 2" in n or "2 units" in n for n in tiny.notes)
    assert not np.isnan(_row(ro, "y").effect)  # the other arm is still read out


def test_only_control_present(data):
    df = data[data["arm"] == "control"]
    with pytest.raises(InsufficientDataError, match="only the control"):
        readout(df, ExperimentDesign("arm", "control", [Mean("y", "y")]))


def test_bad_parameters(data):
    d = ExperimentDesign("arm", "control", [Mean("y", "y")])
    with pytest.raises(ConfigError, match="correction"):
        readout(data, d, correction="bonferroni")
    with pytest.raises(ConfigError, match="engine"):
        readout(data, d, engine="polars")
    with pytest.raises(ConfigError, match="ExperimentDesign"):
        readout(data, {"variant": "arm"})


# ---- relative lift undefined (issue 8, item 2) --------------------------------------------


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_relative_lift_null_when_raw_control_mean_is_zero_even_with_cuped(data, engine):
    # All-zero control metric: the CUPED-adjusted control mean is only the adjustment term
    # (≈1e-6 here), which used to give rel_effect ≈ 1e6 on the CUPED row.
    t = data["arm"].eq("treatment")
    df = data.assign(
        y0=np.where(t, data["y"], 0.0),
        clicks0=np.where(t, data["clicks"], 0),
        clicks_pre=data["clicks"] + 1,
        views_pre=data["views"] + 2,
    )
    d = ExperimentDesign(
        "arm", "control",
        [Mean("plain", "y0"), Mean("cuped", "y0", covariate="x"), Proportion("p", "converted"),
         Ratio("ctr", "clicks0", "views"),
         Ratio("ctr_cuped", "clicks0", "views", covariate=["clicks_pre", "views_pre"])],
    )  # fmt: skip
    ro = readout(df, d, engine=engine)
    rel = ["rel_effect", "rel_effect_ci_lower", "rel_effect_ci_upper"]
    for name in ("plain", "cuped", "ctr", "ctr_cuped"):
        r = _row(ro, name)
        assert np.isfinite(r.effect), name  # the absolute lift is still reported
        assert all(np.isnan(getattr(r, k)) for k in rel), (name, r.rel_effect)
        assert any("relative lift undefined" in n for n in r.notes), (name, r.notes)
    assert np.isfinite(_row(ro, "p").rel_effect)  # a defined control mean is untouched
    # pandas
    pdf = ro.to_pandas().set_index("metric")
    assert pdf.loc[["plain", "cuped", "ctr", "ctr_cuped"], rel].isna().all().all()
    # JSON: null with the note
    doc = json.loads(json.dumps(ro.to_dict(), allow_nan=False))
    for m in doc["metrics"]:
        if m["metric"] != "p":
            assert [m[k] for k in rel] == [None] * 3
            assert any("relative lift undefined" in n for n in m["notes"])
    # HTML: the note is shown beside the table
    html = ro._repr_html_()
    assert "cuped / treatment: relative lift undefined: the control mean is 0" in html


# ---- a success metric that cannot be estimated (issue 8, item 11) -------------------------

RAW_P = 0.0313  # the surviving metric's raw p-value in the example


def _one_winner_one_missing(n: int = 1000) -> pd.DataFrame:
    """'y' with Welch p = RAW_P exactly; 'ctr' whose treatment denominator sums to 0."""
    rng = np.random.default_rng(11)
    base = rng.normal(size=n)
    base = (base - base.mean()) / base.std(ddof=1)
    t_crit = sps.t.isf(RAW_P / 2, 2 * n - 2)  # equal n and variance: Welch df = 2n - 2
    delta = t_crit * np.sqrt(2 / n)
    return pd.DataFrame(
        {
            "arm": np.repeat(["control", "treatment"], n),
            "y": np.concatenate([base, base + delta]),
            "clicks": np.tile(rng.poisson(2, n), 2),
            "views": np.concatenate([rng.poisson(20, n) + 1, np.zeros(n, dtype=int)]),
        }
    )


@pytest.mark.parametrize("correction", ["holm", "bh"])
def test_missing_success_metric_keeps_its_place_in_the_family(correction):
    df = _one_winner_one_missing()
    d = ExperimentDesign("arm", "control", [Mean("y", "y"), Ratio("ctr", "clicks", "views")])
    ro = readout(df, d, correction=correction)
    y, ctr = _row(ro, "y"), _row(ro, "ctr")
    assert y.pvalue == pytest.approx(RAW_P, rel=1e-6)
    assert np.isnan(ctr.pvalue) and np.isnan(ctr.pvalue_adjusted)
    # the family is the configured two metrics: 0.0626, not 0.0313 as if 'ctr' was never asked
    assert y.pvalue_adjusted == pytest.approx(2 * RAW_P, rel=1e-6)
    dec = ro.decisions["treatment"]
    assert dec.decision == "untrustworthy" and dec.not_estimated == ("ctr",)
    assert ro.decision == "untrustworthy" and "ctr" in dec.reason
    assert ro.to_dict()["decision"]["arms"]["treatment"]["not_estimated"] == ["ctr"]
    # with only 'y' configured it is a win at 0.0313
    solo = readout(df, ExperimentDesign("arm", "control", [Mean("y", "y")]))
    assert solo.metrics[0].pvalue_adjusted == pytest.approx(RAW_P, rel=1e-6)
    assert solo.decision == "ship"
