"""Power, minimum detectable effect and sample size from pre-period :class:`Moments`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from causal._errors import ConfigError, InsufficientDataError, MissingColumnError
from causal.stats._moments import Moments
from causal.stats._results import PowerResult

__all__ = ["cuped_variance_reduction", "mde", "mde_from_se", "sample_size"]


def _baseline(
    pre: Moments, column: str | None, numerator: str | None, denominator: str | None
) -> tuple[float, float]:
    """Baseline mean and per-unit sd (of the linearised ratio for a ratio metric)."""
    if (column is None) == (numerator is None or denominator is None):
        raise ConfigError(
            "Give either 'column' (a mean or proportion) or both 'numerator' and 'denominator' "
            "(a ratio metric)."
        )
    cols = [column] if column is not None else [numerator, denominator]
    missing = [c for c in cols if c not in pre.names]
    if missing:
        raise MissingColumnError(
            f"Column(s) {missing} are not in the pre-period moments (it has {list(pre.names)})."
        )
    if pre.n < 2:
        raise InsufficientDataError(
            f"The pre-period has {pre.n} units; at least 2 are needed to estimate a variance."
        )
    m = pre.select(cols)  # type: ignore[arg-type]
    cov = m.cov
    if column is not None:
        return float(m.mean[0]), math.sqrt(float(cov[0, 0]))
    if m.mean[1] == 0:
        raise InsufficientDataError(
            f"The pre-period denominator '{denominator}' sums to 0; the ratio is undefined."
        )
    g = np.array([1 / m.mean[1], -m.mean[0] / m.mean[1] ** 2])
    return float(m.mean[0] / m.mean[1]), math.sqrt(float(g @ cov @ g))


def _check(alpha: float, power: float, share: float, vr: float) -> None:
    for name, v in (("alpha", alpha), ("power", power), ("treatment_share", share)):
        if not 0 < v < 1:
            raise ConfigError(f"The '{name}' parameter must be in (0, 1). Got {v!r} instead.")
    if not 0 <= vr < 1:
        raise ConfigError(
            f"The 'variance_reduction' parameter must be in [0, 1). Got {vr!r} instead."
        )


def mde_from_se(se: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true effect a two-sided test at ``alpha`` detects with ``power``, given its SE.

    ``(z_{1 - alpha/2} + z_{power}) * se``: what an experiment of this size could have seen
    (read beside a non-significant result).

    Examples
    --------
    >>> round(mde_from_se(0.1), 4)
    0.2802
    """
    _check(alpha, power, 0.5, 0.0)
    if not (se >= 0 and math.isfinite(se)):
        return math.nan
    return float((sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)) * se)


def cuped_variance_reduction(pre: Moments, *, column: str, covariates: Sequence[str]) -> float:
    """Variance reduction CUPED would give: the R² of ``column`` on ``covariates``.

    Use pre-period moments that hold the metric and its own earlier value (e.g. weeks 2 and 1
    before the launch).

    Examples
    --------
    >>> import numpy as np
    >>> from causal.stats import Moments, cuped_variance_reduction
    >>> z = np.array([[1.0, 1.0], [2.0, 2.5], [3.0, 2.5], [4.0, 4.0]])
    >>> round(cuped_variance_reduction(Moments.from_array(z, ("y", "x")),
    ...       column="y", covariates=["x"]), 3)
    0.9
    """
    cols = [column, *covariates]
    missing = [c for c in cols if c not in pre.names]
    if missing:
        raise MissingColumnError(f"Column(s) {missing} are not in the pre-period moments.")
    c = pre.select(cols).comoment
    syy, sxy, sxx = c[0, 0], c[1:, 0], c[1:, 1:]
    if syy <= 0:
        return 0.0
    beta = np.linalg.pinv(sxx, hermitian=True) @ sxy
    return float(min(max(beta @ sxy / syy, 0.0), 1.0))


def mde(
    pre: Moments,
    *,
    column: str | None = None,
    numerator: str | None = None,
    denominator: str | None = None,
    n: int | None = None,
    treatment_share: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
    variance_reduction: float = 0.0,
) -> PowerResult:
    """Minimum detectable effect of a two-sided z test, from pre-period data.

    ``MDE = (z_{1-alpha/2} + z_{power}) * sd * sqrt(1 - variance_reduction)
    * sqrt(1/n_t + 1/n_c)`` (normal approximation, as statsmodels ``NormalIndPower``).

    Parameters
    ----------
    pre : Moments
        Per-unit pre-period aggregates of the metric.
    column : str, optional
        A mean or proportion metric.
    numerator, denominator : str, optional
        A ratio metric (delta-method per-unit sd).
    n : int, optional
        Total units in the experiment; default ``pre.n``.
    treatment_share : float
        Share of units in the treatment arm.
    alpha, power : float
        Two-sided level and power.
    variance_reduction : float
        CUPED factor in [0, 1) (see :func:`cuped_variance_reduction`).

    Returns
    -------
    PowerResult

    Examples
    --------
    >>> import numpy as np
    >>> from causal.stats import Moments, mde
    >>> pre = Moments.from_array(np.random.default_rng(0).normal(10, 2, 10_000), ("y",))
    >>> round(mde(pre, column="y").mde, 3)
    0.112
    """
    _check(alpha, power, treatment_share, variance_reduction)
    base, sd = _baseline(pre, column, numerator, denominator)
    total = pre.n if n is None else int(n)
    nt = int(round(total * treatment_share))
    nc = total - nt
    if nt < 1 or nc < 1:
        raise InsufficientDataError(f"n={total} leaves an arm empty at share {treatment_share}.")
    z = float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))
    m = z * sd * math.sqrt(1 - variance_reduction) * math.sqrt(1 / nt + 1 / nc)
    rel = m / abs(base) if base != 0 else math.nan
    return PowerResult(m, rel, nc, nt, total, base, sd, alpha, power, variance_reduction)


def sample_size(
    pre: Moments,
    *,
    effect: float,
    relative: bool = False,
    column: str | None = None,
    numerator: str | None = None,
    denominator: str | None = None,
    treatment_share: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
    variance_reduction: float = 0.0,
) -> PowerResult:
    """Total units needed to detect ``effect`` (absolute, or relative to the baseline).

    Inverse of :func:`mde`: ``n = (z_{1-alpha/2} + z_{power})^2 sd^2 (1 - vr)
    (1/s + 1/(1-s)) / effect^2`` with ``s`` the treatment share, rounded up.

    Examples
    --------
    >>> import numpy as np
    >>> from causal.stats import Moments, sample_size
    >>> pre = Moments.from_array(np.random.default_rng(0).normal(10, 2, 10_000), ("y",))
    >>> sample_size(pre, column="y", effect=0.01, relative=True).n_total
    12480
    """
    _check(alpha, power, treatment_share, variance_reduction)
    base, sd = _baseline(pre, column, numerator, denominator)
    abs_eff = abs(effect * base) if relative else abs(effect)
    if not (abs_eff > 0 and math.isfinite(abs_eff)):
        raise ConfigError(
            f"The 'effect' to detect must be non-zero and finite (baseline {base:g}). "
            f"Got {effect!r}."
        )
    z = float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))
    s = treatment_share
    var = sd**2 * (1 - variance_reduction)
    total = z**2 * var * (1 / s + 1 / (1 - s)) / abs_eff**2
    n_total = math.ceil(total)
    nt = math.ceil(n_total * s)
    nc = math.ceil(n_total * (1 - s))
    return PowerResult(
        abs_eff,
        abs_eff / abs(base) if base != 0 else math.nan,
        nc,
        nt,
        nc + nt,
        base,
        sd,
        alpha,
        power,
        variance_reduction,
    )
