"""Sequential readouts: what a readout run at any look (e.g. daily) may safely conclude.

A :class:`SequentialPlan` is fixed before the experiment: the method and the planned number
of randomization units (clusters when clustered). At each run the readout knows the units so
far, hence the information fraction ``t = units / planned_units``, and for every metric row
adds a :class:`SequentialLook` computed by :mod:`causal.stats`:

- ``always_valid``: the always-valid confidence sequence (:func:`~causal.stats.
  confidence_sequence`, normal mixture tuned to the planned horizon ``se * sqrt(t)``) and its
  always-valid p-value (:func:`~causal.stats.always_valid_pvalue`); success metrics are
  significant when the p-value adjusted over the configured family is below ``alpha``.
- ``group_sequential``: the Lan–DeMets boundary for this look (:func:`~causal.stats.
  group_sequential_design` over the planned earlier looks and this one); with a correction,
  each success metric × arm gets ``alpha / m`` (Bonferroni over the configured family of m),
  a valid and slightly conservative way to combine spending with multiple testing.

Guardrails use the sequential interval's bound for non-inferiority, so a run at any look is
safe to act on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from causal._errors import ConfigError
from causal.stats import EffectResult, always_valid_pvalue, group_sequential_design

__all__ = ["SequentialLook", "SequentialPlan", "sequential_look"]

Method = Literal["always_valid", "group_sequential"]
_PLAN_KEYS = ("method", "planned_units", "looks", "spending")
# A planned look within this fraction of the current one is taken to be the current one.
_SAME_LOOK = 1e-9


@dataclass(frozen=True, slots=True)
class SequentialPlan:
    """How a readout is monitored (fixed before the experiment starts).

    Parameters
    ----------
    method : {"always_valid", "group_sequential"}
        Always-valid intervals and p-values (look whenever you like), or Lan–DeMets
        group-sequential boundaries (looks planned in advance).
    planned_units : int
        Randomization units (clusters when clustered) over all variants at the planned end.
    looks : int or tuple of float, optional
        ``group_sequential`` only (required): the number of equally spaced planned looks, or
        their information fractions (increasing, in (0, 1]).
    spending : {"obf", "pocock"}
        ``group_sequential`` spending function (O'Brien–Fleming type by default).

    Examples
    --------
    >>> SequentialPlan("group_sequential", planned_units=20_000, looks=20).fractions_before(0.2)
    (0.05, 0.1, 0.15)
    """

    method: Method
    planned_units: int
    looks: int | tuple[float, ...] | None = None
    spending: Literal["obf", "pocock"] = "obf"

    def __post_init__(self) -> None:
        key = "sequential"
        if self.method not in ("always_valid", "group_sequential"):
            raise ConfigError(
                f"'{key}.method' must be always_valid or group_sequential. Got {self.method!r}."
            )
        n = self.planned_units
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ConfigError(
                f"'{key}.planned_units' must be the planned number of randomization units (an "
                f"integer >= 2). Got {n!r}."
            )
        if self.spending not in ("obf", "pocock"):
            raise ConfigError(f"'{key}.spending' must be obf or pocock. Got {self.spending!r}.")
        looks = self.looks
        if self.method == "always_valid":
            if looks is not None:
                raise ConfigError(
                    f"'{key}.looks' applies to group_sequential only: always-valid results "
                    "allow any number of looks."
                )
            return
        if looks is None:
            raise ConfigError(
                f"'{key}.looks' is required with group_sequential: the number of planned looks "
                "(e.g. 20 for daily looks over 20 days) or their information fractions."
            )
        if isinstance(looks, bool):
            raise ConfigError(f"'{key}.looks' must be an integer or a list. Got {looks!r}.")
        if isinstance(looks, int):
            if looks < 1:
                raise ConfigError(f"'{key}.looks' must be at least 1. Got {looks}.")
            return
        try:
            fr = tuple(float(x) for x in looks)
        except (TypeError, ValueError):
            raise ConfigError(
                f"'{key}.looks' must be an integer or a list of fractions. Got {looks!r}."
            ) from None
        rising = all(b > a for a, b in zip(fr, fr[1:], strict=False))
        if not fr or any(not (0 < x <= 1) for x in fr) or not rising:
            raise ConfigError(
                f"'{key}.looks' fractions must increase within (0, 1]. Got {list(fr)!r}."
            )
        object.__setattr__(self, "looks", fr)

    @classmethod
    def from_mapping(cls, value: Any, key: str = "sequential") -> SequentialPlan:
        """Parse the config mapping ``{method, planned_units, looks, spending}``."""
        if isinstance(value, SequentialPlan):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"'{key}' must be a mapping, e.g. {{method: always_valid, planned_units: "
                f"40000}}. Got {value!r}."
            )
        extra = sorted(str(k) for k in set(value) - set(_PLAN_KEYS))
        if extra:
            raise ConfigError(
                f"'{key}': unknown key(s) {', '.join(extra)}; allowed: {', '.join(_PLAN_KEYS)}."
            )
        if "method" not in value or "planned_units" not in value:
            raise ConfigError(f"'{key}' needs 'method' and 'planned_units'.")
        looks = value.get("looks")
        if isinstance(looks, list):
            looks = tuple(looks)
        return cls(
            method=value["method"],
            planned_units=value["planned_units"],
            looks=looks,
            spending=value.get("spending", "obf"),
        )

    def fractions_before(self, t: float) -> tuple[float, ...]:
        """Planned look fractions strictly before the current fraction ``t``."""
        if self.looks is None:
            return ()
        planned = (
            tuple(i / self.looks for i in range(1, self.looks + 1))
            if isinstance(self.looks, int)
            else tuple(self.looks)
        )
        return tuple(round(x, 12) for x in planned if x < min(t, 1.0) - _SAME_LOOK)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "planned_units": self.planned_units,
            "looks": list(self.looks) if isinstance(self.looks, tuple) else self.looks,
            "spending": self.spending,
        }


@dataclass(frozen=True, slots=True)
class SequentialLook:
    """One metric row's sequential result at this look.

    Attributes
    ----------
    method : str
        ``always_valid`` or ``group_sequential``.
    information_fraction : float
        Units so far over the planned units (may exceed 1 past the plan).
    critical_z : float
        The ``|z|`` this look must reach (the interval multiplier).
    effect_ci_lower, effect_ci_upper, rel_effect_ci_lower, rel_effect_ci_upper : float
        Always-valid / repeated confidence intervals: ``estimate ± critical_z * se``.
    pvalue : float
        Always-valid p-value (``always_valid``); NaN for ``group_sequential``.
    pvalue_adjusted : float
        ``pvalue`` adjusted over the row's family (NaN for ``group_sequential``).
    alpha : float
        Two-sided level this row is tested at (``alpha / m`` under Bonferroni).
    significant : bool
        Whether "no effect" is rejected at this look.
    """

    method: str
    information_fraction: float
    critical_z: float
    effect_ci_lower: float
    effect_ci_upper: float
    rel_effect_ci_lower: float
    rel_effect_ci_upper: float
    pvalue: float
    pvalue_adjusted: float
    alpha: float
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def sequential_look(
    result: EffectResult, plan: SequentialPlan, fraction: float, *, alpha: float
) -> SequentialLook:
    """The sequential look of one effect at information fraction ``fraction``.

    ``pvalue_adjusted`` and ``significant`` are provisional (the unadjusted test); the readout
    sets them after the multiple-testing adjustment.

    Examples
    --------
    >>> from causal.stats import EffectResult
    >>> r = EffectResult(1.0, 1.1, 0.1, 0.02, 0.18, 0.1, 0.02, 0.18, 0.04, 0.012, 0.0,
    ...                  500, 500, rel_se=0.04)
    >>> look = sequential_look(r, SequentialPlan("always_valid", 4000), 0.25, alpha=0.05)
    >>> look.significant, round(look.critical_z, 2)
    (False, 3.25)
    """
    nan = math.nan
    e, se = result.effect, result.se
    if not (math.isfinite(e) and math.isfinite(se) and se > 0 and fraction > 0):
        return SequentialLook(plan.method, fraction, nan, nan, nan, nan, nan, nan, nan, alpha,
                              False)  # fmt: skip
    if plan.method == "always_valid":
        horizon = se * math.sqrt(fraction)  # the SE expected at the planned units
        p = float(always_valid_pvalue([e], [se], horizon_se=horizon, alpha=alpha)[0])
        # the sequence's multiplier at this look: sqrt((1 + r) log((1 + r) / (r alpha^2)))
        from causal.stats._sequential import _optimal_r

        r = _optimal_r(alpha) / fraction
        c = math.sqrt((1 + r) * math.log((1 + r) / (r * alpha**2)))
    else:
        t = min(fraction, 1.0)
        design = group_sequential_design(
            [*plan.fractions_before(t), t], alpha=alpha, spending=plan.spending
        )
        c = float(design.boundaries[-1])
        p = nan
    rel, rse = result.rel_effect, result.rel_se
    rel_ok = math.isfinite(rel) and math.isfinite(rse)
    return SequentialLook(
        method=plan.method,
        information_fraction=float(fraction),
        critical_z=float(c),
        effect_ci_lower=e - c * se,
        effect_ci_upper=e + c * se,
        rel_effect_ci_lower=rel - c * rse if rel_ok else nan,
        rel_effect_ci_upper=rel + c * rse if rel_ok else nan,
        pvalue=p,
        pvalue_adjusted=p,
        alpha=float(alpha),
        significant=bool(abs(e / se) >= c),
    )
