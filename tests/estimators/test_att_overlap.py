"""The ATT, subgroup/weighted ATEs, trimming and overlap weights (issue 9, items 4 and 5).

References: DoubleML's ATTE score written out independently (effect and SE), the closed-form
Crump et al. (2009) bound for uniform propensities, and seeded simulations whose ATT / ATO
are known by numerical integration (scipy ``quad``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import integrate, optimize, stats

import estimators

NUISANCE = {"n_estimators": 40}
#: The overlap tests need propensities that reach the tails: with the logistic member in the
#: library (correctly specified here) the out-of-fold propensity tracks the true one; 40 trees
#: alone flatten it (issue 9, item 6), which moves the ATO's weights themselves.
OVERLAP_NUISANCE = {**NUISANCE, "propensity_library": ["lightgbm", "logistic"]}
#: effect and SE against the independent DoubleML-formula implementation: same arithmetic.
FORMULA_RTOL = 1e-10
#: A correct estimate lies within 4 of its SEs of the truth with probability 0.99994.
Z_MAX = 4.0
#: Coverage band for a nominal 95% interval (issue 9: 93-97%).
COVERAGE_BAND = (0.93, 0.97)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _truth(weight, tau) -> float:
    """``E[weight(x) tau(x)] / E[weight(x)]`` for x ~ N(0, 1), by quadrature."""
    num = integrate.quad(lambda x: weight(x) * tau(x) * stats.norm.pdf(x), -12, 12)[0]
    den = integrate.quad(lambda x: weight(x) * stats.norm.pdf(x), -12, 12)[0]
    return num / den


# ----------------------------------------------------------------------- ATT: pure function
def _doubleml_atte(y, d, g0, m):
    """DoubleML's ATTE (``psi_a = -d/p``, ``psi_b = d(y-g0)/p - m(1-d)(y-g0)/(p(1-m))``)."""
    p = d.mean()
    psi_a = -d / p
    psi_b = d * (y - g0) / p - m * (1 - d) * (y - g0) / (p * (1 - m))
    theta = -psi_b.mean() / psi_a.mean()
    psi = psi_a * theta + psi_b
    se = np.sqrt(np.mean(psi**2) / psi_a.mean() ** 2 / len(y))
    return theta, se


def test_att_matches_the_doubleml_atte_formula() -> None:
    rng = np.random.default_rng(40)
    n = 500
    m = rng.uniform(0.1, 0.9, n)
    d = (rng.random(n) < m).astype(float)
    g0 = rng.normal(size=n)
    y = g0 + d * 2 + rng.normal(size=n)
    r = estimators.att_effect(y, d == 1, d == 0, g0, m, 1 - m, clip=0.0)
    theta, se = _doubleml_atte(y, d, g0, m)
    assert r.effect == pytest.approx(theta, rel=FORMULA_RTOL)
    # ours is HC1 (n / (n - 1)), DoubleML's is not
    assert r.se * np.sqrt((n - 1) / n) == pytest.approx(se, rel=FORMULA_RTOL)
    assert r.estimand == "ATT" and r.n == n


def _logit_fit(design: np.ndarray, t: np.ndarray, steps: int = 25) -> np.ndarray:
    """Maximum-likelihood logistic regression by Newton's method (converges in a few steps)."""
    beta = np.zeros(design.shape[1])
    for _ in range(steps):
        p = _sigmoid(design @ beta)
        grad = design.T @ (t - p)
        hess = (design * (p * (1 - p))[:, None]).T @ design
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def _crossfit_att(x, t, y, seed):
    """ATT from 2-fold cross-fitted, correctly specified parametric nuisances."""
    n = len(y)
    folds = np.random.default_rng(seed).permutation(n) % 2
    mu0, e = np.empty(n), np.empty(n)
    design = np.column_stack([np.ones(n), x])
    for k in (0, 1):
        tr, te = folds != k, folds == k
        ctl = tr & (t == 0)
        beta = np.linalg.lstsq(design[ctl], y[ctl], rcond=None)[0]
        mu0[te] = design[te] @ beta
        e[te] = _sigmoid(design[te] @ _logit_fit(design[tr], t[tr]))
    return estimators.att_effect(y, t == 1, t == 0, mu0, e, 1 - e)


def test_att_interval_covers_the_known_att() -> None:
    # x ~ N(0,1), e(x) = sigmoid(x), tau(x) = 1 + x: ATT = 1 + E[x sigmoid(x)] / E[sigmoid(x)]
    att = _truth(_sigmoid, lambda x: 1 + x)
    assert att == pytest.approx(1.4132, abs=1e-3)  # > the ATE of 1: the two differ
    rng = np.random.default_rng(41)
    reps, n, hits = 1_000, 1_000, 0
    for r in range(reps):
        x = rng.normal(size=n)
        t = (rng.random(n) < _sigmoid(x)).astype(int)
        y = x + t * (1 + x) + rng.normal(size=n)
        res = _crossfit_att(x, t, y, seed=r)
        hits += res.effect_ci_lower <= att <= res.effect_ci_upper
    coverage = hits / reps
    assert COVERAGE_BAND[0] <= coverage <= COVERAGE_BAND[1], coverage


def _sim(n: int, seed: int, slope: float = 1.0, tau=lambda x: 1 + x):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.random(n) < _sigmoid(slope * x)).astype(int)
    y = x + t * tau(x) + rng.normal(size=n)
    return x, t, y


def test_estimator_att_ate_and_subgroup_against_truth() -> None:
    x, t, y = _sim(4_000, 42)
    est = estimators.LinearDML(cv=2, random_state=0, nuisance_params=NUISANCE)
    est.fit(y, t, X=x[:, None])
    att = est.att_inference()
    assert att.estimand == "ATT" and att.contrast == "1 vs 0"
    assert abs(att.effect - _truth(_sigmoid, lambda v: 1 + v)) < Z_MAX * att.se
    lo, hi = est.att_interval()
    assert (lo, hi) == (att.effect_ci_lower, att.effect_ci_upper)
    assert est.att() == att.effect
    ate = est.ate_inference()
    assert abs(ate.effect - 1.0) < Z_MAX * ate.se
    # the ATE over a user mask: x > 0 has ATE 1 + E[x | x > 0] = 1 + sqrt(2 / pi)
    sub = est.ate_inference(subset=x > 0)
    assert sub.estimand.startswith("ATE on a subset") and sub.n == int((x > 0).sum())
    assert abs(sub.effect - (1 + np.sqrt(2 / np.pi))) < Z_MAX * sub.se
    # a 0/1 weight is the same subset
    w = est.ate_inference(weights=(x > 0).astype(float))
    assert w.effect == pytest.approx(sub.effect, rel=1e-12)
    assert w.estimand == "weighted ATE"
    # the ATT of the treated in a subset is the ATT computed on those rows only
    ctx = est._ctx
    keep = x > 0
    ref = estimators.att_effect(
        y[keep],
        t[keep] == 1,
        t[keep] == 0,
        ctx.nuis.mu[keep, 0, 0],
        ctx.nuis.e[keep, 1],
        ctx.nuis.e[keep, 0],
        clip=est.clip,
    )
    assert est.att_inference(subset=keep).effect == pytest.approx(ref.effect, rel=1e-12)


def test_att_is_cluster_robust_under_groups() -> None:
    x, t, y = _sim(3_000, 43)
    groups = np.arange(3_000) % 40
    est = estimators.LinearDML(cv=2, random_state=0, nuisance_params=NUISANCE)
    res = est.fit(y, t, X=x[:, None], groups=groups).att_inference()
    assert res.n_clusters == 40 and res.dof is not None and res.dof <= 39


def test_att_refusals() -> None:
    x, t, y = _sim(600, 44)
    est = estimators.LinearDML(cv=2, random_state=0, nuisance_params=NUISANCE)
    est.fit(y, t, X=x[:, None])
    with pytest.raises(estimators.EstimatorInputError, match="subset must be a boolean"):
        est.ate_inference(subset=np.arange(600))
    with pytest.raises(estimators.EstimatorInputError, match="'trim' parameter"):
        est.ate_inference(trim=0.7)
    cont = estimators.LinearDML(cv=2, random_state=0, nuisance_params=NUISANCE)
    cont.fit(y, x + np.random.default_rng(1).normal(size=600), X=x[:, None])
    with pytest.raises(estimators.EstimatorInputError, match="att\\(\\) needs a discrete"):
        cont.att()


# ----------------------------------------------------------------------- overlap
def test_crump_threshold_closed_form() -> None:
    # e ~ U(0, 1): 1 / (a (1 - a)) = 2 E[g | a <= e <= 1 - a] = 4 log((1 - a) / a) / (1 - 2 a)
    root = optimize.brentq(lambda a: 1 / (a * (1 - a)) - 4 * np.log((1 - a) / a) / (1 - 2 * a),
                           0.01, 0.4)  # fmt: skip
    e = np.random.default_rng(45).uniform(size=200_000)
    assert estimators.crump_threshold(e) == pytest.approx(root, abs=0.005)
    # good overlap: max g <= 2 E[g] -> no trimming
    assert estimators.crump_threshold(np.random.default_rng(46).uniform(0.3, 0.7, 1000)) == 0.0


def test_trimmed_ate_is_the_aipw_on_the_trimmed_sample() -> None:
    x, t, y = _sim(3_000, 47, slope=2.5)  # thin overlap
    est = estimators.LinearDML(cv=2, random_state=0, nuisance_params=OVERLAP_NUISANCE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", estimators.OverlapWarning)
        est.fit(y, t, X=x[:, None])
    e = est.propensity_[:, 1]
    a = estimators.crump_threshold(e)
    assert 0.02 < a < 0.2
    keep = (e >= a) & (e <= 1 - a)
    mu = est._ctx.nuis.mu[:, 0, :]
    scores = estimators.aipw_scores(y, t == 1, t == 0, mu[:, 1], mu[:, 0], e, 1 - e, clip=est.clip)
    ref = estimators.mean_effect_from_scores(scores[keep])
    res = est.ate_inference(trim="crump")
    assert res.effect == pytest.approx(ref.effect, rel=1e-12)
    assert res.se == pytest.approx(ref.se, rel=1e-12) and res.n == int(keep.sum())
    assert res.estimand.startswith(f"ATE trimmed to {a:.3g} <= e(x) <= {1 - a:.3g}")
    assert f"{int((~keep).sum()):,} units dropped" in res.estimand
    # user bounds
    user = est.ate_inference(trim=(0.1, 0.8))
    inside = (e >= 0.1) & (e <= 0.8)
    assert user.effect == pytest.approx(scores[inside].mean(), rel=1e-12)
    assert est.ate(trim=0.1) == pytest.approx(scores[(e >= 0.1) & (e <= 0.9)].mean(), rel=1e-12)


def test_overlap_weighted_effect_against_its_truth() -> None:
    # tau(x) = 1 + x^2 with e = sigmoid(2.5 x): ATE = 2, ATO = E[e(1-e) tau] / E[e(1-e)] < 2
    def e_true(v):
        return _sigmoid(2.5 * v)

    ato = _truth(lambda v: e_true(v) * (1 - e_true(v)), lambda v: 1 + v**2)
    assert ato < 1.6  # far from the ATE of 2: the test tells the estimands apart
    x, t, y = _sim(6_000, 48, slope=2.5, tau=lambda v: 1 + v**2)
    est = estimators.LinearDML(cv=2, random_state=0, nuisance_params=OVERLAP_NUISANCE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", estimators.OverlapWarning)
        est.fit(y, t, X=x[:, None])
    res = est.ate_inference(overlap_weights=True)
    assert res.estimand == "ATO (overlap weights)"
    assert abs(res.effect - ato) < Z_MAX * res.se, (res.effect, ato, res.se)
    # the estimator's number is the pure function's
    e = est.propensity_[:, 1]
    mu = est._ctx.nuis.mu[:, 0, :]
    scores = estimators.aipw_scores(y, t == 1, t == 0, mu[:, 1], mu[:, 0], e, 1 - e, clip=est.clip)
    ref = estimators.overlap_weighted_effect(scores, e, tau_hat=mu[:, 1] - mu[:, 0], is_arm=t == 1)
    assert res.effect == pytest.approx(ref.effect, rel=1e-12)
    assert res.se == pytest.approx(ref.se, rel=1e-12)


@pytest.mark.slow
def test_estimator_att_coverage_by_simulation() -> None:
    """The full estimator (LightGBM nuisances, cross-fitted): ATT coverage over 1,000 datasets.

    Measured: 0.949 (mean z 0.03, SD of z 1.05); 518 s at load average 27 on 2 cores.
    """
    att = _truth(_sigmoid, lambda x: 1 + x)
    reps, hits = 1_000, 0
    for r in range(reps):
        x, t, y = _sim(1_000, 1_000 + r)
        est = estimators.LinearDML(cv=2, random_state=r, n_jobs=1, nuisance_params=NUISANCE)
        res = est.fit(y, t, X=x[:, None]).att_inference()
        hits += res.effect_ci_lower <= att <= res.effect_ci_upper
    coverage = hits / reps
    print(f"ATT coverage {coverage:.3f} over {reps}")
    # 1,000 reps: the SE of a coverage near 0.95 is 0.007
    assert COVERAGE_BAND[0] <= coverage <= COVERAGE_BAND[1], coverage


def test_overlap_interval_covers_the_known_ato() -> None:
    """The one-step ATO (weights' estimation corrected) covers by simulation.

    Correctly specified parametric nuisances, 2-fold cross-fitted. Measured: 0.945 (SD of z
    1.02); the fixed-weights interval (``tau_hat`` omitted) covered 0.918 (SD of z 1.11).
    """

    def e_true(v):
        return _sigmoid(1.5 * v)

    ato = _truth(lambda v: e_true(v) * (1 - e_true(v)), lambda v: 1 + v**2)
    rng = np.random.default_rng(70)
    reps, n, hits = 1_000, 2_000, 0
    for r in range(reps):
        x = rng.normal(size=n)
        t = (rng.random(n) < e_true(x)).astype(int)
        y = x + t * (1 + x**2) + rng.normal(size=n)
        folds = np.random.default_rng(r).permutation(n) % 2
        design = np.column_stack([np.ones(n), x, x**2])
        mu0, mu1, e = np.empty(n), np.empty(n), np.empty(n)
        for k in (0, 1):
            tr, te = folds != k, folds == k
            for arm, mu in ((0, mu0), (1, mu1)):
                m = tr & (t == arm)
                mu[te] = design[te] @ np.linalg.lstsq(design[m], y[m], rcond=None)[0]
            e[te] = _sigmoid(design[te, :2] @ _logit_fit(design[tr, :2], t[tr]))
        s = estimators.aipw_scores(y, t == 1, t == 0, mu1, mu0, e, 1 - e)
        res = estimators.overlap_weighted_effect(s, e, tau_hat=mu1 - mu0, is_arm=t == 1)
        hits += res.effect_ci_lower <= ato <= res.effect_ci_upper
    coverage = hits / reps
    assert COVERAGE_BAND[0] <= coverage <= COVERAGE_BAND[1], coverage
