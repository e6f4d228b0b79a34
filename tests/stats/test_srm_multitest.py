"""SRM against scipy.stats.chisquare; corrections against statsmodels multipletests."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from causal import ConfigError, UnknownVariantError
from causal.stats import adjust_pvalues, srm_test

# same closed form (chi-square sf; sorted cumulative max/min) in float64 on both sides
EXACT = 1e-12


def test_srm_matches_scipy_chisquare_with_configured_split():
    observed = {"control": 4930, "a": 2535, "b": 2535}
    share = {"control": 2, "a": 1, "b": 1}  # normalised to 0.5 / 0.25 / 0.25
    r = srm_test(observed, share)
    ref = stats.chisquare([4930, 2535, 2535], f_exp=[5000, 2500, 2500])
    np.testing.assert_allclose(r.statistic, ref.statistic, rtol=EXACT)
    np.testing.assert_allclose(r.pvalue, ref.pvalue, rtol=EXACT)
    assert r.ok and r.checked and r.expected_share == {"control": 0.5, "a": 0.25, "b": 0.25}


def test_srm_ignoring_the_configured_split_would_alarm():
    # mozilla experimenter #16010: a 90/10 split tested as 50/50 is a false alarm
    observed = {"control": 9012, "treatment": 988}
    assert srm_test(observed, {"control": 0.9, "treatment": 0.1}).ok
    assert not srm_test(observed).ok


def test_srm_detects_mismatch_and_default_alpha():
    r = srm_test({"control": 10_000, "treatment": 10_450})
    ref = stats.chisquare([10_000, 10_450])
    np.testing.assert_allclose(r.pvalue, ref.pvalue, rtol=EXACT)
    assert r.pvalue < 0.002 and r.alpha == 0.001
    assert r.ok == (r.pvalue >= 0.001)
    assert not srm_test({"control": 10_000, "treatment": 10_600}).ok


def test_srm_minimum_sample_not_alarming():
    r = srm_test({"control": 40, "treatment": 5})
    assert r.pvalue < 0.001  # would alarm...
    assert r.ok and not r.checked and "min_units" in r.reason  # ...but too few units
    r2 = srm_test({"control": 400, "treatment": 2}, {"control": 0.995, "treatment": 0.005})
    assert not r2.checked and "expected count" in r2.reason


def test_srm_missing_and_stray_variants():
    r = srm_test({"control": 500}, {"control": 0.5, "treatment": 0.5})
    assert r.observed == {"control": 500, "treatment": 0} and not r.ok
    with pytest.raises(UnknownVariantError, match="'oops'"):
        srm_test({"control": 500, "treatment": 510, "oops": 3}, {"control": 1, "treatment": 1})
    with pytest.raises(ConfigError, match="two variants"):
        srm_test({"control": 500})
    with pytest.raises(ConfigError, match="non-negative"):
        srm_test({"control": 500, "treatment": -1})


@pytest.mark.parametrize(("ours", "theirs"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjust_matches_multipletests(ours, theirs):
    rng = np.random.default_rng(0)
    p = np.r_[rng.uniform(size=30), rng.uniform(0, 0.01, size=10), 0.5, 0.5]  # with ties
    got = adjust_pvalues(p, method=ours)
    ref = multipletests(p, method=theirs)[1]
    np.testing.assert_allclose(got, ref, rtol=EXACT)


@pytest.mark.parametrize(("ours", "theirs"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjust_is_nan_aware_and_keeps_shape(ours, theirs):
    p = np.array([[0.01, np.nan, 0.04], [0.03, 0.2, np.nan]])
    original = p.copy()
    got = adjust_pvalues(p, method=ours)
    assert got.shape == p.shape
    np.testing.assert_array_equal(p, original)  # input untouched
    ok = ~np.isnan(p)
    assert np.isnan(got[~ok]).all()
    np.testing.assert_allclose(got[ok], multipletests(p[ok], method=theirs)[1], rtol=EXACT)


def test_adjust_none_and_errors():
    p = [0.2, math.nan]
    np.testing.assert_array_equal(adjust_pvalues(p, "none"), np.array(p))
    assert adjust_pvalues([], "holm").size == 0
    with pytest.raises(ConfigError, match="'holm', 'bh', 'none'"):
        adjust_pvalues([0.1], "bonferroni")
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        adjust_pvalues([1.2], "bh")


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_fixed_family_counts_untested_hypotheses_as_p_one(method):
    # a family fixed at 4 with one test not run == the same family with that p-value at 1
    p = np.array([0.01, 0.02, np.nan, 0.04])
    got = adjust_pvalues(p, method=method, family_size=4)
    want = adjust_pvalues(np.where(np.isnan(p), 1.0, p), method=method)
    assert np.isnan(got[2])
    np.testing.assert_allclose(np.delete(got, 2), np.delete(want, 2), rtol=0, atol=1e-15)
    with pytest.raises(ConfigError, match="family_size"):
        adjust_pvalues(p, family_size=2)
