"""Frozen result types of :mod:`causal.graph` (DESIGN.md field names, JSON-ready ``to_dict``).

Each renders in Jupyter through ``_repr_html_``, built from the same escaped table helper the
reports use (:func:`causal.experiments._format.html_table`).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from causal.experiments._format import html_table
from causal.stats._results import _plain  # numpy -> plain JSON values, one definition

__all__ = [
    "AttributionTable",
    "Balance",
    "Identification",
    "Overlap",
    "RefutationResult",
    "Robustness",
    "Sensitivity",
]


@dataclass(frozen=True, slots=True)
class Identification:
    """What the graph identifies: the estimand, the adjustment set, in plain words.

    Attributes
    ----------
    treatment, outcome : str
    method : {"backdoor", "frontdoor", "iv", "no_path"}
        How the effect is identified (``"no_path"``: no directed path, the effect is zero by
        the graph's assumptions).
    adjustment_set : tuple of str
        Back-door adjustment set (the confounders ``W`` to adjust for).
    frontdoor : tuple of str
        Front-door mediators, when the graph offers them.
    instruments : tuple of str
        Instrumental variables, when the graph offers them.
    sentence : str
        The identification in plain words.
    estimand : str
        DoWhy's estimand expression for the chosen method.
    """

    treatment: str
    outcome: str
    method: str
    adjustment_set: tuple[str, ...]
    frontdoor: tuple[str, ...]
    instruments: tuple[str, ...]
    sentence: str
    estimand: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python fields (JSON-ready)."""
        return {
            "treatment": self.treatment,
            "outcome": self.outcome,
            "method": self.method,
            "adjustment_set": list(self.adjustment_set),
            "frontdoor": list(self.frontdoor),
            "instruments": list(self.instruments),
            "sentence": self.sentence,
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row."""
        d = self.to_dict()
        for k in ("adjustment_set", "frontdoor", "instruments"):
            d[k] = ", ".join(d[k])
        return pd.DataFrame([d])

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.sentence)}</p>"

    def __str__(self) -> str:
        return self.sentence


@dataclass(frozen=True, slots=True)
class RefutationResult:
    """One refutation test: did the estimate survive it?

    Attributes
    ----------
    name : str
        ``placebo_treatment``, ``random_common_cause``, ``data_subset``, ``bootstrap`` or
        ``dummy_outcome``.
    passed : bool
    detail : str
        A one-line reading with the numbers.
    estimate : float
        The original estimate.
    new_effect : float
        The refuter's effect (mean over simulations where there are several).
    pvalue : float
        The refuter's test statistic as a p-value where one applies (NaN otherwise).
    n_simulations : int
    seconds : float
        Wall time of this refuter.
    """

    name: str
    passed: bool
    detail: str
    estimate: float = math.nan
    new_effect: float = math.nan
    pvalue: float = math.nan
    n_simulations: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The DESIGN.md fields ``{name, passed, detail}``."""
        return {"name": self.name, "passed": bool(self.passed), "detail": self.detail}

    def to_pandas(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame(
            [{f: _plain(getattr(self, f)) for f in self.__dataclass_fields__}]  # type: ignore[attr-defined]
        )

    def _repr_html_(self) -> str:
        return html_table([self.to_dict()], ["name", "passed", "detail"])


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """Sensitivity of an estimate to an unobserved confounder (Cinelli & Hazlett 2020).

    The confounder's strength is two partial R²: with the treatment (given the adjustment set)
    and with the outcome (given treatment and adjustment set). The bias it can cause is
    ``S * sqrt(r2_y * r2_t / (1 - r2_t))`` with ``S = sqrt(E[(Y - g)^2] E[alpha^2])`` (``g`` the
    outcome regression, ``alpha`` the Riesz representer of the effect: for a linear model
    ``S = se * sqrt(dof)``, Cinelli–Hazlett's formula; for the doubly-robust ATE the bound of
    Chernozhukov, Cinelli, Newey, Sharma & Syrgkanis 2022).

    Attributes
    ----------
    estimate, se : float
    robustness_value : float
        ``RV``: the equal strength (partial R² with treatment and outcome) a confounder needs
        to bring the estimate to zero.
    robustness_value_alpha : float
        The strength that makes the ``1 - alpha`` interval include zero.
    partial_r2_treatment : float
        Partial R² of the treatment with the outcome (``f^2 / (1 + f^2)``): a confounder that
        explains all the outcome's residual variance needs at least this much with the treatment.
    scale : float
        ``S`` above.
    benchmarks : tuple of dict
        For each observed covariate (``k`` times as strong): ``covariate``, ``k``,
        ``r2_treatment``, ``r2_outcome``, ``bias``, ``adjusted_estimate``,
        ``adjusted_ci_lower``, ``adjusted_ci_upper``.
    robust : bool
        No benchmark confounder as strong as an observed covariate (``k = 1``) brings the estimate
        to zero.
    strongest_benchmark : str
        The covariate whose ``k = 1`` benchmark causes the largest bias.
    evalue, evalue_ci : float or None
        E-values (VanderWeele & Ding 2017) of the risk ratio and of its interval limit closest
        to 1, for binary (0/1) outcomes; None otherwise.
    risk_ratio : float or None
    alpha : float
    """

    estimate: float
    se: float
    robustness_value: float
    robustness_value_alpha: float
    partial_r2_treatment: float
    scale: float
    dof: int
    benchmarks: tuple[dict[str, Any], ...]
    robust: bool
    strongest_benchmark: str
    evalue: float | None = None
    evalue_ci: float | None = None
    risk_ratio: float | None = None
    alpha: float = 0.05
    reading: str = ""

    def adjusted(self, r2_treatment: Any, r2_outcome: Any) -> np.ndarray:
        """The estimate after removing the bias of a confounder of the given strengths."""
        r2t = np.asarray(r2_treatment, dtype=float)
        r2y = np.asarray(r2_outcome, dtype=float)
        bias = self.scale * np.sqrt(r2y * r2t / np.maximum(1.0 - r2t, 1e-12))
        return np.sign(self.estimate) * (abs(self.estimate) - bias)

    def to_dict(self) -> dict[str, Any]:
        """``robustness_value`` first, then the other fields (JSON-ready)."""
        return {
            "robustness_value": float(self.robustness_value),
            "robustness_value_alpha": float(self.robustness_value_alpha),
            "partial_r2_treatment": float(self.partial_r2_treatment),
            "estimate": float(self.estimate),
            "robust": bool(self.robust),
            "strongest_benchmark": self.strongest_benchmark,
            "benchmarks": _plain(list(self.benchmarks)),
            "evalue": self.evalue,
            "evalue_ci": self.evalue_ci,
            "risk_ratio": self.risk_ratio,
            "reading": self.reading,
        }

    def to_pandas(self) -> pd.DataFrame:
        """The benchmark table (one row per covariate)."""
        return pd.DataFrame(list(self.benchmarks))

    def plot(self, *, lim: float | None = None) -> Any:
        """Contour plot of the adjusted estimate over the confounder's two partial R².

        The red dashed line is where the estimate reaches zero; benchmarks are marked.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from matplotlib.figure import Figure

        top = max(
            [0.3, 1.5 * self.robustness_value]
            + [1.2 * b["r2_treatment"] for b in self.benchmarks]
            + [1.2 * b["r2_outcome"] for b in self.benchmarks]
        )
        top = min(lim or top, 0.99)
        grid = np.linspace(0.0, top, 101)
        gx, gy = np.meshgrid(grid, grid)
        z = self.adjusted(gx, gy)
        fig = Figure(figsize=(5.5, 4.5))
        ax = fig.add_subplot()
        cs = ax.contour(gx, gy, z, levels=10, colors="0.4", linewidths=0.8)
        ax.clabel(cs, fontsize=7, fmt="%.3g")
        if z.min() < 0 < z.max():
            ax.contour(gx, gy, z, levels=[0.0], colors="red", linestyles="--", linewidths=1.5)
        for b in self.benchmarks:
            if b["k"] == 1 and b["r2_treatment"] <= top and b["r2_outcome"] <= top:
                ax.plot(b["r2_treatment"], b["r2_outcome"], "D", color="C3", ms=4)
                ax.annotate(
                    f"1x {b['covariate']}",
                    (b["r2_treatment"], b["r2_outcome"]),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        ax.plot([self.robustness_value], [self.robustness_value], "o", color="k", ms=4)
        ax.set_xlabel("partial R² of confounder with treatment")
        ax.set_ylabel("partial R² of confounder with outcome")
        ax.set_title(f"Adjusted estimate (RV = {self.robustness_value:.1%})", fontsize=10)
        return fig

    def _repr_html_(self) -> str:
        cols = ["covariate", "k", "r2_treatment", "r2_outcome", "adjusted_estimate"]
        return f"<p>{html.escape(self.reading)}</p>" + html_table(
            [b for b in self.benchmarks if b["k"] == 1], cols
        )


@dataclass(frozen=True, slots=True)
class Overlap:
    """Positivity: propensity distribution per arm, extreme shares, trimmed re-estimate.

    Attributes
    ----------
    quantiles : dict
        ``{arm: {q: propensity}}`` for q in 0, .01, .05, .25, .5, .75, .95, .99, 1.
    share_outside : float
        Share of units whose propensity is outside ``[lower, upper]``.
    lower, upper : float
    histogram : dict
        ``{"edges": [...], arm: [counts]}`` (20 bins on [0, 1]).
    estimate : float
        The effect on all units.
    trimmed_estimate, trimmed_ci_lower, trimmed_ci_upper : float
        The effect on the units inside ``[lower, upper]`` (NaN when not trimmed).
    n, n_trimmed : int
        Units in total / kept after trimming.
    estimand_note : str
        What the trimmed estimate estimates.
    ok : bool
        ``share_outside <= 0.05``.
    """

    quantiles: dict[str, dict[str, float]]
    share_outside: float
    lower: float
    upper: float
    histogram: dict[str, list[float]]
    estimate: float
    trimmed_estimate: float
    trimmed_ci_lower: float
    trimmed_ci_upper: float
    n: int
    n_trimmed: int
    estimand_note: str
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        """Every field (JSON-ready)."""
        return {f: _plain(getattr(self, f)) for f in self.__dataclass_fields__}  # type: ignore[attr-defined]

    def to_pandas(self) -> pd.DataFrame:
        """Propensity quantiles, one row per arm."""
        return pd.DataFrame(self.quantiles).T.rename_axis("arm").reset_index()

    def plot(self) -> Any:
        """Histogram of the propensity per arm (matplotlib Figure)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.5, 3.2))
        ax = fig.add_subplot()
        edges = np.asarray(self.histogram["edges"])
        for arm, counts in self.histogram.items():
            if arm == "edges":
                continue
            c = np.asarray(counts, dtype=float)
            ax.stairs(c / max(c.sum(), 1.0), edges, label=str(arm))
        for v in (self.lower, self.upper):
            ax.axvline(v, color="red", ls="--", lw=0.8)
        ax.set_xlabel("estimated propensity")
        ax.set_ylabel("share of arm")
        ax.legend(fontsize=8)
        return fig

    def _repr_html_(self) -> str:
        rows = [{"arm": a, **q} for a, q in self.quantiles.items()]
        cols = ["arm", *next(iter(self.quantiles.values())).keys()]
        return (
            f"<p>{self.share_outside:.1%} of units have a propensity outside "
            f"[{self.lower}, {self.upper}]. {html.escape(self.estimand_note)}</p>"
            + html_table(rows, cols)
        )


@dataclass(frozen=True, slots=True)
class Balance:
    """Covariate balance: standardized mean differences before and after weighting.

    Attributes
    ----------
    table : tuple of dict
        Per covariate (one-hot level for categoricals): ``covariate``, ``smd_before``,
        ``smd_after``, ``flagged`` (``|smd_after| > threshold``).
    threshold : float
    n_flagged_before, n_flagged_after : int
    """

    table: tuple[dict[str, Any], ...]
    threshold: float
    n_flagged_before: int
    n_flagged_after: int

    def to_dict(self) -> dict[str, Any]:
        """Every field (JSON-ready)."""
        return {
            "threshold": self.threshold,
            "n_flagged_before": self.n_flagged_before,
            "n_flagged_after": self.n_flagged_after,
            "table": _plain(list(self.table)),
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per covariate."""
        return pd.DataFrame(list(self.table))

    def _repr_html_(self) -> str:
        return html_table(list(self.table), ["covariate", "smd_before", "smd_after", "flagged"])


@dataclass(frozen=True, slots=True)
class Robustness:
    """All robustness checks of one effect estimate.

    Attributes
    ----------
    treatment, outcome : str
    estimate, se, effect_ci_lower, effect_ci_upper : float
        The estimate under test (doubly-robust ATE, or the partially linear effect for a
        continuous treatment).
    refutations : tuple of RefutationResult
    sensitivity : Sensitivity or None
    overlap : Overlap or None
        None for a continuous treatment.
    balance : Balance or None
        None for a continuous treatment.
    seconds : float
        Wall time of the whole suite.
    """

    treatment: str
    outcome: str
    estimate: float
    se: float
    effect_ci_lower: float
    effect_ci_upper: float
    refutations: tuple[RefutationResult, ...]
    sensitivity: Sensitivity | None
    overlap: Overlap | None
    balance: Balance | None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Every refutation passed."""
        return all(r.passed for r in self.refutations)

    def to_dict(self) -> dict[str, Any]:
        """``{"refutations": [{name, passed, detail}], "sensitivity": {...}, "overlap": {...},
        "balance": {...}}`` — the per-outcome keys of ``summary.json``."""
        return {
            "refutations": [r.to_dict() for r in self.refutations],
            "sensitivity": None if self.sensitivity is None else self.sensitivity.to_dict(),
            "overlap": None if self.overlap is None else self.overlap.to_dict(),
            "balance": None if self.balance is None else self.balance.to_dict(),
        }

    def to_pandas(self) -> pd.DataFrame:
        """The refutations, one row each."""
        return pd.concat([r.to_pandas() for r in self.refutations], ignore_index=True)

    def _repr_html_(self) -> str:
        parts = [
            f"<p>{html.escape(self.treatment)} → {html.escape(self.outcome)}: estimate "
            f"{self.estimate:.4g} [{self.effect_ci_lower:.4g}, {self.effect_ci_upper:.4g}]</p>",
            html_table([r.to_dict() for r in self.refutations], ["name", "passed", "detail"]),
        ]
        for part in (self.sensitivity, self.overlap, self.balance):
            if part is not None:
                parts.append(part._repr_html_())
        return "\n".join(parts)


#: The ``summary.json`` fields of one attribution row (DESIGN.md).
ATTRIBUTION_FIELDS: tuple[str, ...] = (
    "attribute",
    "outcome",
    "effect",
    "effect_ci_lower",
    "effect_ci_upper",
    "pvalue",
    "pvalue_adjusted",
    "robustness_value",
)


@dataclass(frozen=True, slots=True)
class AttributionTable:
    """Which content attributes cause which outcomes: one row per attribute (level) x outcome.

    Attributes
    ----------
    rows : tuple of dict
        Ranked rows. Each has the DESIGN.md fields (``attribute``, ``outcome``, ``effect``,
        ``effect_ci_lower``, ``effect_ci_upper``, ``pvalue``, ``pvalue_adjusted``,
        ``robustness_value``) and: ``variable`` (the column), ``kind`` (binary / categorical /
        continuous), ``level``, ``reference``, ``se``, ``effect_per_sd`` (+ interval;
        continuous only), ``std_effect`` (effect in outcome SDs; per attribute SD for
        continuous), ``adjustment_set``, ``refutations_passed``, ``refutations`` (list of
        ``{name, passed, detail}``), ``robust``, ``significant``, ``rank``, ``n``.
    alpha : float
    correction : str
        Multiple-testing correction across the whole table (``"bh"``: Benjamini–Hochberg).
    identifications : tuple of Identification
    seconds : float
    """

    rows: tuple[dict[str, Any], ...]
    alpha: float
    correction: str
    identifications: tuple[Identification, ...] = ()
    seconds: float = 0.0

    def to_dict(self) -> list[dict[str, Any]]:
        """The ``attribution`` list of ``summary.json``: exactly the DESIGN.md fields."""
        return [{k: _plain(r[k]) for k in ATTRIBUTION_FIELDS} for r in self.rows]

    def to_pandas(self) -> pd.DataFrame:
        """Every column, one row per attribute (level) x outcome, ranked."""
        df = pd.DataFrame([{k: v for k, v in r.items() if k != "refutations"} for r in self.rows])
        if "adjustment_set" in df:
            df["adjustment_set"] = df["adjustment_set"].map(", ".join)
        return df

    def _repr_html_(self) -> str:
        cols = [
            "rank",
            *ATTRIBUTION_FIELDS,
            "std_effect",
            "refutations_passed",
            "robust",
        ]
        return html_table(list(self.rows), cols, caption="Attribution (ranked; BH-adjusted)")
