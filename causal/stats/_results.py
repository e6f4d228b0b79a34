"""Frozen result types of :mod:`causal.stats` (stable DESIGN.md field names).

Every result has ``to_dict()`` returning plain Python scalars (``float('nan')`` where a number
is undefined; the JSON writers turn NaN into ``null``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ConfidenceSequence",
    "Decision",
    "EffectResult",
    "GroupSequentialDesign",
    "GroupSequentialResult",
    "GuardrailResult",
    "PowerResult",
    "SRMResult",
]


def _plain(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples to plain JSON-able Python values."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


class _DictMixin:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict of every field (NaN kept as ``float('nan')``)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    def to_pandas(self) -> pd.DataFrame:
        """One row of scalar fields; for per-look results one row per look (array fields)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        arrays = {k: v for k, v in d.items() if isinstance(v, np.ndarray)}
        if arrays:
            return pd.DataFrame(arrays)
        return pd.DataFrame([self.to_dict()])

    def _repr_html_(self) -> str:
        """An escaped two-column table of the fields (notebooks); presentation only."""
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:right'>{html.escape(_cell(v))}</td></tr>"
            for k, v in self.to_dict().items()
        )
        return f"<table class='{type(self).__name__}'>{rows}</table>"


def _cell(value: Any) -> str:
    """One field as text: floats to 4 significant digits, NaN as an em dash."""
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    return str(value)


@dataclass(frozen=True, slots=True)
class EffectResult(_DictMixin):
    """One metric, one treatment arm against control.

    Attributes
    ----------
    control_mean, treatment_mean : float
        Arm means (ratio of means for ratio metrics); CUPED-adjusted when covariates are used
        (shifted to the pooled covariate mean, so their difference is the adjusted effect).
    effect, effect_ci_lower, effect_ci_upper : float
        Absolute difference ``treatment_mean - control_mean`` and its ``1 - alpha`` interval.
    rel_effect, rel_effect_ci_lower, rel_effect_ci_upper : float
        Relative lift ``treatment_mean / control_mean - 1`` and its delta-method interval (the
        covariance between the two adjusted means included). NaN, with a note, when the control
        mean is 0.
    se : float
        Standard error of ``effect``.
    pvalue : float
        Two-sided p-value of ``effect == 0``.
    variance_reduction : float
        ``1 - var(adjusted effect) / var(unadjusted effect)``; 0.0 without CUPED.
    n_control, n_treatment : int
        Units (clusters for a clustered ratio) per arm.
    rel_se : float
        Standard error of ``rel_effect`` (delta method).
    df : float
        Degrees of freedom of the reference t distribution (``inf`` for a z test).
    alpha : float
        Level of the intervals.
    notes : tuple of str
        Why a number is NaN or what fallback was taken (e.g. a constant covariate dropped).
    """

    control_mean: float
    treatment_mean: float
    effect: float
    effect_ci_lower: float
    effect_ci_upper: float
    rel_effect: float
    rel_effect_ci_lower: float
    rel_effect_ci_upper: float
    se: float
    pvalue: float
    variance_reduction: float
    n_control: int
    n_treatment: int
    rel_se: float = math.nan
    df: float = math.inf
    alpha: float = 0.05
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SRMResult(_DictMixin):
    """Sample-ratio-mismatch check (χ² goodness of fit against the configured split).

    Attributes
    ----------
    pvalue : float
        χ² p-value (computed even when the check is not applied).
    observed : dict
        Units per variant.
    expected_share : dict
        Configured share per variant (sums to 1).
    ok : bool
        False only when the check was applied and ``pvalue < alpha``.
    statistic : float
        The χ² statistic, ``len(observed) - 1`` degrees of freedom.
    checked : bool
        False when too few units to judge (then ``ok`` is True and ``reason`` says why).
    reason : str
        Empty when checked; otherwise why the check was not applied.
    """

    pvalue: float
    observed: dict[str, int]
    expected_share: dict[str, float]
    ok: bool
    statistic: float = math.nan
    alpha: float = 0.001
    checked: bool = True
    reason: str = ""


@dataclass(frozen=True, slots=True)
class GuardrailResult(_DictMixin):
    """Non-inferiority of one guardrail metric.

    Attributes
    ----------
    metric : str
        Metric name (for reports and the decision).
    margin : float
        Largest tolerated harm (positive; relative when ``relative``).
    relative : bool
        Whether the margin is on the relative lift.
    direction : {"increase", "decrease"}
        Which direction is good for this metric.
    bound : float
        The one-sided ``1 - alpha`` confidence bound on the harm side (same scale as margin).
    pvalue : float
        One-sided p-value of "harm >= margin".
    non_inferior : bool
        True when the bound is better than ``-margin`` (or ``+margin`` for "decrease").
    """

    metric: str
    margin: float
    relative: bool
    direction: str
    estimate: float
    bound: float
    pvalue: float
    non_inferior: bool
    alpha: float = 0.05


@dataclass(frozen=True, slots=True)
class Decision(_DictMixin):
    """Ship decision for one treatment arm.

    Attributes
    ----------
    decision : {"ship", "no_ship", "untrustworthy"}
        ``ship`` when a success metric wins and every guardrail is non-inferior;
        ``untrustworthy`` (do not decide) when the SRM check failed or a success metric could
        not be estimated (the readout is incomplete).
    reason : str
        One sentence.
    winners, losers, failed_guardrails : tuple of str
        Success metrics significantly better / worse; guardrails not shown non-inferior.
    not_estimated : tuple of str
        Success metrics that could not be estimated (no p-value).
    """

    decision: str
    reason: str
    winners: tuple[str, ...] = ()
    losers: tuple[str, ...] = ()
    failed_guardrails: tuple[str, ...] = ()
    not_estimated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PowerResult(_DictMixin):
    """Power analysis from pre-period data.

    Attributes
    ----------
    mde, rel_mde : float
        Minimum detectable absolute effect and the same relative to the baseline mean.
    n_control, n_treatment, n_total : int
        Units per arm and in total.
    baseline_mean, sd : float
        Pre-period mean and per-unit standard deviation (of the linearised ratio for ratios).
    variance_reduction : float
        CUPED variance-reduction factor assumed.
    """

    mde: float
    rel_mde: float
    n_control: int
    n_treatment: int
    n_total: int
    baseline_mean: float
    sd: float
    alpha: float
    power: float
    variance_reduction: float = 0.0


@dataclass(frozen=True, slots=True)
class ConfidenceSequence(_DictMixin):
    """Always-valid confidence sequence over looks (arrays have shape ``(n_looks,)``).

    Attributes
    ----------
    effect, se, lower, upper : ndarray
        Estimate, its standard error and the time-uniform interval at each look.
    rejects_null : bool
        Whether 0 is excluded at some look (valid under continuous peeking).
    first_rejection : int or None
        Index of the first look excluding 0.
    """

    effect: np.ndarray
    se: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    alpha: float
    rho: float
    rejects_null: bool
    first_rejection: int | None


@dataclass(frozen=True, slots=True)
class GroupSequentialDesign(_DictMixin):
    """Two-sided boundaries of a group-sequential test (arrays of shape ``(n_looks,)``).

    Attributes
    ----------
    information_fractions : ndarray
        ``t_k`` in (0, 1], increasing.
    boundaries : ndarray
        Critical ``|z|`` at each look.
    alpha_spent : ndarray
        Cumulative type-I error spent by look ``k``.
    nominal_pvalues : ndarray
        Two-sided nominal p-value thresholds ``2 (1 - Phi(boundary))``.
    """

    information_fractions: np.ndarray
    boundaries: np.ndarray
    alpha_spent: np.ndarray
    nominal_pvalues: np.ndarray
    alpha: float
    spending: str


@dataclass(frozen=True, slots=True)
class GroupSequentialResult(_DictMixin):
    """Monitoring of a group-sequential test over looks (arrays of shape ``(n_looks,)``).

    Attributes
    ----------
    z : ndarray
        ``effect / se`` at each look.
    design : GroupSequentialDesign
        Boundaries at the observed information fractions.
    lower, upper : ndarray
        Repeated confidence intervals ``effect ± boundary * se``.
    rejects_null : bool
        Whether ``|z|`` crossed the boundary at some look.
    first_rejection : int or None
        Index of the first crossing.
    """

    effect: np.ndarray
    se: np.ndarray
    z: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    design: GroupSequentialDesign
    rejects_null: bool
    first_rejection: int | None
