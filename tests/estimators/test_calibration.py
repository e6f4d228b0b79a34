"""Calibration of the default estimator's intervals by simulation with known truth.

Each seeded dataset comes from :func:`simulate`, a confounded design whose population ATE is
known in closed form. We refit the estimator on many datasets and count how often its 95%
interval covers the truth.

- Always-on (fast): ``N_FAST`` datasets, acceptance band = 95% minus ``Z_BAND`` binomial SEs,
  plus a check that the reported SE matches the spread of the estimates (this catches
  over-wide intervals, which the coverage count alone cannot at small N).
- ``@pytest.mark.slow``: ``N_SLOW`` = 200 datasets, coverage must land in the 93–97% target; the
  CATE-interval coverage is reported too (``pytest -m slow -s`` prints the table).
- Clustered data (creator-level random effects in the baseline outcome and the effect, creator-
  level treatment propensity): the interval with ``groups=`` keeps coverage, the naive one
  (``groups`` omitted) loses it.
- Every study also scores the same AIPW with the TRUE propensity and outcome means on the same
  datasets ("oracle" coverage): the gap between the two is what nuisance estimation costs;
  the oracle's own miss is the inference (variance estimator, critical values) plus the noise
  of a coverage count. The oracle needs no fit, so an always-on test checks the cluster-robust
  inference on ``N_ORACLE`` clustered datasets.

The estimators package must stay independent of ``causal``, so the simulator lives here.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

import estimators

ALPHA = 0.05
NOMINAL = 1.0 - ALPHA
N_ROWS = 1000  # one fit of the study estimator on 1000 rows x 5 modifiers: ~1 s CPU here
N_FAST = 40  # always-on replications; binomial SE of coverage = sqrt(.95*.05/40) = 0.034
N_SLOW = 200  # the "at least 200 simulated datasets"; binomial SE = 0.015
N_CLUSTER_FAST = 20  # clustered replications always-on (two fits each: naive + robust)
N_CLUSTER_SLOW = 200
# A correct 95% interval falls below NOMINAL - 3 binomial SEs with probability ~0.1%, so the
# fast test fails on a regression (e.g. SE too small by 1/3 gives ~83% coverage) and not on noise.
Z_BAND = 3.0
# The mean reported SE over the empirical SD of (estimate - truth). The SD from N draws has a
# relative SE of about 1/sqrt(2N) (0.11 at N=40), so a calibrated SE lands in [0.67, 1.5] with
# > 99.9% probability; an SE off by a factor 1.5 (intervals 50% too wide or narrow) fails.
SE_RATIO_BAND = (0.67, 1.5)
TARGET_BAND = (0.93, 0.97)  # the acceptance band for the 200-dataset run
Z95 = 1.959963984540054  # standard normal 97.5% quantile: SE = interval width / (2 Z95)
EQUIV_ROWS = 600  # one full AutoCate fit in the always-on suite: keep it small
EQUIV_RTOL = 1e-10  # the same arithmetic on the same nuisances: equal up to float rounding
N_END_TO_END = 30  # slow: full AutoCate fits (~5x the cost of the study estimator)
# Floor for the reported mean pointwise CATE coverage of AutoCate(require_intervals=True):
# a regression guard only (intervals collapsing to points give ~0), not a calibration claim.
CATE_COVERAGE_FLOOR = 0.5
N_CREATORS = 20  # 20 creators of 50 rows: few, large clusters, as on a content platform
# Under creator correlation the naive SE is too small: a reference cross-fitted AIPW (LightGBM,
# prototype run on 60 datasets) gave naive SE / SD(error) = 0.56 and coverage 0.77, against
# 1.2 and 0.98 with the cluster-robust SE. The SD over N=20 draws has a relative SE of ~0.16, so
# a naive ratio above 0.8 is ~2.5 SEs from that and would mean clustering no longer matters.
NAIVE_MAX_SE_RATIO = 0.8
# With 200 datasets the naive coverage (≈0.77, binomial SE 0.03) must stay clearly below nominal.
NAIVE_MAX_COVERAGE_SLOW = 0.88
# Oracle scores (true nuisances) need no fit: 1000 clustered datasets take ~3 s. Over 4000
# other datasets the CR2/t interval covered 0.942 (cluster totals are heavier-tailed than
# normal: u_g multiplies the weights), the unit-level one about 0.45; binomial SE at 1000 is
# 0.007, so the band [0.93, 0.97] is ~1.6 SEs below the long-run value.
N_ORACLE = 1000
NAIVE_ORACLE_MAX = 0.75


# ----------------------------------------------------------------------------------- simulator
@dataclass(frozen=True, slots=True)
class SimData:
    """One simulated dataset; ``tau`` is the true CATE per row, ``pate`` the population ATE."""

    y: np.ndarray
    t: np.ndarray
    x: pd.DataFrame
    tau: np.ndarray
    groups: np.ndarray | None
    pate: float
    e: np.ndarray  # true propensity P(T = 1 | x)
    mu0: np.ndarray  # true E[Y | x, T = 0] (creator shifts have mean zero)
    mu1: np.ndarray  # true E[Y | x, T = 1]


# tau(x) = 1 + 0.5 x0 + 0.5 x4 - 0.25 x1 x4 with x0, x1 ~ N(0, 1), x4 ~ Bernoulli(1/2), so
# E[tau] = 1 + 0 + 0.25 - 0 = 1.25. Cluster effect shifts v_g have mean zero.
PATE = 1.25


def simulate(
    n: int,
    seed: int,
    *,
    n_clusters: int | None = None,
    cluster_outcome_sd: float = 1.0,
    cluster_effect_sd: float = 1.5,
) -> SimData:
    """A confounded binary-treatment dataset with known CATE and ATE.

    Modifiers x0..x3 ~ N(0, 1), x4 ~ Bernoulli(0.5); propensity
    ``logistic(0.7 x0 - 0.5 x1 + 0.4 x4 - 0.2)`` (within about [0.1, 0.9]); baseline
    ``x1 + sin(2 x2) + 0.5 x3**2 + 0.5 x0``; effect ``tau(x)`` as above; N(0, 1) noise. With
    ``n_clusters``, rows belong to equal-size creators g with an observed, coarse creator tier
    ``x5 in {0, 1, 2}`` (which shifts the propensity by ``0.6 (x5 - 1)``, so treatment is
    correlated within creators) and unobserved creator shifts
    ``u_g ~ N(0, cluster_outcome_sd²)`` in the baseline and ``v_g ~ N(0, cluster_effect_sd²)``
    in the effect — independent of treatment given x, so no confounding, but rows of one creator
    are correlated and the sample's effect varies with the creators drawn.

    Examples
    --------
    >>> d = simulate(500, seed=1)
    >>> d.x.shape, d.pate
    ((500, 5), 1.25)
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    x4 = (rng.random(n) < 0.5).astype(float)
    logit = 0.7 * x[:, 0] - 0.5 * x[:, 1] + 0.4 * x4 - 0.2
    tau = 1.0 + 0.5 * x[:, 0] + 0.5 * x4 - 0.25 * x[:, 1] * x4
    base = x[:, 1] + np.sin(2 * x[:, 2]) + 0.5 * x[:, 3] ** 2 + 0.5 * x[:, 0]
    mu0, tau_x = base.copy(), tau.copy()  # the true nuisances: E[u_g] = E[v_g] = 0
    cols = {f"x{j}": x[:, j] for j in range(4)} | {"x4": x4}
    groups = None
    if n_clusters is not None:
        groups = np.repeat(np.arange(n_clusters), -(-n // n_clusters))[:n]
        tier = rng.integers(0, 3, size=n_clusters).astype(float)  # observed, coarse
        u = rng.normal(scale=cluster_outcome_sd, size=n_clusters)
        v = rng.normal(scale=cluster_effect_sd, size=n_clusters)
        logit = logit + 0.6 * (tier[groups] - 1.0)
        base = base + u[groups]
        tau = tau + v[groups]
        cols["x5"] = tier[groups]
    e = 1.0 / (1.0 + np.exp(-logit))
    t = (rng.random(n) < e).astype(float)
    y = base + t * tau + rng.standard_normal(n)
    return SimData(
        y=y,
        t=t,
        x=pd.DataFrame(cols),
        tau=tau,
        groups=groups,
        pate=PATE,
        e=e,
        mu0=mu0,
        mu1=mu0 + tau_x,
    )


def test_simulator_truth_matches_closed_form():
    # the closed-form PATE against a large-sample mean of the simulated CATE (SE ~ 0.7/sqrt(n))
    d = simulate(400_000, seed=123)
    np.testing.assert_allclose(d.tau.mean(), d.pate, atol=0.005)  # ~5 SEs of the sample mean
    dc = simulate(400_000, seed=124, n_clusters=200_000)
    # the creator shifts v_g add 1.5/sqrt(200000) = 0.0034 of SE: 4 SEs
    np.testing.assert_allclose(dc.tau.mean(), dc.pate, atol=0.015)


# ------------------------------------------------------------------------------------ harness
# AutoCate's ate()/ate_interval() is the AIPW estimate from the cross-fitted nuisances it shares
# with every candidate; the candidates' final stages do not enter it. The ATE studies therefore
# fit the cheapest estimator that shares those nuisances (LinearDML, ~5x faster than the full
# AutoCate), and test_default_ate_equals_the_study_estimator_ate guards that shortcut: it fails
# the day the default's ATE stops being identical to the one the studies measure.
def _fit(d: SimData, seed: int, *, use_groups: bool, kind: str) -> Any:
    est = estimators.LinearDML(random_state=seed, n_jobs=1)
    if kind == "AutoCate":
        est = estimators.AutoCate(random_state=seed, n_jobs=1)
    elif kind == "AutoCate-intervals":
        est = estimators.AutoCate(random_state=seed, n_jobs=1, require_intervals=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(d.y, d.t, X=d.x, groups=d.groups if use_groups else None)


def _scalar(v: object) -> float:
    return float(np.asarray(v, dtype=float).reshape(-1)[0])


@dataclass
class Coverage:
    """Per-replication records of one calibration study."""

    estimate: list[float] = field(default_factory=list)
    se: list[float] = field(default_factory=list)
    covered: list[bool] = field(default_factory=list)
    covered_sate: list[bool] = field(default_factory=list)
    cate_covered: list[float] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    oracle_covered: list[bool] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return float(np.mean(self.covered))

    @property
    def cate_rate(self) -> float:
        """Mean pointwise CATE coverage; NaN when no replication had CATE intervals."""
        c = np.asarray(self.cate_covered, dtype=float)
        return float(np.mean(c[np.isfinite(c)])) if np.isfinite(c).any() else float("nan")

    def se_ratio(self, truth: float) -> float:
        err = np.asarray(self.estimate) - truth
        return float(np.mean(self.se) / np.std(err, ddof=1))

    def summary(self, label: str, truth: float) -> str:
        n = len(self.covered)
        picks = pd.Series(self.selected).value_counts().to_dict() if self.selected else {}
        return (
            f"{label}: n_reps={n} ATE coverage {self.rate:.3f} "
            f"(binomial SE {math.sqrt(NOMINAL * ALPHA / n):.3f}), SATE coverage "
            f"{np.mean(self.covered_sate):.3f}, mean SE / SD(error) {self.se_ratio(truth):.2f}, "
            f"bias {np.mean(self.estimate) - truth:+.4f}, "
            f"oracle (true nuisances) coverage {np.mean(self.oracle_covered):.3f}, "
            f"CATE pointwise coverage {self.cate_rate:.3f}"
            + (f", selected {picks}" if picks else "")
        )


def run_study(
    n_reps: int,
    *,
    seed0: int,
    n_clusters: int | None = None,
    use_groups: bool = True,
    kind: str = "LinearDML",
) -> Coverage:
    """Fit ``kind`` on ``n_reps`` seeded datasets and record ATE and CATE interval coverage."""
    cov = Coverage()
    for r in range(n_reps):
        d = simulate(N_ROWS, seed=seed0 + r, n_clusters=n_clusters)
        est = _fit(d, seed=r, use_groups=use_groups, kind=kind)
        ate = _scalar(est.ate())
        lo, hi = (_scalar(v) for v in est.ate_interval(alpha=ALPHA))
        cov.estimate.append(ate)
        cov.se.append((hi - lo) / (2 * Z95))
        cov.covered.append(lo <= d.pate <= hi)
        cov.covered_sate.append(lo <= d.tau.mean() <= hi)
        o = _oracle(d, use_groups=use_groups)
        cov.oracle_covered.append(o.effect_ci_lower <= d.pate <= o.effect_ci_upper)
        if hasattr(est, "selected_"):
            cov.selected.append(est.selected_)
        try:
            c_lo, c_hi = (np.asarray(v, dtype=float).reshape(-1) for v in est.effect_interval(d.x))
            cov.cate_covered.append(float(np.mean((c_lo <= d.tau) & (d.tau <= c_hi))))
        except NotImplementedError:  # a selected meta-learner has no valid CATE interval
            cov.cate_covered.append(float("nan"))
    return cov


def _oracle(d: SimData, *, use_groups: bool) -> estimators.ATEResult:
    """The AIPW ATE with the true propensity and outcome means, same inference as the fit."""
    is_t = d.t.astype(bool)
    scores = estimators.aipw_scores(d.y, is_t, ~is_t, d.mu1, d.mu0, d.e, 1.0 - d.e)
    groups = d.groups if use_groups else None
    return estimators.mean_effect_from_scores(scores, groups=groups, alpha=ALPHA)


def _binomial_floor(n: int) -> float:
    return NOMINAL - Z_BAND * math.sqrt(NOMINAL * ALPHA / n)


# --------------------------------------------------------------------------------- the tests
def test_default_ate_equals_the_study_estimator_ate():
    # clustered data, so the cluster-aware folds and the cluster-robust SE are compared too
    d = simulate(EQUIV_ROWS, seed=7, n_clusters=N_CREATORS)
    auto = _fit(d, seed=3, use_groups=True, kind="AutoCate")
    study = _fit(d, seed=3, use_groups=True, kind="LinearDML")
    np.testing.assert_allclose(
        np.ravel(auto.ate_interval(alpha=ALPHA)),
        np.ravel(study.ate_interval(alpha=ALPHA)),
        rtol=EQUIV_RTOL,
    )
    np.testing.assert_allclose(_scalar(auto.ate()), _scalar(study.ate()), rtol=EQUIV_RTOL)


def test_ate_interval_coverage_fast():
    cov = run_study(N_FAST, seed0=10_000)
    print(cov.summary("ATE (fast)", PATE))
    assert cov.rate >= _binomial_floor(N_FAST), cov.summary("ATE", PATE)
    lo, hi = SE_RATIO_BAND
    assert lo <= cov.se_ratio(PATE) <= hi, cov.summary("ATE", PATE)


def test_cluster_robust_interval_keeps_coverage_fast():
    robust = run_study(N_CLUSTER_FAST, seed0=20_000, n_clusters=N_CREATORS, use_groups=True)
    naive = run_study(N_CLUSTER_FAST, seed0=20_000, n_clusters=N_CREATORS, use_groups=False)
    print(robust.summary("clustered, groups=", PATE))
    print(naive.summary("clustered, naive", PATE))
    assert robust.rate >= _binomial_floor(N_CLUSTER_FAST), robust.summary("robust", PATE)
    assert robust.se_ratio(PATE) >= SE_RATIO_BAND[0], robust.summary("robust", PATE)
    # the naive interval is too narrow for the spread of its own estimates
    assert naive.se_ratio(PATE) <= NAIVE_MAX_SE_RATIO, naive.summary("naive", PATE)
    assert naive.rate < robust.rate


def test_cluster_robust_inference_with_true_nuisances_many_datasets():
    # the inference layer alone (CR2 + t on the Bell-McCaffrey dof = CR1 + t(19) for these equal
    # creators) on N_ORACLE clustered datasets; the fitted studies add only the nuisance error
    robust = naive = 0
    for r in range(N_ORACLE):
        d = simulate(N_ROWS, seed=60_000 + r, n_clusters=N_CREATORS)
        rc, rn = _oracle(d, use_groups=True), _oracle(d, use_groups=False)
        robust += rc.effect_ci_lower <= d.pate <= rc.effect_ci_upper
        naive += rn.effect_ci_lower <= d.pate <= rn.effect_ci_upper
    lo, hi = TARGET_BAND
    print(
        f"oracle clustered ({N_ORACLE}): CR2 {robust / N_ORACLE:.3f}, naive {naive / N_ORACLE:.3f}"
    )
    assert lo <= robust / N_ORACLE <= hi, (robust, naive)
    assert naive / N_ORACLE <= NAIVE_ORACLE_MAX, (robust, naive)


@pytest.mark.slow
def test_ate_interval_coverage_200_datasets():
    cov = run_study(N_SLOW, seed0=30_000)
    print(cov.summary("ATE (200 datasets; CATE column = LinearDML)", PATE))
    lo, hi = TARGET_BAND
    assert lo <= cov.rate <= hi, cov.summary("ATE", PATE)


@pytest.mark.slow
def test_cluster_robust_coverage_200_datasets():
    # estimators 0f6a566 (normal critical values) covered 0.900 here and failed the floor 0.904;
    # 84a63fc (t(G-1) critical values) covers 0.920 (SE/SD 0.94), naive 0.485 (SE/SD 0.34). CR2
    # with Bell-McCaffrey dof (06d4d91) is identical on these equal-size creators. With the
    # outcome library (0f68654): 0.915 (true nuisances on the same datasets 0.935), naive 0.500.
    robust = run_study(N_CLUSTER_SLOW, seed0=40_000, n_clusters=N_CREATORS, use_groups=True)
    naive = run_study(N_CLUSTER_SLOW, seed0=40_000, n_clusters=N_CREATORS, use_groups=False)
    print(robust.summary("clustered, groups= (200)", PATE))
    print(naive.summary("clustered, naive (200)", PATE))
    assert robust.rate >= _binomial_floor(N_CLUSTER_SLOW), robust.summary("robust", PATE)
    assert naive.rate <= NAIVE_MAX_COVERAGE_SLOW, naive.summary("naive", PATE)


@pytest.mark.slow
def test_autocate_end_to_end_coverage_and_cate_intervals():
    # the real default (no shortcut) and AutoCate restricted to candidates with CATE intervals;
    # the pointwise CATE coverage is reported (pytest -s), not held to 95%: forest and linear
    # CATE intervals are known to under-cover where the fit is biased (REFERENCES.md, econml #893)
    auto = run_study(N_END_TO_END, seed0=50_000, kind="AutoCate")
    ints = run_study(N_END_TO_END, seed0=50_000, kind="AutoCate-intervals")
    print(auto.summary(f"AutoCate default ({N_END_TO_END})", PATE))
    print(ints.summary(f"AutoCate require_intervals=True ({N_END_TO_END})", PATE))
    assert auto.rate >= _binomial_floor(N_END_TO_END), auto.summary("AutoCate", PATE)
    assert np.isfinite(ints.cate_rate)
    assert ints.cate_rate >= CATE_COVERAGE_FLOOR, ints.summary("intervals", PATE)
