"""Cluster-robust inference of the ATE: CR2 variance with Bell–McCaffrey degrees of freedom.

References: statsmodels (CR1 with ``use_t`` for equal clusters, HC2 for singleton clusters) and
a direct matrix implementation of CR2 and of the Bell–McCaffrey degrees of freedom
(Pustejovsky & Tipton 2018, eqs. 6 and 11) with explicit hat matrices and eigen-decompositions
— a different computation from the closed forms in ``estimators.cluster_cr2``. A seeded
simulation with unequal (Zipf-sized) clusters shows why CR2 is the default.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

import estimators

# Closed forms against the same quantity computed another way: float rounding only.
EXACT_RTOL = 1e-9
# statsmodels' p-values go through a different t-distribution code path: a few ulps more.
PVALUE_RTOL = 1e-7


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _matrix_cr2(
    x: np.ndarray, e: np.ndarray, w: np.ndarray, groups: np.ndarray
) -> tuple[float, float]:
    """CR2 variance and BM degrees of freedom of a one-regressor WLS fit, from full matrices.

    Whitened design ``Xw = sqrt(w) x``, residuals ``ew = sqrt(w) e``; ``A_g = (I - H_gg)^(-1/2)``
    (symmetric inverse square root); ``V = M sum_g Xw_g' A_g ew_g ew_g' A_g Xw_g M``,
    ``M = (Xw'Xw)^-1``. Degrees of freedom (working model: independent whitened errors):
    ``V = sum_g (p_g' eps)^2`` with ``p_g = (I - H)' E_g' A_g Xw_g M``, so
    ``dof = (sum_g p_g'p_g)^2 / sum_{g,k} (p_g'p_k)^2``.
    """
    n = x.size
    xw = np.sqrt(w) * x
    ew = np.sqrt(w) * e
    m_inv = 1.0 / float(xw @ xw)
    hat = np.outer(xw, xw) * m_inv
    resid_maker = np.eye(n) - hat
    var = 0.0
    ps = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        vals, vecs = np.linalg.eigh(np.eye(idx.size) - hat[np.ix_(idx, idx)])
        a_g = vecs @ np.diag(vals**-0.5) @ vecs.T
        var += (m_inv * float(xw[idx] @ a_g @ ew[idx])) ** 2
        sel = np.zeros(n)
        sel[idx] = a_g @ xw[idx] * m_inv
        ps.append(resid_maker.T @ sel)
    p = np.array(ps)
    gram = p @ p.T
    return var, float(np.trace(gram) ** 2 / np.sum(gram**2))


def test_equal_clusters_reduce_to_statsmodels_cr1_with_t() -> None:
    rng = _rng(0)
    s = rng.standard_t(df=4, size=300) + 1.0
    g = np.repeat(np.arange(30), 10)
    r = estimators.mean_effect_from_scores(s, groups=g)
    ref = sm.OLS(s, np.ones((300, 1))).fit(cov_type="cluster", cov_kwds={"groups": g}, use_t=True)
    np.testing.assert_allclose(r.se, ref.bse[0], rtol=EXACT_RTOL)
    np.testing.assert_allclose(
        [r.effect_ci_lower, r.effect_ci_upper], ref.conf_int(alpha=0.05)[0], rtol=EXACT_RTOL
    )
    np.testing.assert_allclose(r.pvalue, ref.pvalues[0], rtol=PVALUE_RTOL)
    np.testing.assert_allclose(r.dof, 29.0, rtol=EXACT_RTOL)
    assert r.n_clusters == 30


def test_weighted_mean_matches_matrix_cr2_and_bell_mccaffrey_dof() -> None:
    rng = _rng(1)
    n = 120
    g = rng.choice(12, size=n, p=np.arange(12, 0, -1) / 78)  # unequal cluster sizes
    w = rng.uniform(0.2, 3.0, size=n)
    s = rng.normal(size=n) + rng.normal(size=12)[g]
    r = estimators.mean_effect_from_scores(s, sample_weight=w, groups=g, alpha=0.1)
    var, dof = _matrix_cr2(np.ones(n), s - r.effect, w, g)
    np.testing.assert_allclose(r.se, np.sqrt(var), rtol=EXACT_RTOL)
    np.testing.assert_allclose(r.dof, dof, rtol=EXACT_RTOL)
    half = stats.t(dof).ppf(0.95) * np.sqrt(var)
    np.testing.assert_allclose(r.effect_ci_upper - r.effect, half, rtol=EXACT_RTOL)
    assert r.dof < r.n_clusters - 1  # unequal clusters: fewer effective degrees of freedom


def test_plr_matches_matrix_cr2_and_bell_mccaffrey_dof() -> None:
    rng = _rng(2)
    n = 150
    g = rng.integers(0, 15, size=n) ** 2 % 11  # uneven codes, some unused
    t = rng.normal(size=n) * (1 + (g == 0))
    y = 0.7 * t + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    r = estimators.plr_ate(y, t, sample_weight=w, groups=g)
    var, dof = _matrix_cr2(t, y - r.effect * t, w, g)
    np.testing.assert_allclose([r.se, r.dof], [np.sqrt(var), dof], rtol=EXACT_RTOL)
    assert r.n_clusters == np.unique(g).size


def test_singleton_clusters_are_statsmodels_hc2() -> None:
    # every unit its own cluster: CR2 is HC2 (whitened leverages w_i x_i^2 / sum w x^2)
    rng = _rng(3)
    n = 200
    w = rng.uniform(0.5, 2.0, size=n)
    s = rng.exponential(size=n)
    r = estimators.mean_effect_from_scores(s, sample_weight=w, groups=np.arange(n))
    ref = sm.WLS(s, np.ones((n, 1)), weights=w).fit(cov_type="HC2")
    np.testing.assert_allclose(r.se, ref.bse[0], rtol=EXACT_RTOL)
    t = rng.normal(size=n)
    y = 2.0 * t + rng.normal(size=n) * (1 + np.abs(t))
    rp = estimators.plr_ate(y, t, groups=np.arange(n))
    refp = sm.OLS(y, t[:, None]).fit(cov_type="HC2")
    np.testing.assert_allclose([rp.effect, rp.se], [refp.params[0], refp.bse[0]], rtol=EXACT_RTOL)


def test_unit_level_inference_keeps_the_normal_reference() -> None:
    r = estimators.mean_effect_from_scores(_rng(4).normal(size=50))
    assert r.dof is None and r.n_clusters is None
    np.testing.assert_allclose(
        r.effect_ci_upper - r.effect, stats.norm.ppf(0.975) * r.se, rtol=EXACT_RTOL
    )


def test_one_cluster_is_a_clear_error() -> None:
    with pytest.raises(estimators.EstimatorInputError, match="groups has 1 cluster"):
        estimators.mean_effect_from_scores(np.arange(5.0), groups=np.zeros(5, dtype=int))


# --- why CR2: unequal clusters ---------------------------------------------------------------
N_REPS_ZIPF = 3000  # binomial SE of a coverage near 0.93: 0.005
# Prototype (4000 other replications): CR2 + BM 0.933, CR1 + t(G-1) 0.888 (nominal 0.95); this
# seed: 0.928 and 0.887. CR2 is still short of 0.95 (its working model ignores the within-
# cluster correlation of the DGP), so the floor is 0.92 (~2.5 binomial SEs under 0.933), and CR2
# must beat CR1 by at least 0.025 on the same datasets (paired; measured 0.04, ~4 SEs of the
# paired difference): a return to CR1 or to t(G - 1) fails.
CR2_FLOOR = 0.92
MIN_GAIN_OVER_CR1 = 0.025


def test_cr2_keeps_coverage_where_cr1_loses_it_with_zipf_sized_clusters() -> None:
    rng = _rng(5)
    n_clusters, truth = 20, 1.25
    share = 1.0 / np.arange(1, n_clusters + 1)
    share /= share.sum()  # Zipf(1): the largest creator holds 28% of the rows
    g = np.repeat(np.arange(n_clusters), np.round(share * 1000).astype(int))
    sizes = np.bincount(g)
    t_crit_cr1 = stats.t(n_clusters - 1).ppf(0.975)
    cov_cr2 = cov_cr1 = 0
    for _ in range(N_REPS_ZIPF):
        s = truth + rng.normal(0.0, 1.5, n_clusters)[g] + rng.normal(0.0, 3.0, g.size)
        r = estimators.mean_effect_from_scores(s, groups=g)
        cov_cr2 += r.effect_ci_lower <= truth <= r.effect_ci_upper
        sums = np.bincount(g, weights=s - r.effect)
        se_cr1 = np.sqrt(n_clusters / (n_clusters - 1) * np.sum(sums**2)) / g.size
        cov_cr1 += abs(r.effect - truth) <= t_crit_cr1 * se_cr1
    rate2, rate1 = cov_cr2 / N_REPS_ZIPF, cov_cr1 / N_REPS_ZIPF
    assert sizes.max() > 10 * sizes.min()
    assert rate2 >= CR2_FLOOR, (rate2, rate1)
    assert rate2 - rate1 >= MIN_GAIN_OVER_CR1, (rate2, rate1)


# --- several cross-fitting splits: the DML median rule ----------------------------------------
def test_median_over_splits_closed_form() -> None:
    rng = _rng(6)
    g = np.arange(90) % 9
    res = [
        estimators.mean_effect_from_scores(rng.normal(size=90) + 0.1 * k, groups=g)
        for k in range(5)
    ]
    r = estimators.median_over_splits(res)
    thetas = np.array([x.effect for x in res])
    ses = np.array([x.se for x in res])
    theta = np.sort(thetas)[2]  # the median of 5
    se = np.sqrt(np.sort(ses**2 + (thetas - theta) ** 2)[2])
    np.testing.assert_allclose([r.effect, r.se], [theta, se], rtol=EXACT_RTOL)
    assert r.dof == res[0].dof and r.n_clusters == 9
    half = stats.t(r.dof).ppf(0.975) * se
    np.testing.assert_allclose(
        [r.effect_ci_lower, r.effect_ci_upper], [theta - half, theta + half], rtol=EXACT_RTOL
    )
    # one split is returned unchanged; the order of the splits does not matter
    assert estimators.median_over_splits(res[:1]) == res[0]
    assert estimators.median_over_splits(res[::-1]) == r


def test_median_over_splits_rejects_mixed_estimands() -> None:
    a = estimators.mean_effect_from_scores(np.arange(6.0))
    b = estimators.mean_effect_from_scores(np.arange(7.0))
    with pytest.raises(estimators.EstimatorInputError, match="mix estimands"):
        estimators.median_over_splits([a, b])
    with pytest.raises(estimators.EstimatorInputError, match="empty"):
        estimators.median_over_splits([])
