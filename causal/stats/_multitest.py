"""Multiple-testing corrections across metrics × arms × segments (NaN-aware)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from causal._errors import ConfigError

__all__ = ["adjust_pvalues"]

Correction = Literal["holm", "bh", "none"]


def adjust_pvalues(
    pvalues: ArrayLike, method: Correction = "holm", *, family_size: int | None = None
) -> np.ndarray:
    """Adjusted p-values: Holm (family-wise error) or Benjamini–Hochberg (false discovery rate).

    NaN p-values (tests that could not be run) stay NaN. By default they do not count towards
    the number of tests; give ``family_size`` to fix the family in advance (e.g. every
    configured metric × arm), so a test that could not be run does not make the others look
    stronger — it then counts as a p-value of 1. The input is not modified; the output has its
    shape.

    Parameters
    ----------
    pvalues : array_like
        Raw p-values in [0, 1] (any shape; NaN allowed).
    method : {"holm", "bh", "none"}
        ``holm``: step-down Bonferroni; ``bh``: Benjamini–Hochberg step-up; ``none``: a copy.
    family_size : int, optional
        Number of hypotheses in the family, at least the number of non-NaN p-values (default:
        that number).

    Returns
    -------
    ndarray
        Adjusted p-values, capped at 1 and monotone in the raw p-values (as statsmodels
        ``multipletests``).

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, float("nan"), 0.03], method="holm").round(3)
    array([0.03, 0.06,  nan, 0.06])
    >>> adjust_pvalues([0.0313, float("nan")], method="holm", family_size=2).round(4)
    array([0.0626,    nan])
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
    k = vals.size
    if family_size is None:
        m = k
    elif isinstance(family_size, bool) or not isinstance(family_size, int | np.integer):
        raise ConfigError(f"The 'family_size' parameter must be an integer. Got {family_size!r}.")
    elif family_size < k:
        raise ConfigError(
            f"The 'family_size' parameter ({family_size}) is smaller than the number of "
            f"p-values given ({k}); it counts every hypothesis in the family."
        )
    else:
        m = int(family_size)
    if method == "none" or k == 0:
        return p
    order = np.argsort(vals, kind="mergesort")
    sorted_p = vals[order]
    # Untested members of a fixed family sort last with p = 1: Holm's multipliers stay m - i
    # for the k tested ones, and in BH their terms (>= 1) never lower the running minimum.
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(k)) * sorted_p)
    else:
        adj = np.minimum.accumulate((m / np.arange(k, 0, -1)) * sorted_p[::-1])[::-1]
    adj = np.minimum(adj, 1.0)
    out = np.empty(k)
    out[order] = adj
    flat[ok] = out
    return flat.reshape(p.shape)
