"""Moments against numpy's two-pass covariance, and exact merging."""

import numpy as np
import pytest

from causal.stats import Moments, merge_moments

RTOL = 1e-12  # both sides are exact float64 two-pass computations


def test_from_array_matches_numpy_cov():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.2], [0, 0, 1.0]])
    m = Moments.from_array(z, names=("y", "x1", "x2"))
    np.testing.assert_allclose(m.mean, z.mean(axis=0), rtol=RTOL)
    np.testing.assert_allclose(m.cov, np.cov(z, rowvar=False), rtol=RTOL)


def test_merge_is_exact():
    rng = np.random.default_rng(1)
    z = rng.normal(loc=1e8, size=(1001, 2))  # a large mean: raw power sums would lose it all
    whole = Moments.from_array(z, names=("a", "b"))
    parts = [Moments.from_array(p, names=("a", "b")) for p in np.array_split(z, 7)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merge_moments(merged, p)
    assert merged.n == whole.n
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=RTOL)
    # unit variances at mean 1e8: float64 data carry ~1e-8 absolute error per value, so
    # covariances agree to ~1e-7 absolute (raw power sums would be off by O(1) or worse)
    np.testing.assert_allclose(merged.cov, whole.cov, atol=1e-6)
    np.testing.assert_allclose(merged.cov, np.cov(z, rowvar=False), atol=1e-6)
    np.testing.assert_allclose(np.diag(merged.cov), np.diag(whole.cov), rtol=1e-6)


def test_select_and_empty():
    m = Moments.from_array(np.arange(12.0).reshape(4, 3), names=("a", "b", "c"))
    s = m.select(["c", "a"])
    assert s.names == ("c", "a")
    np.testing.assert_allclose(s.mean, [np.mean([2, 5, 8, 11]), np.mean([0, 3, 6, 9])])
    empty = Moments.from_array(np.zeros((0, 3)), names=("a", "b", "c"))
    assert merge_moments(empty, m) is m
    assert np.isnan(Moments.from_array(np.ones((1, 1)), names=("a",)).cov).all()


def test_merge_rejects_different_columns():
    a = Moments.from_array(np.ones((2, 1)), names=("a",))
    b = Moments.from_array(np.ones((2, 1)), names=("b",))
    with pytest.raises(ValueError, match="different columns"):
        merge_moments(a, b)


def test_mean_delta_and_merge_exact_at_an_offset():
    """At 1e12 a float64 mean has a spacing of 1.2e-4; shifted means keep 1e-3 differences."""
    from fractions import Fraction

    from causal.stats import mean_delta

    rng = np.random.default_rng(4)
    z = 1e12 + rng.normal(0, 1e-3, 2000)
    a, b = Moments.from_array(z[:1000], ("y",)), Moments.from_array(z[1000:], ("y",))
    exact = sum(map(Fraction, z[:1000])) / 1000 - sum(map(Fraction, z[1000:])) / 1000
    se = np.std(z) * np.sqrt(2 / 1000)
    assert abs(float(mean_delta(a, b)[0]) - float(exact)) < 1e-3 * se
    merged = merge_moments(a, b)
    whole = Moments.from_array(z, ("y",))
    assert abs(float(mean_delta(merged, whole)[0])) < 1e-3 * se
    np.testing.assert_allclose(merged.comoment, whole.comoment, rtol=1e-9)
