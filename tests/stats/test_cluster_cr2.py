"""Cluster-randomized effects: CR2 + Bell–McCaffrey from per-cluster sums.

References: (1) CR2 of the unit-level (weighted) least-squares fit ``y ~ 1 + T`` computed with
full matrices — ``(I - H_gg)^(-1/2)`` by eigen-decomposition, as clubSandwich does — and the
Bell–McCaffrey degrees of freedom ``tr(G)^2 / tr(G^2)`` of each arm's fit under the working
model; (2) :func:`estimators.cluster_cr2`, the numerics the CATE estimators use. Coverage with
20 Zipf-sized clusters by seeded simulation.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import estimators
from causal.stats import Moments, ratio_effect

EXACT = 1e-9  # closed form vs full-matrix algebra: float64 rounding only
COVERAGE_FLOOR = 0.93  # the bar (nominal 0.95), slow version: 20,000 replications
# always-on version: 2,000 replications, standard error of a coverage ~0.005: a floor two
# standard errors below the slow version's
COVERAGE_FLOOR_QUICK = 0.92
MIN_GAIN_OVER_CR1 = 0.05  # CR1 with t(G - 1) covers ~0.85 here


def _inv_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v / np.sqrt(w)) @ v.T


def _cr2_reference(y, t, g, w):
    """Full-matrix CR2 variance of the T coefficient of WLS ``y ~ 1 + T`` (weights ``w``)."""
    sw = np.sqrt(w)
    x = np.c_[np.ones_like(y), t] * sw[:, None]
    yw = y * sw
    b = np.linalg.inv(x.T @ x)
    beta = b @ x.T @ yw
    e = yw - x @ beta
    h = x @ b @ x.T
    var = 0.0
    for k in np.unique(g):
        idx = np.flatnonzero(g == k)
        a = _inv_sqrt(np.eye(idx.size) - h[np.ix_(idx, idx)])
        u = a @ x[idx] @ b @ np.array([0.0, 1.0])
        var += float(u @ e[idx]) ** 2
    return float(beta[1]), var


def _bm_dof_reference(g, w):
    """Bell–McCaffrey dof of the intercept-only WLS fit (one arm), full matrices."""
    sw = np.sqrt(w)
    x = sw[:, None]
    b = 1.0 / float((x.T @ x)[0, 0])
    h = (x @ x.T) * b
    ks = np.unique(g)
    p = np.zeros((y_len := w.size, ks.size))
    for j, k in enumerate(ks):
        idx = np.flatnonzero(g == k)
        a = _inv_sqrt(np.eye(idx.size) - h[np.ix_(idx, idx)])
        p[idx, j] = (a @ x[idx]).ravel() * b
    q = (np.eye(y_len) - h) @ p
    gram = q.T @ q
    return float(np.trace(gram) ** 2 / np.sum(gram * gram))


def _zipf_data(rng, n_clusters=20, total=600, tau=0.4):
    share = 1.0 / np.arange(1, n_clusters + 1)
    sizes = np.maximum(np.round(share / share.sum() * total).astype(int), 1)
    g = np.repeat(np.arange(n_clusters), sizes)
    arm = np.arange(n_clusters) % 2 == 1  # the biggest cluster is in control
    y = rng.normal(0, 1.5, n_clusters)[g] + rng.normal(0, 3.0, g.size) + tau * arm[g]
    den = rng.integers(1, 5, g.size).astype(float)
    return g, arm, sizes, y, den


def _arms(g, arm, cols):
    """Per-cluster sums of ``cols`` as Moments with rows, control then treatment."""
    z = np.column_stack([np.bincount(g, weights=c) for c in cols])
    names = tuple(f"c{i}" for i in range(z.shape[1]))
    return (
        Moments.from_array(z[~arm], names, keep_rows=True),
        Moments.from_array(z[arm], names, keep_rows=True),
    )


def test_cr2_mean_equals_full_matrix_reference():
    rng = np.random.default_rng(11)
    g, arm, _, y, _ = _zipf_data(rng)
    c, t = _arms(g, arm, (y, np.ones_like(y)))
    r = ratio_effect(c, t, numerator="c0", denominator="c1", clustered=True)
    beta, var = _cr2_reference(y, arm[g].astype(float), g, np.ones_like(y))
    np.testing.assert_allclose(r.effect, beta, rtol=EXACT)
    np.testing.assert_allclose(r.se**2, var, rtol=EXACT)
    # degrees of freedom: each arm's full-matrix Bell–McCaffrey dof, Welch–Satterthwaite
    dofs = []
    for a in (False, True):
        sel = arm[g] == a
        dofs.append(_bm_dof_reference(g[sel], np.ones(sel.sum())))
    # the T coefficient's CR2 splits into the arms' CR2 variances of their means
    # (estimators.cluster_cr2 on unit-level influence terms), with the same per-arm dof
    mean_var = []
    for a in (False, True):
        sel = arm[g] == a
        ys, gs = y[sel], g[sel]
        infl = ys - ys.mean()
        v_a, dof_a, _ = estimators.cluster_cr2(infl, np.full(ys.size, 1 / ys.size), gs, ys.size)
        mean_var.append(v_a)
        np.testing.assert_allclose(dof_a, dofs[int(a)], rtol=EXACT)
    np.testing.assert_allclose(sum(mean_var), var, rtol=EXACT)
    df = sum(mean_var) ** 2 / sum(v**2 / d for v, d in zip(mean_var, dofs, strict=True))
    np.testing.assert_allclose(r.df, df, rtol=EXACT)
    q = stats.t(df).ppf(0.975)
    np.testing.assert_allclose(r.effect_ci_upper, r.effect + q * r.se, rtol=EXACT)


def test_cr2_ratio_equals_full_matrix_wls_reference():
    """A ratio metric: WLS of num/den on T weighted by den, CR2 with whitened leverages."""
    rng = np.random.default_rng(12)
    g, arm, _, y, den = _zipf_data(rng)
    num = den * (1.0 + 0.1 * y)
    c, t = _arms(g, arm, (num, den))
    r = ratio_effect(c, t, numerator="c0", denominator="c1", clustered=True)
    beta, var = _cr2_reference(num / den, arm[g].astype(float), g, den)
    np.testing.assert_allclose(r.effect, beta, rtol=EXACT)
    np.testing.assert_allclose(r.se**2, var, rtol=EXACT)


def test_without_rows_it_is_cr1():
    rng = np.random.default_rng(13)
    g, arm, _, y, _ = _zipf_data(rng)
    c, t = _arms(g, arm, (y, np.ones_like(y)))
    plain = [Moments(m.n, m.names, m.mean, m.comoment) for m in (c, t)]
    r1 = ratio_effect(*plain, numerator="c0", denominator="c1", clustered=True)
    assert r1.df == 19  # CR1 with t(G - 1)
    r2 = ratio_effect(c, t, numerator="c0", denominator="c1", clustered=True)
    assert r2.df < 19 and r2.se > r1.se  # the big clusters: CR2 widens, fewer dof


def _coverage(reps: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    n_clusters, tau = 20, 0.5
    share = 1.0 / np.arange(1, n_clusters + 1)
    sizes = np.round(share / share.sum() * 1000).astype(float)  # largest: 28% of units
    hits2 = hits1 = 0
    for _ in range(reps):
        arm = rng.permutation(np.arange(n_clusters) % 2 == 1)
        mu = rng.normal(0, 1.5, n_clusters) + tau * arm
        # the sum of s unit outcomes mu + N(0, 9) is N(s mu, 9 s): draw cluster sums directly
        sums = rng.normal(sizes * mu, 3.0 * np.sqrt(sizes))
        z = np.c_[sums, sizes]
        c = Moments.from_array(z[~arm], ("y", "n"), keep_rows=True)
        t = Moments.from_array(z[arm], ("y", "n"), keep_rows=True)
        r2 = ratio_effect(c, t, numerator="y", denominator="n", clustered=True)
        hits2 += r2.effect_ci_lower <= tau <= r2.effect_ci_upper
        c1, t1 = (Moments(m.n, m.names, m.mean, m.comoment) for m in (c, t))
        r1 = ratio_effect(c1, t1, numerator="y", denominator="n", clustered=True)
        hits1 += r1.effect_ci_lower <= tau <= r1.effect_ci_upper
    return hits2 / reps, hits1 / reps


def test_cr2_coverage_with_20_zipf_sized_clusters_quick():
    cr2, cr1 = _coverage(2000, seed=21)
    assert cr2 >= COVERAGE_FLOOR_QUICK, (cr2, cr1)
    assert cr2 - cr1 >= MIN_GAIN_OVER_CR1, (cr2, cr1)


@pytest.mark.slow
def test_cr2_coverage_with_20_zipf_sized_clusters():
    cr2, cr1 = _coverage(20_000, seed=22)
    assert cr2 >= COVERAGE_FLOOR, (cr2, cr1)
    assert cr2 - cr1 >= MIN_GAIN_OVER_CR1, (cr2, cr1)
