"""Column roles: which column of a table plays which part in an analysis.

A :class:`Design` describes observational what-works data; an :class:`ExperimentDesign`
describes a randomized experiment. Both are frozen: they name columns and never hold data.
Metric specs (:class:`Mean`, :class:`Proportion`, :class:`Ratio`) are declarations of columns
too; their statistics live in :mod:`causal.stats`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from causal._errors import ConfigError

__all__ = ["Design", "ExperimentDesign", "Mean", "Metric", "Proportion", "Ratio"]

TreatmentKind = Literal["auto", "binary", "multi", "continuous"]


def _names(value: str | Sequence[str] | None, param: str) -> tuple[str, ...]:
    """Normalise a column name or list of names to a tuple of str."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    out = tuple(value)
    for v in out:
        if not isinstance(v, str) or not v:
            raise ConfigError(
                f"The '{param}' parameter must be a column name or a list of column names. "
                f"Got {v!r} in it instead."
            )
    return out


def _name(value: str | None, param: str, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise ConfigError(f"The '{param}' parameter is required: name a column.")
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"The '{param}' parameter must be a column name. Got {value!r} instead.")
    return value


@dataclass(frozen=True, slots=True)
class Design:
    """Column roles of an observational what-works analysis.

    Parameters
    ----------
    unit : str
        Id column, one row per unit (pin, post, video).
    treatment : str
        Treatment column: binary 0/1 boost, a multi-valued boost type, or a continuous intensity.
    outcomes : str or list of str
        One or more outcome columns (saves, clicks, revenue, ...).
    modifiers : list of str
        X: attributes whose effect heterogeneity we want (may be categorical).
    confounders : list of str
        W: common causes of treatment and outcome, used for adjustment.
    segments, cluster, weight, time : optional
        Reporting segments, a cluster column (e.g. creator), a sampling weight, a time column.
    treatment_kind : {"auto", "binary", "multi", "continuous"}
        What the treatment is; ``"auto"`` infers it from the data at validation.

    Examples
    --------
    >>> d = Design(unit="pin_id", treatment="boosted", outcomes=["saves"],
    ...            modifiers=["format", "quality"], confounders=["followers"])
    >>> d.outcomes
    ('saves',)
    """

    unit: str
    treatment: str
    outcomes: tuple[str, ...]
    modifiers: tuple[str, ...] = ()
    confounders: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    cluster: str | None = None
    weight: str | None = None
    time: str | None = None
    treatment_kind: TreatmentKind = "auto"

    def __init__(
        self,
        unit: str,
        treatment: str,
        outcomes: str | Sequence[str],
        modifiers: Sequence[str] | None = None,
        confounders: Sequence[str] | None = None,
        segments: str | Sequence[str] | None = None,
        cluster: str | None = None,
        weight: str | None = None,
        time: str | None = None,
        treatment_kind: TreatmentKind = "auto",
    ) -> None:
        set_ = object.__setattr__
        set_(self, "unit", _name(unit, "unit", required=True))
        set_(self, "treatment", _name(treatment, "treatment", required=True))
        outs = _names(outcomes, "outcomes")
        if not outs:
            raise ConfigError("The 'outcomes' parameter needs at least one outcome column.")
        set_(self, "outcomes", outs)
        set_(self, "modifiers", _names(modifiers, "modifiers"))
        set_(self, "confounders", _names(confounders, "confounders"))
        set_(self, "segments", _names(segments, "segments"))
        set_(self, "cluster", _name(cluster, "cluster", required=False))
        set_(self, "weight", _name(weight, "weight", required=False))
        set_(self, "time", _name(time, "time", required=False))
        allowed = ("auto", "binary", "multi", "continuous")
        if treatment_kind not in allowed:
            raise ConfigError(
                f"The 'treatment_kind' parameter must be one of {allowed}. "
                f"Got {treatment_kind!r} instead."
            )
        set_(self, "treatment_kind", treatment_kind)

    def columns(self) -> tuple[str, ...]:
        """All columns the design names, each once, in role order."""
        cols: list[str] = [
            self.unit,
            self.treatment,
            *self.outcomes,
            *self.modifiers,
            *self.confounders,
            *self.segments,
        ]
        cols += [c for c in (self.cluster, self.weight, self.time) if c is not None]
        return tuple(dict.fromkeys(cols))

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form (used in ``summary.json`` under ``design``)."""
        return {
            "unit": self.unit,
            "treatment": self.treatment,
            "outcomes": list(self.outcomes),
            "modifiers": list(self.modifiers),
            "confounders": list(self.confounders),
            "segments": list(self.segments),
            "cluster": self.cluster,
            "weight": self.weight,
            "time": self.time,
            "treatment_kind": self.treatment_kind,
        }


@dataclass(frozen=True, slots=True)
class Mean:
    """A per-unit mean metric (e.g. saves per user), optionally CUPED-adjusted.

    ``covariate`` is one pre-period column or a list of them (regression CUPED). ``cap`` is an
    optional quantile in (0, 1), e.g. 0.999: per-unit values above that quantile of all units
    are capped to it (winsorizing the upper tail of heavy-tailed metrics).

    Examples
    --------
    >>> Mean("saves", column="saves", covariate="saves_pre").covariates
    ('saves_pre',)
    """

    name: str
    column: str
    covariate: str | tuple[str, ...] | None = None
    cap: float | None = None

    def __post_init__(self) -> None:
        if self.cap is not None and not (
            isinstance(self.cap, int | float) and 0.0 < float(self.cap) < 1.0
        ):
            raise ConfigError(
                f"Metric '{self.name}': 'cap' must be a quantile in (0, 1), e.g. 0.999. "
                f"Got {self.cap!r} instead."
            )

    @property
    def covariates(self) -> tuple[str, ...]:
        return _names(self.covariate, f"{self.name}.covariate")

    def columns(self) -> tuple[str, ...]:
        return (self.column, *self.covariates)


@dataclass(frozen=True, slots=True)
class Proportion:
    """A per-unit 0/1 metric (e.g. converted), optionally CUPED-adjusted.

    Examples
    --------
    >>> Proportion("conversion", column="converted").column
    'converted'
    """

    name: str
    column: str
    covariate: str | tuple[str, ...] | None = None

    @property
    def covariates(self) -> tuple[str, ...]:
        return _names(self.covariate, f"{self.name}.covariate")

    def columns(self) -> tuple[str, ...]:
        return (self.column, *self.covariates)


@dataclass(frozen=True, slots=True)
class Ratio:
    """A ratio of per-unit sums, e.g. clicks per impression (delta method).

    ``covariate`` is an optional ``(numerator_pre, denominator_pre)`` pair for CUPED.

    Examples
    --------
    >>> Ratio("ctr", numerator="clicks", denominator="impressions").denominator
    'impressions'
    """

    name: str
    numerator: str
    denominator: str
    covariate: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.covariate is not None:
            cov = tuple(self.covariate)
            if len(cov) != 2 or not all(isinstance(c, str) for c in cov):
                raise ConfigError(
                    f"Metric '{self.name}': a ratio's 'covariate' must be a pair "
                    f"[numerator_pre, denominator_pre]. Got {self.covariate!r} instead."
                )
            object.__setattr__(self, "covariate", cov)

    @property
    def covariates(self) -> tuple[str, ...]:
        return tuple(self.covariate) if self.covariate else ()

    def columns(self) -> tuple[str, ...]:
        return (self.numerator, self.denominator, *self.covariates)


Metric = Mean | Proportion | Ratio


@dataclass(frozen=True, slots=True)
class ExperimentDesign:
    """Column roles of a randomized experiment.

    Parameters
    ----------
    variant : str
        Column holding each unit's variant label.
    control : str
        The control label in that column.
    metrics : list of Mean | Proportion | Ratio
        Success metrics, in report order.
    unit : str, optional
        Unit id; without it each row is a unit. With it, rows are summed per unit first.
    guardrails : list of Mean | Proportion | Ratio
        Metrics that must not get worse (checked for non-inferiority).
    segments : list of str
        Columns to repeat the readout by (exploratory).
    cluster : str, optional
        Randomization cluster (e.g. creator), for cluster-robust variance.
    expected_split : dict, optional
        Configured traffic share per variant; equal split when omitted.

    Examples
    --------
    >>> ExperimentDesign(variant="arm", control="control",
    ...                  metrics=[Mean("saves", "saves")]).control
    'control'
    """

    variant: str
    control: str
    metrics: tuple[Metric, ...]
    unit: str | None = None
    guardrails: tuple[Metric, ...] = ()
    segments: tuple[str, ...] = ()
    cluster: str | None = None
    expected_split: dict[str, float] | None = field(default=None, hash=False)

    def __init__(
        self,
        variant: str,
        control: str,
        metrics: Sequence[Metric],
        unit: str | None = None,
        guardrails: Sequence[Metric] | None = None,
        segments: str | Sequence[str] | None = None,
        cluster: str | None = None,
        expected_split: dict[str, float] | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "variant", _name(variant, "variant", required=True))
        if control is None or (isinstance(control, str) and not control):
            raise ConfigError("The 'control' parameter is required: the control variant label.")
        set_(self, "control", control)
        ms = tuple(metrics or ())
        gs = tuple(guardrails or ())
        if not ms and not gs:
            raise ConfigError("The 'metrics' parameter needs at least one metric.")
        for m in ms + gs:
            if not isinstance(m, Mean | Proportion | Ratio):
                raise ConfigError(
                    f"Metrics must be Mean, Proportion or Ratio specs. Got {m!r} instead."
                )
        names = [m.name for m in ms + gs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"Metric names must be unique; repeated: {', '.join(dup)}.")
        set_(self, "metrics", ms)
        set_(self, "guardrails", gs)
        set_(self, "unit", _name(unit, "unit", required=False))
        set_(self, "segments", _names(segments, "segments"))
        set_(self, "cluster", _name(cluster, "cluster", required=False))
        if expected_split is not None:
            split = {str(k): float(v) for k, v in dict(expected_split).items()}
            if any(v <= 0 for v in split.values()):
                raise ConfigError("The 'expected_split' shares must all be positive.")
            total = sum(split.values())
            expected_split = {k: v / total for k, v in split.items()}
        set_(self, "expected_split", expected_split)

    def all_metrics(self) -> tuple[Metric, ...]:
        """Success metrics, then guardrails."""
        return self.metrics + self.guardrails

    def columns(self) -> tuple[str, ...]:
        cols: list[str] = [self.variant]
        if self.unit:
            cols.append(self.unit)
        for m in self.all_metrics():
            cols += m.columns()
        cols += list(self.segments)
        if self.cluster:
            cols.append(self.cluster)
        return tuple(dict.fromkeys(cols))
