"""Treatment-vs-control effects from per-arm :class:`Moments` (means, proportions, ratios, CUPED).

One engine serves every metric. Each arm ``a`` has ``n_a`` units with column means ``m_a`` and
centred cross-products ``C_a`` (its :class:`Moments`). A metric is a smooth function of the arm
means — ``f(m) = m_y`` for a mean, ``f(m) = m_num / m_den`` for a ratio of means — and CUPED
covariates are ``h(m)`` — the covariate means, or the pre-period ratio ``m_num_pre / m_den_pre``.
The adjusted arm statistics are

    S_t = f(m_t) - theta' (h(m_t) - hbar),   S_c = f(m_c) - theta' (h(m_c) - hbar),
    hbar = w_t h(m_t) + w_c h(m_c),          w_a = n_a / (n_t + n_c),

with ``theta`` the pooled within-arm regression slope of the (linearised) metric on the
(linearised) covariates: ``theta = (sum_a J_a C_a J_a')^+ sum_a J_a C_a g_a`` (``g`` the gradient
of ``f``, ``J`` the Jacobian of ``h``). For a mean metric this is exactly the ANCOVA slope, so the
effect ``S_t - S_c`` equals the coefficient of ``T`` in OLS ``y ~ T + x``. Standard errors of the
effect and of the relative lift ``S_t / S_c - 1`` come from the delta method with the full
gradient with respect to both arms' means (``S_c`` depends on ``m_t`` through ``hbar``: this is the
covariance term whose omission makes relative CUPED intervals undercover, GrowthBook #3610).
``theta`` is treated as known (its estimation error is ``O(1/n)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
from scipy import special

from causal._errors import (
    ConfigError,
    InsufficientDataError,
    MissingColumnError,
    MissingValuesError,
    UnknownVariantError,
)
from causal.stats._moments import Moments, mean_delta, merge_moments
from causal.stats._results import EffectResult

__all__ = ["effects_vs_control", "mean_effect", "ratio_effect"]

Test = Literal["welch", "z"]

# A covariate whose pooled within-arm variance is exactly 0, or below this fraction of the
# variance its terms would have without cancellation (a linearised pre-period ratio that is
# constant up to rounding), is treated as constant and dropped from CUPED. Not relative to its
# magnitude: moments are exact at any offset, so 1e12 + N(0, 1e-3) is a usable covariate.
_CONST_RTOL = 1e-12
# Smallest eigenvalue (of the correlation matrix of the covariates) treated as collinear.
_COLLINEAR_TOL = 1e-10

_Vec = np.ndarray
_Fn = Callable[[_Vec], float]
_Grad = Callable[[_Vec], _Vec]
_Diff = Callable[[Moments, Moments], _Vec]


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, int | float) and 0.0 < float(alpha) < 1.0):
        raise ConfigError(
            f"The 'alpha' parameter must be a float in (0, 1). Got {alpha!r} instead."
        )


def _select(m: Moments, cols: Sequence[str], arm: str) -> Moments:
    if not isinstance(m, Moments):
        raise ConfigError(
            f"The '{arm}' argument must be causal.stats.Moments. Got {type(m).__name__} instead."
        )
    missing = [c for c in cols if c not in m.names]
    if missing:
        raise MissingColumnError(
            f"Column(s) {missing} are not in the {arm} arm's moments (it has {list(m.names)}); "
            "aggregate them in the engine or fix the metric spec."
        )
    sub = m if m.names == tuple(cols) else m.select(list(cols))
    bad = ~np.isfinite(sub.mean) | ~np.isfinite(sub.comoment).all(axis=0)
    if sub.n > 0 and bad.any():
        names = [c for c, b in zip(cols, bad, strict=True) if b]
        raise MissingValuesError(
            f"The {arm} arm's aggregates of column(s) {names} hold NaN or infinite values; "
            "drop or fill missing values before aggregating."
        )
    return sub


def _check_n(m: Moments, arm: str, what: str, minimum: int = 2) -> None:
    if m.n < minimum:
        raise InsufficientDataError(
            f"The {arm} arm has {m.n} {what} for metric column '{m.names[0]}'; at least {minimum} "
            "are needed to estimate a variance. Collect more data or drop this arm."
        )


def _quantile(alpha: float, df: float) -> float:
    """Two-sided critical value: normal when ``df`` is infinite, else Student t."""
    if math.isinf(df):
        return float(special.ndtri(1 - alpha / 2))
    return float(special.stdtrit(df, 1 - alpha / 2))


def _pvalue(z: float, df: float) -> float:
    """Two-sided p-value of the statistic ``z``."""
    if math.isinf(df):
        return float(2 * special.ndtr(-abs(z)))
    return float(2 * special.stdtr(df, -abs(z)))


def _theta(
    arms: list[tuple[Moments, _Vec, np.ndarray]],
    names: Sequence[str],
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled within-arm slope; returns (theta, kept-mask). Drops constant covariates."""
    p = arms[0][2].shape[0]
    a = np.zeros((p, p))
    a_abs = np.zeros(p)
    b = np.zeros(p)
    for m, g, jac in arms:
        a += jac @ m.comoment @ jac.T
        a_abs += np.diag(np.abs(jac) @ np.abs(m.comoment) @ np.abs(jac).T)
        b += jac @ m.comoment @ g
    var = np.diag(a)
    keep = (var > 0) & (var > _CONST_RTOL * a_abs)
    for name, k in zip(names, keep, strict=True):
        if not k:
            notes.append(
                f"covariate '{name}' is constant within arms (no variance); dropped from CUPED"
            )
    theta = np.zeros(p)
    if not keep.any():
        return theta, keep
    ak, bk = (a, b) if keep.all() else (a[np.ix_(keep, keep)], b[keep])
    d = 1 / np.sqrt(np.diag(ak))
    corr = ak * np.outer(d, d)
    if corr.shape[0] == 1:
        theta[keep] = bk / ak[0, 0]
        return theta, keep
    # pseudo-inverse of the correlation matrix from one eigen-decomposition
    eig, vec = np.linalg.eigh(corr)
    good = eig > _COLLINEAR_TOL * eig[-1]
    if not good.all():
        notes.append(
            "CUPED covariates are collinear; used the minimum-norm slope (same adjustment as "
            "dropping the redundant covariates)"
        )
    inv = (vec[:, good] / eig[good]) @ vec[:, good].T
    theta[keep] = d * (inv @ (d * bk))
    return theta, keep


def _effect_core(
    control: Moments,
    treatment: Moments,
    *,
    f: _Fn,
    grad_f: _Grad,
    h: Callable[[_Vec], _Vec] | None,
    jac_h: Callable[[_Vec], np.ndarray] | None,
    fh_diff: _Diff,
    cov_names: Sequence[str],
    alpha: float,
    test: Test,
    clustered: bool,
    notes: list[str],
    pooled_var: bool = False,
) -> EffectResult:
    nt, nc = treatment.n, control.n
    mt, mc = treatment.mean, control.mean
    gt, gc = grad_f(mt), grad_f(mc)
    ft, fc = f(mt), f(mc)
    wt, wc = nt / (nt + nc), nc / (nt + nc)

    theta = np.zeros(0)
    if h is not None and jac_h is not None:
        jt, jc = jac_h(mt), jac_h(mc)
        theta, keep = _theta([(treatment, gt, jt), (control, gc, jc)], cov_names, notes)
        if not keep.any():
            h = jac_h = None
    # f(m_t) - f(m_c) and h(m_t) - h(m_c), exact at any offset (from shifted means)
    fh = fh_diff(treatment, control)
    if h is not None and jac_h is not None:
        diff = float(theta @ fh[1:])
        st = ft - wc * diff
        sc = fc + wt * diff
        adj_t, adj_c = jt.T @ theta, jc.T @ theta
        # gradients of S_t and S_c w.r.t. (m_t, m_c)
        dst = (gt - wc * adj_t, wc * adj_c)
        dsc = (wt * adj_t, gc - wt * adj_c)
    else:
        st, sc = ft, fc
        zt, zc = np.zeros_like(mt), np.zeros_like(mc)
        dst = (gt, zc)
        dsc = (zt, gc)

    cr2 = clustered and treatment.rows is not None and control.rows is not None
    if cr2:
        # CR2 from the per-cluster rows: each arm's cluster residuals weighted 1 / (1 - h_g)
        ct, ht, dof_t = _cr2_arm(treatment)
        cc, hc, dof_c = _cr2_arm(control)
        cov_t = (ct.T * (1.0 / (1.0 - ht))) @ ct / nt**2
        cov_c = (cc.T * (1.0 / (1.0 - hc))) @ cc / nc**2
    elif clustered:
        # cluster sums: V(mean) = C / G_a^2, times G / (G - 1) (CR1 small-sample correction)
        g_total = nt + nc
        corr = g_total / (g_total - 1)
        cov_t = treatment.comoment / nt**2 * corr
        cov_c = control.comoment / nc**2 * corr
    else:
        cov_t = treatment.comoment / ((nt - 1) * nt)
        cov_c = control.comoment / ((nc - 1) * nc)

    def var_parts(dt: _Vec, dc: _Vec) -> tuple[float, float]:
        return float(dt @ cov_t @ dt), float(dc @ cov_c @ dc)

    d_eff = (dst[0] - dsc[0], dst[1] - dsc[1])
    vt, vc = var_parts(*d_eff)
    var = vt + vc
    se = math.sqrt(max(var, 0.0))

    if cr2:
        # each arm's Bell-McCaffrey dof (working model within the arm), combined by
        # Welch-Satterthwaite with the arms' CR2 variances: an arm holding the few big
        # clusters dominates. (Combining under the working model instead, weights 1 / den_a,
        # covers 92.5% rather than 93.5% with 20 Zipf-sized clusters: tests/stats.)
        denom = vt**2 / dof_t + vc**2 / dof_c
        df = var**2 / denom if denom > 0 else min(dof_t, dof_c)
    elif clustered:
        df = float(nt + nc - 1)
    elif test == "welch":
        denom = vt**2 / (nt - 1) + vc**2 / (nc - 1)
        df = var**2 / denom if denom > 0 else math.inf
    else:
        df = math.inf

    # unadjusted variance (for the variance-reduction figure)
    if theta.size and h is not None:
        rt, rc = var_parts(gt, -gc)
        raw = rt + rc
        vr = 1.0 - var / raw if raw > 0 else 0.0
    else:
        vr = 0.0

    effect = float(fh[0]) - (diff if theta.size and h is not None else 0.0)
    q = _quantile(alpha, df)
    if pooled_var:
        pooled = merge_moments(control, treatment)
        p_var = float(pooled.comoment[0, 0] / pooled.n) * (1 / nt + 1 / nc)
        p_se = math.sqrt(max(p_var, 0.0))
        degenerate = 1.0 if effect == 0 else 0.0
        pvalue = _pvalue(effect / p_se, math.inf) if p_se > 0 else degenerate
    elif se > 0:
        pvalue = _pvalue(effect / se, df)
    else:
        pvalue = 1.0 if effect == 0 else 0.0
        notes.append("zero variance in both arms: the p-value is degenerate (0 or 1)")

    # Undefined whenever the *raw* control metric is 0: the CUPED-adjusted control mean is then
    # only the adjustment term, and dividing by it gives an arbitrary, huge relative lift.
    if fc == 0 or sc == 0 or not math.isfinite(sc):
        rel = rel_se = rel_lo = rel_hi = math.nan
        notes.append("relative lift undefined: the control mean is 0")
    else:
        rel = st / sc - 1
        d_rel = tuple(dst[i] / sc - st * dsc[i] / sc**2 for i in range(2))
        rvt, rvc = var_parts(*d_rel)
        rel_se = math.sqrt(max(rvt + rvc, 0.0))
        rel_lo, rel_hi = rel - q * rel_se, rel + q * rel_se
    if math.isfinite(rel):  # the same as st / sc - 1, without cancelling at a large offset
        rel = effect / sc
        rel_lo, rel_hi = rel - q * rel_se, rel + q * rel_se

    return EffectResult(
        control_mean=float(sc),
        treatment_mean=float(st),
        effect=float(effect),
        effect_ci_lower=float(effect - q * se),
        effect_ci_upper=float(effect + q * se),
        rel_effect=float(rel),
        rel_effect_ci_lower=float(rel_lo),
        rel_effect_ci_upper=float(rel_hi),
        se=float(se),
        pvalue=float(pvalue),
        variance_reduction=float(vr),
        n_control=int(nc),
        n_treatment=int(nt),
        rel_se=float(rel_se),
        df=float(df),
        alpha=float(alpha),
        notes=tuple(notes),
    )


def mean_effect(
    control: Moments,
    treatment: Moments,
    *,
    column: str,
    covariates: Sequence[str] = (),
    alpha: float = 0.05,
    test: Test = "welch",
    pooled_variance: bool = False,
) -> EffectResult:
    """Difference in means (or proportions), absolute and relative, optionally CUPED-adjusted.

    Parameters
    ----------
    control, treatment : Moments
        Per-arm aggregates holding ``column`` (and the covariates).
    column : str
        The per-unit metric (a 0/1 column for a proportion).
    covariates : sequence of str
        Pre-period columns for CUPED. Several covariates are used jointly (regression on the
        aggregates, pooled within-arm slope): the effect equals the ``T`` coefficient of OLS
        ``y ~ T + x1 + ...``. Constant covariates are dropped with a note.
    alpha : float
        Two-sided level of the intervals.
    test : {"welch", "z"}
        ``"welch"``: t reference with Welch–Satterthwaite degrees of freedom (scipy's
        ``ttest_ind(equal_var=False)``). ``"z"``: normal reference, same unpooled variance
        ``s_t^2/n_t + s_c^2/n_c`` (sample variances, ddof=1).
    pooled_variance : bool
        Only with ``test="z"`` and no covariates: the p-value uses the variance pooled under the
        null, ``s^2 (1/n_t + 1/n_c)`` with ``s^2`` the ddof=0 variance of both arms together —
        for a 0/1 column exactly statsmodels ``proportions_ztest`` (``p(1-p)``). Intervals and
        ``se`` stay unpooled (the pooled variance is only right under the null).

    Returns
    -------
    EffectResult
        With ``variance_reduction`` ``1 - var_cuped / var_raw`` (0.0 without covariates) and
        ``rel_effect`` and its interval NaN (noted) when the control mean is 0 — the raw
        mean, before any CUPED adjustment.

    Raises
    ------
    InsufficientDataError
        An arm has fewer than 2 units.
    MissingColumnError, MissingValuesError, ConfigError
        A column is not aggregated, aggregates are NaN, or a parameter is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from causal.stats import Moments, mean_effect
    >>> c = Moments.from_array(np.array([1.0, 2.0, 3.0, 4.0]), names=("y",))
    >>> t = Moments.from_array(np.array([2.0, 3.0, 4.0, 5.0]), names=("y",))
    >>> r = mean_effect(c, t, column="y")
    >>> r.effect, round(r.rel_effect, 3)
    (1.0, 0.4)
    """
    _check_alpha(alpha)
    if test not in ("welch", "z"):
        raise ConfigError(f"The 'test' parameter must be 'welch' or 'z'. Got {test!r} instead.")
    covs = tuple(covariates)
    if pooled_variance and (test != "z" or covs):
        raise ConfigError(
            "The 'pooled_variance' option applies to test='z' without covariates only."
        )
    if column in covs:
        raise ConfigError(f"Column '{column}' cannot be both the metric and a CUPED covariate.")
    cols = (column, *covs)
    c = _select(control, cols, "control")
    t = _select(treatment, cols, "treatment")
    _check_n(c, "control", "units")
    _check_n(t, "treatment", "units")
    k = len(cols)
    e0 = np.zeros(k)
    e0[0] = 1.0
    jac = np.eye(k)[1:]
    return _effect_core(
        c,
        t,
        f=lambda m: float(m[0]),
        grad_f=lambda m: e0,
        h=(lambda m: m[1:]) if covs else None,
        jac_h=(lambda m: jac) if covs else None,
        fh_diff=mean_delta,
        cov_names=covs,
        alpha=alpha,
        test=test,
        clustered=False,
        notes=[],
        pooled_var=pooled_variance,
    )


def ratio_effect(
    control: Moments,
    treatment: Moments,
    *,
    numerator: str,
    denominator: str,
    covariates: Sequence[str] = (),
    alpha: float = 0.05,
    clustered: bool = False,
) -> EffectResult:
    """Difference in a ratio of means (e.g. clicks per impression) by the delta method.

    The per-arm metric is ``mean(numerator) / mean(denominator)`` (ratio of sums, not the mean
    of per-unit ratios). Its variance uses the linearisation ``(y - R x) / mean(x)`` with the
    numerator–denominator covariance (Deng, Knoblich & Lu 2018); the estimate and standard
    error equal WLS of the per-unit ratio on ``T`` weighted by the denominator with HC0
    variance, up to ddof: we divide by ``n_a - 1`` per arm (HC0 by ``n_a``; equal arms make it
    HC1 exactly). The p-value uses the normal reference.

    Parameters
    ----------
    control, treatment : Moments
        Per-arm aggregates of the per-unit (or per-cluster) numerator and denominator sums.
    numerator, denominator : str
        Their column names.
    covariates : sequence of str
        ``()`` or the pre-period pair ``(numerator_pre, denominator_pre)``: CUPED on the
        linearised ratio with the pre-period ratio as covariate. When the pre-period
        denominator averages 0 in an arm, or the pre-period ratio has no variance, CUPED is
        skipped with a note (never a crash; GrowthBook #3767).
    alpha : float
        Two-sided level of the intervals.
    clustered : bool
        The rows aggregated are clusters (e.g. creators), each holding the sum of the metric
        and the number of units; the per-unit mean is then a ratio of cluster sums. When the
        Moments carry their per-cluster rows (engines keep them for cluster designs), the
        variance is CR2 (Bell & McCaffrey 2002): per arm ``sum_g e_g^2 / (1 - h_g) /
        (sum_g x_g)^2`` with ``h_g = x_g / sum_g x_g`` — exactly CR2 of the unit-level (W)LS
        ``y ~ T`` — and the reference is t on each arm's Bell–McCaffrey degrees of freedom
        (:func:`estimators.cluster_cr2`) combined by Welch–Satterthwaite. With 20 Zipf-sized
        clusters this covers 93.5% for a nominal 95% where CR1 with ``t(G - 1)`` covers 85%.
        Without rows: CR1, ``sum_g e_g^2 / (sum_g x_g)^2`` times ``G / (G - 1)`` with t on
        ``G - 1`` degrees of freedom — statsmodels OLS ``y ~ T`` with ``cov_type="cluster"``
        on unit rows, except that statsmodels also multiplies by ``(N - 1) / (N - 2)``.

    Returns
    -------
    EffectResult
        ``n_control`` / ``n_treatment`` count aggregated rows (units, or clusters).

    Raises
    ------
    InsufficientDataError
        Fewer than 2 units (clusters) in an arm, or a denominator summing to 0 in an arm.

    Examples
    --------
    >>> import numpy as np
    >>> from causal.stats import Moments, ratio_effect
    >>> c = Moments.from_array(np.array([[1.0, 10], [2, 10], [1, 20]]), names=("clicks", "views"))
    >>> t = Moments.from_array(np.array([[2.0, 10], [3, 10], [2, 20]]), names=("clicks", "views"))
    >>> r = ratio_effect(c, t, numerator="clicks", denominator="views")
    >>> round(r.control_mean, 3), round(r.treatment_mean, 3)
    (0.1, 0.175)
    """
    _check_alpha(alpha)
    covs = tuple(covariates)
    if covs and len(covs) != 2:
        raise ConfigError(
            "A ratio metric's 'covariates' must be () or the pair (numerator_pre, "
            f"denominator_pre). Got {covs!r} instead."
        )
    cols = (numerator, denominator, *covs)
    if len(set(cols)) != len(cols):
        raise ConfigError(f"Ratio metric columns must be distinct. Got {cols!r}.")
    c = _select(control, cols, "control")
    t = _select(treatment, cols, "treatment")
    what = "clusters" if clustered else "units"
    _check_n(c, "control", what)
    _check_n(t, "treatment", what)
    for m, arm in ((c, "control"), (t, "treatment")):
        if m.mean[1] == 0:
            raise InsufficientDataError(
                f"The denominator column '{denominator}' sums to 0 in the {arm} arm, so the "
                f"ratio '{numerator}/{denominator}' is undefined. Check the column or filter "
                "units with no exposure."
            )
    notes: list[str] = []
    use_cuped = bool(covs)
    if use_cuped and (c.mean[3] == 0 or t.mean[3] == 0):
        notes.append(
            f"pre-period denominator '{covs[1]}' is 0 in an arm; CUPED skipped for this metric"
        )
        use_cuped = False

    def f(m: _Vec) -> float:
        return float(m[0] / m[1])

    def grad_f(m: _Vec) -> _Vec:
        g = np.zeros(len(cols))
        g[0] = 1 / m[1]
        g[1] = -m[0] / m[1] ** 2
        return g

    def h(m: _Vec) -> _Vec:
        return np.array([m[2] / m[3]])

    def jac_h(m: _Vec) -> np.ndarray:
        j = np.zeros((1, len(cols)))
        j[0, 2] = 1 / m[3]
        j[0, 3] = -m[2] / m[3] ** 2
        return j

    def fh_diff(tm: Moments, cm: Moments) -> _Vec:
        # a/b - c/d = (da * d - c * db) / (b * d) with da = a - c, db = b - d exact
        delta = mean_delta(tm, cm)
        out = [_ratio_diff(delta[0], delta[1], cm.mean[0], cm.mean[1], tm.mean[1])]
        if use_cuped:
            out.append(_ratio_diff(delta[2], delta[3], cm.mean[2], cm.mean[3], tm.mean[3]))
        return np.array(out)

    return _effect_core(
        c,
        t,
        f=f,
        grad_f=grad_f,
        h=h if use_cuped else None,
        jac_h=jac_h if use_cuped else None,
        fh_diff=fh_diff,
        cov_names=(f"{covs[0]}/{covs[1]}",) if covs else (),
        alpha=alpha,
        test="z",
        clustered=clustered,
        notes=notes,
    )


def _cr2_arm(m: Moments) -> tuple[np.ndarray, np.ndarray, float]:
    """One arm's centred cluster rows, cluster leverages and Bell–McCaffrey dof.

    The arm's statistic is a ratio of cluster sums (a mean per unit: the unit counts are the
    denominator), i.e. WLS of the per-unit value on a constant weighted by the denominator, so
    cluster ``g``'s leverage is its share of the denominator, ``h_g = den_g / sum(den)``; the
    CR2 weights and degrees of freedom are those of :func:`estimators.cluster_cr2` (the same
    numerics as the CATE estimators' clustered ATEs). A CUPED covariate's own leverage,
    O(1/G), is not added.
    """
    from estimators import EstimatorInputError
    from estimators.inference import cluster_cr2

    rows = np.asarray(m.rows, dtype=float)
    centred = rows - rows.mean(axis=0)
    den = rows[:, 1] + m.shift[1]
    total = float(den.sum())
    g = rows.shape[0]
    try:
        if total <= 0:
            raise EstimatorInputError("no denominator")
        _, dof, _ = cluster_cr2(np.zeros(g), den / total, np.arange(g), 1.0)
    except EstimatorInputError as exc:
        raise InsufficientDataError(
            f"An arm's clusters of column '{m.names[1]}' leave one cluster with all of the "
            "weight; a cluster-robust standard error needs at least two clusters with units."
        ) from exc
    return centred, den / total, dof


def _ratio_diff(d_num: float, d_den: float, num_c: float, den_c: float, den_t: float) -> float:
    """``num_t / den_t - num_c / den_c`` from the exact differences of the parts."""
    return float((d_num * den_c - num_c * d_den) / (den_t * den_c))


def effects_vs_control(
    arms: Mapping[str, Moments],
    *,
    control: str,
    column: str | None = None,
    numerator: str | None = None,
    denominator: str | None = None,
    **kwargs: object,
) -> dict[str, EffectResult]:
    """Multi-arm: every treatment arm against the control, one :class:`EffectResult` each.

    A mean/proportion metric with ``column`` (:func:`mean_effect`) or a ratio metric with
    ``numerator`` and ``denominator`` (:func:`ratio_effect`); other keyword arguments pass
    through. Each comparison is a two-arm analysis (CUPED slope pooled over the two arms
    compared), so adding an arm never changes another arm's result. Correct the p-values across
    arms × metrics with :func:`adjust_pvalues`.

    Parameters
    ----------
    arms : mapping of variant label to Moments
        Per-arm aggregates, in report order.
    control : str
        The control label.

    Returns
    -------
    dict of str to EffectResult
        Keyed by treatment label, in the order of ``arms``.

    Raises
    ------
    UnknownVariantError
        ``control`` is not among the arms.

    Examples
    --------
    >>> import numpy as np
    >>> from causal.stats import Moments, effects_vs_control
    >>> arms = {k: Moments.from_array(np.arange(4.0) + s, ("y",))
    ...         for k, s in (("control", 0), ("a", 1), ("b", 2))}
    >>> {k: r.effect for k, r in effects_vs_control(arms, control="control", column="y").items()}
    {'a': 1.0, 'b': 2.0}
    """
    if control not in arms:
        raise UnknownVariantError(
            f"The control label {control!r} is not among the variants {list(arms)}; check the "
            "'control' setting."
        )
    if len(arms) < 2:
        raise InsufficientDataError(
            f"Only the control arm {control!r} is present; nothing to compare."
        )
    if column is not None and numerator is None and denominator is None:

        def one(c: Moments, t: Moments) -> EffectResult:
            return mean_effect(c, t, column=column, **kwargs)  # type: ignore[arg-type]

    elif column is None and numerator is not None and denominator is not None:

        def one(c: Moments, t: Moments) -> EffectResult:
            return ratio_effect(c, t, numerator=numerator, denominator=denominator, **kwargs)  # type: ignore[arg-type]

    else:
        raise ConfigError(
            "Give either 'column' (a mean or proportion) or both 'numerator' and 'denominator' "
            "(a ratio metric)."
        )
    return {label: one(arms[control], m) for label, m in arms.items() if label != control}
