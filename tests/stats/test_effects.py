"""Effects on aggregates against scipy/statsmodels on the same unit rows; invariances; bad input."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest
from statsmodels.stats.proportion import test_proportions_2indep as wald_2indep

from causal import (
    CausalError,
    ConfigError,
    InsufficientDataError,
    MissingColumnError,
    MissingValuesError,
    UnknownVariantError,
)
from causal.stats import EffectResult, Moments, effects_vs_control, mean_effect, ratio_effect

# Both sides compute the same closed form in float64 from the same rows (only summation order
# differs), so they agree to rounding.
EXACT = 1e-9
# CUPED se vs OLS HC2 se: we use per-arm variances of the pooled-slope residuals; HC2 also
# weights each residual by the leverage of (T, x), which differs through the chance imbalance
# of x between arms — an O(1/n) to O(n^-1/2 x imbalance) relative difference; measured
# <= 1.6e-3 at n = 1,000 and <= 1e-4 at n = 16,000 over seeds; at n = 20,000 allow 2e-3.
CUPED_SE_RTOL = 2e-3


def _moments(z, names):
    return Moments.from_array(np.asarray(z, dtype=float), names=names)


def _arms(y, t, names):
    """Control and treatment Moments of the rows of ``y`` split by the 0/1 vector ``t``."""
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    return _moments(y[t == 0], names), _moments(y[t == 1], names)


def test_mean_matches_scipy_welch():
    rng = np.random.default_rng(0)
    y0 = rng.lognormal(0.0, 1.0, 700)
    y1 = rng.lognormal(0.1, 1.2, 900)
    r = mean_effect(_moments(y0, ("y",)), _moments(y1, ("y",)), column="y", alpha=0.1)
    ref = stats.ttest_ind(y1, y0, equal_var=False)
    ci = ref.confidence_interval(confidence_level=0.9)
    np.testing.assert_allclose(r.effect, y1.mean() - y0.mean(), rtol=EXACT)
    np.testing.assert_allclose(r.pvalue, ref.pvalue, rtol=EXACT)
    np.testing.assert_allclose(r.df, ref.df, rtol=EXACT)
    np.testing.assert_allclose(
        [r.effect_ci_lower, r.effect_ci_upper], [ci.low, ci.high], rtol=EXACT
    )
    np.testing.assert_allclose(r.effect / r.se, ref.statistic, rtol=EXACT)
    assert r.variance_reduction == 0.0
    assert (r.n_control, r.n_treatment) == (700, 900)


def test_relative_lift_delta_method_closed_form():
    rng = np.random.default_rng(1)
    y0, y1 = rng.normal(10, 3, 400), rng.normal(11, 4, 500)
    r = mean_effect(_moments(y0, ("y",)), _moments(y1, ("y",)), column="y")
    m0, m1 = y0.mean(), y1.mean()
    v0, v1 = y0.var(ddof=1) / 400, y1.var(ddof=1) / 500
    rel_se = math.sqrt(v1 / m0**2 + m1**2 * v0 / m0**4)  # independent arms: no cross term
    np.testing.assert_allclose(r.rel_effect, m1 / m0 - 1, rtol=EXACT)
    np.testing.assert_allclose(r.rel_se, rel_se, rtol=EXACT)
    q = stats.t.ppf(0.975, r.df)
    np.testing.assert_allclose(r.rel_effect_ci_lower, m1 / m0 - 1 - q * rel_se, rtol=EXACT)


def test_proportion_z_matches_statsmodels():
    rng = np.random.default_rng(2)
    b0, b1 = rng.binomial(1, 0.10, 4000), rng.binomial(1, 0.112, 5000)
    c, t = _moments(b0, ("conv",)), _moments(b1, ("conv",))
    pooled = mean_effect(c, t, column="conv", test="z", pooled_variance=True)
    stat, p = proportions_ztest([b1.sum(), b0.sum()], [b1.size, b0.size])
    np.testing.assert_allclose(pooled.pvalue, p, rtol=EXACT)
    # unpooled: the Wald test divides p(1-p) by n_a, we divide the ddof=1 variance
    # n_a/(n_a-1) p(1-p) by n_a, so the se differs by sqrt(n_a/(n_a-1)) <= 1 + 1/(2(n_a-1)).
    unpooled = mean_effect(c, t, column="conv", test="z")
    wald = wald_2indep(b1.sum(), b1.size, b0.sum(), b0.size, method="wald", compare="diff")
    ddof_rtol = 1.0 / (b0.size - 1)
    np.testing.assert_allclose(unpooled.effect / unpooled.se, wald.statistic, rtol=ddof_rtol)
    np.testing.assert_allclose(unpooled.pvalue, wald.pvalue, rtol=10 * ddof_rtol)
    assert math.isinf(unpooled.df)
    assert unpooled.se == pooled.se  # intervals stay unpooled


def test_cuped_matches_ols_with_covariates():
    rng = np.random.default_rng(3)
    n = 20_000
    t = (rng.random(n) < 0.5).astype(int)
    x = rng.normal(size=(n, 2)) @ np.array([[1.0, 0.3], [0.0, 1.0]])
    y = 2 + 0.1 * t + x @ np.array([1.0, -0.5]) + rng.normal(size=n) * (1 + 0.3 * t)
    c, tr = _arms(np.c_[y, x], t, ("y", "x1", "x2"))
    r = mean_effect(c, tr, column="y", covariates=["x1", "x2"])
    fit = sm.OLS(y, sm.add_constant(np.c_[t, x])).fit(cov_type="HC2")
    # pooled within-arm slope = ANCOVA slope, so the point estimate is OLS's exactly
    np.testing.assert_allclose(r.effect, fit.params[1], rtol=EXACT)
    np.testing.assert_allclose(r.se, fit.bse[1], rtol=CUPED_SE_RTOL)
    raw = mean_effect(c, tr, column="y")
    np.testing.assert_allclose(r.variance_reduction, 1 - r.se**2 / raw.se**2, rtol=EXACT)
    assert r.variance_reduction > 0.4  # x explains ~55% of the variance here
    # adjusted means: shifted to the pooled covariate mean
    xbar = x.mean(axis=0)
    theta = fit.params[2:]
    np.testing.assert_allclose(
        r.control_mean, y[t == 0].mean() - theta @ (x[t == 0].mean(axis=0) - xbar), rtol=EXACT
    )


def test_cuped_without_covariate_equals_welch_and_no_covariate_is_noop():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(300, 2))
    t = np.r_[np.zeros(150), np.ones(150)]
    c, tr = _arms(z, t, ("y", "x"))
    a = mean_effect(c, tr, column="y")
    b = mean_effect(c.select(["y"]), tr.select(["y"]), column="y")
    assert a == b


def test_ratio_matches_wls_hc():
    rng = np.random.default_rng(5)
    n = 3000
    x0, x1 = rng.poisson(5, n) + 1, rng.poisson(5, n) + 1
    y0, y1 = rng.binomial(x0, 0.10), rng.binomial(x1, 0.12)
    r = ratio_effect(
        _moments(np.c_[y0, x0], ("clicks", "views")),
        _moments(np.c_[y1, x1], ("clicks", "views")),
        numerator="clicks",
        denominator="views",
    )
    t = np.r_[np.zeros(n), np.ones(n)]
    y, x = np.r_[y0, y1], np.r_[x0, x1]
    # equal arms: our per-arm ddof=1 equals HC1's n/(n-2) exactly
    fit = sm.WLS(y / x, sm.add_constant(t), weights=x).fit(cov_type="HC1")
    np.testing.assert_allclose(r.effect, fit.params[1], rtol=EXACT)
    np.testing.assert_allclose(r.se, fit.bse[1], rtol=EXACT)
    np.testing.assert_allclose(r.pvalue, fit.pvalues[1], rtol=1e-6)  # normal reference both
    np.testing.assert_allclose(r.control_mean, y0.sum() / x0.sum(), rtol=EXACT)


def test_ratio_unequal_arms_vs_wls_hc0():
    rng = np.random.default_rng(6)
    n0, n1 = 800, 1500
    x0, x1 = rng.poisson(3, n0) + 1, rng.poisson(3, n1) + 1
    y0, y1 = rng.gamma(2, x0), rng.gamma(2.2, x1)
    r = ratio_effect(
        _moments(np.c_[y0, x0], ("y", "x")),
        _moments(np.c_[y1, x1], ("y", "x")),
        numerator="y",
        denominator="x",
    )
    t = np.r_[np.zeros(n0), np.ones(n1)]
    fit = sm.WLS(np.r_[y0 / x0, y1 / x1], sm.add_constant(t), weights=np.r_[x0, x1]).fit(
        cov_type="HC0"
    )
    np.testing.assert_allclose(r.effect, fit.params[1], rtol=EXACT)
    # HC0 divides each arm's residual sum of squares by n_a^2, we by n_a (n_a - 1)
    ddof_rtol = 1.0 / (n0 - 1)
    np.testing.assert_allclose(r.se, fit.bse[1], rtol=ddof_rtol)
    assert r.se > fit.bse[1]


def test_clustered_ratio_matches_ols_cluster_robust():
    rng = np.random.default_rng(7)
    g0, g1 = 40, 55
    sizes = rng.integers(1, 30, g0 + g1)
    arm = np.r_[np.zeros(g0), np.ones(g1)]
    effect = rng.normal(0, 1, g0 + g1) + 0.3 * arm
    cluster = np.repeat(np.arange(g0 + g1), sizes)
    yu = effect[cluster] + rng.normal(size=cluster.size)
    tu = arm[cluster]
    fit = sm.OLS(yu, sm.add_constant(tu)).fit(
        cov_type="cluster", cov_kwds={"groups": cluster}, use_t=True
    )
    sums = np.c_[np.bincount(cluster, weights=yu), sizes]
    c, t = _arms(sums, arm, ("y_sum", "units"))
    r = ratio_effect(c, t, numerator="y_sum", denominator="units", clustered=True)
    n_units = cluster.size
    np.testing.assert_allclose(r.effect, fit.params[1], rtol=EXACT)
    # statsmodels' CR1 also multiplies the variance by (N-1)/(N-K), K=2 parameters; we apply
    # only G/(G-1). Removing that factor makes the two identical.
    np.testing.assert_allclose(
        r.se * math.sqrt((n_units - 1) / (n_units - 2)), fit.bse[1], rtol=EXACT
    )
    assert r.df == g0 + g1 - 1 == fit.df_resid_inference
    np.testing.assert_allclose(r.pvalue, fit.pvalues[1], rtol=1e-3)  # same t(G-1), se 4e-4 off
    assert (r.n_control, r.n_treatment) == (g0, g1)


def test_ratio_cuped_reduces_variance_and_is_unbiased_in_form():
    rng = np.random.default_rng(8)
    n = 5000
    base = rng.gamma(2.0, 1.0, 2 * n)  # a user's propensity, shared by both periods
    xpre = rng.poisson(5 * base) + 1
    ypre = rng.binomial(xpre, np.clip(0.1 * base, 0, 1))
    x = rng.poisson(5 * base) + 1
    t = np.r_[np.zeros(n), np.ones(n)]
    y = rng.binomial(x, np.clip(0.1 * base * (1 + 0.05 * t), 0, 1))
    c, tr = _arms(np.c_[y, x, ypre, xpre], t, ("y", "x", "ypre", "xpre"))
    plain = ratio_effect(c, tr, numerator="y", denominator="x")
    cuped = ratio_effect(c, tr, numerator="y", denominator="x", covariates=("ypre", "xpre"))
    assert cuped.variance_reduction > 0.1
    np.testing.assert_allclose(
        cuped.se**2, plain.se**2 * (1 - cuped.variance_reduction), rtol=EXACT
    )
    assert cuped.notes == ()


def test_arm_swap_flips_sign_and_scaling_scales():
    rng = np.random.default_rng(9)
    z0, z1 = rng.normal(5, 2, (500, 2)), rng.normal(5.5, 2, (600, 2))
    z0[:, 0] += z0[:, 1]
    z1[:, 0] += z1[:, 1]
    c, t = _moments(z0, ("y", "x")), _moments(z1, ("y", "x"))
    for kw in ({}, {"covariates": ["x"]}):
        ab = mean_effect(c, t, column="y", **kw)
        ba = mean_effect(t, c, column="y", **kw)
        np.testing.assert_allclose(ba.effect, -ab.effect, rtol=EXACT)
        np.testing.assert_allclose(ba.se, ab.se, rtol=EXACT)
        np.testing.assert_allclose(ba.pvalue, ab.pvalue, rtol=EXACT)
        scaled = mean_effect(
            _moments(z0 * [7.0, 1.0], ("y", "x")),
            _moments(z1 * [7.0, 1.0], ("y", "x")),
            column="y",
            **kw,
        )
        np.testing.assert_allclose(scaled.effect, 7 * ab.effect, rtol=EXACT)
        np.testing.assert_allclose(scaled.se, 7 * ab.se, rtol=EXACT)
        np.testing.assert_allclose(scaled.rel_effect, ab.rel_effect, rtol=EXACT)
        np.testing.assert_allclose(scaled.pvalue, ab.pvalue, rtol=EXACT)
    rc = ratio_effect(c, t, numerator="y", denominator="x")
    rs = ratio_effect(t, c, numerator="y", denominator="x")
    np.testing.assert_allclose(rs.effect, -rc.effect, rtol=EXACT)
    np.testing.assert_allclose(rs.se, rc.se, rtol=EXACT)


def test_constant_covariate_is_dropped_not_linalg_error():
    rng = np.random.default_rng(10)
    z = np.c_[rng.normal(size=400), np.full(400, 3.0), rng.normal(size=400)]
    t = np.r_[np.zeros(200), np.ones(200)]
    c, tr = _arms(z, t, ("y", "const", "x"))
    r = mean_effect(c, tr, column="y", covariates=["const", "x"])
    ref = mean_effect(c, tr, column="y", covariates=["x"])
    np.testing.assert_allclose(r.effect, ref.effect, rtol=EXACT)
    np.testing.assert_allclose(r.se, ref.se, rtol=EXACT)
    assert any("'const'" in note for note in r.notes)
    only_const = mean_effect(c, tr, column="y", covariates=["const"])
    assert only_const.variance_reduction == 0.0
    assert only_const.effect == mean_effect(c, tr, column="y").effect


def test_collinear_covariates_fall_back_to_min_norm():
    rng = np.random.default_rng(11)
    x = rng.normal(size=400)
    z = np.c_[x + rng.normal(size=400), x, 2 * x]
    t = np.r_[np.zeros(200), np.ones(200)]
    c, tr = _arms(z, t, ("y", "x", "x2"))
    r = mean_effect(c, tr, column="y", covariates=["x", "x2"])
    ref = mean_effect(c, tr, column="y", covariates=["x"])
    np.testing.assert_allclose(r.effect, ref.effect, rtol=1e-8)
    np.testing.assert_allclose(r.se, ref.se, rtol=1e-8)
    assert any("collinear" in note for note in r.notes)


def test_ratio_cuped_with_all_zero_pre_period_skips_cuped():
    # GrowthBook #3767: new users have no pre-period data
    rng = np.random.default_rng(12)
    n = 300
    z = np.c_[rng.poisson(2, 2 * n), rng.poisson(10, 2 * n) + 1, np.zeros(2 * n), np.zeros(2 * n)]
    t = np.r_[np.zeros(n), np.ones(n)]
    c, tr = _arms(z, t, ("y", "x", "ypre", "xpre"))
    r = ratio_effect(c, tr, numerator="y", denominator="x", covariates=("ypre", "xpre"))
    plain = ratio_effect(c, tr, numerator="y", denominator="x")
    assert r.effect == plain.effect and r.se == plain.se and r.variance_reduction == 0.0
    assert any("CUPED skipped" in note for note in r.notes)
    # numerator pre-period all zero but exposures present: pre-ratio constant -> dropped
    z[:, 3] = rng.poisson(10, 2 * n) + 1
    c, tr = _arms(z, t, ("y", "x", "ypre", "xpre"))
    r2 = ratio_effect(c, tr, numerator="y", denominator="x", covariates=("ypre", "xpre"))
    np.testing.assert_allclose(r2.effect, plain.effect, rtol=EXACT)
    assert r2.variance_reduction == 0.0 and r2.notes


def test_zero_control_mean_gives_nan_relative_with_reason():
    c = _moments([0.0, 0.0, 0.0, 0.0], ("y",))
    t = _moments([0.0, 1.0, 0.0, 1.0], ("y",))
    r = mean_effect(c, t, column="y")
    assert r.effect == 0.5 and math.isfinite(r.se)
    assert math.isnan(r.rel_effect) and math.isnan(r.rel_effect_ci_lower)
    assert any("control mean is 0" in note for note in r.notes)
    d = r.to_dict()
    assert isinstance(d["notes"], list) and math.isnan(d["rel_effect"])


def test_zero_variance_arms_give_degenerate_pvalue_not_nan():
    c = _moments([1.0, 1.0, 1.0], ("y",))
    r = mean_effect(c, c, column="y")
    assert r.effect == 0 and r.se == 0 and r.pvalue == 1.0 and r.notes


@pytest.mark.parametrize("n", [0, 1])
def test_arm_with_fewer_than_two_units(n):
    c = _moments(np.ones((n, 1)), ("y",))
    t = _moments([1.0, 2.0, 3.0], ("y",))
    with pytest.raises(InsufficientDataError, match="control arm has .* 'y'"):
        mean_effect(c, t, column="y")
    with pytest.raises(InsufficientDataError, match="control arm"):
        ratio_effect(
            _moments(np.ones((n, 2)), ("a", "b")),
            _moments(np.ones((3, 2)), ("a", "b")),
            numerator="a",
            denominator="b",
        )


def test_zero_denominator_total_is_a_clear_error():
    c = _moments(np.c_[[0.0, 0, 0], [0.0, 0, 0]], ("clicks", "views"))
    t = _moments(np.c_[[1.0, 0, 2], [3.0, 1, 4]], ("clicks", "views"))
    with pytest.raises(InsufficientDataError, match="'views' sums to 0 in the control arm"):
        ratio_effect(c, t, numerator="clicks", denominator="views")


def test_bad_parameters_and_columns():
    m = _moments(np.random.default_rng(0).normal(size=(10, 2)), ("y", "x"))
    with pytest.raises(MissingColumnError, match="'nope'"):
        mean_effect(m, m, column="nope")
    with pytest.raises(ConfigError, match="alpha"):
        mean_effect(m, m, column="y", alpha=1.5)
    with pytest.raises(ConfigError, match="'test'"):
        mean_effect(m, m, column="y", test="mann-whitney")
    with pytest.raises(ConfigError, match="pooled_variance"):
        mean_effect(m, m, column="y", pooled_variance=True)
    with pytest.raises(ConfigError, match="pair"):
        ratio_effect(m, m, numerator="y", denominator="x", covariates=("x",))
    with pytest.raises(ConfigError, match="Moments"):
        mean_effect(pd.DataFrame({"y": [1, 2]}), m, column="y")
    nan = Moments(3, ("y",), np.array([np.nan]), np.array([[1.0]]))
    with pytest.raises(MissingValuesError, match="'y'"):
        mean_effect(nan, m, column="y")
    with pytest.raises(CausalError):
        ratio_effect(m, m, numerator="y", denominator="y")


def test_inputs_not_modified_and_result_frozen():
    m = _moments(np.random.default_rng(0).normal(size=(10, 2)), ("y", "x"))
    mean0, com0 = m.mean.copy(), m.comoment.copy()
    r = mean_effect(m, m, column="y", covariates=["x"])
    np.testing.assert_array_equal(m.mean, mean0)
    np.testing.assert_array_equal(m.comoment, com0)
    with pytest.raises(AttributeError):
        r.effect = 1.0  # type: ignore[misc]
    assert isinstance(r, EffectResult)
    assert set(r.to_dict()) >= {
        "control_mean",
        "treatment_mean",
        "effect",
        "effect_ci_lower",
        "effect_ci_upper",
        "rel_effect",
        "rel_effect_ci_lower",
        "rel_effect_ci_upper",
        "se",
        "pvalue",
        "variance_reduction",
        "n_control",
        "n_treatment",
    }


def test_multi_arm_each_vs_control_equals_pairwise():
    rng = np.random.default_rng(13)
    arms = {
        label: _moments(np.c_[rng.normal(mu, 1, 300), rng.poisson(4, 300) + 1], ("y", "x"))
        for label, mu in (("control", 1.0), ("a", 1.1), ("b", 0.9))
    }
    got = effects_vs_control(arms, control="control", column="y", covariates=["x"], alpha=0.1)
    assert list(got) == ["a", "b"]
    for label in ("a", "b"):
        ref = mean_effect(arms["control"], arms[label], column="y", covariates=["x"], alpha=0.1)
        assert got[label] == ref
    ratios = effects_vs_control(arms, control="control", numerator="y", denominator="x")
    assert ratios["b"] == ratio_effect(arms["control"], arms["b"], numerator="y", denominator="x")
    with pytest.raises(UnknownVariantError, match="'ctrl'"):
        effects_vs_control(arms, control="ctrl", column="y")
    with pytest.raises(ConfigError, match="either 'column'"):
        effects_vs_control(arms, control="control", column="y", numerator="y")


def test_to_pandas_one_row_with_stable_names():
    m = _moments(np.random.default_rng(0).normal(size=(10, 1)), ("y",))
    frame = mean_effect(m, m, column="y").to_pandas()
    assert frame.shape[0] == 1
    assert list(frame.columns[:3]) == ["control_mean", "treatment_mean", "effect"]
