"""Sensitivity to an unobserved confounder: Cinelli–Hazlett robustness value and benchmarks,
E-values for binary outcomes.

The numbers are pure functions (:func:`robustness_value`, :func:`evalue`,
:func:`partial_r2_benchmarks`); :func:`sensitivity` assembles them for one estimate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from causal.graph._results import Sensitivity
from causal.graph._scores import EffectScores

__all__ = ["evalue", "partial_r2_benchmarks", "robustness_value", "sensitivity"]

#: Rows used for the benchmark regressions (partial R² are population quantities; an evenly
#: spaced subsample of this size pins them down far below their use as rough strengths).
BENCHMARK_MAX_ROWS = 100_000


def robustness_value(
    t_statistic: float, dof: float, *, q: float = 1.0, alpha: float | None = None
) -> float:
    """Cinelli & Hazlett's (2020) robustness value ``RV_q`` (``RV_{q,alpha}`` with ``alpha``).

    The partial R² a confounder needs with both treatment and outcome to reduce the estimate by
    ``100 q`` % (with ``alpha``: to make the ``1 - alpha`` interval reach that value).
    ``f_q = q |t| / sqrt(dof)``; ``RV = (sqrt(f^4 + 4 f^2) - f^2) / 2`` with ``f = f_q``
    (or ``f_q - f*``, ``f* = |t_{alpha/2, dof-1}| / sqrt(dof - 1)``, with ``alpha``).

    Examples
    --------
    The Darfur example of Cinelli & Hazlett (2020, section 4.3): t = 4.18, dof = 783 gives
    RV = 13.9% and RV_{alpha=0.05} = 7.6%.

    >>> round(robustness_value(4.18, 783), 3), round(robustness_value(4.18, 783, alpha=0.05), 3)
    (0.139, 0.076)
    """
    fq = q * abs(t_statistic) / math.sqrt(dof)
    if alpha is None:
        return 0.5 * (math.sqrt(fq**4 + 4 * fq**2) - fq**2)
    f_crit = abs(float(stats.t.ppf(alpha / 2, dof - 1))) / math.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa < 0:
        return 0.0
    if fq > 1 / f_crit:
        return (fq**2 - f_crit**2) / (1 + fq**2)
    return 0.5 * (math.sqrt(fqa**4 + 4 * fqa**2) - fqa**2)


def evalue(
    estimate: float, lower: float | None = None, upper: float | None = None
) -> tuple[float, float | None]:
    """E-values (VanderWeele & Ding 2017) of a risk ratio and of its confidence interval.

    ``E = RR + sqrt(RR (RR - 1))`` for ``RR >= 1`` (``RR -> 1/RR`` below 1): the risk ratio an
    unmeasured confounder needs with both treatment and outcome to explain the estimate away.
    For the interval: the E-value of the limit closest to 1, or 1 if the interval contains 1.

    Examples
    --------
    >>> [round(v, 2) for v in evalue(3.9, 1.8, 8.7)]   # the paper's example: 7.26 and 3.0
    [7.26, 3.0]
    """

    def e(rr: float) -> float:
        rr = 1.0 / rr if rr < 1 else rr
        return rr + math.sqrt(rr * (rr - 1.0))

    point = e(estimate)
    if lower is None or upper is None:
        return point, None
    if lower <= 1.0 <= upper:
        return point, 1.0
    return point, e(lower if estimate >= 1 else upper)


def _design(frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, list[int]]]]:
    """Numeric design of ``frame`` (categoricals one-hot, first level dropped) with the column
    groups of each covariate."""
    blocks: list[np.ndarray] = []
    groups: list[tuple[str, list[int]]] = []
    col = 0
    for name in frame.columns:
        s = frame[name]
        if isinstance(s.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
        ):
            d = pd.get_dummies(s.astype("category"), drop_first=True, dtype=float).to_numpy()
        else:
            d = s.to_numpy(dtype=float)[:, None]
        if d.shape[1] == 0:
            continue
        sd = d.std(axis=0)
        d = (d - d.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        blocks.append(d)
        groups.append((str(name), list(range(col, col + d.shape[1]))))
        col += d.shape[1]
    x = np.column_stack(blocks) if blocks else np.empty((len(frame), 0))
    return x, groups


def _rss(y: np.ndarray, x: np.ndarray) -> float:
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ coef
    return float(r @ r)


def partial_r2_benchmarks(y: np.ndarray, d: np.ndarray, covariates: pd.DataFrame) -> pd.DataFrame:
    """Linear partial R² of each covariate with the treatment and with the outcome.

    ``r2_treatment``: of covariate ``j`` with ``d`` given the other covariates;
    ``r2_outcome``: with ``y`` given ``d`` and the other covariates. A categorical covariate is
    one group of one-hot columns: ``(RSS_without - RSS_with) / RSS_without``, which for a single
    column equals ``t^2 / (t^2 + dof)`` of its OLS coefficient.

    Returns
    -------
    DataFrame with columns covariate, r2_treatment, r2_outcome.
    """
    x, groups = _design(covariates)
    one = np.ones((len(y), 1))
    full_d = np.column_stack([one, x])
    full_y = np.column_stack([one, d, x])
    rss_d, rss_y = _rss(d, full_d), _rss(y, full_y)
    rows = []
    for name, cols in groups:
        keep = [c for c in range(x.shape[1]) if c not in cols]
        red_d = np.column_stack([one, x[:, keep]])
        red_y = np.column_stack([one, d, x[:, keep]])
        r_d, r_y = _rss(d, red_d), _rss(y, red_y)
        rows.append(
            {
                "covariate": name,
                "r2_treatment": max(0.0, (r_d - rss_d) / r_d) if r_d > 0 else 0.0,
                "r2_outcome": max(0.0, (r_y - rss_y) / r_y) if r_y > 0 else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=["covariate", "r2_treatment", "r2_outcome"])


def _bounds(r2dxj: float, r2yxj: float, kd: float, ky: float) -> tuple[float, float]:
    """Cinelli–Hazlett bounds (their section 6.2): a confounder ``k`` times as strong as
    covariate ``j`` has at most these partial R² with treatment and with outcome."""
    r2dz = kd * r2dxj / (1 - r2dxj)
    if r2dz >= 1:
        return 1.0, 1.0
    r2zxj = kd * r2dxj**2 / ((1 - kd * r2dxj) * (1 - r2dxj))
    if r2zxj >= 1:
        return r2dz, 1.0
    r2yz = ((math.sqrt(ky) + math.sqrt(r2zxj)) / math.sqrt(1 - r2zxj)) ** 2 * (r2yxj / (1 - r2yxj))
    return r2dz, min(r2yz, 1.0)


def sensitivity(
    scores: EffectScores,
    *,
    ks: tuple[float, ...] = (1.0, 2.0, 3.0),
    alpha: float = 0.05,
    benchmark_covariates: list[str] | None = None,
) -> Sensitivity:
    """Sensitivity of one estimate to an unobserved confounder.

    The estimate is the doubly-robust ATE (discrete treatment) or the partially linear effect
    (continuous). With ``g`` the outcome regression and ``alpha`` the Riesz representer
    (``1[arm]/e1 - 1[control]/e0``, or ``T~ / E[T~^2]`` for a continuous treatment),
    ``S^2 = E[(Y - g)^2] E[alpha^2]``. A confounder with partial R² ``r2_t`` (treatment) and
    ``r2_y`` (outcome) biases the estimate by at most ``S sqrt(r2_y r2_t / (1 - r2_t))``
    (Chernozhukov, Cinelli, Newey, Sharma & Syrgkanis 2022, "Long story short"). For a linear
    outcome model ``S = se sqrt(dof)`` and this is Cinelli & Hazlett (2020) exactly; the
    robustness value is theirs with ``f = |estimate| / S`` (``t = f sqrt(n - 1)``).

    Benchmarks: a confounder ``k`` times as strong as each observed covariate, with the
    covariates' strengths measured by linear partial R² (Cinelli & Hazlett's bounds) — an
    approximation when the nuisances are non-linear, as DoWhy's linear analyser makes too.

    Parameters
    ----------
    scores : EffectScores
        From :func:`causal.graph.scores_of` (a fitted estimator).
    ks : tuple of float
        Multiples of each covariate's strength to benchmark.
    alpha : float
    benchmark_covariates : list of str, optional
        Default: every column of the adjustment set ``Z``.
    """
    sc = scores
    res = sc.estimate(alpha)
    theta, se = float(res.effect), float(res.se)
    n = sc.n
    if sc.discrete:
        assert sc.arm is not None and sc.mu1 is not None and sc.mu0 is not None
        arm = sc.arm
        g = np.where(arm, sc.mu1, sc.mu0)
        e1 = np.clip(sc.e1, sc.clip, 1 - sc.clip)  # type: ignore[arg-type]
        e0 = np.clip(sc.e0, sc.clip, 1 - sc.clip)  # type: ignore[arg-type]
        riesz = np.where(arm, 1.0 / e1, -1.0 / e0)
        d = arm.astype(float)
    else:
        assert sc.t is not None and sc.t_hat is not None
        t_res = sc.t - sc.t_hat
        g = sc.m + theta * t_res
        riesz = t_res / np.mean(t_res**2)
        d = sc.t.astype(float)
    scale = float(np.sqrt(np.mean((sc.y - g) ** 2) * np.mean(riesz**2)))
    dof = max(n - 1, 2)
    f = abs(theta) / scale if scale > 0 else math.inf
    t_stat = f * math.sqrt(dof)
    rv = robustness_value(t_stat, dof)
    rv_a = robustness_value(t_stat, dof, alpha=alpha)
    z = float(stats.norm.ppf(1 - alpha / 2))

    Z = sc.Z if benchmark_covariates is None else sc.Z[list(benchmark_covariates)]
    bench: list[dict[str, Any]] = []
    if Z.shape[1] > 0:
        step = max(1, n // BENCHMARK_MAX_ROWS)
        pr = partial_r2_benchmarks(sc.y[::step], d[::step], Z.iloc[::step])
        for row in pr.itertuples(index=False):
            for k in ks:
                try:
                    r2t, r2y = _bounds(row.r2_treatment, row.r2_outcome, k, k)
                except (ZeroDivisionError, ValueError):
                    continue
                if r2t >= 1:
                    continue
                bias = scale * math.sqrt(r2y * r2t / (1 - r2t))
                adj = (1.0 if theta >= 0 else -1.0) * (abs(theta) - bias)
                adj_se = se * math.sqrt(max(1 - r2y, 0.0) / (1 - r2t))
                bench.append(
                    {
                        "covariate": row.covariate,
                        "k": float(k),
                        "r2_treatment": float(r2t),
                        "r2_outcome": float(r2y),
                        "bias": float(bias),
                        "adjusted_estimate": float(adj),
                        "adjusted_ci_lower": float(adj - z * adj_se),
                        "adjusted_ci_upper": float(adj + z * adj_se),
                    }
                )
    ones = [b for b in bench if b["k"] == 1.0]
    worst = max(ones, key=lambda b: b["bias"]) if ones else None
    robust = worst is None or worst["bias"] < abs(theta)
    ev = ev_ci = rr = None
    if sc.discrete and np.isin(np.unique(sc.y), (0.0, 1.0)).all():
        rr, ev, ev_ci = _risk_ratio_evalue(sc, alpha)
    if worst is None:
        reading = f"RV = {rv:.1%}; no observed covariates to benchmark against."
    else:
        verdict = (
            "would bring it to zero (fragile)"
            if not robust
            else "would not bring it to zero (robust)"
        )
        reading = (
            f"A confounder as strong as {worst['covariate']} (the strongest observed covariate) "
            f"{verdict}: the estimate {theta:.4g} becomes {worst['adjusted_estimate']:.4g}. "
            f"RV = {rv:.1%}: a confounder explaining less than {rv:.1%} of the residual variance "
            "of both treatment and outcome cannot bring the estimate to zero"
            f" ({rv_a:.1%} to make it insignificant at alpha = {alpha:g})."
        )
    return Sensitivity(
        estimate=theta,
        se=se,
        robustness_value=float(rv),
        robustness_value_alpha=float(rv_a),
        partial_r2_treatment=float(f**2 / (1 + f**2)),
        scale=scale,
        dof=int(dof),
        benchmarks=tuple(bench),
        robust=bool(robust),
        strongest_benchmark="" if worst is None else str(worst["covariate"]),
        evalue=ev,
        evalue_ci=ev_ci,
        risk_ratio=rr,
        alpha=alpha,
        reading=reading,
    )


def _risk_ratio_evalue(
    sc: EffectScores, alpha: float
) -> tuple[float | None, float | None, float | None]:
    """Doubly-robust risk ratio ``E[Y(1)] / E[Y(0)]`` (delta method on the log) and E-values."""
    assert sc.arm is not None and sc.mu1 is not None and sc.mu0 is not None
    e1 = np.clip(sc.e1, sc.clip, 1 - sc.clip)  # type: ignore[arg-type]
    e0 = np.clip(sc.e0, sc.clip, 1 - sc.clip)  # type: ignore[arg-type]
    phi1 = sc.mu1 + sc.arm * (sc.y - sc.mu1) / e1
    phi0 = sc.mu0 + (~sc.arm) * (sc.y - sc.mu0) / e0
    p1, p0 = float(phi1.mean()), float(phi0.mean())
    if p1 <= 0 or p0 <= 0:
        return None, None, None
    infl = phi1 / p1 - phi0 / p0
    se = float(infl.std(ddof=1) / math.sqrt(sc.n))
    z = float(stats.norm.ppf(1 - alpha / 2))
    rr = p1 / p0
    lo, hi = rr * math.exp(-z * se), rr * math.exp(z * se)
    ev, ev_ci = evalue(rr, lo, hi)
    return rr, ev, ev_ci
