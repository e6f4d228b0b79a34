"""The experiment readout: specs → engine aggregates → :mod:`causal.stats` → :class:`Readout`.

This module orchestrates only; every number comes from a :mod:`causal.stats` function applied
to the engine's :class:`~causal.stats.Moments`:

- SRM: :func:`~causal.stats.srm_test` on randomization units (clusters when clustered);
- each treatment arm against control, every metric: :func:`~causal.stats.mean_effect`
  (Welch t for means, z for proportions) or :func:`~causal.stats.ratio_effect` (delta method;
  clustered designs use it for every metric, as a ratio of cluster sums);
- multiple testing: :func:`~causal.stats.adjust_pvalues` with ``correction`` over the success
  metrics × arms the config names (a metric that could not be estimated keeps its place in the
  family); guardrails form their own family; segments use Benjamini–Hochberg over
  segment × metric × arm and are flagged exploratory;
- guardrails: :func:`~causal.stats.noninferiority` with their margin, then
  :func:`~causal.stats.decide` per arm (an SRM failure, or a success metric that could not be
  estimated, makes the readout untrustworthy).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np
from scipy import special

from causal._errors import ConfigError, InsufficientDataError, UnknownVariantError
from causal._io import json_safe, write_json_atomic
from causal.data import ExperimentDesign, Mean, Metric, Proportion, Ratio
from causal.experiments._engines import Engine, get_engine
from causal.experiments._format import html_table, text_table
from causal.experiments._plan import (
    N_UNITS,
    AggregateRequest,
    Aggregates,
    GroupKey,
    metric_inputs,
)
from causal.experiments._sequential import SequentialLook, SequentialPlan, sequential_look
from causal.stats import (
    Decision,
    EffectResult,
    GuardrailResult,
    Moments,
    SRMResult,
    adjust_pvalues,
    decide,
    mean_effect,
    noninferiority,
    ratio_effect,
    srm_test,
)
from causal.stats._power import mde_from_se

__all__ = ["MetricRow", "Readout", "readout", "readout_from_aggregates"]

Correction = Literal["holm", "bh", "none"]

#: The metric-row keys of readout.json, in DESIGN.md order.
JSON_METRIC_KEYS = (
    "metric", "variant", "control_mean", "treatment_mean", "effect", "effect_ci_lower",
    "effect_ci_upper", "rel_effect", "rel_effect_ci_lower", "rel_effect_ci_upper", "se",
    "pvalue", "pvalue_adjusted", "variance_reduction",
)  # fmt: skip
_SEQ_COLS = (
    "metric", "variant", "seq_critical_z", "seq_effect_ci_lower", "seq_effect_ci_upper",
    "seq_rel_effect_ci_lower", "seq_rel_effect_ci_upper", "seq_pvalue_adjusted",
    "seq_significant",
)  # fmt: skip
_SUMMARY_COLS = (
    "metric", "variant", "control_mean", "treatment_mean", "effect", "effect_ci_lower",
    "effect_ci_upper", "rel_effect", "pvalue_adjusted", "variance_reduction",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One metric, one treatment arm against control (overall or within a segment value).

    The numeric fields are those of :class:`causal.stats.EffectResult`, plus
    ``pvalue_adjusted`` (within the row's family, see :func:`readout`). ``notes`` says why a
    number is NaN or what was done (CUPED fallbacks, zero-filled covariates, too few units).
    """

    metric: str
    variant: str
    role: str  # "metric" (success) or "guardrail"
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
    pvalue_adjusted: float
    variance_reduction: float
    n_control: int
    n_treatment: int
    segment: str | None = None
    segment_value: str | None = None
    notes: tuple[str, ...] = ()
    sequential: SequentialLook | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field (NaN kept; :meth:`Readout.to_dict` makes JSON nulls);
        ``sequential`` as a nested dict (or None)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["sequential"] = None if self.sequential is None else self.sequential.to_dict()
        return d


@dataclass(frozen=True, slots=True)
class Readout:
    """Result of :func:`readout`: SRM, effects per metric × arm, segments and the decision.

    Attributes
    ----------
    metrics : tuple of MetricRow
        Overall effects: success metrics then guardrails, each arm in turn.
    srm : causal.stats.SRMResult
        The sample-ratio check; when it fails (``srm.ok`` False) the readout is untrustworthy.
    segments : tuple of MetricRow
        The same effects per value of each segment column (exploratory; BH-adjusted).
    guardrails : tuple of (str, causal.stats.GuardrailResult)
        Non-inferiority of each guardrail, per arm (``(variant, result)``).
    decisions : dict of str to causal.stats.Decision
        Ship decision per treatment arm.
    control : str
        The control label.
    alpha, correction, engine : float, str, str
        Settings used.
    notes : tuple of str
        Readout-level notes (e.g. units lost to roll-up, caps applied).
    sequential : dict, optional
        With a sequential plan: ``method``, ``planned_units``, ``units``,
        ``information_fraction``, ``looks``, ``spending``; each overall metric row then has a
        :class:`SequentialLook` and the decision rests on it (safe at any look).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from causal.experiments import ExperimentDesign, Mean, readout
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"arm": np.repeat(["c", "t"], 500), "y": rng.normal(size=1000)})
    >>> ro = readout(df, ExperimentDesign("arm", "c", [Mean("y", "y")]))
    >>> ro.metrics[0].variant, ro.srm.ok
    ('t', True)
    """

    metrics: tuple[MetricRow, ...]
    srm: SRMResult
    segments: tuple[MetricRow, ...]
    guardrails: tuple[tuple[str, GuardrailResult], ...]
    decisions: Mapping[str, Decision]
    control: str
    alpha: float
    correction: str
    engine: str
    sequential: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = ()
    design: ExperimentDesign | None = field(default=None, repr=False, compare=False)
    heterogeneity: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def trustworthy(self) -> bool:
        """False when the SRM check failed."""
        return bool(self.srm.ok)

    @property
    def decision(self) -> str:
        """One word for the whole experiment: ``ship`` (some arm ships), ``no_ship`` or
        ``untrustworthy``."""
        if not self.trustworthy:
            return "untrustworthy"
        kinds = {d.decision for d in self.decisions.values()}
        if "ship" in kinds:
            return "ship"
        if "untrustworthy" in kinds:
            return "untrustworthy"
        return "no_ship"

    def power(self, power: float = 0.8) -> list[dict[str, Any]]:
        """Minimum detectable effect of each overall row at this sample size.

        One dict per metric × arm: ``metric``, ``variant``, ``n_control``, ``n_treatment``,
        ``se``, ``mde`` (the absolute effect a two-sided test at the readout's ``alpha`` detects
        with ``power``, :func:`causal.stats.mde_from_se`) and ``rel_mde`` (relative to the
        control mean; NaN when that is 0).
        """
        out = []
        for r in self.metrics:
            m = mde_from_se(r.se, alpha=self.alpha, power=power)
            rel = m / abs(r.control_mean) if r.control_mean and math.isfinite(m) else math.nan
            out.append({"metric": r.metric, "variant": r.variant, "n_control": r.n_control,
                        "n_treatment": r.n_treatment, "se": r.se, "mde": m, "rel_mde": rel})  # fmt: skip
        return out

    # ---- conversions -------------------------------------------------------------------
    def to_pandas(self, *, segments: bool = False) -> Any:
        """The metric rows (or the segment rows) as a DataFrame, one row per metric × arm."""
        import pandas as pd

        rows = self.segments if segments else self.metrics
        cols = [f.name for f in fields(MetricRow) if f.name != "sequential"]
        records = []
        for r in rows:
            d = r.to_dict()
            seq = d.pop("sequential")
            if seq is not None:
                d |= {f"seq_{k}": v for k, v in seq.items() if k != "method"}
            records.append(d)
        if any(r.sequential is not None for r in rows):
            cols += [f"seq_{f.name}" for f in fields(SequentialLook) if f.name != "method"]
        return pd.DataFrame(records, columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """The ``readout.json`` structure of DESIGN.md (NaN/inf become ``None``).

        Metric rows carry the DESIGN.md keys, then ``role``, ``n_control``, ``n_treatment``
        and ``notes``; segment rows add ``segment`` ``{column: value}`` and ``exploratory``.
        """

        def row(r: MetricRow) -> dict[str, Any]:
            d = {k: getattr(r, k) for k in JSON_METRIC_KEYS}
            d |= {"role": r.role, "n_control": r.n_control, "n_treatment": r.n_treatment,
                  "notes": list(r.notes)}  # fmt: skip
            if r.sequential is not None:
                d["sequential"] = r.sequential.to_dict()
            return d

        segs = []
        for r in self.segments:
            d = {"segment": {r.segment: r.segment_value}, **row(r), "exploratory": True}
            segs.append(d)
        srm = self.srm.to_dict()
        srm_out = {k: srm[k] for k in ("pvalue", "observed", "expected_share", "ok")}
        srm_out |= {k: srm[k] for k in ("statistic", "alpha", "checked", "reason") if k in srm}
        decision = {
            "decision": self.decision,
            "trustworthy": self.trustworthy,
            "reason": _overall_reason(self),
            "basis": self.sequential["method"] if self.sequential else "fixed_horizon",
            "arms": {v: d.to_dict() for v, d in self.decisions.items()},
            "guardrails": [{"variant": v, **g.to_dict()} for v, g in self.guardrails],
        }
        out = {
            "srm": srm_out,
            "metrics": [row(r) for r in self.metrics],
            "segments": segs,
            "decision": decision,
            **({"sequential": dict(self.sequential)} if self.sequential is not None else {}),
            "control": self.control,
            "alpha": self.alpha,
            "correction": self.correction,
            "engine": self.engine,
            "notes": list(self.notes),
        }
        if self.heterogeneity:  # causal.experiments._heterogeneity results
            out["heterogeneity"] = [h.to_dict() for h in self.heterogeneity]
        return json_safe(out)

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as JSON atomically (temp file + ``os.replace``)."""
        write_json_atomic(self.to_dict(), path)

    def _sequential_rows(self) -> list[dict[str, Any]]:
        rows = []
        for r in self.metrics:
            d = {"metric": r.metric, "variant": r.variant}
            if r.sequential is not None:
                d |= {f"seq_{k}": v for k, v in r.sequential.to_dict().items()}
            rows.append(d)
        return rows

    def _sequential_caption(self) -> str:
        s = self.sequential or {}
        what = ("always-valid intervals and p-values" if s.get("method") == "always_valid"
                else "group-sequential boundary for this look")  # fmt: skip
        return (
            f"Sequential ({what}): {s.get('units', 0):,} of {s.get('planned_units', 0):,} "
            f"planned units ({100 * s.get('information_fraction', 0):.0f}%); the decision "
            "rests on these, so it is safe at any look."
        )

    def summary(self) -> str:
        """A plain-text readout: SRM line, effects table, guardrails and the decision."""
        lines = [_srm_line(self.srm), ""]
        lines.append(text_table([r.to_dict() for r in self.metrics], _SUMMARY_COLS))
        if self.sequential is not None:
            lines += ["", self._sequential_caption(),
                      text_table(self._sequential_rows(), _SEQ_COLS)]  # fmt: skip
        notes = [f"  {r.metric} / {r.variant}: {n}" for r in self.metrics for n in r.notes]
        notes += [f"  {n}" for n in self.notes]
        if notes:
            lines += ["", "Notes:", *notes]
        if self.guardrails:
            lines += ["", "Guardrails (non-inferiority):"]
            for v, g in self.guardrails:
                kind = "relative" if g.relative else "absolute"
                ok = "non-inferior" if g.non_inferior else "NOT shown non-inferior"
                lines.append(
                    f"  {g.metric} / {v}: {ok} (bound {g.bound:.4g}, {kind} margin {g.margin:g})"
                )
        if self.segments:
            lines += ["", f"Segments: {len(self.segments)} rows (exploratory, BH-adjusted; "
                      "see .to_pandas(segments=True))"]  # fmt: skip
        lines += ["", f"Decision: {self.decision.upper()} — {_overall_reason(self)}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"Readout(decision={self.decision!r}, srm_ok={self.srm.ok}, control={self.control!r}, "
            f"metrics={len(self.metrics)} rows, segments={len(self.segments)} rows, "
            f"engine={self.engine!r})"
        )

    def _repr_html_(self) -> str:
        srm = _html_escape(_srm_line(self.srm))
        if not self.trustworthy:  # the same red warning as the readout page
            srm = (f'<span role="alert" style="color:#771d1d;background:#fde8e8;'
                   f'font-weight:600">{srm}</span>')  # fmt: skip
        parts = [f"<div class='causal-readout'><p>{srm}</p>"]
        parts.append(
            html_table([r.to_dict() for r in self.metrics], _SUMMARY_COLS, caption="Effects")
        )
        if self.sequential is not None:
            parts.append(
                html_table(self._sequential_rows(), _SEQ_COLS, caption=self._sequential_caption())
            )
        notes = [f"{r.metric} / {r.variant}: {n}" for r in self.metrics for n in r.notes]
        notes += list(self.notes)
        if notes:
            items = "".join(f"<li>{_html_escape(n)}</li>" for n in notes)
            parts.append(f"<p>Notes:</p><ul>{items}</ul>")
        parts.append(
            f"<p><b>Decision: {_html_escape(self.decision)}</b> — "
            f"{_html_escape(_overall_reason(self))}</p></div>"
        )
        return "".join(parts)


def _html_escape(s: str) -> str:
    import html

    return html.escape(s)


def _srm_line(srm: SRMResult) -> str:
    obs = ", ".join(f"{k}: {v:,}" for k, v in srm.observed.items())
    status = "OK" if srm.ok else "FAILED — results untrustworthy"
    if not getattr(srm, "checked", True):
        status = f"not checked ({srm.reason})"
    p = "—" if srm.pvalue is None or math.isnan(srm.pvalue) else f"{srm.pvalue:.3g}"
    return f"Sample ratio check: {status} (p = {p}; {obs})"


def _overall_reason(ro: Readout) -> str:
    if not ro.trustworthy:
        return (
            "sample ratio mismatch (p = "
            f"{ro.srm.pvalue:.3g}): the split of units contradicts the configured split, so "
            "effects are not trustworthy; find the cause before deciding."
        )
    return " ".join(f"{v}: {d.reason}" for v, d in ro.decisions.items())


# ---------------------------------------------------------------------------------------------
# orchestration
# ---------------------------------------------------------------------------------------------


def _effect(
    metric: Metric,
    control: Moments,
    treatment: Moments,
    covariates: tuple[str, ...],
    *,
    alpha: float,
    clustered: bool,
) -> EffectResult:
    """The stats call for one metric and one arm."""
    if clustered:
        if isinstance(metric, Ratio):
            num, den = metric.numerator, metric.denominator
        else:
            num, den = metric.column, N_UNITS
        covs = covariates if len(covariates) == 2 else ()
        return ratio_effect(
            control, treatment, numerator=num, denominator=den, covariates=covs,
            alpha=alpha, clustered=True,
        )  # fmt: skip
    if isinstance(metric, Ratio):
        covs = covariates if len(covariates) == 2 else ()
        return ratio_effect(
            control, treatment, numerator=metric.numerator, denominator=metric.denominator,
            covariates=covs, alpha=alpha,
        )  # fmt: skip
    test: Literal["welch", "z"] = "z" if isinstance(metric, Proportion) else "welch"
    return mean_effect(
        control, treatment, column=metric.column, covariates=covariates, alpha=alpha, test=test
    )


def _row(
    metric: Metric,
    role: str,
    variant: str,
    control: Moments | None,
    treatment: Moments | None,
    covariates: tuple[str, ...],
    notes: tuple[str, ...],
    *,
    alpha: float,
    clustered: bool,
    key: GroupKey,
) -> tuple[MetricRow, EffectResult]:
    nan = math.nan
    n_c = control.n if control is not None else 0
    n_t = treatment.n if treatment is not None else 0
    empty = EffectResult(
        nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, n_c, n_t, alpha=alpha
    )  # fmt: skip
    if control is None or treatment is None:
        missing = "control" if control is None else f"variant '{variant}'"
        return MetricRow(
            metric.name, variant, role, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan,
            nan, control.n if control else 0, treatment.n if treatment else 0,
            key.segment, key.value, (*notes, f"no {missing} units in this group: not estimated"),
        ), empty  # fmt: skip
    try:
        r = _effect(metric, control, treatment, covariates, alpha=alpha, clustered=clustered)
    except InsufficientDataError as exc:
        return MetricRow(
            metric.name, variant, role, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan,
            nan, control.n, treatment.n, key.segment, key.value,
            (*notes, f"not estimated: {exc}"),
        ), empty  # fmt: skip
    return MetricRow(
        metric=metric.name, variant=variant, role=role,
        control_mean=r.control_mean, treatment_mean=r.treatment_mean, effect=r.effect,
        effect_ci_lower=r.effect_ci_lower, effect_ci_upper=r.effect_ci_upper,
        rel_effect=r.rel_effect, rel_effect_ci_lower=r.rel_effect_ci_lower,
        rel_effect_ci_upper=r.rel_effect_ci_upper, se=r.se, pvalue=r.pvalue,
        pvalue_adjusted=nan, variance_reduction=r.variance_reduction,
        n_control=r.n_control, n_treatment=r.n_treatment, segment=key.segment,
        segment_value=key.value, notes=(*notes, *r.notes),
    ), r  # fmt: skip


def _with_adjusted(rows: list[MetricRow], method: Correction) -> list[MetricRow]:
    """Adjust over the family the config fixes: every row counts, estimated or not."""
    if not rows:
        return rows
    p = np.array([r.pvalue for r in rows], dtype=float)
    adj = adjust_pvalues(p, method=method, family_size=len(rows))

    return [replace(r, pvalue_adjusted=float(a)) for r, a in zip(rows, adj, strict=True)]


def _variant_order(design: ExperimentDesign, present: Sequence[str]) -> list[str]:
    """Treatment arms: in expected_split order when given, else sorted."""
    if design.expected_split:
        order = [v for v in design.expected_split if v in present]
        order += [v for v in sorted(present) if v not in order]
    else:
        order = sorted(present)
    return [v for v in order if v != str(design.control)]


def _check_options(
    design: ExperimentDesign,
    *,
    alpha: float,
    correction: str,
    margins: Mapping[str, float] | None,
    relative_margins: bool,
    decrease_is_good: Sequence[str],
    srm_alpha: float,
    sequential: SequentialPlan | Mapping[str, Any] | None = None,
) -> tuple[dict[str, float], SequentialPlan | None]:
    """Every readout parameter checked before any data is read; returns the margins and the
    sequential plan."""
    if not isinstance(design, ExperimentDesign):
        raise ConfigError(
            f"The 'design' parameter must be an ExperimentDesign. Got {type(design).__name__}."
        )
    for name, value in (("alpha", alpha), ("srm_alpha", srm_alpha)):
        if isinstance(value, bool) or not (isinstance(value, int | float) and 0 < value < 1):
            raise ConfigError(f"The '{name}' parameter must be a float in (0, 1). Got {value!r}.")
    if correction not in ("holm", "bh", "none"):
        raise ConfigError(
            f"The 'correction' parameter must be 'holm', 'bh' or 'none'. Got {correction!r}."
        )
    if not isinstance(relative_margins, bool):
        raise ConfigError(
            f"The 'relative_margins' parameter must be True or False. Got {relative_margins!r}."
        )
    if isinstance(decrease_is_good, str):
        raise ConfigError(
            "The 'decrease_is_good' parameter must be a list of metric names. "
            f"Got the string {decrease_is_good!r}."
        )
    margins = dict(margins or {})
    guard_names = {g.name for g in design.guardrails}
    unknown = sorted(set(margins) - guard_names)
    if unknown:
        raise ConfigError(
            f"'margins' names metric(s) {', '.join(unknown)} that are not guardrails; "
            f"guardrails: {', '.join(sorted(guard_names)) or 'none'}."
        )
    no_margin = [g.name for g in design.guardrails if g.name not in margins]
    if no_margin:
        raise ConfigError(
            f"Guardrail(s) {', '.join(no_margin)} need a non-inferiority 'margin' (e.g. 0.01 "
            "for 1% relative harm tolerated)."
        )
    all_names = {m.name for m in design.all_metrics()}
    bad_dir = sorted(set(decrease_is_good) - all_names)
    if bad_dir:
        raise ConfigError(f"'decrease_is_good' names unknown metric(s): {', '.join(bad_dir)}.")
    plan = None if sequential is None else SequentialPlan.from_mapping(sequential)
    return margins, plan


def readout_from_aggregates(
    aggregates: Aggregates,
    design: ExperimentDesign,
    *,
    alpha: float = 0.05,
    correction: Correction = "holm",
    margins: Mapping[str, float] | None = None,
    relative_margins: bool = True,
    decrease_is_good: Sequence[str] = (),
    srm_alpha: float = 0.001,
    sequential: SequentialPlan | Mapping[str, Any] | None = None,
) -> Readout:
    """Build a :class:`Readout` from engine :class:`Aggregates` (e.g. merged daily ones).

    Parameters are those of :func:`readout`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from causal.experiments import (AggregateRequest, ExperimentDesign, Mean,
    ...                                 PandasEngine)
    >>> df = pd.DataFrame({"arm": ["c", "t"] * 50, "y": np.arange(100.0)})
    >>> d = ExperimentDesign("arm", "c", [Mean("y", "y")])
    >>> agg = PandasEngine().aggregate(df, AggregateRequest.from_design(d))
    >>> readout_from_aggregates(agg, d).metrics[0].effect
    1.0
    """
    margins, plan = _check_options(
        design, alpha=alpha, correction=correction, margins=margins,
        relative_margins=relative_margins, decrease_is_good=decrease_is_good,
        srm_alpha=srm_alpha, sequential=sequential,
    )  # fmt: skip
    control = str(design.control)
    present = aggregates.variants()
    if control not in present:
        raise UnknownVariantError(
            f"The control label '{control}' does not occur in column '{design.variant}'; "
            f"labels present: {', '.join(present) or 'none'}. Set 'control' to one of them."
        )
    if design.expected_split:
        absent = [v for v in design.expected_split if v not in present]
        if absent:
            raise UnknownVariantError(
                f"Variant(s) {', '.join(absent)} of 'expected_split' do not occur in column "
                f"'{design.variant}'; labels present: {', '.join(present)}."
            )
    arms = _variant_order(design, present)
    if not arms:
        raise InsufficientDataError(
            f"Column '{design.variant}' holds only the control label '{control}'; a readout "
            "needs at least one treatment arm."
        )
    clustered = aggregates.clustered
    observed = {v: aggregates.units(GroupKey(v)) for v in present}
    srm = srm_test(observed, design.expected_split, alpha=srm_alpha)

    inputs = {m.name: metric_inputs(m, aggregates) for m in design.all_metrics()}
    roles = [("metric", m) for m in design.metrics] + [("guardrail", g) for g in design.guardrails]

    results: dict[tuple[str, str], EffectResult] = {}  # overall (metric, variant) -> result

    def rows_for(seg: str | None, value: str | None) -> dict[str, list[MetricRow]]:
        out: dict[str, list[MetricRow]] = {"metric": [], "guardrail": []}
        ckey = GroupKey(control, seg, value)
        for role, m in roles:
            inp = inputs[m.name]
            cmom = aggregates.moments.get(ckey, {}).get(m.name)
            for v in arms:
                tkey = GroupKey(v, seg, value)
                tmom = aggregates.moments.get(tkey, {}).get(m.name)
                row, res = _row(m, role, v, cmom, tmom, inp.covariates,
                                inp.notes if seg is None else (), alpha=alpha,
                                clustered=clustered, key=tkey)  # fmt: skip
                out[role].append(row)
                if seg is None:
                    results[(m.name, v)] = res
        return out

    overall = rows_for(None, None)
    success = _with_adjusted(overall["metric"], correction)
    guards = _with_adjusted(overall["guardrail"], correction)
    seg_rows: list[MetricRow] = []
    seg_values = sorted({(k.segment, k.value) for k in aggregates.segment_keys()},
                        key=lambda sv: (str(sv[0]), str(sv[1])))  # fmt: skip
    for seg, value in seg_values:
        r = rows_for(seg, value)
        seg_rows += r["metric"] + r["guardrail"]
    seg_rows = _with_adjusted(seg_rows, "bh")

    seq_info: dict[str, Any] | None = None
    if plan is not None:
        units = int(sum(observed.values()))
        fraction = units / plan.planned_units
        success = _with_sequential(success, results, plan, fraction, alpha, correction)
        guards = _with_sequential(guards, results, plan, fraction, alpha, "guardrail")
        seq_info = {**plan.to_dict(), "units": units, "information_fraction": fraction}
    guard_results, decisions = _decide(
        success, guards, results, srm, arms, margins, relative_margins, set(decrease_is_good),
        alpha, sequential=plan is not None,
    )  # fmt: skip
    notes = [f"metric '{m}' capped at {v:.6g} (its {_cap_q(design, m)} quantile)"
             for m, v in aggregates.caps.items()]  # fmt: skip
    if plan is not None and seg_rows:
        notes.append(
            "segment rows are fixed-horizon and exploratory: the sequential plan covers the "
            "overall metrics only"
        )
    if clustered:
        notes.append(
            f"cluster-randomized on '{design.cluster}': effects per unit as ratios of cluster "
            "sums with cluster-robust CR2 variance and Bell-McCaffrey degrees of freedom; SRM "
            "counts clusters"
        )
    return Readout(
        metrics=tuple(success + guards),
        srm=srm,
        segments=tuple(seg_rows),
        guardrails=tuple(guard_results),
        decisions=decisions,
        control=control,
        alpha=float(alpha),
        correction=correction,
        engine=aggregates.engine,
        notes=tuple(notes),
        design=design,
        sequential=seq_info,
    )


def _with_sequential(
    rows: list[MetricRow],
    results: Mapping[tuple[str, str], EffectResult],
    plan: SequentialPlan,
    fraction: float,
    alpha: float,
    correction: str,
) -> list[MetricRow]:
    """Attach this look's sequential result to each overall row of one family.

    Success rows (``correction`` holm/bh/none): always-valid p-values adjusted over the
    configured family, or group-sequential boundaries at ``alpha / m`` (Bonferroni) unless
    the correction is ``none``. Guardrail rows (``"guardrail"``): the look at ``alpha``, used
    for the non-inferiority bound.
    """

    if not rows:
        return rows
    m = len(rows)
    bonferroni = plan.method == "group_sequential" and correction in ("holm", "bh")
    row_alpha = alpha / m if bonferroni else alpha
    looks = [sequential_look(results[(r.metric, r.variant)], plan, fraction, alpha=row_alpha)
             for r in rows]  # fmt: skip
    if plan.method == "always_valid":
        method = "none" if correction == "guardrail" else correction
        adj = adjust_pvalues(np.array([lk.pvalue for lk in looks]), method=method,  # type: ignore[arg-type]
                             family_size=m)  # fmt: skip
        looks = [replace(lk, pvalue_adjusted=float(a),
                         significant=bool(math.isfinite(a) and a < alpha))
                 for lk, a in zip(looks, adj, strict=True)]  # fmt: skip
    return [replace(r, sequential=lk) for r, lk in zip(rows, looks, strict=True)]


def _cap_q(design: ExperimentDesign, name: str) -> str:
    for m in design.all_metrics():
        if m.name == name and isinstance(m, Mean) and m.cap is not None:
            return f"{m.cap:g}"
    return "?"


def _decide(
    success: list[MetricRow],
    guards: list[MetricRow],
    results: Mapping[tuple[str, str], EffectResult],
    srm: SRMResult,
    arms: list[str],
    margins: Mapping[str, float],
    relative: bool,
    decrease: set[str],
    alpha: float,
    *,
    sequential: bool = False,
) -> tuple[list[tuple[str, GuardrailResult]], dict[str, Decision]]:
    """Guardrail non-inferiority and the ship decision per arm (both from causal.stats).

    With a sequential plan the guardrail bound is the sequential interval's (``critical_z``
    instead of the fixed-horizon quantile) and success metrics count as significant when
    their sequential test rejects at this look.
    """
    guard_results: list[tuple[str, GuardrailResult]] = []
    decisions: dict[str, Decision] = {}

    def direction(name: str) -> Literal["increase", "decrease"]:
        return "decrease" if name in decrease else "increase"

    for v in arms:
        arm_guards = []
        for r in (g for g in guards if g.variant == v):
            effect = results[(r.metric, v)]
            one_sided: float | None = None
            if sequential and r.sequential is not None:
                c = r.sequential.critical_z
                # the one-sided level whose normal quantile is this look's critical |z|
                one_sided = max(float(special.ndtr(-c)), 1e-300) if math.isfinite(c) else 1e-300
                effect = replace(effect, df=math.inf)
            res = noninferiority(
                effect, margin=margins[r.metric], relative=relative,
                direction=direction(r.metric), metric=r.metric, alpha=one_sided,
            )  # fmt: skip
            arm_guards.append(res)
            guard_results.append((v, res))
        arm_success = [r for r in success if r.variant == v]
        decisions[v] = decide(
            {r.metric: results[(r.metric, v)] for r in arm_success},
            arm_guards,
            srm=srm,
            pvalues_adjusted={r.metric: r.pvalue_adjusted for r in arm_success},
            directions={r.metric: direction(r.metric) for r in arm_success},
            alpha=alpha,
            significant=(
                {r.metric: bool(r.sequential and r.sequential.significant) for r in arm_success}
                if sequential
                else None
            ),
        )
    return guard_results, decisions


def readout(
    data: Any,
    design: ExperimentDesign,
    *,
    alpha: float = 0.05,
    correction: Correction = "holm",
    engine: str | Engine = "duckdb",
    connection: Any = None,
    margins: Mapping[str, float] | None = None,
    relative_margins: bool = True,
    sequential: SequentialPlan | Mapping[str, Any] | None = None,
    decrease_is_good: Sequence[str] = (),
    srm_alpha: float = 0.001,
    heterogeneity: Sequence[str] | None = None,
) -> Readout:
    """Read out a randomized experiment: SRM, lifts with intervals, guardrails, segments.

    Parameters
    ----------
    data : DataFrame, str or path
        A pandas DataFrame, a ``.parquet``/``.csv`` path, or (DuckDB engine) a table name in
        ``connection``; with ``engine="spark"`` also a Spark DataFrame or a table name in the
        Spark catalog. Never modified.
    design : ExperimentDesign
        Variant column, control label, metrics (:class:`Mean`, :class:`Proportion`,
        :class:`Ratio`, each with optional CUPED covariates), guardrails, unit, cluster,
        segments and expected split.
    alpha : float
        Two-sided level of every interval and test.
    correction : {"holm", "bh", "none"}
        Multiple-testing correction over success metrics × arms (guardrails: their own
        family). Segment rows always use Benjamini–Hochberg over segment × metric × arm.
    engine : {"duckdb", "pandas", "spark"} or Engine
        Where the sufficient statistics are computed (same numbers either way); ``"spark"``
        needs the ``spark`` extra.
    connection : duckdb connection or SparkSession, optional
        Holds the table when ``data`` is a table name (Spark: default the active session).
    margins : dict of str to float
        Non-inferiority margin per guardrail (required for each guardrail).
    relative_margins : bool
        Margins are relative to the control mean (0.01 = 1% harm tolerated); else absolute.
    heterogeneity : list of str, optional
        Columns whose effect heterogeneity to estimate on the unit-level rows (calibration
        test, GATEs with a simultaneous band, value of shipping only to segments that
        benefit); see :mod:`causal.experiments._heterogeneity`. Stored in
        ``Readout.heterogeneity`` and readout.json's ``heterogeneity``.
    sequential : SequentialPlan or dict, optional
        Monitoring plan fixed before the experiment (``{"method": "always_valid" |
        "group_sequential", "planned_units": N, "looks": K}``): every overall metric row then
        carries always-valid p-values and intervals, or this look's group-sequential boundary
        (:class:`~causal.experiments.SequentialLook`), and the decision and guardrails rest on
        them, so a readout run at every look (e.g. daily) is safe to act on.
    decrease_is_good : list of str
        Metrics where a decrease is the good direction (e.g. hides, latency).
    srm_alpha : float
        Level of the sample-ratio check (0.001 by default).

    Returns
    -------
    Readout

    Raises
    ------
    CausalError
        Missing or non-numeric columns, an unknown control or configured variant, missing
        metric values, units in two variants, invalid parameters (each names the problem).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from causal.experiments import ExperimentDesign, Mean, Ratio, readout
    >>> rng = np.random.default_rng(1)
    >>> n = 2000
    >>> df = pd.DataFrame({"arm": rng.choice(["control", "new"], n),
    ...                    "clicks": rng.poisson(2, n), "views": rng.poisson(20, n) + 1})
    >>> d = ExperimentDesign("arm", "control", [Ratio("ctr", "clicks", "views")])
    >>> ro = readout(df, d)
    >>> ro.to_pandas()[["metric", "variant"]].values.tolist()
    [['ctr', 'new']]
    """
    # every parameter is checked before the engine reads anything
    _check_options(
        design, alpha=alpha, correction=correction, margins=margins,
        relative_margins=relative_margins, decrease_is_good=decrease_is_good,
        srm_alpha=srm_alpha, sequential=sequential,
    )  # fmt: skip
    eng = get_engine(engine, connection)
    aggregates = eng.aggregate(data, AggregateRequest.from_design(design))
    ro = readout_from_aggregates(
        aggregates, design, alpha=alpha, correction=correction, margins=margins,
        relative_margins=relative_margins, sequential=sequential, decrease_is_good=decrease_is_good,
        srm_alpha=srm_alpha,
    )  # fmt: skip
    if heterogeneity:
        from causal.experiments._heterogeneity import with_heterogeneity

        ro = with_heterogeneity(ro, data, design, heterogeneity, alpha=alpha, connection=connection)
    return ro
