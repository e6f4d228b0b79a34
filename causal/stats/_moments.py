"""Sufficient statistics of a group of units: the seam between engines and statistics.

An engine (pandas, DuckDB, Spark) reduces each (variant[, segment]) group to a
:class:`Moments`: the unit count, the mean vector and the centred cross-product matrix of a few
per-unit columns (metric value, ratio numerator/denominator, CUPED covariates). Every
experiment statistic is a pure function of these. They are computed without the unstable raw
``sum(x**2) - sum(x)**2 / n`` and merge exactly (Chan et al., 1979), so daily aggregates can be
combined for incremental refresh and sequential monitoring.

Exact at any offset: each column's mean is kept as ``shift + dmean`` — a shift taken from the
data (a first value, or the engine's column minimum) and the mean of ``z - shift``, computed
apart. ``mean`` (their float64 sum) cannot resolve 1e-3 at 1e12 (its spacing there is 1.2e-4),
but :func:`mean_delta` of two groups subtracts shifts and ``dmean`` separately, so a difference
of means is exact to the precision of the stored values (``y = 1e12 + N(0, 1e-3)``: a mean
over raw values reports an effect of 0 where the data say 9.7e-4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Moments", "mean_delta", "merge_moments"]


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
    shift : ndarray, shape (k,), optional
        A value near the data of each column (default 0): ``mean == shift + dmean`` up to
        rounding.
    dmean : ndarray, shape (k,), optional
        The mean of ``z - shift``, exact to the precision of ``z - shift`` (default
        ``mean - shift``). Differences of means use it (:func:`mean_delta`).
    rows : ndarray, shape (n, k), optional
        The rows themselves as ``z - shift`` — kept only where they are few and needed:
        per-cluster sums of a cluster-randomized design, for CR2 standard errors.

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
    shift: np.ndarray = None  # type: ignore[assignment]  # None -> zeros in __post_init__
    dmean: np.ndarray = None  # type: ignore[assignment]  # None -> mean - shift
    rows: np.ndarray | None = None

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=float)
        if self.shift is None:
            shift = np.zeros_like(mean)
            dmean = mean if self.dmean is None else np.asarray(self.dmean, dtype=float)
        else:
            shift = np.asarray(self.shift, dtype=float)
            dmean = mean - shift if self.dmean is None else np.asarray(self.dmean, dtype=float)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "shift", shift)
        object.__setattr__(self, "dmean", dmean)

    @classmethod
    def from_shifted(
        cls,
        n: int,
        names: Sequence[str],
        shift: np.ndarray,
        dmean: np.ndarray,
        comoment: np.ndarray,
        rows: np.ndarray | None = None,
    ) -> Moments:
        """Build from a shift, the mean of ``z - shift`` and the centred cross-products."""
        shift = np.asarray(shift, dtype=float)
        dmean = np.asarray(dmean, dtype=float)
        return cls(
            int(n),
            tuple(names),
            shift + dmean,
            np.asarray(comoment, dtype=float),
            shift=shift,
            dmean=dmean,
            rows=rows,
        )

    @classmethod
    def from_array(
        cls,
        z: np.ndarray,
        names: Sequence[str],
        shift: np.ndarray | None = None,
        *,
        keep_rows: bool = False,
    ) -> Moments:
        """Moments of the rows of ``z`` (shape ``(n, k)``), computed by two centred passes.

        The mean is taken around ``shift`` (default: the first row), with one refinement pass,
        so it stays exact when the columns sit at a large offset. ``keep_rows`` keeps the rows
        (e.g. cluster sums, for CR2 standard errors).
        """
        z = np.asarray(z, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        n, k = z.shape
        if n == 0:
            zero = np.zeros(k)
            return cls(0, tuple(names), zero, np.zeros((k, k)))
        s = z[0].copy() if shift is None else np.asarray(shift, dtype=float)
        s = np.where(np.isfinite(s), s, 0.0)
        d = z - s
        dm = d.mean(axis=0)
        c = d - dm
        dm = dm + c.mean(axis=0)  # refinement: the rounding error of the first mean
        c = d - dm
        return cls.from_shifted(n, names, s, dm, c.T @ c, rows=d if keep_rows else None)

    @classmethod
    def from_cov(
        cls, n: int, names: Sequence[str], mean: Sequence[float], cov: np.ndarray
    ) -> Moments:
        """Build from an engine's ``avg`` and ``covar_samp`` (ddof=1) results."""
        cov = np.asarray(cov, dtype=float)
        return cls(
            n=int(n),
            names=tuple(names),
            mean=np.asarray(mean, dtype=float),
            comoment=cov * max(int(n) - 1, 0),
        )

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
        return Moments(
            self.n,
            tuple(names),
            self.mean[idx],
            self.comoment[np.ix_(idx, idx)],
            shift=self.shift[idx],
            dmean=self.dmean[idx],
            rows=None if self.rows is None else self.rows[:, idx],
        )


def mean_delta(a: Moments, b: Moments) -> np.ndarray:
    """``a.mean - b.mean``, exact to the precision of the data even at a large offset.

    Shifts and shifted means are subtracted apart: near equal shifts subtract exactly
    (Sterbenz), and the shifted means carry the digits the full means lose.

    Examples
    --------
    >>> z = 1e12 + np.array([0.0, 1.0, 2.0, 3.0]) / 1024  # stored exactly
    >>> a, b = Moments.from_array(z[2:], ("y",)), Moments.from_array(z[:2], ("y",))
    >>> float(mean_delta(a, b)[0]) * 512
    1.0
    """
    return (a.shift - b.shift) + (a.dmean - b.dmean)


def merge_moments(a: Moments, b: Moments) -> Moments:
    """Exact moments of the union of two disjoint groups (pairwise update, Chan et al. 1979)."""
    if a.names != b.names:
        raise ValueError(f"Cannot merge moments of different columns: {a.names} vs {b.names}.")
    if a.n == 0:
        return b
    if b.n == 0:
        return a
    n = a.n + b.n
    delta = mean_delta(b, a)
    dmean = a.dmean + delta * (b.n / n)  # around a's shift
    comoment = a.comoment + b.comoment + np.outer(delta, delta) * (a.n * b.n / n)
    rows = None
    if a.rows is not None and b.rows is not None:  # disjoint rows: stack them (a's shift)
        rows = np.vstack([a.rows, b.rows + (b.shift - a.shift)])
    return Moments.from_shifted(n, a.names, a.shift, dmean, comoment, rows=rows)
