"""Sample-ratio mismatch: χ² goodness of fit of units per variant against the configured split."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats as sps

from causal._errors import ConfigError, UnknownVariantError
from causal.stats._results import SRMResult

__all__ = ["srm_test"]

#: Default minimum number of units (all variants together) before the SRM check may alarm.
#: Below it the χ² approximation and the signal are both weak (GrowthBook #75: false alarms on
#: tiny samples); every variant's expected count is also required to be at least 5.
MIN_UNITS = 100
_MIN_EXPECTED = 5.0


def srm_test(
    observed: Mapping[str, int],
    expected_share: Mapping[str, float] | None = None,
    *,
    alpha: float = 0.001,
    min_units: int = MIN_UNITS,
) -> SRMResult:
    """Test the observed units per variant against the configured split (Fabijan et al. 2019).

    Parameters
    ----------
    observed : mapping of str to int
        Units per variant label.
    expected_share : mapping of str to float, optional
        Configured traffic share per variant (normalised to sum to 1); equal split when
        omitted. A configured variant absent from ``observed`` counts as 0 units (a strong
        mismatch); an observed variant absent from the configuration is an error.
    alpha : float
        Level of the check; 0.001 by default (the check runs on every experiment, so a small
        alpha keeps false alarms rare).
    min_units : int
        Fewer units than this in total (or an expected count below 5) → the check is not
        applied: ``ok=True``, ``checked=False`` and a ``reason``; the p-value is still reported.

    Returns
    -------
    SRMResult

    Raises
    ------
    UnknownVariantError
        A variant in the data is not in ``expected_share``.
    ConfigError
        Negative counts, non-positive shares, fewer than two variants, or a bad alpha.

    Examples
    --------
    >>> r = srm_test({"control": 5000, "treatment": 5200})
    >>> r.ok, round(r.pvalue, 4)
    (True, 0.0477)
    """
    if not 0 < alpha < 1:
        raise ConfigError(
            f"The 'alpha' parameter must be a float in (0, 1). Got {alpha!r} instead."
        )
    if min_units < 0:
        raise ConfigError(f"The 'min_units' parameter must be >= 0. Got {min_units!r} instead.")
    obs = {str(k): v for k, v in observed.items()}
    for k, v in obs.items():
        if not (isinstance(v, int | np.integer) and v >= 0):
            raise ConfigError(
                f"The observed count of variant '{k}' must be a non-negative integer. Got {v!r}."
            )
    if expected_share is None:
        if len(obs) < 2:
            raise ConfigError(
                f"The SRM check needs at least two variants. Got {list(obs)}; pass "
                "'expected_share' to name the configured variants."
            )
        share = {k: 1.0 / len(obs) for k in obs}
    else:
        share = {str(k): float(v) for k, v in expected_share.items()}
        if len(share) < 2 or any(not (v > 0 and math.isfinite(v)) for v in share.values()):
            raise ConfigError(
                "The 'expected_share' must give at least two variants positive shares. "
                f"Got {dict(expected_share)!r}."
            )
        stray = [k for k in obs if k not in share]
        if stray:
            raise UnknownVariantError(
                f"Variant(s) {stray} occur in the data but not in the configured split "
                f"{sorted(share)}; add them to 'expected_split' or filter those rows."
            )
        total_share = sum(share.values())
        share = {k: v / total_share for k, v in share.items()}
    labels = list(share)
    counts = np.array([int(obs.get(k, 0)) for k in labels], dtype=float)
    n = counts.sum()
    probs = np.array([share[k] for k in labels])
    expected = n * probs
    if n > 0:
        stat = float(((counts - expected) ** 2 / expected).sum())
        pvalue = float(sps.chi2.sf(stat, df=len(labels) - 1))
    else:
        stat, pvalue = math.nan, math.nan
    observed_out = {k: int(obs.get(k, 0)) for k in labels}
    reason = ""
    if n < min_units:
        reason = f"only {int(n)} units in total (< min_units={min_units}); SRM check not applied"
    elif expected.min() < _MIN_EXPECTED:
        reason = (
            f"an expected count is below {_MIN_EXPECTED:g} units; the χ² approximation is not "
            "reliable, SRM check not applied"
        )
    checked = not reason
    ok = (not checked) or bool(pvalue >= alpha)
    return SRMResult(
        pvalue=pvalue,
        observed=observed_out,
        expected_share={k: float(v) for k, v in share.items()},
        ok=ok,
        statistic=stat,
        alpha=float(alpha),
        checked=checked,
        reason=reason,
    )
