"""Sufficient statistics of a group of units: the seam between engines and statistics.

An engine (pandas, DuckDB, Spark) reduces each (variant[, segment]) group to a
:class:`Moments`: the unit count, the mean vector and the centred cross-product matrix of a few
per-unit columns (metric value, ratio numerator/denominator, CUPED covariates). Every
experiment statistic is a pure function of these. They are computed without the unstable raw
``sum(x**2) - sum(x)**2 / n`` and merge exactly (Chan et al., 1979), so daily aggregates can be
combined for incremental refresh and sequential monitoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Moments", "merge_moments"]


@dataclass(frozen=True, slots=True, eq=False)
class Moments:
    """Count, means and centred cross-products of ``k`` named per-unit columns.

    Attributes
    ----------
    n : int
        Number of units.
    names : tuple of str, shape (k,)
        Column names, in the order of ``mean`` and ``comoment``.
    mean : ndarray, shape (k,)
        Column means.
    comoment : ndarray, shape (k, k)
        ``sum_i (z_i - mean)(z_i - mean)^T``; the sample covariance is ``comoment / (n - 1)``.

    Examples
    --------
    >>> m = Moments.from_array(np.array([[1.0, 2.0], [3.0, 5.0]]), names=("y", "x"))
    >>> float(m.cov[0, 1])
    3.0
    """

    n: int
    names: tuple[str, ...]
    mean: np.ndarray
    comoment: np.ndarray

    @classmethod
    def from_array(cls, z: np.ndarray, names: Sequence[str]) -> Moments:
        """Moments of the rows of ``z`` (shape ``(n, k)``), computed by two centred passes."""
        z = np.asarray(z, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        n = z.shape[0]
        mean = z.mean(axis=0) if n else np.zeros(z.shape[1])
        c = z - mean
        return cls(n=int(n), names=tuple(names), mean=mean, comoment=c.T @ c)

    @classmethod
    def from_cov(cls, n: int, names: Sequence[str], mean: Sequence[float],
                 cov: np.ndarray) -> Moments:
        """Build from an engine's ``avg`` and ``covar_samp`` (ddof=1) results."""
        cov = np.asarray(cov, dtype=float)
        return cls(n=int(n), names=tuple(names), mean=np.asarray(mean, dtype=float),
                   comoment=cov * max(int(n) - 1, 0))

    @property
    def cov(self) -> np.ndarray:
        """Sample covariance matrix (ddof=1), shape ``(k, k)``; NaN when ``n < 2``."""
        if self.n < 2:
            return np.full_like(self.comoment, np.nan)
        return self.comoment / (self.n - 1)

    def index(self, name: str) -> int:
        """Position of column ``name``."""
        return self.names.index(name)

    def select(self, names: Sequence[str]) -> Moments:
        """The moments of a subset of columns, in the given order."""
        idx = [self.index(nm) for nm in names]
        return Moments(self.n, tuple(names), self.mean[idx], self.comoment[np.ix_(idx, idx)])


def merge_moments(a: Moments, b: Moments) -> Moments:
    """Exact moments of the union of two disjoint groups (pairwise update, Chan et al. 1979)."""
    if a.names != b.names:
        raise ValueError(f"Cannot merge moments of different columns: {a.names} vs {b.names}.")
    if a.n == 0:
        return b
    if b.n == 0:
        return a
    n = a.n + b.n
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.n / n)
    comoment = a.comoment + b.comoment + np.outer(delta, delta) * (a.n * b.n / n)
    return Moments(n, a.names, mean, comoment)
