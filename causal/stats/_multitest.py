"""Multiple-testing corrections across metrics × arms × segments (NaN-aware)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from causal._errors import ConfigError

__all__ = ["adjust_pvalues"]

Correction = Literal["holm", "bh", "none"]


def adjust_pvalues(pvalues: ArrayLike, method: Correction = "holm") -> np.ndarray:
    """Adjusted p-values: Holm (family-wise error) or Benjamini–Hochberg (false discovery rate).

    NaN p-values (tests that could not be run) stay NaN and do not count towards the number of
    tests. The input is not modified; the output has its shape.

    Parameters
    ----------
    pvalues : array_like
        Raw p-values in [0, 1] (any shape; NaN allowed).
    method : {"holm", "bh", "none"}
        ``holm``: step-down Bonferroni; ``bh``: Benjamini–Hochberg step-up; ``none``: a copy.

    Returns
    -------
    ndarray
        Adjusted p-values, capped at 1 and monotone in the raw p-values (as statsmodels
        ``multipletests``).

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, float("nan"), 0.03], method="holm").round(3)
    array([0.03, 0.06,  nan, 0.06])
    """
    if method not in ("holm", "bh", "none"):
        raise ConfigError(
            f"The 'method' (correction) parameter must be one of 'holm', 'bh', 'none'. "
            f"Got {method!r} instead."
        )
    p = np.array(pvalues, dtype=float, copy=True)
    flat = p.reshape(-1)
    ok = ~np.isnan(flat)
    vals = flat[ok]
    if ((vals < 0) | (vals > 1)).any():
        raise ConfigError("The 'pvalues' must lie in [0, 1] (NaN allowed for tests not run).")
    m = vals.size
    if method == "none" or m == 0:
        return p
    order = np.argsort(vals, kind="mergesort")
    sorted_p = vals[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * sorted_p)
    else:
        adj = np.minimum.accumulate((m / np.arange(m, 0, -1)) * sorted_p[::-1])[::-1]
    adj = np.minimum(adj, 1.0)
    out = np.empty(m)
    out[order] = adj
    flat[ok] = out
    return flat.reshape(p.shape)
