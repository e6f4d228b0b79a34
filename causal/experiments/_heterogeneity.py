"""Effect heterogeneity inside an experiment readout: who gains, and is it worth targeting?

A randomized test is the cleanest data for heterogeneity: the assignment probability is known,
so the doubly-robust score of each unit needs no propensity model. For each success metric
(``mean``/``proportion``; ratio metrics are skipped with a note) and each treatment arm vs
control, on the ``heterogeneity`` columns:

1. scores ``Gamma_i = mu1(x) - mu0(x) + T (y - mu1(x)) / p - (1 - T)(y - mu0(x)) / (1 - p)``
   with the known assignment probability ``p`` (the configured ``expected_split``, else the
   observed share) and outcome models ``mu_t`` cross-fitted by LightGBM on the columns;
2. an effect model: LightGBM regression of the scores on the columns (a DR-learner), its
   predictions out of fold;
3. from :func:`estimators.evaluate_scores`: the calibration test ("is there heterogeneity worth
   targeting?": the one-sided BLP test), GATEs per column value with a simultaneous band,
   GATES/Qini/RATE;
4. the value of shipping only to the segments that benefit: the cells of the columns (numeric
   columns cut at their quartiles) whose effect is positive, chosen on the other folds and
   valued on the held-out fold, against shipping to everyone, with intervals.

Sized for experiment tables: above :data:`MAX_ROWS` units the analysis runs on a stratified
subsample (variant × cell, proportional), recorded in the output (``n_total``, ``n_used``,
``subsampled``). Cluster-robust when the design has a ``cluster``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from causal._errors import ConfigError

__all__ = [
    "MAX_ROWS",
    "HeterogeneityResult",
    "as_json",
    "heterogeneity_analysis",
    "with_heterogeneity",
]

#: Units analysed at most; larger tables are subsampled (stratified by variant × cell).
MAX_ROWS = 200_000
#: Cross-fitting folds.
FOLDS = 5
#: At most this many cells for "ship to the segments that benefit" (else the first column).
MAX_CELLS = 64
#: LightGBM settings of the outcome and effect models (regularised; experiment tables are noisy).
LGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 150,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 100,
    "subsample": 0.8,
    "subsample_freq": 1,
    "verbose": -1,
    "n_jobs": 1,
}


@dataclass(frozen=True)
class HeterogeneityResult:
    """Heterogeneity of one metric's effect for one arm.

    Attributes
    ----------
    metric, variant : str
    columns : tuple of str
    n_total, n_used : int
        Units in the experiment (these two arms) and units analysed.
    subsampled : bool
    assignment_probability : float
        ``P(variant | variant or control)`` used in the scores, and ``probability_source``
        ("expected_split" or "observed share").
    evaluation : estimators.Evaluation
        Calibration (``blp``), GATEs with band (``gate``), GATES, Qini/RATE.
    targeting : DataFrame
        Rows "ship to all", "ship to benefiting segments", "ship to none" and the gain of
        targeting over shipping to all: effect (per unit), se, effect_ci_lower,
        effect_ci_upper, share_shipped.
    heterogeneous : bool
        The calibration test rejects "no heterogeneity the model can rank" at ``alpha``.
    verdict : str
    """

    metric: str
    variant: str
    columns: tuple[str, ...]
    n_total: int
    n_used: int
    subsampled: bool
    assignment_probability: float
    probability_source: str
    evaluation: Any
    targeting: pd.DataFrame
    heterogeneous: bool
    verdict: str
    alpha: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``heterogeneity`` entries of readout.json)."""
        ev = self.evaluation.to_dict()
        return {
            "metric": self.metric,
            "variant": self.variant,
            "columns": list(self.columns),
            "n_total": self.n_total,
            "n_used": self.n_used,
            "subsampled": self.subsampled,
            "max_rows": MAX_ROWS,
            "assignment_probability": self.assignment_probability,
            "probability_source": self.probability_source,
            "heterogeneous": self.heterogeneous,
            "verdict": self.verdict,
            "calibration": ev["blp"],
            "gate": ev["gate"],
            "band_critical_value": ev["band_critical_value"],
            "gates": ev["gates"],
            "rate": ev["rate"],
            "targeting": [
                {
                    k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                    for k, v in r.items()
                }
                for r in self.targeting.to_dict("records")
            ],
            "notes": list(self.notes),
        }


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns as segment labels: categorical as is, numeric cut at quartiles (ranges)."""
    out = {}
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and s.nunique() > 8:
            edges = np.unique(np.quantile(s.to_numpy(dtype=float), [0, 0.25, 0.5, 0.75, 1]))
            cut = pd.cut(s, edges, include_lowest=True, duplicates="drop")
            out[c] = cut.astype(str)
        else:
            out[c] = s.astype(str)
    return pd.DataFrame(out, index=frame.index)


def _subsample(strata: np.ndarray, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a proportional stratified subsample of ``max_rows`` rows (sorted)."""
    n = strata.size
    frac = max_rows / n
    keep = []
    for code in np.unique(strata):
        rows = np.flatnonzero(strata == code)
        k = max(1, int(round(frac * rows.size)))
        keep.append(rng.choice(rows, min(k, rows.size), replace=False))
    return np.sort(np.concatenate(keep))


def _folds(t: np.ndarray, groups: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Fold of each unit: the estimators' own split (stratified by arm, clusters kept whole)."""
    from estimators.inference import make_folds

    if groups is not None and np.unique(groups).size < FOLDS:
        raise ConfigError(
            f"heterogeneity needs at least {FOLDS} clusters to cross-fit; the design's "
            f"cluster column has {np.unique(groups).size}."
        )
    seed = int(rng.integers(2**31 - 1))
    return make_folds(t.size, FOLDS, strata=(t == 1).astype(int), groups=groups, seed=seed)


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c])):
            out[c] = out[c].astype("category")
    return out


def _one(
    y: np.ndarray,
    t: np.ndarray,
    X: pd.DataFrame,
    cells: pd.DataFrame,
    groups: np.ndarray | None,
    p: float,
    alpha: float,
    rng: np.random.Generator,
) -> tuple[Any, pd.DataFrame]:
    from lightgbm import LGBMRegressor

    import estimators

    n = y.size
    seed = int(rng.integers(2**31 - 1))
    folds = _folds(t, groups, rng)
    mu0, mu1, tau = np.zeros(n), np.zeros(n), np.zeros(n)
    for k in range(FOLDS):
        tr, te = folds != k, folds == k
        for arm, out in ((0, mu0), (1, mu1)):
            rows = tr & (t == arm)
            model = LGBMRegressor(**LGBM_PARAMS, random_state=seed).fit(X[rows], y[rows])
            out[te] = model.predict(X[te])
    scores = estimators.aipw_scores(y, t == 1, t == 0, mu1, mu0, np.full(n, p), np.full(n, 1 - p))
    for k in range(FOLDS):
        tr, te = folds != k, folds == k
        model = LGBMRegressor(**LGBM_PARAMS, random_state=seed).fit(X[tr], scores[tr])
        tau[te] = model.predict(X[te])
    ev = estimators.evaluate_scores(
        scores,
        tau,
        segments=cells,
        groups=groups,
        features=X,
        alpha=alpha,
        n_groups=4,
        random_state=rng,
        cate_source="out-of-fold DR-learner (LightGBM) with the known assignment probability",
    )
    # ship only to cells whose effect (estimated on the other folds) is positive
    cell_id = cells.astype(str).agg(" & ".join, axis=1) if cells.shape[1] > 1 else cells.iloc[:, 0]
    if cell_id.nunique() > MAX_CELLS:
        cell_id = cells.iloc[:, 0]
    codes = pd.factorize(cell_id)[0]
    ship = np.zeros(n)
    for k in range(FOLDS):
        tr, te = folds != k, folds == k
        sums = np.bincount(codes[tr], weights=scores[tr], minlength=codes.max() + 1)
        counts = np.bincount(codes[tr], minlength=codes.max() + 1)
        good = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0) > 0
        ship[te] = good[codes[te]]
    rows = []
    for name, s, share in (
        ("ship to all", scores, 1.0),
        ("ship to benefiting segments", scores * ship, float(ship.mean())),
        ("gain of targeting over shipping to all", scores * ship - scores, float(ship.mean())),
    ):
        r = estimators.mean_effect_from_scores(s, groups=groups, alpha=alpha)
        rows.append(
            {
                "policy": name,
                "effect": r.effect,
                "se": r.se,
                "effect_ci_lower": r.effect_ci_lower,
                "effect_ci_upper": r.effect_ci_upper,
                "share_shipped": share,
            }
        )
    return ev, pd.DataFrame(rows)


def heterogeneity_analysis(
    data: pd.DataFrame,
    design: Any,
    columns: Sequence[str],
    *,
    alpha: float = 0.05,
    max_rows: int = MAX_ROWS,
    random_state: int = 0,
) -> tuple[HeterogeneityResult, ...]:
    """Heterogeneity of every success metric's effect, per arm, on ``columns``.

    Parameters
    ----------
    data : DataFrame
        Unit-level (or row-level with ``design.unit``: summed per unit) experiment data.
    design : causal.ExperimentDesign
    columns : sequence of str
        Columns whose effect heterogeneity to estimate (pre-treatment attributes).
    alpha : float
    max_rows : int
        Stratified subsample above this many units (recorded).
    random_state : int

    Returns
    -------
    tuple of HeterogeneityResult
    """
    from causal.data import Mean, Proportion

    columns = tuple(columns)
    if not columns:
        raise ConfigError("'heterogeneity' lists no columns; name at least one segment column.")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ConfigError(
            f"heterogeneity column(s) {missing} are not in the data; available: "
            f"{list(data.columns)[:20]}."
        )
    if max_rows < 1000:
        raise ConfigError(f"max_rows must be at least 1000; got {max_rows}.")
    rng = np.random.default_rng(random_state)
    variant = design.variant
    metrics = [m for m in design.metrics if isinstance(m, Mean | Proportion)]
    skipped = [m.name for m in design.metrics if not isinstance(m, Mean | Proportion)]
    df = data
    if design.unit is not None and df[design.unit].duplicated().any():
        agg = {m.column: "sum" for m in metrics} | {c: "first" for c in (variant, *columns)}
        if design.cluster is not None:
            agg[design.cluster] = "first"
        df = df.groupby(design.unit, sort=False).agg(agg).reset_index()
    for c in columns:
        if df[c].isna().any():
            raise ConfigError(
                f"heterogeneity column {c!r} has {int(df[c].isna().sum())} missing values; "
                "fill them (e.g. 'unknown') or drop the column."
            )
    labels = df[variant].astype(str)
    control = str(design.control)
    arms = [v for v in pd.unique(labels) if v != control]
    split = design.expected_split
    results = []
    for arm in arms:
        sub = df[(labels == control) | (labels == arm)].reset_index(drop=True)
        t = (sub[variant].astype(str) == arm).to_numpy(dtype=float)
        n_total = len(sub)
        cells = _cells(sub[list(columns)])
        strata = pd.factorize(
            pd.Series(t.astype(int)).astype(str) + "|" + cells.astype(str).agg("|".join, axis=1)
        )[0]
        notes = []
        if n_total > max_rows:
            keep = _subsample(strata, max_rows, rng)
            notes.append(
                f"Stratified subsample of {keep.size:,} of {n_total:,} units (variant × cell, "
                f"proportional; seed {random_state})."
            )
        else:
            keep = np.arange(n_total)
        sub, t, cells = sub.iloc[keep].reset_index(drop=True), t[keep], cells.iloc[keep]
        cells = cells.reset_index(drop=True)
        if split is not None and arm in split and control in split:
            p = split[arm] / (split[arm] + split[control])
            source = "expected_split"
        else:
            p = float(t.mean())
            source = "observed share"
        groups = None
        if design.cluster is not None:
            groups = pd.factorize(sub[design.cluster])[0]
        X = _features(sub[list(columns)])
        for m in metrics:
            y = sub[m.column].to_numpy(dtype=float)
            if not np.isfinite(y).all():
                raise ConfigError(f"Metric {m.name!r} (column {m.column!r}) has missing values.")
            ev, targeting = _one(y, t, X, cells, groups, p, alpha, rng)
            het = bool(ev.heterogeneity_pvalue < alpha)
            gain = targeting.iloc[2]
            if het and gain["effect_ci_lower"] > 0:
                verdict = (
                    "Heterogeneity worth targeting: the effect model ranks units (calibration "
                    f"p = {ev.heterogeneity_pvalue:.3g}) and shipping only to the segments that "
                    f"benefit gains {gain['effect']:.4g} per unit over shipping to all."
                )
            elif het:
                verdict = (
                    f"The effect varies (calibration p = {ev.heterogeneity_pvalue:.3g}), but "
                    "shipping only to benefiting segments does not beat shipping to all "
                    "significantly."
                )
            else:
                verdict = (
                    "No heterogeneity detected: the calibration test does not reject "
                    f"(p = {ev.heterogeneity_pvalue:.3g}); read the overall effect."
                )
            results.append(
                HeterogeneityResult(
                    metric=m.name,
                    variant=arm,
                    columns=columns,
                    n_total=n_total,
                    n_used=len(sub),
                    subsampled=len(sub) < n_total,
                    assignment_probability=float(p),
                    probability_source=source,
                    evaluation=ev,
                    targeting=targeting,
                    heterogeneous=het,
                    verdict=verdict,
                    alpha=alpha,
                    notes=tuple(
                        notes + [f"Ratio metrics skipped: {', '.join(skipped)}."] * bool(skipped)
                    ),
                )
            )
    return tuple(results)


def as_json(results: Sequence[HeterogeneityResult]) -> list[Mapping[str, Any]]:
    """``readout.json``'s ``heterogeneity`` list."""
    return [r.to_dict() for r in results]


def with_heterogeneity(
    ro: Any,
    data: Any,
    design: Any,
    columns: Sequence[str],
    *,
    alpha: float,
    connection: Any = None,
) -> Any:
    """``ro`` with its ``heterogeneity`` field filled (the hook of :func:`readout`)."""
    import dataclasses

    from causal.data import Mean, Proportion, read_table

    needed = [design.variant, *columns]
    needed += [m.column for m in design.metrics if isinstance(m, Mean | Proportion)]
    needed += [c for c in (design.unit, design.cluster) if c is not None]
    needed = list(dict.fromkeys(needed))
    if isinstance(data, pd.DataFrame):
        missing = [c for c in needed if c not in data.columns]
        if missing:
            raise ConfigError(
                f"heterogeneity needs column(s) {missing}, which are not in the data."
            )
        frame = data[needed]
    else:
        frame = read_table(data, columns=needed, connection=connection)
    results = heterogeneity_analysis(frame, design, columns, alpha=alpha)
    return dataclasses.replace(ro, heterogeneity=results)
