"""Weighted least squares with heteroskedasticity- or cluster-robust covariance (pure numpy).

The final stage of :class:`~estimators.LinearDML`: residualized outcome on residualized
treatment times ``[1, X]``. Conventions match statsmodels: ``HC1`` without groups; with groups,
``cluster`` (CR1: ``G/(G-1) * (n-1)/(n-k)``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["wls_robust"]


def wls_robust(
    design: np.ndarray,
    y: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and robust covariance of the WLS fit of ``y`` on ``design``.

    Parameters
    ----------
    design : ndarray of shape (n, k)
    y : ndarray of shape (n,)
    sample_weight : ndarray of shape (n,), optional
    groups : ndarray of int, shape (n,), optional
        Cluster codes; gives the cluster-robust (CR1) covariance.

    Returns
    -------
    coef : ndarray of shape (k,)
    cov : ndarray of shape (k, k)

    Examples
    --------
    >>> from estimators import wls_robust
    >>> import numpy as np
    >>> X = np.column_stack([np.ones(4), [0.0, 1, 2, 3]]); y = np.array([1.0, 3, 5, 7])
    >>> coef, cov = wls_robust(X, y)
    >>> np.round(coef, 6).tolist()
    [1.0, 2.0]
    """
    n, k = design.shape
    w = np.ones(n) if sample_weight is None else sample_weight
    xw = design * w[:, None]
    bread = np.linalg.pinv(design.T @ xw)
    coef = bread @ (xw.T @ y)
    resid = y - design @ coef
    scores = xw * resid[:, None]  # (n, k)
    if groups is None:
        meat = scores.T @ scores
        factor = n / max(n - k, 1)
    else:
        ng = int(groups.max()) + 1
        sums = np.zeros((ng, k))
        np.add.at(sums, groups, scores)
        g = int(np.count_nonzero(np.bincount(groups)))
        meat = sums.T @ sums
        factor = g / max(g - 1, 1) * (n - 1) / max(n - k, 1)
    cov = factor * bread @ meat @ bread
    return coef, cov
