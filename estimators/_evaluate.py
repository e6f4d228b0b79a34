"""``evaluate``: does a fitted CATE model rank units correctly, and what is targeting worth?

One call returns segment effects (GATE) with a simultaneous band, the best-linear-predictor
calibration test, GATES/CLAN by CATE quantile, the Qini/TOC curves with RATE (AUTOC, Qini
coefficient) and the value of "boost the top k%" policies, all with intervals. The numbers come
from the pure functions in :mod:`estimators._scores`; this module gathers the doubly-robust
scores and honest CATE predictions and assembles the result.
"""

from __future__ import annotations

import hashlib
import html
import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from estimators._aipw import ATEResult, mean_effect_from_scores
from estimators._base import BaseCate, Context, build_context
from estimators._errors import EstimatorInputError
from estimators._nuisance import make_folds, one_blas_thread
from estimators._params import Integer, Real, check_params, resolve_rng
from estimators._scores import (
    blp_test,
    clan_table,
    descending_order,
    gate_table,
    median_rule,
    quantile_gates,
    rank_groups,
    rate_table,
    uplift_curve,
)

__all__ = [
    "Evaluation",
    "ScoreContext",
    "dr_scores",
    "evaluate",
    "evaluate_scores",
    "honest_cate",
    "honest_cate_all",
    "score_context",
]

#: Default shares for the uplift curve and the top-share policy values.
DEFAULT_SHARES = tuple(round(0.05 * i, 2) for i in range(1, 21))
#: Default repeated splits on the fitting rows, and the row count above which one split is used.
AUTO_SPLITS = 3
AUTO_SPLITS_MAX_ROWS = 50_000
#: At most this many levels of one categorical modifier enter the CLAN table (most frequent).
CLAN_MAX_LEVELS = 10


@dataclass(frozen=True)
class Evaluation:
    """Everything :func:`evaluate` measured about one CATE model on one outcome and arm.

    Attributes
    ----------
    gate : DataFrame
        One row per segment: segment ("column=value"), column, value, n, effect, se,
        effect_ci_lower, effect_ci_upper (pointwise), pvalue, band_lower, band_upper (the
        simultaneous ``1 - alpha`` band over the whole table). Empty without ``segments``.
    band_critical_value : float
        The sup-t critical value of the band (normal scale; 1.96 would be pointwise).
    ate : ATEResult
        The doubly-robust average effect on the evaluation rows.
    blp : DataFrame
        Rows ``mean`` (b1) and ``heterogeneity`` (b2, the slope on the centred CATE
        prediction) with effect, se, effect_ci_lower, effect_ci_upper, pvalue. The p-value of
        ``heterogeneity`` is one-sided (H0: b2 <= 0, as grf after #396): a small value says the
        model's ranking carries real heterogeneity. b2 near 1: calibrated.
    gates : DataFrame
        Average effect per CATE-quantile group (1 = lowest) and "top - bottom".
    clan : DataFrame
        Mean of each modifier in the top vs the bottom group, with the difference's interval.
    qini : DataFrame
        The uplift curves by share boosted (highest predicted effect first): share,
        n_targeted, qini (gain over boosting a random share of that size), toc, value,
        effect_targeted, each with _se/_ci_lower/_ci_upper.
    rate : DataFrame
        AUTOC and QINI (area under the Qini curve, the AUUC) with se, interval and one-sided
        p-value (RATE > 0).
    policy_values : DataFrame
        "Boost the top share": share, n_targeted, value (per-unit gain over boosting nobody),
        value_ci_lower, value_ci_upper, gain_vs_random (+ interval), effect_targeted.
    n, n_splits, alpha, outcome, treatment : as named.
    cate_source : str
        Where the CATE predictions came from (out-of-fold refits, held-out rows, or given).
    notes : tuple of str
    """

    gate: pd.DataFrame
    band_critical_value: float
    ate: ATEResult
    blp: pd.DataFrame | None
    gates: pd.DataFrame | None
    clan: pd.DataFrame | None
    qini: pd.DataFrame | None
    rate: pd.DataFrame | None
    policy_values: pd.DataFrame | None
    n: int
    n_splits: int
    alpha: float
    outcome: str
    treatment: str
    cate_source: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    # -------------------------------------------------------------- conveniences
    @property
    def auuc(self) -> float:
        """Area under the Qini curve (the QINI row of :attr:`rate`)."""
        if self.rate is None:
            return float("nan")
        return float(self.rate.set_index("metric").at["QINI", "effect"])

    @property
    def heterogeneity_pvalue(self) -> float:
        """One-sided p-value of the calibration test (is there heterogeneity to target?)."""
        if self.blp is None:
            return float("nan")
        return float(self.blp.set_index("term").at["heterogeneity", "pvalue"])

    def to_pandas(self) -> pd.DataFrame:
        """All tables stacked in one tidy frame: section, label, n, effect, se, interval,
        pvalue, band_lower, band_upper."""
        cols = ["effect", "se", "effect_ci_lower", "effect_ci_upper", "pvalue"]
        parts = [
            pd.DataFrame([{"section": "ate", "label": "ATE", "n": self.n, **_ate_row(self.ate)}])
        ]
        if len(self.gate):
            g = self.gate.rename(columns={"segment": "label"})
            parts.append(
                g[["label", "n", *cols, "band_lower", "band_upper"]].assign(section="gate")
            )
        if self.blp is not None:
            parts.append(self.blp.rename(columns={"term": "label"}).assign(section="blp"))
        if self.gates is not None:
            parts.append(self.gates.rename(columns={"group": "label"}).assign(section="gates"))
        if self.clan is not None:
            parts.append(
                self.clan.rename(columns={"feature": "label"})[["label", *cols]].assign(
                    section="clan"
                )
            )
        if self.rate is not None:
            parts.append(self.rate.rename(columns={"metric": "label"}).assign(section="rate"))
        if self.policy_values is not None:
            pv = self.policy_values
            parts.append(
                pd.DataFrame(
                    {
                        "section": "policy_value",
                        "label": [f"top {s:.0%}" for s in pv["share"]],
                        "n": pv["n_targeted"],
                        "effect": pv["value"],
                        "se": pv["value_se"],
                        "effect_ci_lower": pv["value_ci_lower"],
                        "effect_ci_upper": pv["value_ci_upper"],
                    }
                )
            )
        out = pd.concat(parts, ignore_index=True)
        order = ["section", "label", "n", *cols, "band_lower", "band_upper"]
        for c in order:
            if c not in out.columns:
                out[c] = np.nan
        return out[order + [c for c in out.columns if c not in order]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as None)."""

        def records(df: pd.DataFrame | None) -> list[dict[str, Any]] | None:
            if df is None:
                return None
            return [{k: _json_value(v) for k, v in row.items()} for row in df.to_dict("records")]

        return {
            "outcome": self.outcome,
            "treatment": self.treatment,
            "n": self.n,
            "alpha": self.alpha,
            "n_splits": self.n_splits,
            "cate_source": self.cate_source,
            "ate": {k: _json_value(v) for k, v in _ate_row(self.ate).items()},
            "gate": records(self.gate),
            "band_critical_value": _json_value(self.band_critical_value),
            "blp": records(self.blp),
            "gates": records(self.gates),
            "clan": records(self.clan),
            "qini": records(self.qini),
            "rate": records(self.rate),
            "policy_values": records(self.policy_values),
            "notes": list(self.notes),
        }

    def _repr_html_(self) -> str:
        esc = html.escape
        head = (
            f"<h4>Evaluation of the CATE model: {esc(self.outcome)}, {esc(self.treatment)}</h4>"
            f"<p>n = {self.n:,}; ATE {self.ate.effect:.4g} "
            f"[{self.ate.effect_ci_lower:.4g}, {self.ate.effect_ci_upper:.4g}]"
        )
        if self.blp is not None:
            b2 = self.blp.set_index("term").loc["heterogeneity"]
            head += f"; calibration slope {b2['effect']:.3g} (one-sided p = {b2['pvalue']:.3g})"
        if self.rate is not None:
            r = self.rate.set_index("metric").loc["AUTOC"]
            head += f"; AUTOC {r['effect']:.4g} [{r['effect_ci_lower']:.4g}, {r['effect_ci_upper']:.4g}]"
        head += f".</p><p>CATE predictions: {esc(self.cate_source)}.</p>"
        parts = [head]
        for title, df in (
            (f"Segment effects (band: all segments together, {1 - self.alpha:.0%})", self.gate),
            ("Calibration (best linear predictor)", self.blp),
            ("Effects by predicted-effect group (GATES)", self.gates),
            ("Boost the top share", self.policy_values),
            ("Rank-weighted average treatment effects", self.rate),
        ):
            if df is not None and len(df):
                parts.append(f"<h5>{esc(title)}</h5>")
                parts.append(df.to_html(index=False, float_format=lambda v: f"{v:.4g}"))
        for note in self.notes:
            parts.append(f"<p><em>{esc(note)}</em></p>")
        return "\n".join(parts)

    # -------------------------------------------------------------- plots (matplotlib)
    def plot_gate(self) -> Any:
        """Forest plot of the segment effects: pointwise intervals and the simultaneous band."""
        from matplotlib.figure import Figure

        g = self.gate
        fig = Figure(figsize=(6, 0.35 * max(len(g), 3) + 1))
        ax = fig.subplots()
        y = np.arange(len(g))[::-1]
        ax.hlines(y, g["band_lower"], g["band_upper"], color="0.75", lw=6, label="simultaneous")
        ax.hlines(
            y, g["effect_ci_lower"], g["effect_ci_upper"], color="C0", lw=2, label="pointwise"
        )
        ax.plot(g["effect"], y, "o", color="C0")
        ax.axvline(self.ate.effect, color="C1", ls="--", lw=1, label="ATE")
        ax.axvline(0, color="k", lw=0.5)
        ax.set_yticks(y, g["segment"])
        ax.set_xlabel(f"effect on {self.outcome}")
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        return fig

    def plot_qini(self) -> Any:
        """The Qini curve (gain over random targeting by share boosted) with intervals."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 4))
        ax = fig.subplots()
        if self.qini is not None:
            q = self.qini
            share = np.concatenate([[0.0], q["share"]])
            ax.plot(share, np.concatenate([[0.0], q["qini"]]), color="C0", label="model")
            ax.fill_between(
                q["share"], q["qini_ci_lower"], q["qini_ci_upper"], color="C0", alpha=0.2
            )
        ax.axhline(0, color="k", lw=0.5, label="random")
        ax.set_xlabel("share boosted (highest predicted effect first)")
        ax.set_ylabel("gain over random targeting per unit")
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        return fig

    def plot_gates(self) -> Any:
        """Average effect by predicted-effect quantile group, with intervals."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 4))
        ax = fig.subplots()
        if self.gates is not None:
            g = self.gates[self.gates["group"] != "top - bottom"]
            x = np.arange(len(g))
            ax.errorbar(
                x,
                g["effect"],
                yerr=[g["effect"] - g["effect_ci_lower"], g["effect_ci_upper"] - g["effect"]],
                fmt="o",
            )
            ax.set_xticks(x, g["group"])
        ax.axhline(self.ate.effect, color="C1", ls="--", lw=1)
        ax.set_xlabel("predicted-effect group (1 = lowest)")
        ax.set_ylabel(f"effect on {self.outcome}")
        fig.tight_layout()
        return fig

    def plot_policy_values(self) -> Any:
        """Per-unit value of boosting the top share, with intervals."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 4))
        ax = fig.subplots()
        if self.policy_values is not None:
            p = self.policy_values
            ax.plot(p["share"], p["value"], "o-")
            ax.fill_between(p["share"], p["value_ci_lower"], p["value_ci_upper"], alpha=0.2)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("share boosted")
        ax.set_ylabel("gain per unit over boosting nobody")
        fig.tight_layout()
        return fig


def _ate_row(r: ATEResult) -> dict[str, float]:
    return {
        "effect": r.effect,
        "se": r.se,
        "effect_ci_lower": r.effect_ci_lower,
        "effect_ci_upper": r.effect_ci_upper,
        "pvalue": r.pvalue,
    }


def _json_value(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# ---------------------------------------------------------------------- gathering inputs
def _index(names: Sequence[Any], value: Any, what: str, default_ok: bool) -> int:
    if value is None:
        if len(names) > 1 and not default_ok:
            raise EstimatorInputError(
                f"The model has several {what}s {list(names)}; pass {what}=<one of them>."
            )
        return 0
    if value in names:
        return list(names).index(value)
    if str(value) in [str(n) for n in names]:
        return [str(n) for n in names].index(str(value))
    raise EstimatorInputError(f"{what}={value!r} is not one of {list(names)}.")


def _as_codes(groups: Any, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise EstimatorInputError(
            f"groups must be 1-D with one cluster id per row ({n}); got shape {arr.shape}."
        )
    if pd.isna(arr).any():
        raise EstimatorInputError("groups has missing values; give every row a cluster id.")
    return pd.factorize(arr)[0]


def _segments_frame(segments: Any, n: int) -> pd.DataFrame:
    if segments is None:
        return pd.DataFrame(index=pd.RangeIndex(n))
    if isinstance(segments, pd.DataFrame):
        frame = segments.reset_index(drop=True)
    elif isinstance(segments, pd.Series):
        frame = segments.reset_index(drop=True).to_frame(
            name=segments.name if segments.name is not None else "segment"
        )
    else:
        arr = np.asarray(segments)
        if arr.ndim != 1:
            raise EstimatorInputError(
                "segments must be a 1-D array/Series or a DataFrame of segment columns; got "
                f"an array of shape {arr.shape}."
            )
        frame = pd.DataFrame({"segment": arr})
    if len(frame) != n:
        raise EstimatorInputError(
            f"segments has {len(frame)} rows but Y has {n}; pass one segment label per row."
        )
    return frame


def _same_rows(ctx: Context, Y: Any, T: Any) -> bool:
    d = ctx.data
    y = (
        np.asarray(Y, dtype=float)
        if not isinstance(Y, pd.DataFrame | pd.Series)
        else Y.to_numpy(dtype=float)
    )
    if y.ndim == 1:
        y = y[:, None]
    if y.shape != d.y.shape:
        return False
    if not np.allclose(y, d.y, equal_nan=True):
        return False
    t = np.asarray(T)
    if t.shape[0] != d.n:
        return False
    if d.discrete:
        lv = list(d.levels)
        try:
            codes = np.array([lv.index(v) for v in pd.unique(t)])
        except ValueError:
            return False
        del codes
        mapping = {v: i for i, v in enumerate(lv)}
        return bool(np.array_equal(pd.Series(t).map(mapping).to_numpy(), d.t_codes))
    return bool(np.allclose(t.astype(float), d.t_cont))


@dataclass(frozen=True)
class ScoreContext:
    """The rows to evaluate on: their cross-fitted context and which outcome/arm.

    ``ctx`` is the model's own context when ``same`` (fitted on these rows), else one
    cross-fitted on the new rows; ``j``/``a`` index the model's outcome/arm, ``j_e``/``a_e``
    the same in ``ctx``; ``groups`` are cluster codes or None.
    """

    ctx: Context
    same: bool
    groups: np.ndarray | None
    j: int
    a: int
    j_e: int
    a_e: int
    notes: tuple[str, ...]


def score_context(
    est: BaseCate,
    Y: Any,
    T: Any,
    *,
    X: Any,
    W: Any,
    groups: Any,
    outcome: Any,
    T1: Any,
    rng: np.random.Generator,
    multi_outcome: bool = False,
) -> ScoreContext:
    """Reuse ``est``'s cross-fitted nuisances on its own rows, or cross-fit them on new rows."""
    if not isinstance(est, BaseCate):
        raise EstimatorInputError(
            f"Expected a fitted estimator from 'estimators'; got {type(est).__name__}. "
            "For another library's model pass its predictions as cate=."
        )
    ctx = est._fitted()
    names = ctx.data.outcome_names
    j = _index(names, outcome, "outcome", default_ok=multi_outcome)
    if not ctx.data.discrete:
        dr_scores(ctx, 0, 0)  # raises the continuous-treatment message
    arms = list(ctx.data.levels[1:])
    a = _index(arms, T1, "T1", default_ok=False)
    notes: list[str] = []
    same = _same_rows(ctx, Y, T)
    if same:
        ectx = ctx
        g = _as_codes(groups, ctx.data.n) if groups is not None else ctx.data.groups
    else:
        if ctx.data.X is not None and X is None:
            raise EstimatorInputError(
                "Y/T are not the rows the model was fitted on, so X (and W if used) must be "
                "given to evaluate on these new rows."
            )
        ectx = build_context(
            "evaluate",
            Y,
            T,
            X,
            W,
            None,
            groups,
            cv=est.cv,
            clip=est.clip,
            max_onehot_levels=est.max_onehot_levels,
            discrete_treatment=True,
            control=ctx.data.levels[0],
            nuisance_params=est.nuisance_params,
            n_jobs=est.n_jobs,
            rng=rng,
        )
        g = ectx.data.groups
        notes.append("Held-out evaluation: nuisances cross-fitted on the evaluation rows.")
    j_e = _index(ectx.data.outcome_names, names[j], "outcome", default_ok=True)
    a_e = _index(list(ectx.data.levels[1:]), arms[a], "T1", default_ok=True)
    return ScoreContext(ectx, same, g, j, a, j_e, a_e, tuple(notes))


def _member_states(est: BaseCate) -> list[tuple[BaseCate, Any, float]]:
    members = getattr(est, "_members", None)
    if members is not None:  # AutoCate: (candidate, its fitted state, blend weight)
        return [(m, st, float(w)) for m, st, w in members]
    return [(est, getattr(est, "_state", None), 1.0)]


def _stored_out_of_fold(member: BaseCate, state: Any, ctx: Context) -> np.ndarray | None:
    """Out-of-sample CATEs the fitted member already holds (forest out-of-bag predictions, an
    AutoCate fold-average's scoring predictions), else None."""
    oof = getattr(state, "oof", None)  # AutoCate's _FoldAverage
    if oof is not None:
        return np.asarray(oof, dtype=float)
    if state is None:
        return None
    return member._out_of_fold_rows(state, ctx)


def _all_stored(est: BaseCate, ctx: Context) -> bool:
    """Whether every member holds out-of-sample predictions of its training rows (cheap:
    forest states and fold-averages are recognised without predicting)."""
    for _, state, _ in _member_states(est):
        if getattr(state, "oof", None) is not None:
            continue
        if state is None or not _forest_state(state):
            return False
    return True


def _forest_state(state: Any) -> bool:
    parts = state[1] if isinstance(state, tuple) and len(state) == 2 else state
    return isinstance(parts, list) and bool(parts) and hasattr(parts[0], "oob_predict")


def honest_cate_all(est: BaseCate, ctx: Context, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold CATE predictions of every outcome and arm, shape (n, d_y, k); see
    :func:`honest_cate`.

    On the nuisance folds a member that already holds out-of-sample predictions of its
    training rows (a forest final stage: out-of-bag; an AutoCate fold-average member: its
    scoring predictions) contributes them without a refit; every other member is refitted on
    the other folds (one final-stage fit per fold).
    """
    out = np.zeros((ctx.data.n, ctx.data.y.shape[1], ctx.k))
    nuisance_folds = np.array_equal(folds, ctx.nuis.folds)
    refit: list[tuple[BaseCate, float]] = []
    for member, state, weight in _member_states(est):
        stored = _stored_out_of_fold(member, state, ctx) if nuisance_folds else None
        if stored is None:
            refit.append((member, weight))
        else:
            out += weight * stored
    for k in np.unique(folds) if refit else ():
        tr = np.flatnonzero(folds != k)
        te = np.flatnonzero(folds == k)
        for member, weight in refit:
            st = member._final_fit(ctx, tr)
            out[te] += weight * member._final_predict_rows(st, ctx, te)[0]
    return out


# Out-of-fold CATEs of every outcome and arm, per fitted estimator and fold split: the final
# stages fit all outcomes at once, so evaluating outcome after outcome (what_works does) reuses
# one refit per split instead of repeating it for each outcome (4 outcomes: 4x fewer refits).
_HONEST_CACHE: weakref.WeakKeyDictionary[Any, tuple[Context, dict[str, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def honest_cate(est: BaseCate, ctx: Context, folds: np.ndarray, j: int, a: int) -> np.ndarray:
    """Out-of-fold CATE predictions: each fold predicted by final stages fitted on the others.

    Uses the estimator's own final stage(s) on the shared cross-fitted nuisances (an AutoCate
    blend keeps its weights). A prediction for row ``i`` never used ``i``'s outcome in the
    final stage, so the calibration test is not fooled by overfitting (in-sample predictions
    correlate with the noise in the scores and inflate the BLP slope). The refits of every
    outcome are computed together (:func:`honest_cate_all`) and kept for this fit and split.
    """
    key = hashlib.sha1(np.ascontiguousarray(folds).tobytes()).hexdigest()
    held = _HONEST_CACHE.get(est)
    if held is None or held[0] is not ctx:  # a new fit invalidates what was kept
        held = (ctx, {})
        _HONEST_CACHE[est] = held
    if key not in held[1]:
        held[1][key] = honest_cate_all(est, ctx, folds)
    return held[1][key][:, j, a].copy()


def dr_scores(ctx: Context, j: int, a: int) -> np.ndarray:
    """The cross-fitted doubly-robust (AIPW) scores of arm ``a`` vs control for outcome ``j``."""
    if ctx.dr is None:
        raise EstimatorInputError(
            "evaluate() needs a discrete treatment (doubly-robust scores per arm); for a "
            "continuous boost intensity use estimators.dose_response."
        )
    return ctx.dr[:, j, a].copy()


def _clan_features(X: pd.DataFrame) -> pd.DataFrame:
    cols: dict[str, np.ndarray] = {}
    for c in X.columns:
        s = X[c]
        if pd.api.types.is_bool_dtype(s.dtype) or (
            pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype)
        ):
            cols[str(c)] = s.to_numpy(dtype=float)
        else:
            top = s.astype("object").value_counts().index[:CLAN_MAX_LEVELS]
            for v in top:
                cols[f"{c}={v}"] = (s.astype("object") == v).to_numpy(dtype=float)
    return pd.DataFrame(cols)


# ---------------------------------------------------------------------- the entry point
@one_blas_thread
def evaluate(
    est: BaseCate,
    Y: Any,
    T: Any,
    *,
    X: Any = None,
    W: Any = None,
    groups: Any = None,
    segments: Any = None,
    alpha: float = 0.05,
    random_state: Any = 0,
    T1: Any = None,
    outcome: Any = None,
    n_splits: int | None = None,
    n_groups: int = 5,
    shares: Sequence[float] | None = None,
    cate: Any = None,
) -> Evaluation:
    """Validate a fitted CATE model: segment effects with a simultaneous band, calibration,
    GATES/CLAN, Qini/RATE and the value of boosting the top share.

    Scores: the doubly-robust (AIPW) scores from cross-fitted nuisances. When ``est`` was
    fitted on these rows (same ``Y`` and ``T``), its own nuisances are reused (no refit);
    otherwise the nuisances are cross-fitted on the evaluation rows with ``est``'s settings
    (a held-out evaluation).

    CATE predictions (for everything that ranks units) must not have seen the outcome of the
    row they rank: a prediction fitted on row ``i``'s outcome correlates with the noise in
    ``i``'s score, which inflates the calibration slope, the GATES spread, the Qini curve and
    the top-share values (in-sample predictions of a forest reject "no heterogeneity" in
    200 of 200 null datasets; see bench/RESULTS_evaluate.md). What is held out:

    - on the fitting rows, for a forest final stage (``CausalForest``, ``DRLearner``'s default)
      its out-of-bag predictions: row ``i`` predicted only by the trees whose subsample left
      ``i`` out (grf's approach; no refit, and ``n_splits`` defaults to 1 since they already
      average over many random subsamples); for an ``AutoCate`` blend, each forest member's
      fold predictions from model selection;
    - on the fitting rows, for every other final stage (linear, meta-learners), the final
      stage refitted on the other folds and predicting the held-out fold (first split: the
      nuisance folds), over ``n_splits`` random fold splits combined by the median rule of
      Chernozhukov, Demirer, Duflo & Fernández-Val (each split at level ``1 - alpha/2``;
      p-values ``2 x median``); the refits of every outcome are kept per fitted model and
      split, so evaluating outcome after outcome refits once;
    - on new rows, ``est.effect(X)`` (the model never saw them; one split); or the given
      ``cate`` array (the caller vouches that it is out of sample).

    The doubly-robust scores are always cross-fitted (each row's nuisances fitted on the other
    folds); the fitted model's own nuisances are reused on its own rows.

    Parameters
    ----------
    est : fitted estimator from ``estimators`` with a discrete treatment
    Y, T : the outcome(s) and treatment, as passed to ``fit`` (or new rows)
    X, W : modifiers and confounders; needed only for new rows (the fitted ones are reused)
    groups : array-like, optional
        Cluster ids: every interval is cluster-robust (CR2, Bell–McCaffrey dof). Default: the
        ``groups`` the model was fitted with, on the fitting rows.
    segments : 1-D array/Series or DataFrame of segment columns, optional
        The GATE table: one row per value of each column.
    alpha : float
    random_state : int, Generator or None
    T1 : the arm (multi-arm treatments); outcome : the outcome name (several outcomes)
    n_splits : int, optional
        Repeated fold splits for the out-of-fold CATE (1 = the nuisance folds only, or the
        out-of-bag predictions of a forest). Default 1 for forest final stages and above
        :data:`AUTO_SPLITS_MAX_ROWS` rows, else :data:`AUTO_SPLITS` (each further split
        refits the final stage once per fold; the tables themselves take about a second at
        100k rows).
    n_groups : int, default 5
        CATE-quantile groups for GATES/CLAN.
    shares : sequence of float in (0, 1], optional
        Shares for the Qini curve and the policy values (default 0.05, 0.10, ..., 1).
    cate : array-like of shape (n,), optional
        CATE predictions to evaluate instead of ``est``'s (made without these rows' outcomes).

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> import numpy as np, estimators
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2)); T = rng.integers(0, 2, 2000)
    >>> Y = X[:, 0] + T * (1 + X[:, 1]) + rng.normal(size=2000)
    >>> est = estimators.LinearDML(random_state=0).fit(Y, T, X=X)
    >>> ev = estimators.evaluate(est, Y, T, segments=np.where(X[:, 1] > 0, "hi", "lo"))
    >>> ev.heterogeneity_pvalue < 0.01
    True
    >>> list(ev.gate["segment"])
    ['segment=hi', 'segment=lo']
    """
    check_params(
        "evaluate",
        {"alpha": alpha, "n_splits": n_splits, "n_groups": n_groups},  # None: automatic
        {
            "alpha": Real(0.0, 0.5, closed="neither"),
            "n_splits": Integer(1, 50, allow_none=True),
            "n_groups": Integer(2, 20),
        },
    )
    rng = resolve_rng(random_state, "evaluate")
    shares_t = tuple(DEFAULT_SHARES if shares is None else shares)
    if not shares_t or any(not (0.0 < float(s) <= 1.0) for s in shares_t):
        raise EstimatorInputError(
            f"shares must be a non-empty sequence of numbers in (0, 1]; got {shares!r}."
        )
    sc = score_context(est, Y, T, X=X, W=W, groups=groups, outcome=outcome, T1=T1, rng=rng)
    ectx, same, g, j, a, j_e, a_e = sc.ctx, sc.same, sc.groups, sc.j, sc.a, sc.j_e, sc.a_e
    ctx = est._fitted()
    names, arms, notes = ctx.data.outcome_names, list(ctx.data.levels[1:]), list(sc.notes)
    n = ectx.data.n
    scores = dr_scores(ectx, j_e, a_e)
    ate = mean_effect_from_scores(
        scores,
        groups=g,
        alpha=alpha,
        outcome=str(names[j]),
        treatment=f"{arms[a]} vs {ctx.data.levels[0]}",
    )
    seg = _segments_frame(segments, n)
    gate, crit = gate_table(scores, seg, groups=g, alpha=alpha, rng=rng)

    # ---- CATE predictions made without each row's outcome
    taus: list[np.ndarray] = []
    if cate is not None:
        t_arr = np.asarray(cate, dtype=float).reshape(-1)
        if t_arr.size != n:
            raise EstimatorInputError(f"cate has {t_arr.size} values but Y has {n} rows.")
        taus = [t_arr]
        source = "given (cate=)"
    elif ctx.data.X is None:
        source = "none: the model was fitted without X (constant effect)"
    elif same:
        cv = int(np.unique(ctx.nuis.folds).size)
        strata = ctx.data.t_codes
        stored = _all_stored(est, ctx)
        if n_splits is None:  # out-of-bag predictions already average over many subsamples
            n_splits = 1 if stored or n > AUTO_SPLITS_MAX_ROWS else AUTO_SPLITS
        # further splits: seeds from their own stream (the fit drew its fold seed from the same
        # random_state as the first draw here, which gave the nuisance split again)
        split_rng = (
            np.random.default_rng([int(rng.integers(2**31 - 1)), 1]) if n_splits > 1 else None
        )
        for r in range(n_splits):
            folds = ctx.nuis.folds
            while split_rng is not None and r > 0 and np.array_equal(folds, ctx.nuis.folds):
                seed = int(split_rng.integers(2**31 - 1))
                folds = make_folds(n, cv, strata=strata, groups=g, seed=seed)
            taus.append(honest_cate(est, ctx, folds, j, a))
        source = (
            f"out of fold: final stage refitted on {cv - 1} of {cv} folds, {n_splits} "
            "random split(s), median rule"
        )
        if stored:
            source = (
                "out of sample without refit: the fitted final stage's out-of-bag predictions "
                "(forests) or fold predictions (AutoCate)"
                + (
                    f", then {n_splits - 1} refitted random split(s), median rule"
                    if n_splits > 1
                    else ""
                )
            )
    else:
        pred = est.effect(ectx.data.X, T1=arms[a] if len(arms) > 1 else None)
        pred = np.asarray(pred, dtype=float)
        taus = [pred[:, j] if pred.ndim == 2 else pred]
        source = "est.effect on the evaluation rows (not used to fit the model)"

    clan_x = _clan_features(ectx.data.X) if ectx.data.X is not None else None
    return _assemble(
        scores,
        taus,
        gate=gate,
        crit=crit,
        ate=ate,
        groups=g,
        features=clan_x,
        alpha=alpha,
        n_groups=n_groups,
        shares=shares_t,
        rng=rng,
        outcome=str(names[j]),
        treatment=f"{arms[a]} vs {ctx.data.levels[0]}",
        source=source,
        notes=notes,
    )


def _assemble(
    scores: np.ndarray,
    taus: list[np.ndarray],
    *,
    gate: pd.DataFrame,
    crit: float,
    ate: ATEResult,
    groups: np.ndarray | None,
    features: pd.DataFrame | None,
    alpha: float,
    n_groups: int,
    shares: Sequence[float],
    rng: np.random.Generator,
    outcome: str,
    treatment: str,
    source: str,
    notes: list[str],
) -> Evaluation:
    g = groups
    shares_t = tuple(shares)
    n = scores.size
    clan_x = features
    blp = gates = clan = qini = rate = policy = None
    if taus and float(np.ptp(taus[0])) > 0:
        a_split = alpha / 2 if len(taus) > 1 else alpha
        per: dict[str, list[pd.DataFrame]] = {
            k: [] for k in ("blp", "gates", "clan", "qini", "rate")
        }
        for tau_hat in taus:
            b = blp_test(scores, tau_hat, groups=g, alpha=a_split)
            rows = []
            for term, r in b.items():
                p = r.pvalue
                if term == "heterogeneity":  # one-sided: H0 b2 <= 0 (grf #396)
                    p = r.pvalue / 2 if r.effect > 0 else 1 - r.pvalue / 2
                rows.append({"term": term, **_ate_row(r), "pvalue": p})
            per["blp"].append(pd.DataFrame(rows))
            gq = rank_groups(tau_hat, n_groups, rng)
            per["gates"].append(quantile_gates(scores, gq, n_groups, groups=g, alpha=a_split))
            if clan_x is not None and clan_x.shape[1]:
                per["clan"].append(clan_table(clan_x, gq, n_groups, groups=g, alpha=a_split))
            order = descending_order(tau_hat, rng)
            per["qini"].append(uplift_curve(scores, order, shares_t, groups=g, alpha=a_split))
            per["rate"].append(rate_table(scores, order, tau_hat, groups=g, alpha=a_split))
        blp = median_rule(per["blp"], ["term"])
        gates = median_rule(per["gates"], ["group"])
        clan = median_rule(per["clan"], ["feature"]) if per["clan"] else None
        qini = median_rule(per["qini"], ["share"])
        rate = median_rule(per["rate"], ["metric"])
        policy = pd.DataFrame(
            {
                "share": qini["share"],
                "n_targeted": qini["n_targeted"].round().astype(int),
                "value": qini["value"],
                "value_se": qini["value_se"],
                "value_ci_lower": qini["value_ci_lower"],
                "value_ci_upper": qini["value_ci_upper"],
                "gain_vs_random": qini["qini"],
                "gain_vs_random_ci_lower": qini["qini_ci_lower"],
                "gain_vs_random_ci_upper": qini["qini_ci_upper"],
                "effect_targeted": qini["effect_targeted"],
            }
        )
    elif taus:
        notes.append("The CATE predictions are constant: no ranking to evaluate.")

    return Evaluation(
        gate=gate,
        band_critical_value=crit,
        ate=ate,
        blp=blp,
        gates=gates,
        clan=clan,
        qini=qini,
        rate=rate,
        policy_values=policy,
        n=n,
        n_splits=len(taus),
        alpha=alpha,
        outcome=outcome,
        treatment=treatment,
        cate_source=source,
        notes=tuple(notes),
    )


def evaluate_scores(
    scores: Any,
    cate: Any = None,
    *,
    segments: Any = None,
    groups: Any = None,
    features: Any = None,
    alpha: float = 0.05,
    n_groups: int = 5,
    shares: Sequence[float] | None = None,
    random_state: Any = 0,
    outcome: str = "Y",
    treatment: str = "T",
    cate_source: str = "given",
) -> Evaluation:
    """The tables of :func:`evaluate` from given doubly-robust scores and CATE predictions.

    For callers that build the scores themselves (e.g. an experiment with a known assignment
    probability). ``cate`` must be predictions made without each row's outcome (out of fold);
    one array, or a list of arrays from repeated splits (combined by the median rule).

    Parameters
    ----------
    scores : array-like of shape (n,)
        Doubly-robust scores whose conditional mean is the CATE.
    cate : array-like of shape (n,) or list of them, optional
    segments, groups, alpha, n_groups, shares, random_state : as in :func:`evaluate`
    features : DataFrame, optional
        Columns for the CLAN table.

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> from estimators import evaluate_scores
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=3000); s = 1 + x + rng.normal(scale=2, size=3000)
    >>> ev = evaluate_scores(s, x + rng.normal(size=3000), segments=np.where(x > 0, "a", "b"))
    >>> ev.heterogeneity_pvalue < 0.01
    True
    """
    check_params(
        "evaluate_scores",
        {"alpha": alpha, "n_groups": n_groups},
        {"alpha": Real(0.0, 0.5, closed="neither"), "n_groups": Integer(2, 20)},
    )
    rng = resolve_rng(random_state, "evaluate_scores")
    sc = np.asarray(scores, dtype=float).reshape(-1)
    n = sc.size
    if not np.isfinite(sc).all():
        raise EstimatorInputError("scores must be finite.")
    taus: list[np.ndarray] = []
    if cate is not None:
        raw = cate if isinstance(cate, list) else [cate]
        for t in raw:
            t_arr = np.asarray(t, dtype=float).reshape(-1)
            if t_arr.size != n:
                raise EstimatorInputError(f"cate has {t_arr.size} values but scores has {n}.")
            taus.append(t_arr)
    g = _as_codes(groups, n)
    shares_t = tuple(DEFAULT_SHARES if shares is None else shares)
    ate = mean_effect_from_scores(sc, groups=g, alpha=alpha, outcome=outcome, treatment=treatment)
    gate, crit = gate_table(sc, _segments_frame(segments, n), groups=g, alpha=alpha, rng=rng)
    feats = None
    if features is not None:
        frame = features if isinstance(features, pd.DataFrame) else pd.DataFrame(features)
        feats = _clan_features(frame.reset_index(drop=True))
    return _assemble(
        sc,
        taus,
        gate=gate,
        crit=crit,
        ate=ate,
        groups=g,
        features=feats,
        alpha=alpha,
        n_groups=n_groups,
        shares=shares_t,
        rng=rng,
        outcome=outcome,
        treatment=treatment,
        source=cate_source,
        notes=[],
    )
