"""The result of :func:`causal.what_works`: one frozen object per analysis.

:class:`WhatWorks` holds one :class:`OutcomeEffect` per outcome (the doubly-robust average
effect, the estimator and why it was chosen, and every diagnostic that was computed), the
per-item effects (the ``effects.parquet`` table) and the methods record. ``to_dict()`` is
``summary.json`` (DESIGN.md fields first, extra keys after); ``_repr_html_`` and
``report(path)`` render through :mod:`causal.report`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from causal.data import Design

__all__ = ["ATE_FIELDS", "OutcomeEffect", "WhatWorks", "cate_column"]

#: The fields of an average effect in ``summary.json`` (DESIGN.md).
ATE_FIELDS: tuple[str, ...] = ("effect", "effect_ci_lower", "effect_ci_upper", "se", "pvalue")


def cate_column(outcome: str, level: Any = None) -> str:
    """The ``effects.parquet`` column of the per-item effect on ``outcome``: ``cate_<outcome>``
    (binary or continuous treatment, DESIGN.md), or ``cate_<outcome>[<level>]`` for one level
    of a multi-valued treatment vs its control (brackets: unambiguous even when outcome or
    level contain underscores). Interval columns append ``_ci_lower`` / ``_ci_upper``.

    Examples
    --------
    >>> cate_column("saves"), cate_column("saves", "large")
    ('cate_saves', 'cate_saves[large]')
    """
    return f"cate_{outcome}" if level is None else f"cate_{outcome}[{level}]"


@dataclass(frozen=True, slots=True, eq=False)
class OutcomeEffect:
    """Everything estimated for one outcome.

    Attributes
    ----------
    outcome : str
    estimator : str
        The estimator whose CATEs are reported (AutoCate's selected candidate).
    why : str
        One sentence: why this estimator (the out-of-fold comparison, or the config).
    effect, effect_ci_lower, effect_ci_upper, se, pvalue : float
        The doubly-robust average effect (per unit of a continuous treatment) and its
        inference (cluster-robust when the design names a cluster).
    control_mean : float
        Mean outcome of untreated units (weighted), for scale; NaN for a continuous treatment.
    outcome_kind : {"binary", "count", "continuous"}
    candidates : pandas.DataFrame
        The estimator comparison (AutoCate's ``score_table_``); empty for a named estimator.
    cate_quantiles : mapping of str to float
        Quantiles (p10, p25, p50, p75, p90) of the per-item effect.
    share_positive : float
        Share of items whose CATE interval lies above zero (NaN without intervals).
    share_negative : float
        Share of items whose CATE interval lies below zero.
    segments : pandas.DataFrame
        Segment effects (columns: segment, value, n, effect, effect_ci_lower, effect_ci_upper,
        and band_lower / band_upper for simultaneous bands); empty when not computed.
    drivers : pandas.DataFrame
        Drivers of effect heterogeneity (feature, importance, ...); empty when not computed.
    refutations : pandas.DataFrame
        Columns name, passed, detail; empty when not computed.
    sensitivity : mapping
        ``robustness_value`` and more; empty when not computed.
    overlap : mapping
        Propensity overlap summary; empty when not computed.
    extras : mapping
        Further results keyed by section (targeting, predictive importance, ...).
    true_effect : float or None
        The true average effect when the data were simulated (``true_cate_<outcome>``).
    level : optional
        Multi-valued treatment: the level compared with the control (None otherwise).
    contrast : str or None
        Multi-valued treatment: ``"<level> vs <control>"`` (None otherwise).
    """

    outcome: str
    estimator: str
    why: str
    effect: float
    effect_ci_lower: float
    effect_ci_upper: float
    se: float
    pvalue: float
    control_mean: float
    outcome_kind: str
    candidates: pd.DataFrame
    cate_quantiles: Mapping[str, float]
    share_positive: float
    share_negative: float
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    drivers: pd.DataFrame = field(default_factory=pd.DataFrame)
    refutations: pd.DataFrame = field(default_factory=pd.DataFrame)
    sensitivity: Mapping[str, Any] = field(default_factory=dict)
    overlap: Mapping[str, Any] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)
    true_effect: float | None = None
    level: Any = None
    contrast: str | None = None

    @property
    def label(self) -> str:
        """The outcome, with the contrast for a multi-valued treatment (``saves: large vs
        none``): the name shown in reports."""
        return self.outcome if self.contrast is None else f"{self.outcome}: {self.contrast}"

    @property
    def cate_column(self) -> str:
        """This effect's column in :attr:`WhatWorks.effects` (``cate_<outcome>``, or
        ``cate_<outcome>[<level>]`` for a level of a multi-valued treatment)."""
        return cate_column(self.outcome, self.level if self.contrast is not None else None)

    @property
    def covers_truth(self) -> bool | None:
        """Whether the interval covers the simulator's true effect (None without truth)."""
        if self.true_effect is None:
            return None
        return bool(self.effect_ci_lower <= self.true_effect <= self.effect_ci_upper)

    def ate_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: float(getattr(self, k)) for k in ATE_FIELDS}
        if self.contrast is not None:
            out["level"] = self.level
            out["contrast"] = self.contrast
        return out

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` entry of this outcome (DESIGN.md keys first)."""
        segments = []
        for row in self.segments.to_dict(orient="records"):
            seg = {
                "segment": {str(row["segment"]): row["value"]},
                "n": int(row["n"]),
                "effect": row["effect"],
                "effect_ci_lower": row["effect_ci_lower"],
                "effect_ci_upper": row["effect_ci_upper"],
            }
            for extra in ("band_lower", "band_upper", "true_effect"):
                if extra in row:
                    seg[extra] = row[extra]
            if self.contrast is not None:
                seg["level"] = self.level
                seg["contrast"] = self.contrast
            segments.append(seg)
        out: dict[str, Any] = {
            "estimator": self.estimator,
            "ate": self.ate_dict(),
            "segments": segments,
            "drivers": self.drivers.to_dict(orient="records"),
            "refutations": self.refutations.to_dict(orient="records"),
            "sensitivity": dict(self.sensitivity),
            "overlap": dict(self.overlap),
        }
        if self.contrast is not None:
            out["level"] = self.level
            out["contrast"] = self.contrast
        out["why"] = self.why
        out["control_mean"] = self.control_mean
        out["outcome_kind"] = self.outcome_kind
        out["cate_quantiles"] = dict(self.cate_quantiles)
        out["share_positive"] = self.share_positive
        out["share_negative"] = self.share_negative
        out["candidates"] = self.candidates.to_dict(orient="records")
        for key, value in self.extras.items():
            out[key] = value.to_dict(orient="records") if isinstance(value, pd.DataFrame) else value
        if self.true_effect is not None:
            out["truth"] = {"effect": self.true_effect, "covered": self.covers_truth}
        return out


@dataclass(frozen=True, slots=True, eq=False)
class WhatWorks:
    """What works: the effect of a treatment on each outcome, for whom, why, and how sure.

    Attributes
    ----------
    design : Design
    n : int
        Rows analysed.
    treatment_kind : {"binary", "multi", "continuous"}
    outcomes : tuple of OutcomeEffect
        In ``design.outcomes`` order. A multi-valued treatment has one entry per outcome and
        level (each level vs the control; ``level`` and ``contrast`` set), levels in the
        treatment's order: ``ww["saves", "large"]`` picks one, ``ww["saves"]`` the first.
    effects : pandas.DataFrame, shape (n, 1 + 3 * n_outcomes)
        The unit column, then ``cate_<o>``, ``cate_<o>_ci_lower``, ``cate_<o>_ci_upper``
        per outcome, one row per input row in input order (``effects.parquet``). A
        multi-valued treatment has ``cate_<o>[<level>]`` (and its ``_ci_lower``/``_ci_upper``)
        per level instead, and ``best_level_<o>``: the level with the largest estimated
        effect for the item, or the control when none is above zero (a point-estimate
        ranking, not a tested decision; the targeting tables value each level vs control).
    control : optional
        The control level of a multi-valued treatment (None otherwise).
    attribution : pandas.DataFrame
        The attribution table (attribute, outcome, effect, intervals, p-values, robustness
        value); empty without ``attributes``.
    tradeoffs : mapping
        Multi-outcome targeting trade-offs; empty when not computed.
    graph : mapping
        The causal graph (``dot``, ``svg``) and the identification sentence; empty without one.
    methods : mapping
        Seed, alpha, estimator settings, package versions, data source, timings, and the
        reason for each report section that is absent.
    warnings : tuple of str
        Non-fatal findings (thin overlap, high-cardinality columns, ...).
    model : fitted ``estimators`` model, optional
        The effect model of all outcomes (e.g. to score more rows with
        :func:`causal.spark.score_effects`); not part of ``to_dict``.

    Examples
    --------
    >>> import causal
    >>> df = causal.simulate_content(n=2_000, seed=0)
    >>> d = causal.Design(unit="pin_id", treatment="boosted", outcomes=["saves"],
    ...                   modifiers=["quality_score", "format"], confounders=["age_days"])
    >>> ww = causal.what_works(df, d, progress=False)  # doctest: +SKIP
    >>> ww.to_pandas()[["outcome", "effect"]]  # doctest: +SKIP
    """

    design: Design
    n: int
    treatment_kind: str
    outcomes: tuple[OutcomeEffect, ...]
    effects: pd.DataFrame
    attribution: pd.DataFrame = field(default_factory=pd.DataFrame)
    tradeoffs: Mapping[str, Any] = field(default_factory=dict)
    graph: Mapping[str, Any] = field(default_factory=dict)
    methods: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    control: Any = None
    model: Any = field(default=None, repr=False)

    def __getitem__(self, key: str | tuple[str, Any]) -> OutcomeEffect:
        outcome, level = key if isinstance(key, tuple) else (key, None)
        for o in self.outcomes:
            if o.outcome == outcome and (level is None or str(o.level) == str(level)):
                return o
        levels = sorted({str(o.level) for o in self.outcomes if o.level is not None})
        raise KeyError(
            f"{key!r} is not an effect of this analysis: outcomes {list(self.design.outcomes)}"
            + (f", levels {levels}" if levels else "")
        )

    def to_pandas(self) -> pd.DataFrame:
        """One row per outcome (per outcome and level for a multi-valued treatment): the
        average effect, its interval and the estimator."""
        rows = []
        for o in self.outcomes:
            row = {"outcome": o.outcome, **o.ate_dict(), "estimator": o.estimator}
            row["control_mean"] = o.control_mean
            if o.true_effect is not None:
                row["true_effect"] = o.true_effect
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """``summary.json``: the DESIGN.md keys first, then extra keys."""
        entries: dict[str, dict[str, Any]] = {}
        for o in self.outcomes:
            d = o.to_dict()
            if o.contrast is None:
                entries[o.outcome] = d
                continue
            # multi-valued: the DESIGN.md keys hold the first level vs control (its ``ate``
            # says which contrast); "contrasts" lists every level, each in the same shape
            first = entries.setdefault(o.outcome, {**d, "contrasts": []})
            first["contrasts"].append(d)
        out: dict[str, Any] = {
            "outcomes": entries,
            "attribution": self.attribution.to_dict(orient="records"),
            "design": self.design.to_dict(),
            "n": int(self.n),
        }
        out["treatment_kind"] = self.treatment_kind
        if self.control is not None:
            out["control"] = self.control
            out["levels"] = list(dict.fromkeys(o.level for o in self.outcomes))
        out["findings"] = self.findings()
        if self.tradeoffs:
            out["tradeoffs"] = {
                k: v.to_dict(orient="records") if isinstance(v, pd.DataFrame) else v
                for k, v in self.tradeoffs.items()
            }
        if self.graph:
            out["graph"] = {k: v for k, v in self.graph.items() if k != "svg"}
        out["methods"] = dict(self.methods)
        out["warnings"] = list(self.warnings)
        return out

    def findings(self) -> list[str]:
        """Key findings in plain language, numbers first (the report's opening list)."""
        from causal.report._whatworks import findings

        return findings(self)

    def summary(self) -> str:
        """A plain-text summary: the findings, one per line."""
        return "\n".join(f"- {f}" for f in self.findings())

    def _repr_html_(self) -> str:
        from causal.report._whatworks import whatworks_fragment

        return whatworks_fragment(self)

    def report(self, path: str | os.PathLike[str]) -> Path:
        """Write the what-works report (one self-contained HTML file) and return its path."""
        from causal.report._whatworks import write_whatworks_page

        return write_whatworks_page(self, path)
