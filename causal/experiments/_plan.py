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
from fractions import Fraction
from typing import Any

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
    "AggregatePlan",
    "ColumnStats",
    "build_plan",
    "column_shift",
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


# ---------------------------------------------------------------------------------------------
# The aggregate plan: metric specs -> per-unit expressions -> aggregates -> Moments
# ---------------------------------------------------------------------------------------------
#
# The plan is pure (no database): executors (DuckDB SQL, pandas/numpy, later Spark SQL) compute
# the per-unit expressions and the listed aggregates for every group, and hand each group's
# aggregates back as one mapping ``alias -> value``; :meth:`AggregatePlan.rebuild` turns that
# mapping into the Moments of every metric. Each fix (offsets, validation, clusters) is made here
# once.

#: Integer arithmetic is exact (and used) while every partial sum stays below this.
_INT_LIMIT = 2**62


@dataclass(frozen=True, slots=True)
class ColumnStats:
    """What a cheap ungrouped pre-pass over the raw rows tells the plan about one column.

    Attributes
    ----------
    nulls : int
        Rows where the column is null (or NaN).
    minimum, maximum : float or int or None
        Over non-null rows (None when every row is null).
    integer : bool
        The column holds integers or booleans (exact integer arithmetic is possible).
    """

    nulls: int
    minimum: float | int | None
    maximum: float | int | None
    integer: bool


def column_shift(stats: ColumnStats) -> float:
    """The shift a column's values are taken around: its minimum (or maximum) when the values
    sit at an offset larger than their range, else 0 (nothing to gain).

    At ``1e12 + N(0, 1e-3)`` every value minus the minimum is exact (Sterbenz), so sums and
    cross-products of the shifted values keep the digits a raw ``AVG`` loses.

    Examples
    --------
    >>> column_shift(ColumnStats(0, 1e12 - 0.004, 1e12 + 0.004, False))
    999999999999.996
    >>> column_shift(ColumnStats(0, 0.0, 1e12, False))
    0.0
    """
    lo, hi = stats.minimum, stats.maximum
    if lo is None or hi is None:
        return 0.0
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return 0.0
    if lo > 0 and hi - lo < lo:
        return lo
    if hi < 0 and hi - lo < -hi:
        return hi
    return 0.0


@dataclass(frozen=True, slots=True)
class UnitColumn:
    """One source column as a per-unit value (level 1 of the plan).

    Without a roll-up the unit value is the row's value minus ``shift`` (or the raw integer on
    the exact integer path). With a roll-up it is ``SUM(value - shift)`` over the unit's rows;
    when ``shift`` is not 0, ``count`` names the per-unit count of non-null rows, so the unit's
    sum is ``value + shift * count``.
    """

    column: str
    alias: str
    shift: float
    integer: bool
    has_null: bool
    bound: int | None = None
    binary: bool = False
    count: str | None = None


@dataclass(frozen=True, slots=True)
class Expr:
    """A per-unit expression the aggregates run over.

    kind ``value``: the unit column ``source``; ``fill``: the unit column with nulls replaced by
    ``fill`` (the shifted 0); ``cap``: ``LEAST(unit value, quantile)`` where the unit value is
    the column ``source`` (plus ``shift * count`` when ``count`` is set) and the quantile is the
    cap aggregate ``cap``; ``units``: the cluster's unit count; ``count``: a unit column's count
    of non-null rows.
    """

    alias: str
    kind: str
    source: str
    integer: bool = False
    bound: int | None = None
    binary: bool = False
    fill: float = 0.0
    cap: str | None = None
    count: str | None = None
    shift: float = 0.0


@dataclass(frozen=True, slots=True)
class Agg:
    """One aggregate per group.

    ops: ``count`` (rows of the group), ``mixed`` (units whose rows span variants), ``miss``
    (units where unit column ``args[0]`` is null), ``avg`` / ``isum`` (mean of a floating /
    exact sum of an integer expression), ``covar`` (sample covariance of two floating
    expressions; the variance when equal), ``iprod`` (exact sum of products of two integer
    expressions), ``favg`` / ``fsum`` (mean / exact sum of expression ``args[0]`` over the units
    where unit column ``args[1]`` is null), ``both`` (units where two unit columns are null),
    ``capv`` (the cap quantile, the same in every group).
    """

    alias: str
    op: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Slot:
    """One Moments column: ``const + sum(coef * expr)`` over ``terms``, or a missing indicator
    of unit column ``indicator``."""

    terms: tuple[tuple[str, float], ...] = ()
    const: float = 0.0
    indicator: str | None = None


@dataclass(frozen=True, slots=True)
class CapSpec:
    """A cap: the ``quantile`` of metric ``metric``'s unit values (expression ``expr``'s
    uncapped value, shifted by ``shift``) as the aggregate ``alias``."""

    metric: str
    alias: str
    quantile: float
    expr: str
    shift: float


@dataclass(frozen=True, slots=True)
class AggregatePlan:
    """What every executor computes, and how Moments are rebuilt from it.

    Built by :func:`build_plan` from an :class:`AggregateRequest` and the pre-pass
    :class:`ColumnStats`; see the section comment above for the executor contract.

    Examples
    --------
    >>> req = AggregateRequest("arm", (Mean("m", "y"),))
    >>> plan = build_plan(req, {"y": ColumnStats(0, 1e12 - 1, 1e12 + 1, False)}, n_rows=4)
    >>> [(a.op, a.args) for a in plan.aggregates]
    [('count', ()), ('avg', ('e0',)), ('covar', ('e0', 'e0'))]
    >>> m = plan.rebuild({"n": 4, "a0": 1.0, "p0": 2.0})["m"]
    >>> float(m.shift[0]), float(m.dmean[0]), float(m.cov[0, 0])
    (999999999999.0, 1.0, 2.0)
    """

    request: AggregateRequest
    columns: tuple[UnitColumn, ...]
    exprs: tuple[Expr, ...]
    aggregates: tuple[Agg, ...]
    slots: Mapping[str, tuple[Slot, ...]]
    caps: tuple[CapSpec, ...]
    segments: Mapping[str, str]

    @property
    def clustered(self) -> bool:
        """One row per cluster."""
        return self.request.cluster is not None

    @property
    def roll(self) -> str | None:
        """The column rows are summed over first (cluster, else unit), or None."""
        return self.request.cluster or self.request.unit

    def column(self, name: str) -> UnitColumn:
        """The unit column of source column ``name``."""
        return next(c for c in self.columns if c.column == name)

    def expr(self, alias: str) -> Expr:
        """The expression named ``alias``."""
        return next(e for e in self.exprs if e.alias == alias)

    def rebuild(
        self, row: Mapping[str, Any], rows: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, Moments]:
        """Moments of every metric from one group's aggregates (``alias -> value``).

        ``rows`` (clustered designs): the group's per-cluster values of every expression; the
        Moments then keep their per-cluster rows (for CR2 standard errors).
        """
        n = int(row["n"])
        out: dict[str, Moments] = {}
        for m in self.request.metrics:
            names = moment_names(m, clustered=self.clustered)
            out[m.name] = self._moments(row, n, self.slots[m.name], names, rows)
        return out

    def cap_values(self, row: Mapping[str, Any]) -> dict[str, float]:
        """The cap of each capped metric (in the column's own units) from any group's row."""
        return {c.metric: float(row[c.alias]) + c.shift for c in self.caps}

    # -- rebuilding --------------------------------------------------------------------------
    def _agg(self, op: str, *args: str) -> str:
        for a in self.aggregates:
            if a.op == op and a.args == args:
                return a.alias
        raise KeyError((op, args))

    def _base(
        self, row: Mapping[str, Any], n: int, xs: list[str], inds: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(shift, dmean, comoment) of the base expressions ``xs`` then indicators ``inds``."""
        k = len(xs) + len(inds)
        shift = np.zeros(k)
        dmean = np.zeros(k)
        com = np.zeros((k, k))
        isum: dict[str, int] = {}
        for i, e in enumerate(xs):
            ex = self.expr(e)
            if ex.integer:
                isum[e] = int(row[self._agg("isum", e)])
                dmean[i] = isum[e] / n
            else:
                dmean[i] = _num(row[self._agg("avg", e)])
                if ex.kind == "count" and n and np.isfinite(dmean[i]):
                    shift[i] = float(round(dmean[i]))  # counts: exact integer shift
                    dmean[i] -= shift[i]
        # an indicator of a column the pre-pass found without nulls is identically 0: the
        # plan computes nothing for it (its mean, variance and covariances are 0)
        nullable = {c.alias for c in self.columns if c.has_null}
        miss = {a: int(row[self._agg("miss", a)]) if a in nullable else 0 for a in inds}
        for j, a in enumerate(inds):
            dmean[len(xs) + j] = miss[a] / n if n else 0.0
        for i, a in enumerate(xs):
            for j in range(i, len(xs)):
                b = xs[j]
                ea, eb = self.expr(a), self.expr(b)
                if ea.integer and eb.integer:
                    key = (a, b) if a <= b else (b, a)
                    binary = a == b and ea.binary  # 0/1: sum(x * x) == sum(x)
                    sab = isum[a] if binary else int(row[self._agg("iprod", *key)])
                    c = (n * sab - isum[a] * isum[b]) / n if n else 0.0
                else:
                    key = (a, b) if a <= b else (b, a)
                    v = row[self._agg("covar", *key)]
                    c = 0.0 if n < 2 or v is None else float(v) * (n - 1)
                com[i, j] = com[j, i] = c
        for j, a in enumerate(inds):
            jj = len(xs) + j
            m = miss[a]
            com[jj, jj] = m - m * m / n if n else 0.0
            for j2 in range(j + 1, len(inds)):
                b = inds[j2]
                c = 0.0
                if m and miss[b]:
                    lo, hi = (a, b) if a <= b else (b, a)
                    c = int(row[self._agg("both", lo, hi)]) - m * miss[b] / n
                com[jj, len(xs) + j2] = com[len(xs) + j2, jj] = c
            for i, e in enumerate(xs):
                c = 0.0
                if m:
                    ex = self.expr(e)
                    if ex.integer:
                        fa = int(row[self._agg("fsum", e, a)]) / m
                    else:
                        v = row[self._agg("favg", e, a)]
                        fa = _num(v)
                    # sum (z - zbar)(d - m/n) = m (zbar_missing - zbar), in shifted units
                    c = m * ((fa - shift[i]) - dmean[i])
                com[i, jj] = com[jj, i] = c
        return shift, dmean, com

    def _moments(
        self,
        row: Mapping[str, Any],
        n: int,
        slots: tuple[Slot, ...],
        names: tuple[str, ...],
        arrays: Mapping[str, np.ndarray] | None = None,
    ) -> Moments:
        xs = list(dict.fromkeys(e for s in slots for e, _ in s.terms))
        inds = list(dict.fromkeys(s.indicator for s in slots if s.indicator is not None))
        bshift, bdmean, bcom = self._base(row, n, xs, inds)
        pos = {e: i for i, e in enumerate(xs)} | {a: len(xs) + j for j, a in enumerate(inds)}
        a_mat = np.zeros((len(slots), len(pos)))
        shift = np.zeros(len(slots))
        rem = np.zeros(len(slots))
        for i, s in enumerate(slots):
            if s.indicator is not None:
                a_mat[i, pos[s.indicator]] = 1.0
                continue
            exact = Fraction(s.const)
            for e, coef in s.terms:
                a_mat[i, pos[e]] = coef
                exact += Fraction(coef) * Fraction(float(bshift[pos[e]]))
            shift[i] = float(exact)
            rem[i] = float(exact - Fraction(shift[i]))  # what rounding the shift lost
        dmean = a_mat @ bdmean + rem
        com = a_mat @ bcom @ a_mat.T
        rows = None
        if arrays is not None and not inds:  # clustered: no missing indicators
            base = np.column_stack(
                [np.asarray(arrays[e], dtype=float) - bshift[pos[e]] for e in xs]
            )
            rows = base @ a_mat.T + rem
        return Moments.from_shifted(n, names, shift, dmean, com, rows=rows)


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def build_plan(
    request: AggregateRequest, stats: Mapping[str, ColumnStats], n_rows: int
) -> AggregatePlan:
    """The aggregate plan of ``request`` given the pre-pass ``stats`` of its metric columns.

    Decides per column its shift (:func:`column_shift`), whether exact integer sums apply (no
    roll-up, and every partial sum below 2**62), and which aggregates each metric's Moments
    need; nothing is computed twice across metrics.
    """
    roll = request.cluster or request.unit
    clustered = request.cluster is not None
    cols = [*request.value_columns(), *request.covariate_columns()]
    units: list[UnitColumn] = []
    for i, c in enumerate(cols):
        st = stats[c]
        shift = column_shift(st)
        integer = False
        bound = None
        binary = False
        if roll is None and st.integer and shift == 0.0:
            lo, hi = st.minimum, st.maximum
            bound = max(abs(int(lo or 0)), abs(int(hi or 0)))
            if bound * bound * max(n_rows, 1) < _INT_LIMIT:
                integer = True
                binary = int(lo or 0) >= 0 and bound <= 1
            else:
                bound = None
        count = f"k{i}" if roll is not None and shift != 0.0 else None
        units.append(UnitColumn(c, f"c{i}", shift, integer, st.nulls > 0, bound, binary, count))
    ucol = {u.column: u for u in units}
    ucol_alias = {u.alias: u for u in units}

    exprs: dict[tuple[Any, ...], Expr] = {}

    def ex(kind: str, source: str, **kw: Any) -> str:
        key = (kind, source, *sorted(kw.items()))
        if key not in exprs:
            exprs[key] = Expr(f"e{len(exprs)}", kind, source, **kw)
        return exprs[key].alias

    caps: list[CapSpec] = []
    slots: dict[str, tuple[Slot, ...]] = {}
    for m in request.metrics:
        out: list[Slot] = []
        cap = getattr(m, "cap", None)
        for nm in moment_names(m, clustered=clustered):
            if nm in (N_UNITS, N_UNITS_PRE):
                out.append(Slot(((ex("units", "nu"), 1.0),)))
                continue
            if nm.endswith(MISSING_SUFFIX) and nm[: -len(MISSING_SUFFIX)] in ucol:
                out.append(Slot(indicator=ucol[nm[: -len(MISSING_SUFFIX)]].alias))
                continue
            u = ucol[nm]
            fillna = nm in m.covariates and u.has_null
            if cap is not None and isinstance(m, Mean) and nm == m.column:
                qa = f"q{len(caps)}"
                # the unit value: shifted without a roll-up, plain with one
                kshift = 0.0 if u.count else u.shift
                e = ex("cap", u.alias, cap=qa, count=u.count, shift=u.shift)
                caps.append(CapSpec(m.name, qa, float(cap), e, kshift))
                out.append(Slot(((e, 1.0),), const=kshift))
                continue
            if u.count is not None:  # roll-up at an offset: sum = value + shift * count
                v = ex("fill" if fillna else "value", u.alias)
                k = ex("count", u.count)
                out.append(Slot(((v, 1.0), (k, u.shift))))
            elif fillna:
                integer = u.integer
                e = ex("fill", u.alias, fill=-u.shift if u.shift else 0.0, integer=integer, bound=u.bound,
                       binary=u.binary)  # fmt: skip
                out.append(Slot(((e, 1.0),), const=u.shift))
            else:
                e = ex("value", u.alias, integer=u.integer, bound=u.bound, binary=u.binary)
                out.append(Slot(((e, 1.0),), const=u.shift))
        slots[m.name] = tuple(out)

    expr_of = {e.alias: e for e in exprs.values()}
    aggs: dict[tuple[str, tuple[str, ...]], Agg] = {}
    prefix = {"avg": "a", "isum": "s", "covar": "p", "iprod": "ip", "favg": "fa",
              "fsum": "fs", "both": "b", "miss": "m", "capv": "q"}  # fmt: skip

    def agg(op: str, *args: str) -> None:
        if (op, args) not in aggs:
            name = {"count": "n", "mixed": "mixed"}.get(op)
            if name is None:
                name = f"{prefix[op]}{sum(1 for o, _ in aggs if o == op)}"
            aggs[(op, args)] = Agg(name, op, args)

    agg("count")
    if roll is not None:
        agg("mixed")
    for u in units:
        if u.has_null or (roll is not None and u.column in request.value_columns()):
            agg("miss", u.alias)
    for m in request.metrics:
        ss = slots[m.name]
        xs = list(dict.fromkeys(e for s in ss for e, _ in s.terms))
        inds = list(dict.fromkeys(s.indicator for s in ss if s.indicator is not None))
        for e in xs:
            agg("isum" if expr_of[e].integer else "avg", e)
        for i, a in enumerate(xs):
            for b in xs[i:]:
                ea, eb = expr_of[a], expr_of[b]
                key = (a, b) if a <= b else (b, a)
                if ea.integer and eb.integer:
                    if not (a == b and ea.binary):
                        agg("iprod", *key)  # bounds keep every partial sum below 2**62
                else:
                    agg("covar", *key)
        # indicators of covariates without nulls (pre-pass) are identically 0: no aggregates
        inds = [a for a in inds if ucol_alias[a].has_null]
        for i, a in enumerate(inds):
            agg("miss", a)
            for b in inds[i + 1 :]:
                agg("both", *((a, b) if a <= b else (b, a)))
            for e in xs:
                agg("fsum" if expr_of[e].integer else "favg", e, a)
    for spec in caps:
        agg("capv", spec.alias)
    # rename capv aggregates to the cap aliases themselves (executors compute them once)
    final = tuple(Agg(a.args[0], a.op, a.args) if a.op == "capv" else a for a in aggs.values())
    return AggregatePlan(
        request=request,
        columns=tuple(units),
        exprs=tuple(exprs.values()),
        aggregates=final,
        slots=slots,
        caps=tuple(caps),
        segments={s: f"s{i}" for i, s in enumerate(request.segments)},
    )
