"""Doubly-robust (AIPW) and partially-linear ATEs with influence-function standard errors.

Pure functions: arrays in, a frozen :class:`ATEResult` out. These are what ``ate()`` and
``ate_interval()`` of every estimator report (not the conservative average of CATE intervals,
econml #479).

Propensity clipping: propensities are clipped to ``[clip, 1 - clip]`` before they are inverted
(default ``clip=0.01``). Clipping bounds the weights at ``1 / clip``; it biases the estimate
slightly where overlap fails, and the callers warn (``OverlapWarning``) with the share of units
clipped and refuse (``EstimatorInputError``) when most units are at 0 or 1, where the ATE is
not identified from the data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

__all__ = ["ATEResult", "aipw_scores", "mean_effect_from_scores", "plr_ate"]


@dataclass(frozen=True, slots=True)
class ATEResult:
    """An average treatment effect with its influence-function inference.

    Attributes
    ----------
    effect, se : float
        The estimate and its standard error (cluster-robust when ``n_clusters`` is set).
    effect_ci_lower, effect_ci_upper : float
        The ``1 - alpha`` normal interval.
    pvalue : float
        Two-sided p-value of ``effect == 0``.
    alpha : float
    n : int
        Units used.
    n_clusters : int or None
        Clusters used for the standard error, or None for unit-level (HC1-type) errors.
    outcome, treatment : str
        Labels: the outcome column and ``"<arm> vs <control>"`` (or the treatment name).
    """

    effect: float
    se: float
    effect_ci_lower: float
    effect_ci_upper: float
    pvalue: float
    alpha: float
    n: int
    n_clusters: int | None = None
    outcome: str = ""
    treatment: str = ""

    def to_dict(self) -> dict[str, object]:
        """The fields as a plain dict (JSON-ready)."""
        return asdict(self)


def aipw_scores(
    y: np.ndarray,
    is_arm: np.ndarray,
    is_control: np.ndarray,
    mu_arm: np.ndarray,
    mu_control: np.ndarray,
    e_arm: np.ndarray,
    e_control: np.ndarray,
    *,
    clip: float = 0.01,
) -> np.ndarray:
    """Per-unit doubly-robust (AIPW) scores for ``E[Y(arm) - Y(control)]``.

    ``psi_i = mu_a(x_i) - mu_0(x_i) + 1[T_i=a] (y_i - mu_a(x_i)) / e_a(x_i)
    - 1[T_i=0] (y_i - mu_0(x_i)) / e_0(x_i)``, with the propensities clipped to
    ``[clip, 1 - clip]``. Their mean is the AIPW ATE (Robins, Rotnitzky & Zhao 1994).

    Parameters
    ----------
    y : ndarray of shape (n,)
    is_arm, is_control : ndarray of bool, shape (n,)
        Unit received the arm / the control (for a binary treatment, ``T == 1`` and ``T == 0``).
    mu_arm, mu_control : ndarray of shape (n,)
        Out-of-fold outcome predictions under each arm.
    e_arm, e_control : ndarray of shape (n,)
        Out-of-fold propensities of the arm and of control.
    clip : float
        Propensity clipping bound.

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 2.0, 3.0, 4.0]); t = np.array([0, 0, 1, 1], dtype=bool)
    >>> mu0 = np.full(4, 1.5); mu1 = np.full(4, 3.5); e = np.full(4, 0.5)
    >>> float(aipw_scores(y, t, ~t, mu1, mu0, e, 1 - e).mean())
    2.0
    """
    ea = np.clip(e_arm, clip, 1 - clip)
    e0 = np.clip(e_control, clip, 1 - clip)
    return mu_arm - mu_control + is_arm * (y - mu_arm) / ea - is_control * (y - mu_control) / e0


def _finish(
    effect: float,
    infl: np.ndarray,
    denom: float,
    groups: np.ndarray | None,
    alpha: float,
    n: int,
) -> tuple[float, float, float, float, int | None]:
    """SE from unnormalized influence terms ``infl`` (sum zero) over ``denom``.

    Unit level: ``se^2 = n/(n-1) * sum(infl^2) / denom^2`` (HC1 of a one-parameter fit),
    normal critical values. Clustered: ``se^2 = G/(G-1) * sum_g (sum_{i in g} infl_i)^2 /
    denom^2`` (CR1) with Student-t critical values on ``G - 1`` degrees of freedom — with few
    clusters normal values under-cover (20 creators: 90% for a nominal 95%); this is
    statsmodels' ``cov_type="cluster", use_t=True``.
    """
    if groups is None:
        var = n / max(n - 1, 1) * float(np.sum(infl**2)) / denom**2
        n_clusters = None
    else:
        sums = np.bincount(groups, weights=infl)
        g = int(np.count_nonzero(np.bincount(groups)))
        var = g / max(g - 1, 1) * float(np.sum(sums**2)) / denom**2
        n_clusters = g
    se = float(np.sqrt(var))
    ref = stats.norm if n_clusters is None else stats.t(max(n_clusters - 1, 1))
    z = float(ref.ppf(1 - alpha / 2))
    pvalue = float(2 * ref.sf(abs(effect) / se)) if se > 0 else float("nan")
    return se, effect - z * se, effect + z * se, pvalue, n_clusters


def mean_effect_from_scores(
    scores: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    alpha: float = 0.05,
    outcome: str = "",
    treatment: str = "",
) -> ATEResult:
    """The (weighted) mean of per-unit scores with an influence-function SE.

    Equal to the intercept-only WLS fit of ``scores`` with HC1 (unit level) or CR1 (``groups``)
    standard errors, i.e. statsmodels ``WLS(scores, 1).fit(cov_type="HC1" | "cluster")``.

    Parameters
    ----------
    scores : ndarray of shape (n,)
        E.g. :func:`aipw_scores`.
    sample_weight : ndarray of shape (n,), optional
    groups : ndarray of int, shape (n,), optional
        Cluster codes: influence values are summed within clusters (cluster-robust SE).
    alpha : float
        One minus the interval's coverage.

    Examples
    --------
    >>> import numpy as np
    >>> r = mean_effect_from_scores(np.array([1.0, 2.0, 3.0]))
    >>> round(r.effect, 6), round(r.se, 6)
    (2.0, 0.57735)
    """
    w = np.ones_like(scores) if sample_weight is None else sample_weight
    theta = float(np.sum(w * scores) / np.sum(w))
    infl = w * (scores - theta)
    se, lo, hi, p, g = _finish(theta, infl, float(np.sum(w)), groups, alpha, len(scores))
    return ATEResult(theta, se, lo, hi, p, alpha, len(scores), g, outcome, treatment)


def plr_ate(
    y_res: np.ndarray,
    t_res: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    alpha: float = 0.05,
    outcome: str = "",
    treatment: str = "",
) -> ATEResult:
    """Partially-linear (DML) effect of a continuous treatment from cross-fitted residuals.

    ``theta = sum(w t~ y~) / sum(w t~^2)``: the no-intercept regression of ``y~ = y - E[y|x]``
    on ``t~ = t - E[t|x]`` (Chernozhukov et al. 2018), with the influence-function SE
    (HC1 / CR1 as in :func:`mean_effect_from_scores`). It is a variance-weighted average of the
    marginal effect ``d E[Y|T, X] / dT``, weighting units by ``Var(T|X)``; it equals the average
    marginal effect when the effect or ``Var(T|X)`` is constant.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([-1.0, 0.0, 1.0, 2.0]); y = 2 * t + np.array([0.1, -0.1, 0.1, -0.1])
    >>> round(plr_ate(y, t).effect, 3)
    1.967
    """
    w = np.ones_like(y_res) if sample_weight is None else sample_weight
    denom = float(np.sum(w * t_res**2))
    theta = float(np.sum(w * t_res * y_res) / denom)
    infl = w * t_res * (y_res - theta * t_res)
    se, lo, hi, p, g = _finish(theta, infl, denom, groups, alpha, len(y_res))
    return ATEResult(theta, se, lo, hi, p, alpha, len(y_res), g, outcome, treatment)
