"""Item-level effects of a binary boost on several outcomes, with the default estimator.

This is the estimation core of the what-works job: validate the table against its
:class:`~causal.data.Design`, fit :class:`estimators.AutoCate` once for all outcomes
(nuisances cross-fitted by cluster when the design names one, so SEs are cluster-robust),
and return the per-item CATEs with intervals and the doubly-robust ATE per outcome. When the
table carries simulation truth (``true_cate_<outcome>`` columns), the result also compares
the estimates with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from causal.data import Design, validate

__all__ = ["EffectEstimates", "OutcomeEstimate", "estimate_effects"]

CALIBRATION_BINS = 10  # deciles of the estimated CATE for the estimate-vs-truth comparison


@dataclass(frozen=True, slots=True)
class OutcomeEstimate:
    """The doubly-robust ATE of one outcome, and the truth when the data were simulated."""

    outcome: str
    estimator: str
    effect: float
    effect_ci_lower: float
    effect_ci_upper: float
    se: float
    pvalue: float
    true_ate: float | None = None
    cate_truth_corr: float | None = None  # correlation of estimated and true CATE

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True, eq=False)
class EffectEstimates:
    """Per-item CATEs and per-outcome ATEs for a boost.

    Attributes
    ----------
    design : Design
    effects : pandas.DataFrame, shape (n, 1 + 3 * n_outcomes)
        The unit column, then ``cate_<o>``, ``cate_<o>_ci_lower``, ``cate_<o>_ci_upper`` per
        outcome, one row per input row in input order (the ``effects.parquet`` contract).
    outcomes : tuple of OutcomeEstimate
    score_table : pandas.DataFrame
        AutoCate's candidate comparison (loss, SE, paired difference to the best, tied).
    calibration : mapping of str to DataFrame
        Per outcome with truth: mean estimated and mean true CATE per decile of the estimate.
    """

    design: Design
    effects: pd.DataFrame
    outcomes: tuple[OutcomeEstimate, ...]
    score_table: pd.DataFrame
    calibration: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcomes": {o.outcome: o.to_dict() for o in self.outcomes},
            "candidates": self.score_table.to_dict(orient="records"),
            "design": self.design.to_dict(),
            "n": len(self.effects),
        }

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame([o.to_dict() for o in self.outcomes])

    def _repr_html_(self) -> str:
        """The per-outcome ATE table, escaped (notebooks); the same table as :meth:`summary`."""
        from causal.experiments._format import html_table

        rows = [o.to_dict() for o in self.outcomes]
        cols = ["outcome", "effect", "effect_ci_lower", "effect_ci_upper", "se", "pvalue"]
        cols += ["estimator"] + (
            ["true_ate"] if any(o.true_ate is not None for o in self.outcomes) else []
        )
        caption = f"Boost effects ({len(self.effects):,} items; doubly-robust ATE, 95% CI)"
        return html_table(rows, cols, caption=caption)

    def summary(self) -> str:
        lines = [f"Boost effects ({len(self.effects):,} items; doubly-robust ATE, 95% CI)"]
        for o in self.outcomes:
            truth = "" if o.true_ate is None else f"   true {o.true_ate:.4g}"
            lines.append(
                f"  {o.outcome:<16} {o.effect:>10.4g}  [{o.effect_ci_lower:.4g}, "
                f"{o.effect_ci_upper:.4g}]  p={o.pvalue:.2g}  ({o.estimator}){truth}"
            )
        return "\n".join(lines)


def _calibration(est: np.ndarray, true: np.ndarray) -> pd.DataFrame:
    """Mean estimated and true CATE per quantile bin of the estimate."""
    ranks = pd.Series(est).rank(method="first").to_numpy()
    bins = np.minimum((ranks - 1) * CALIBRATION_BINS // len(est), CALIBRATION_BINS - 1)
    frame = pd.DataFrame({"bin": bins.astype(int), "estimated": est, "true": true})
    return frame.groupby("bin", sort=True)[["estimated", "true"]].mean().reset_index()


def estimate_effects(
    data: pd.DataFrame,
    design: Design,
    *,
    seed: int = 0,
    alpha: float = 0.05,
    n_jobs: int | None = None,
) -> EffectEstimates:
    """Estimate a binary boost's item-level and average effects on every outcome.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per item (never modified).
    design : Design
        Roles; the treatment must be binary 0/1. ``cluster`` (e.g. creator) makes the
        cross-fitting split by cluster and the ATE standard errors cluster-robust.
    seed : int
        Random state of the estimator.
    alpha : float
        1 - confidence level of the intervals.

    Examples
    --------
    >>> import causal
    >>> df = causal.simulate_content(n=3000, seed=2)
    >>> d = causal.Design(unit="pin_id", treatment="boosted", outcomes=["saves"],
    ...                   modifiers=["quality_score", "format"],
    ...                   confounders=["creator_followers", "prior_impressions", "age_days"])
    >>> est = estimate_effects(df, d)  # doctest: +SKIP
    """
    import estimators

    validate(data, design, require_binary=True)
    outcomes = list(design.outcomes)
    modifiers = list(design.modifiers)
    confounders = [c for c in design.confounders if c not in modifiers]
    X = data[modifiers].copy() if modifiers else None
    if X is not None:  # text columns become categoricals, used natively by the models
        for col in X.columns:
            if X[col].dtype == object or pd.api.types.is_string_dtype(X[col]):
                X[col] = X[col].astype("category")
    W = data[confounders].copy() if confounders else None
    groups = data[design.cluster].to_numpy() if design.cluster else None
    model = estimators.AutoCate(random_state=seed, require_intervals=True, n_jobs=n_jobs)
    model.fit(data[outcomes], data[design.treatment].to_numpy(), X=X, W=W, groups=groups)

    cate = np.asarray(model.effect(X), dtype=float).reshape(len(data), len(outcomes))
    lo, hi = model.effect_interval(X, alpha=alpha)
    lo = np.asarray(lo, dtype=float).reshape(cate.shape)
    hi = np.asarray(hi, dtype=float).reshape(cate.shape)
    effects = pd.DataFrame({design.unit: data[design.unit].to_numpy()})
    for j, o in enumerate(outcomes):
        effects[f"cate_{o}"] = cate[:, j]
        effects[f"cate_{o}_ci_lower"] = lo[:, j]
        effects[f"cate_{o}_ci_upper"] = hi[:, j]

    results, calibration = [], {}
    for j, o in enumerate(outcomes):
        ate = model.ate_inference(alpha=alpha, outcome=o)
        true_ate = corr = None
        if f"true_cate_{o}" in data.columns:
            truth = data[f"true_cate_{o}"].to_numpy(dtype=float)
            true_ate = float(truth.mean())
            corr = float(np.corrcoef(cate[:, j], truth)[0, 1]) if cate[:, j].std() > 0 else None
            calibration[o] = _calibration(cate[:, j], truth)
        results.append(
            OutcomeEstimate(
                outcome=o,
                estimator=str(model.selected_),
                effect=ate.effect,
                effect_ci_lower=ate.effect_ci_lower,
                effect_ci_upper=ate.effect_ci_upper,
                se=ate.se,
                pvalue=ate.pvalue,
                true_ate=true_ate,
                cate_truth_corr=corr,
            )
        )
    return EffectEstimates(
        design=design,
        effects=effects,
        outcomes=tuple(results),
        score_table=model.score_table_.reset_index(drop=True),
        calibration=calibration,
    )
