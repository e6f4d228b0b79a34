"""Simulators: deterministic by seed, documented columns, and honest ground truth.

Reference: the known truth the simulators record (``true_cate_<outcome>`` columns and
``experiment_truth``). Under randomization a difference in means must land within 3 standard
errors of it; under the default confounded targeting the naive difference must be far off.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from causal import ConfigError
from causal.data import (
    CONTENT_OUTCOMES,
    EXPERIMENT_METRICS,
    experiment_truth,
    simulate_content,
    simulate_experiment,
    true_ate,
)

# A seeded estimate is within 3 standard errors of the truth (a 0.3% two-sided event per check).
Z_HONEST = 3.0
# The confounded naive difference must miss the true ATE by more than this many standard errors.
Z_BIASED = 10.0
# Exact-arithmetic identities (sums over 54 cells) hold to float rounding.
EXACT_RTOL = 1e-12

CONTENT_COLUMNS = [
    "pin_id",
    "creator_id",
    "category",
    "format",
    "quality_score",
    "age_days",
    "creator_followers",
    "text_overlay",
    "shoppable",
    "prior_impressions",
    "boosted",
    "impressions",
    "saves",
    "outbound_clicks",
    "hides",
    "revenue",
    "true_propensity",
    *[f"true_cate_{o}" for o in CONTENT_OUTCOMES],
]
EXPERIMENT_COLUMNS = [
    "user_id",
    "variant",
    "country",
    "platform",
    "tenure",
    "impressions_pre",
    "clicks_pre",
    "saves_pre",
    "converted_pre",
    "revenue_pre",
    "impressions",
    "clicks",
    "saves",
    "converted",
    "revenue",
]


def _diff_in_means(y: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """Difference in means and its Welch (unpooled) standard error."""
    y1, y0 = y[t == 1], y[t == 0]
    d = y1.mean() - y0.mean()
    se = np.sqrt(y1.var(ddof=1) / y1.size + y0.var(ddof=1) / y0.size)
    return float(d), float(se)


# ---------------------------------------------------------------------------- content


def test_content_columns_and_types():
    df = simulate_content(n=2_000, seed=0)
    assert list(df.columns) == CONTENT_COLUMNS
    assert df["pin_id"].is_unique
    assert set(df["boosted"].unique()) == {0, 1}
    assert isinstance(df["category"].dtype, pd.CategoricalDtype)
    assert set(df["format"].cat.categories) == {"image", "video", "carousel"}
    for o in ("impressions", "saves", "outbound_clicks", "hides"):
        assert df[o].dtype == np.int64 and (df[o] >= 0).all()
    assert (df["revenue"] >= 0).all()
    assert df["true_propensity"].between(0.02, 0.98).all()  # default overlap = 0.02
    assert df.attrs["true_ate"] == pytest.approx(true_ate(df), rel=EXACT_RTOL)
    assert df.notna().all().all()
    with_dose = simulate_content(n=500, seed=0, intensity=True)
    assert "boost_intensity" in with_dose.columns
    dose = with_dose["boost_intensity"]
    assert ((dose > 0) == (with_dose["boosted"] == 1)).all() and dose.max() <= 1.0


def test_content_deterministic_by_seed():
    a = simulate_content(n=3_000, seed=7)
    b = simulate_content(n=3_000, seed=7)
    pd.testing.assert_frame_equal(a, b)
    c = simulate_content(n=3_000, seed=8)
    assert not a["saves"].equals(c["saves"])
    g = simulate_content(n=3_000, seed=np.random.default_rng(7))
    pd.testing.assert_frame_equal(a, g)


def test_content_randomized_difference_matches_truth():
    df = simulate_content(n=200_000, seed=11, randomized=True)
    assert df["true_propensity"].nunique() == 1
    t = df["boosted"].to_numpy()
    for o in CONTENT_OUTCOMES:
        d, se = _diff_in_means(df[o].to_numpy(dtype=float), t)
        truth = df[f"true_cate_{o}"].mean()
        assert abs(d - truth) < Z_HONEST * se, (o, d, truth, se)


def test_content_true_cate_is_the_conditional_effect():
    # Within subgroups defined by attributes, a randomized difference in means matches the
    # mean true_cate of the subgroup: true_cate is E[Y(1) - Y(0) | attributes], not just a
    # column that averages right.
    df = simulate_content(n=200_000, seed=13, randomized=True)
    t = df["boosted"].to_numpy()
    groups = {
        "video": (df["format"] == "video").to_numpy(),
        "low quality": (df["quality_score"] < 0.4).to_numpy(),
        "high quality": (df["quality_score"] > 0.7).to_numpy(),
    }
    for name, sel in groups.items():
        for o in ("saves", "hides"):
            d, se = _diff_in_means(df.loc[sel, o].to_numpy(dtype=float), t[sel])
            truth = df.loc[sel, f"true_cate_{o}"].mean()
            assert abs(d - truth) < Z_HONEST * se, (name, o, d, truth, se)


def test_content_randomized_intensity_slope_matches_truth():
    # Intensity independent of attributes and outcomes linear in it: the OLS slope of Y on the
    # intensity estimates the mean true effect per unit of intensity.
    df = simulate_content(n=200_000, seed=12, randomized=True, intensity=True)
    d = df["boost_intensity"].to_numpy()
    for o in ("saves", "hides"):
        y = df[o].to_numpy(dtype=float)
        res = stats.linregress(d, y)
        truth = df[f"true_cate_{o}"].mean()
        assert abs(res.slope - truth) < Z_HONEST * res.stderr, (o, res.slope, truth)


def test_content_confounded_naive_difference_is_biased():
    df = simulate_content(n=100_000, seed=3)
    t = df["boosted"].to_numpy()
    # Targeting concentrates boosts on strong pins: the naive difference is far from the ATE.
    for o in ("impressions", "saves", "outbound_clicks"):
        d, se = _diff_in_means(df[o].to_numpy(dtype=float), t)
        truth = df[f"true_cate_{o}"].mean()
        assert d - truth > Z_BIASED * se, (o, d, truth, se)
    # ... while an inverse-propensity-weighted difference with the true propensity is honest
    p = df["true_propensity"].to_numpy()
    y = df["saves"].to_numpy(dtype=float)
    psi = t * y / p - (1 - t) * y / (1 - p)
    ipw, se_ipw = psi.mean(), psi.std(ddof=1) / np.sqrt(psi.size)
    assert abs(ipw - df["true_cate_saves"].mean()) < Z_HONEST * se_ipw


def test_content_confounding_and_share_controls():
    strong = simulate_content(n=50_000, seed=4, confounding=2.0, treated_share=0.2)
    none = simulate_content(n=50_000, seed=4, confounding=0.0, treated_share=0.2)
    wide = simulate_content(n=50_000, seed=4, overlap=0.1)
    # the calibrated intercept gives the requested mean propensity (subsample calibration)
    assert strong["true_propensity"].mean() == pytest.approx(0.2, abs=0.005)
    assert none["true_propensity"].nunique() == 1
    assert wide["true_propensity"].between(0.1, 0.9).all()
    q = "quality_score"
    gap_strong = strong.groupby("boosted")[q].mean().diff().iloc[-1]
    gap_none = none.groupby("boosted")[q].mean().diff().iloc[-1]
    assert gap_strong > 0.1 > abs(gap_none)


def test_content_creator_random_effect_clusters_outcomes():
    df = simulate_content(n=40_000, seed=5, n_creators=2_000)
    pairs = df.groupby("creator_id")["saves"].apply(lambda s: s.iloc[:2].tolist())
    pairs = np.array([p for p in pairs if len(p) == 2], dtype=float)
    # two pins of the same creator are correlated (creator followers + random effect)
    r, pvalue = stats.pearsonr(np.log1p(pairs[:, 0]), np.log1p(pairs[:, 1]))
    assert r > 0.2 and pvalue < 1e-10


def test_content_heterogeneity_is_real():
    df = simulate_content(n=20_000, seed=6)
    tau = df["true_cate_saves"]
    by_format = df.groupby("format", observed=True)["true_cate_saves"].mean()
    assert by_format["video"] > 1.3 * by_format["image"]
    assert tau.std() > 0.5 * tau.mean()
    # hides rise more for low-quality pins: boosting weak content has a cost
    assert np.corrcoef(df["quality_score"], df["true_cate_hides"])[0, 1] < -0.8
    null = simulate_content(n=1_000, seed=6, effect_scale=0.0)
    assert (null[[f"true_cate_{o}" for o in CONTENT_OUTCOMES]] == 0).all().all()


def test_true_ate_survives_parquet_round_trip(tmp_path):
    df = simulate_content(n=1_000, seed=2)
    path = tmp_path / "c.parquet"
    df.to_parquet(path)
    back = pd.read_parquet(path)
    back.attrs = {}
    assert true_ate(back) == pytest.approx(df.attrs["true_ate"], rel=EXACT_RTOL)
    with pytest.raises(ConfigError, match="true_cate_"):
        true_ate(back[["pin_id", "saves"]])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "'n'"),
        ({"n": 10, "seed": -1}, "'seed'"),
        ({"n": 10, "seed": 1.5}, "'seed'"),
        ({"n": 10, "overlap": 0.6}, "'overlap'"),
        ({"n": 10, "treated_share": 1.0}, "'treated_share'"),
        ({"n": 10, "treated_share": 0.01, "overlap": 0.05}, "'treated_share'"),
        ({"n": 10, "confounding": -1.0}, "'confounding'"),
        ({"n": 10, "n_creators": 0}, "'n_creators'"),
        ({"n": 10, "creator_effect_sd": -0.1}, "'creator_effect_sd'"),
    ],
)
def test_content_bad_parameters(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        simulate_content(**kwargs)


# ---------------------------------------------------------------------------- experiment


def test_experiment_columns_deterministic_and_truth_attached():
    a = simulate_experiment(n_users=5_000, seed=1)
    assert list(a.columns) == EXPERIMENT_COLUMNS
    pd.testing.assert_frame_equal(a, simulate_experiment(n_users=5_000, seed=1))
    assert not a["saves"].equals(simulate_experiment(n_users=5_000, seed=2)["saves"])
    assert a.attrs["true_lifts"] == experiment_truth()
    assert set(a["converted"].unique()) <= {0, 1}
    assert (a["clicks"] <= a["impressions"]).all()
    assert (a["clicks_pre"] <= a["impressions_pre"]).all()
    assert a["user_id"].is_unique


def test_experiment_truth_exact_identities():
    truth = experiment_truth(["c", "a", "b"], lifts={"b": {"saves": 0.1}})
    m = truth["metrics"]
    assert set(m) == set(EXPERIMENT_METRICS)
    # configured drivers are exact population relative lifts
    assert m["saves"]["a"]["rel_effect"] == pytest.approx(0.03, rel=EXACT_RTOL)
    assert m["saves"]["b"]["rel_effect"] == pytest.approx(0.10, rel=EXACT_RTOL)
    assert m["converted"]["b"]["rel_effect"] == pytest.approx(0.08, rel=EXACT_RTOL)
    assert m["impressions"]["a"]["rel_effect"] == pytest.approx(0.01, rel=EXACT_RTOL)
    # control means do not depend on the variant; effect = treatment - control
    assert m["clicks"]["a"]["control_mean"] == m["clicks"]["b"]["control_mean"]
    d = m["revenue"]["a"]
    assert d["effect"] == pytest.approx(d["treatment_mean"] - d["control_mean"], rel=EXACT_RTOL)
    # segments: heterogeneous, and their population-weighted means give the overall mean
    tenure = truth["segments"]["tenure"]
    lifts = {k: v["saves"]["a"]["rel_effect"] for k, v in tenure.items()}
    assert lifts["new"] > lifts["regular"] > lifts["loyal"] > 0
    share = {"new": 0.2, "regular": 0.5, "loyal": 0.3}
    pooled = sum(share[k] * v["saves"]["a"]["treatment_mean"] for k, v in tenure.items())
    assert pooled == pytest.approx(m["saves"]["a"]["treatment_mean"], rel=EXACT_RTOL)
    aa = experiment_truth(effect_scale=0.0)["metrics"]
    assert all(aa[k]["treatment"]["effect"] == 0.0 for k in EXPERIMENT_METRICS)


def test_experiment_simulation_matches_truth():
    df = simulate_experiment(n_users=200_000, seed=21)
    truth = df.attrs["true_lifts"]["metrics"]
    t = (df["variant"] == "treatment").to_numpy().astype(int)
    for metric in ("impressions", "clicks", "saves", "converted", "revenue"):
        d, se = _diff_in_means(df[metric].to_numpy(dtype=float), t)
        assert abs(d - truth[metric]["treatment"]["effect"]) < Z_HONEST * se, metric
    # ctr, a ratio of sums: delta-method standard error of the difference of ratios
    diff, var = 0.0, 0.0
    for arm, sign in ((1, 1.0), (0, -1.0)):
        x = df.loc[t == arm, "clicks"].to_numpy(float)
        y = df.loc[t == arm, "impressions"].to_numpy(float)
        r = x.sum() / y.sum()
        resid = (x - r * y) / y.mean()
        diff += sign * r
        var += resid.var(ddof=1) / x.size
    assert abs(diff - truth["ctr"]["treatment"]["effect"]) < Z_HONEST * np.sqrt(var)
    # pre-period covariates are predictive (CUPED has something to work with)
    assert np.corrcoef(df["saves"], df["saves_pre"])[0, 1] > 0.4
    # segment truths are honest too: within each tenure the lift matches its own truth
    seg_truth = df.attrs["true_lifts"]["segments"]["tenure"]
    for value, by_metric in seg_truth.items():
        sel = (df["tenure"] == value).to_numpy()
        d, se = _diff_in_means(df.loc[sel, "saves"].to_numpy(dtype=float), t[sel])
        assert abs(d - by_metric["saves"]["treatment"]["effect"]) < Z_HONEST * se, value


def test_experiment_srm_split_and_clusters():
    n = 100_000
    ok = simulate_experiment(n_users=n, seed=3, variants=["c", "a", "b"])
    bad = simulate_experiment(n_users=n, seed=3, variants=["c", "a", "b"], srm=0.05)
    counts_ok = ok["variant"].value_counts()[["c", "a", "b"]].to_numpy()
    counts_bad = bad["variant"].value_counts()[["c", "a", "b"]].to_numpy()
    assert stats.chisquare(counts_ok).pvalue > 0.001  # the configured equal split holds
    assert stats.chisquare(counts_bad).pvalue < 1e-6  # 5% of arm "a" lost (p ~ 1e-9)
    assert bad.attrs["simulation"]["expected_split"] == pytest.approx(
        {"c": 1 / 3, "a": 1 / 3, "b": 1 / 3}, rel=EXACT_RTOL
    )
    uneven = simulate_experiment(n_users=n, seed=4, split=[1, 3])
    share = (uneven["variant"] == "treatment").mean()
    assert stats.binomtest(int(share * n), n, 0.75).pvalue > 0.001
    cl = simulate_experiment(n_users=20_000, seed=5, n_clusters=300)
    assert "cluster_id" in cl.columns
    assert (cl.groupby("cluster_id")["variant"].nunique() == 1).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_users": 0}, "'n_users'"),
        ({"variants": ["a"]}, "'variants'"),
        ({"variants": ["a", "a"]}, "'variants'"),
        ({"variants": "ab"}, "'variants'"),
        ({"split": [1.0]}, "'split'"),
        ({"split": [1.0, -1.0]}, "'split'"),
        ({"srm": 1.0}, "'srm'"),
        ({"lifts": {"treatment": {"clicks": 0.1}}}, "unknown drivers"),
        ({"lifts": {"other": {"saves": 0.1}}}, "'lifts'"),
        ({"lifts": {"treatment": {"saves": 5.0}}}, "lift of 'saves'"),
        ({"n_clusters": 0}, "'n_clusters'"),
    ],
)
def test_experiment_bad_parameters(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        simulate_experiment(**{"n_users": 100, **kwargs})


@pytest.mark.slow
def test_content_randomized_coverage_sweep():
    # Over 200 seeds the 95% Welch interval of the difference in means covers the sample ATE
    # at about its nominal rate (binomial sd of the rate at 200 seeds is ~1.5 points).
    hits = 0
    seeds = range(200)
    for s in seeds:
        df = simulate_content(n=5_000, seed=s, randomized=True)
        d, se = _diff_in_means(df["saves"].to_numpy(float), df["boosted"].to_numpy())
        hits += abs(d - df["true_cate_saves"].mean()) < 1.96 * se
    assert 0.90 <= hits / len(seeds) <= 0.99
