"""Power / MDE / sample size against statsmodels NormalIndPower; CUPED factor as R²."""

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.power import NormalIndPower

from causal import ConfigError, InsufficientDataError, MissingColumnError
from causal.stats import Moments, cuped_variance_reduction, mde, sample_size

# power of the same normal approximation, closed form on both sides
EXACT = 1e-9


@pytest.fixture(scope="module")
def pre():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 3.0, 20_000)
    return Moments.from_array(np.c_[x + rng.normal(0, 2, x.size), x], ("spend", "spend_pre"))


def test_mde_gives_the_requested_power(pre):
    r = mde(pre, column="spend", n=10_000, treatment_share=0.3, alpha=0.05, power=0.8)
    sd = math.sqrt(pre.cov[0, 0])
    achieved = NormalIndPower().power(
        effect_size=r.mde / sd, nobs1=r.n_control, alpha=0.05, ratio=r.n_treatment / r.n_control
    )
    # statsmodels also counts rejections in the wrong tail, P(Z < -z_{a/2} - delta) ~ 1e-6,
    # which the usual MDE formula (ours) ignores: add it and the two agree exactly.
    za = stats.norm.ppf(0.975)
    far_tail = stats.norm.cdf(-za - (za + stats.norm.ppf(0.8)))
    np.testing.assert_allclose(achieved, 0.8 + far_tail, rtol=EXACT)
    assert (r.n_control, r.n_treatment) == (7000, 3000)
    np.testing.assert_allclose(r.rel_mde, r.mde / pre.mean[0], rtol=1e-12)


def test_sample_size_matches_statsmodels_and_inverts_mde(pre):
    sd = math.sqrt(pre.cov[0, 0])
    r = sample_size(pre, column="spend", effect=0.2, power=0.9)
    nobs1 = NormalIndPower().solve_power(effect_size=0.2 / sd, alpha=0.05, power=0.9, ratio=1.0)
    assert r.n_control == math.ceil(nobs1 - 1e-6)
    back = mde(pre, column="spend", n=r.n_total, power=0.9)
    assert back.mde <= 0.2 < back.mde * 1.001
    rel = sample_size(pre, column="spend", effect=0.02, relative=True)
    np.testing.assert_allclose(rel.mde, 0.02 * pre.mean[0], rtol=1e-12)


def test_cuped_factor_is_r_squared_and_shrinks_mde(pre):
    vr = cuped_variance_reduction(pre, column="spend", covariates=["spend_pre"])
    rng = np.random.default_rng(0)  # same draws as the fixture
    x = rng.gamma(2.0, 3.0, 20_000)
    y = x + rng.normal(0, 2, x.size)
    r2 = sm.OLS(y, sm.add_constant(x)).fit().rsquared
    np.testing.assert_allclose(vr, r2, rtol=1e-9)
    plain = mde(pre, column="spend")
    cuped = mde(pre, column="spend", variance_reduction=vr)
    np.testing.assert_allclose(cuped.mde, plain.mde * math.sqrt(1 - vr), rtol=1e-12)
    n_plain = sample_size(pre, column="spend", effect=0.1).n_total
    n_cuped = sample_size(pre, column="spend", effect=0.1, variance_reduction=vr).n_total
    assert abs(n_cuped / n_plain - (1 - vr)) < 1e-3


def test_ratio_mde_uses_delta_method_sd():
    rng = np.random.default_rng(1)
    x = rng.poisson(8, 5000) + 1
    y = rng.binomial(x, 0.1)
    pre = Moments.from_array(np.c_[y, x], ("clicks", "views"))
    r = mde(pre, numerator="clicks", denominator="views")
    ratio = y.sum() / x.sum()
    lin = (y - ratio * x) / x.mean()
    np.testing.assert_allclose(r.sd, lin.std(ddof=1), rtol=1e-9)
    np.testing.assert_allclose(r.baseline_mean, ratio, rtol=1e-12)


def test_power_bad_input(pre):
    with pytest.raises(ConfigError, match="either 'column'"):
        mde(pre)
    with pytest.raises(MissingColumnError, match="'nope'"):
        mde(pre, column="nope")
    with pytest.raises(ConfigError, match="'power'"):
        mde(pre, column="spend", power=1.2)
    with pytest.raises(ConfigError, match="variance_reduction"):
        mde(pre, column="spend", variance_reduction=1.0)
    with pytest.raises(ConfigError, match="effect"):
        sample_size(pre, column="spend", effect=0.0)
    with pytest.raises(InsufficientDataError):
        mde(Moments.from_array(np.ones((1, 1)), ("y",)), column="y")
