"""What an engine must compute: per-metric per-unit columns, and the result it hands back.

An :class:`AggregateRequest` lists the metrics and the column roles (variant, unit, cluster,
segments). An engine answers with :class:`Aggregates`: one :class:`~causal.stats.Moments` per
(group, metric), where a group is a variant overall or a variant within one value of one segment
column. The Moments always carry every column a metric may need (CUPED covariates zero-filled
plus a missing indicator), so aggregates of different days merge exactly with
:func:`merge_aggregates`; which columns the statistics then use is decided afterwards from the
merged moments (:func:`metric_inputs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from causal._errors import ConfigError
from causal.data import ExperimentDesign, Mean, Metric, Proportion, Ratio
from causal.stats import Moments, merge_moments

__all__ = [
    "AggregateRequest",
    "Aggregates",
    "GroupKey",
    "MetricInputs",
    "N_UNITS",
    "merge_aggregates",
    "metric_inputs",
    "moment_names",
]

#: Name of the per-cluster unit count column in clustered Moments.
N_UNITS = "n_units"
#: Name of its copy used as the denominator of the pre-period ratio in clustered CUPED.
N_UNITS_PRE = "n_units_pre"
MISSING_SUFFIX = "__missing"


@dataclass(frozen=True, slots=True)
class GroupKey:
    """One group of the readout: a variant overall (``segment is None``) or within a segment.

    Examples
    --------
    >>> GroupKey("treatment")
    GroupKey(variant='treatment', segment=None, value=None)
    """

    variant: str
    segment: str | None = None
    value: str | None = None

    def sort_key(self) -> tuple[str, str, str]:
        """Overall groups first, then by segment column and value."""
        return (self.segment or "", self.value or "", self.variant)


@dataclass(frozen=True, slots=True)
class AggregateRequest:
    """The columns an engine reads and the metrics it reduces to moments.

    Examples
    --------
    >>> r = AggregateRequest(variant="arm", metrics=(Mean("m", "y"),))
    >>> r.source_columns()
    ('arm', 'y')
    """

    variant: str
    metrics: tuple[Metric, ...]
    unit: str | None = None
    cluster: str | None = None
    segments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for m in self.metrics:
            cols = m.columns()
            if len(set(cols)) != len(cols):
                raise ConfigError(
                    f"Metric '{m.name}' names the same column twice ({', '.join(cols)}); "
                    "a covariate must be a different (pre-period) column."
                )
            cap = getattr(m, "cap", None)
            if cap is not None and self.cluster is not None:
                raise ConfigError(
                    f"Metric '{m.name}': 'cap' is not supported with a 'cluster' design; "
                    "cap the column before the readout or drop the cap."
                )
            multi = isinstance(m, Mean | Proportion) and len(m.covariates) > 1
            if self.cluster is not None and multi:
                raise ConfigError(
                    f"Metric '{m.name}': a cluster-randomized readout takes at most one "
                    "CUPED covariate per metric."
                )
        roles = [self.variant, self.unit, self.cluster, *self.segments]
        metric_cols = {c for m in self.metrics for c in m.columns()}
        clash = sorted(c for c in roles if c is not None and c in metric_cols)
        if clash:
            raise ConfigError(
                f"Column(s) {', '.join(clash)} are used both as a metric and as the variant, "
                "unit, cluster or a segment; give each role its own column."
            )

    @classmethod
    def from_design(cls, design: ExperimentDesign, *, segments: bool = True) -> AggregateRequest:
        """The request for every metric and guardrail of ``design``."""
        return cls(
            variant=design.variant,
            metrics=design.all_metrics(),
            unit=design.unit,
            cluster=design.cluster,
            segments=design.segments if segments else (),
        )

    def source_columns(self) -> tuple[str, ...]:
        """Every column the engine reads, each once."""
        cols = [self.variant]
        cols += [c for c in (self.unit, self.cluster) if c is not None]
        cols += list(self.segments)
        for m in self.metrics:
            cols += m.columns()
        return tuple(dict.fromkeys(cols))

    def value_columns(self) -> tuple[str, ...]:
        """Metric columns that must be present for every unit (outcomes, ratio parts)."""
        cols: list[str] = []
        for m in self.metrics:
            cols += [m.numerator, m.denominator] if isinstance(m, Ratio) else [m.column]
        return tuple(dict.fromkeys(cols))

    def covariate_columns(self) -> tuple[str, ...]:
        """Pre-period columns: missing values are zero-filled with an indicator."""
        cols = [c for m in self.metrics for c in m.covariates]
        return tuple(dict.fromkeys(cols))


def moment_names(metric: Metric, *, clustered: bool) -> tuple[str, ...]:
    """Column names of the Moments an engine returns for ``metric``.

    Unclustered: the metric column(s), then covariates, then one ``<cov>__missing``
    indicator per covariate. Clustered (one row per cluster): sums of the metric column(s) and
    of covariates, plus the cluster's unit count :data:`N_UNITS` (and its copy
    ``n_units_pre`` as the pre-period denominator of a mean metric).

    Examples
    --------
    >>> moment_names(Mean("m", "y", covariate="x"), clustered=False)
    ('y', 'x', 'x__missing')
    >>> moment_names(Mean("m", "y", covariate="x"), clustered=True)
    ('y', 'n_units', 'x', 'n_units_pre')
    """
    covs = metric.covariates
    if clustered:
        if isinstance(metric, Ratio):
            return (metric.numerator, metric.denominator, *covs)
        pre = (covs[0], N_UNITS_PRE) if covs else ()
        return (metric.column, N_UNITS, *pre)
    base = (metric.numerator, metric.denominator) if isinstance(metric, Ratio) else (metric.column,)
    return (*base, *covs, *(c + MISSING_SUFFIX for c in covs))


@dataclass(frozen=True, slots=True)
class Aggregates:
    """Sufficient statistics of one readout, as returned by an engine.

    Attributes
    ----------
    moments : dict
        ``GroupKey -> {metric name -> Moments}``; overall groups have ``segment=None``.
    clustered : bool
        True when the rows of the Moments are clusters (cluster-randomized design).
    engine : str
        Name of the engine that computed them.

    Examples
    --------
    >>> agg = Aggregates(moments={}, clustered=False, engine="pandas")
    >>> agg.variants()
    ()
    """

    moments: Mapping[GroupKey, Mapping[str, Moments]]
    clustered: bool
    engine: str
    caps: Mapping[str, float] = field(default_factory=dict)

    def variants(self) -> tuple[str, ...]:
        """Variant labels with an overall group, sorted."""
        return tuple(sorted({k.variant for k in self.moments if k.segment is None}))

    def units(self, key: GroupKey) -> int:
        """Number of randomization units (clusters when clustered) in a group."""
        return next(iter(self.moments[key].values())).n

    def segment_keys(self) -> tuple[GroupKey, ...]:
        """Segment groups, sorted."""
        return tuple(
            sorted((k for k in self.moments if k.segment is not None), key=GroupKey.sort_key)
        )


def merge_aggregates(a: Aggregates, b: Aggregates) -> Aggregates:
    """Exact aggregates of the union of two disjoint sets of units (e.g. two days).

    Units must not repeat across the two (roll-up per unit happens inside each). Capped metrics
    cannot be merged exactly (the cap quantile depends on all units) and raise.

    Examples
    --------
    >>> import numpy as np
    >>> m = Moments.from_array(np.array([[1.0], [2.0]]), names=("y",))
    >>> a = Aggregates({GroupKey("c"): {"m": m}}, clustered=False, engine="pandas")
    >>> merge_aggregates(a, a).moments[GroupKey("c")]["m"].n
    4
    """
    if a.clustered != b.clustered:
        raise ConfigError("Cannot merge clustered with unclustered aggregates.")
    if a.caps or b.caps:
        raise ConfigError(
            "Cannot merge aggregates of capped metrics: the cap depends on all units. "
            "Recompute over the whole period instead."
        )
    out: dict[GroupKey, dict[str, Moments]] = {}
    for key in sorted(set(a.moments) | set(b.moments), key=GroupKey.sort_key):
        ma, mb = a.moments.get(key, {}), b.moments.get(key, {})
        merged: dict[str, Moments] = {}
        for name in dict.fromkeys([*ma, *mb]):
            if name in ma and name in mb:
                merged[name] = merge_moments(ma[name], mb[name])
            else:
                merged[name] = ma.get(name) or mb[name]
        out[key] = merged
    return Aggregates(out, clustered=a.clustered, engine=a.engine)


@dataclass(frozen=True, slots=True)
class MetricInputs:
    """The Moments columns the statistics use for one metric, and notes on what was done."""

    covariates: tuple[str, ...]
    names: tuple[str, ...]
    notes: tuple[str, ...]


def metric_inputs(metric: Metric, aggregates: Aggregates) -> MetricInputs:
    """Decide which covariates (and missing indicators) the statistics use for ``metric``.

    A covariate missing for some units is zero-filled and its missing indicator joins the
    covariates (for a ratio's pair the indicator cannot join, so it is zero-filled only). A
    covariate missing for every unit is dropped (no CUPED), and an indicator that is constant
    (no missing values) is dropped. Each such step is reported in ``notes``.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0, 2.0, 0.0], [2.0, 3.0, 0.0], [4.0, 0.0, 1.0]])
    >>> m = Moments.from_array(z, names=("y", "x", "x__missing"))
    >>> agg = Aggregates({GroupKey("c"): {"m": m}}, clustered=False, engine="pandas")
    >>> metric_inputs(Mean("m", "y", covariate="x"), agg).covariates
    ('x', 'x__missing')
    """
    overall = [g[metric.name] for k, g in aggregates.moments.items() if k.segment is None]
    covs = metric.covariates
    if aggregates.clustered:
        names = moment_names(metric, clustered=True)
        base = 2
        return MetricInputs(covariates=names[base:], names=names, notes=())
    n_total = sum(m.n for m in overall)
    notes: list[str] = []
    use: list[str] = []
    indicators: list[str] = []
    for c in covs:
        ind = c + MISSING_SUFFIX
        missing = sum(m.n * float(m.mean[m.index(ind)]) for m in overall)
        missing = int(round(missing))
        if missing == 0:
            use.append(c)
        elif missing >= n_total:
            notes.append(f"covariate '{c}' is missing for every unit: not used (no CUPED)")
            if isinstance(metric, Ratio):
                return MetricInputs((), (metric.numerator, metric.denominator), tuple(notes))
        else:
            use.append(c)
            if isinstance(metric, Ratio):
                notes.append(f"covariate '{c}' missing for {missing} units: set to 0")
            else:
                indicators.append(ind)
                notes.append(
                    f"covariate '{c}' missing for {missing} units: set to 0 with a "
                    f"missing indicator '{ind}' as an extra covariate"
                )
    base_cols = (
        (metric.numerator, metric.denominator) if isinstance(metric, Ratio) else (metric.column,)
    )
    cov_used = (*use, *indicators)
    return MetricInputs(covariates=cov_used, names=(*base_cols, *cov_used), notes=tuple(notes))


def _finite(m: Moments) -> bool:
    return bool(np.all(np.isfinite(m.mean)) and np.all(np.isfinite(m.comoment)))
