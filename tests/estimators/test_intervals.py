"""CATE intervals without a native variance: the doubly-robust forest (``estimators._intervals``).

References: econml's own honest-forest variance (the cluster bags with one unit per cluster
must agree with it), and seeded simulations with a known CATE for pointwise coverage.
"""

from __future__ import annotations

import numpy as np
import pytest
from econml.grf import RegressionForest

import estimators
from estimators._intervals import ClusterBagForest
from tests.estimators._estimator_sim import simulate

#: Singleton clusters: the cluster bags' mean standard error within this ratio of econml's
#: (both are Monte Carlo estimates from 100-200 trees; measured 0.98).
SINGLETON_SE_RATIO = (0.8, 1.25)
#: Clustered noise (cluster SD 1.5 vs unit SD 1, 40 units a cluster): the cluster-robust SE is
#: at least this multiple of econml's unit-level one (measured about 2.5).
CLUSTER_SE_INFLATION_MIN = 1.5
#: Always-on pointwise coverage of the 95% interval, mean over 3 seeded datasets of 2,000 rows
#: (measured 0.90-0.93 for the T-learner; smaller n leaves more forest bias).
SMALL_COVERAGE_MIN = 0.85
#: Slow study, AutoCate default at 20,000 rows: the issue's target band is 90-97%.
LARGE_COVERAGE_BAND = (0.88, 0.985)


def _forests(n: int, groups: np.ndarray, y: np.ndarray, x: np.ndarray, xt: np.ndarray):
    ref = RegressionForest(
        n_estimators=200,
        min_samples_leaf=10,
        max_samples=0.45,
        honest=True,
        inference=True,
        random_state=0,
        n_jobs=1,
    ).fit(x, y)
    bags = ClusterBagForest(
        "regression", n_bags=50, max_samples=0.45, min_samples_leaf=10, seed=0, n_jobs=1
    ).fit(groups, x, y[:, None])
    return ref.predict_and_var(xt), bags.predict_and_var(xt)


def test_cluster_bags_match_econml_with_one_unit_per_cluster():
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.normal(size=(n, 2))
    y = x[:, 0] + 2 * rng.normal(size=n)
    xt = rng.normal(size=(100, 2))
    (p_ref, v_ref), (p_bag, v_bag) = _forests(n, np.arange(n), y, x, xt)
    assert np.corrcoef(p_ref.ravel(), p_bag.ravel())[0, 1] > 0.95
    ratio = np.sqrt(v_bag).mean() / np.sqrt(v_ref.ravel()).mean()
    assert SINGLETON_SE_RATIO[0] < ratio < SINGLETON_SE_RATIO[1]


def test_cluster_bags_widen_with_correlated_clusters():
    rng = np.random.default_rng(1)
    n, size = 2000, 40
    groups = np.repeat(np.arange(n // size), size)
    x = rng.normal(size=(n, 2))
    y = x[:, 0] + rng.normal(scale=1.5, size=n // size)[groups] + rng.normal(size=n)
    xt = rng.normal(size=(100, 2))
    (_, v_ref), (_, v_bag) = _forests(n, groups, y, x, xt)
    ratio = np.sqrt(v_bag).mean() / np.sqrt(v_ref.ravel()).mean()
    assert ratio > CLUSTER_SE_INFLATION_MIN


def _coverage(est, d) -> float:
    lo, hi = (np.asarray(v, dtype=float) for v in est.effect_interval(d["X"]))
    return float(np.mean((lo <= d["tau"]) & (d["tau"] <= hi)))


def test_meta_learner_intervals_cover_on_average():
    cov = []
    for seed in range(3):
        d = simulate(2000, seed=10 + seed)
        est = estimators.TLearner(random_state=seed).fit(d["Y"], d["T"], X=d["X"], W=d["W"])
        cov.append(_coverage(est, d))
    assert np.mean(cov) >= SMALL_COVERAGE_MIN, cov


def test_autocate_blend_interval_is_cluster_robust_and_reproducible():
    d = simulate(1500, seed=4, n_clusters=30, cluster_sd=1.0)
    kw = {"candidates": ["LinearDML", "TLearner"], "strategy": "ensemble", "cv": 3}
    est = estimators.AutoCate(random_state=0, **kw).fit(
        d["Y"], d["T"], X=d["X"], groups=d["groups"]
    )
    lo, hi = est.effect_interval(d["X"])
    lo2, hi2 = (
        estimators.AutoCate(random_state=0, **kw)
        .fit(d["Y"], d["T"], X=d["X"], groups=d["groups"])
        .effect_interval(d["X"])
    )
    np.testing.assert_allclose(lo, lo2, atol=1e-9)
    np.testing.assert_allclose(hi, hi2, atol=1e-9)
    iid = estimators.AutoCate(random_state=0, **kw).fit(d["Y"], d["T"], X=d["X"])
    lo_i, hi_i = iid.effect_interval(d["X"])
    # the clustered outcome noise shows up as wider intervals than the unit-level ones
    assert np.mean(hi - lo) > np.mean(hi_i - lo_i)


@pytest.mark.slow
def test_autocate_default_interval_coverage_at_20k():
    cov = []
    for seed in range(2):
        d = simulate(20_000, seed=100 + seed)
        est = estimators.AutoCate(random_state=seed).fit(d["Y"], d["T"], X=d["X"], W=d["W"])
        cov.append(_coverage(est, d))
    assert LARGE_COVERAGE_BAND[0] <= np.mean(cov) <= LARGE_COVERAGE_BAND[1], cov
