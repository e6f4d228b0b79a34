"""Known truth: bias of the ATE within a few SEs, CATE correlated with the true CATE, and the
coverage of the AIPW interval (pure function, correctly specified nuisances) by simulation."""

from __future__ import annotations

import numpy as np
import pytest

import estimators
from tests.estimators._estimator_sim import simulate

#: |ATE - true SATE| must be within this many reported SEs (a 3-SE miss has p ~ 0.003).
ATE_Z_MAX = 3.0
#: Minimum Pearson correlation between estimated and true CATE at n=2000 (observed 0.87-0.99).
CATE_CORR_MIN = 0.7
NUISANCE = {"n_estimators": 60}


@pytest.fixture(scope="module")
def confounded() -> dict[str, object]:
    return simulate(2000, seed=11)


@pytest.mark.parametrize(
    "name", ["CausalForest", "LinearDML", "DRLearner", "XLearner", "TLearner", "AutoCate"]
)
def test_ate_unbiased_and_cate_tracks_truth(name: str, confounded: dict[str, object]) -> None:
    d = confounded
    kw = {"n_estimators": 60} if name in ("CausalForest", "DRLearner") else {}
    est = getattr(estimators, name)(cv=3, random_state=0, nuisance_params=NUISANCE, **kw)
    est.fit(d["Y"], d["T"], X=d["X"], W=d["W"])
    r = est.ate_inference()
    truth = float(np.mean(d["tau"]))
    assert abs(r.effect - truth) < ATE_Z_MAX * r.se, (r, truth)
    naive = d["Y"][d["T"] == 1].mean() - d["Y"][d["T"] == 0].mean()
    assert abs(naive - truth) > ATE_Z_MAX * r.se  # the design is confounded: adjustment matters
    corr = np.corrcoef(est.effect(d["X"]).to_numpy(), d["tau"])[0, 1]
    assert corr > CATE_CORR_MIN, corr


def test_multi_arm_effects_recover_each_arm() -> None:
    d = simulate(3000, seed=12, arms=3)
    est = estimators.LinearDML(cv=3, random_state=0, nuisance_params=NUISANCE)
    est.fit(d["Y"], d["T"], X=d["X"], W=d["W"])
    for arm, factor in [(1, 1.0), (2, 0.5)]:
        r = est.ate_inference(T1=arm)
        assert abs(r.effect - factor * np.mean(d["tau"])) < ATE_Z_MAX * r.se, (arm, r)


def test_continuous_treatment_marginal_effect() -> None:
    rng = np.random.default_rng(13)
    n = 3000
    x = rng.normal(size=(n, 2))
    t = 0.7 * x[:, 0] + rng.normal(size=n)
    theta = 1 + 0.5 * x[:, 1]
    y = np.sin(x[:, 0]) * 2 + theta * t + rng.normal(size=n)
    est = estimators.LinearDML(cv=3, random_state=0, nuisance_params=NUISANCE).fit(y, t, X=x)
    r = est.ate_inference()
    # Var(T|X) is constant here, so the partially-linear coefficient equals the mean effect
    assert abs(r.effect - theta.mean()) < ATE_Z_MAX * r.se
    table = est.coef_table()
    slope = table.loc[table["feature"] == "x1"].iloc[0]
    assert abs(slope["coef"] - 0.5) < ATE_Z_MAX * slope["se"]


#: Simulation coverage of the AIPW interval: 400 replications; the binomial SE of a 95%
#: coverage estimate is 1.1 points, so [0.92, 0.98] is roughly +-2.7 SEs.
COVERAGE_REPS = 400
COVERAGE_BAND = (0.92, 0.98)


def _aipw_once(rng: np.random.Generator, n: int, n_clusters: int | None) -> tuple[float, ...]:
    x = rng.normal(size=n)
    e = 1 / (1 + np.exp(-0.8 * x))
    t = rng.random(n) < e
    u = np.zeros(n)
    groups = None
    if n_clusters is not None:
        groups = rng.integers(0, n_clusters, size=n)
        u = rng.normal(scale=1.0, size=n_clusters)[groups]
    # u shifts each cluster's effect: the mean effect over clusters is 1, but units of one
    # cluster share it, so unit-level SEs are too small.
    y = x + t * (1 + x + u) + u + rng.normal(size=n)
    X1 = np.column_stack([np.ones(n), x])
    mu1 = X1 @ np.linalg.lstsq(X1[t], y[t], rcond=None)[0]
    mu0 = X1 @ np.linalg.lstsq(X1[~t], y[~t], rcond=None)[0]
    psi = estimators.aipw_scores(y, t, ~t, mu1, mu0, e, 1 - e)
    naive = estimators.mean_effect_from_scores(psi)
    clustered = (
        estimators.mean_effect_from_scores(psi, groups=groups) if groups is not None else naive
    )
    return (
        naive.effect_ci_lower,
        naive.effect_ci_upper,
        clustered.effect_ci_lower,
        clustered.effect_ci_upper,
    )


def test_aipw_interval_covers_the_truth() -> None:
    rng = np.random.default_rng(14)
    hits = [
        lo <= 1.0 <= hi
        for lo, hi, _, _ in (_aipw_once(rng, 500, None) for _ in range(COVERAGE_REPS))
    ]
    assert COVERAGE_BAND[0] <= np.mean(hits) <= COVERAGE_BAND[1], np.mean(hits)


def test_cluster_robust_aipw_keeps_coverage_where_naive_loses_it() -> None:
    rng = np.random.default_rng(15)
    runs = [_aipw_once(rng, 600, 40) for _ in range(COVERAGE_REPS)]
    naive = np.mean([a <= 1.0 <= b for a, b, _, _ in runs])
    robust = np.mean([c <= 1.0 <= d for _, _, c, d in runs])
    # 40 clusters: CR1 is slightly liberal with few clusters, so a wider lower band
    assert 0.90 <= robust <= 0.98, robust
    assert naive < 0.85, naive


#: The full sweep: 4000 replications, binomial SE of 95% coverage 0.34 points, so
#: [0.94, 0.96] is about +-3 SEs.
SLOW_REPS = 4000


@pytest.mark.slow
def test_aipw_interval_coverage_full_sweep() -> None:
    rng = np.random.default_rng(16)
    runs = [_aipw_once(rng, 500, None) for _ in range(SLOW_REPS)]
    coverage = np.mean([lo <= 1.0 <= hi for lo, hi, _, _ in runs])
    assert 0.94 <= coverage <= 0.96, coverage
