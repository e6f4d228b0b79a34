"""``what_works(data, design)``: the observational what-works job, end to end.

Orchestration only: the numbers come from :mod:`estimators` (effects, evaluation) and the
lower :mod:`causal` layers (validation, graph, explain). Steps, each shown on a progress bar:

1. read the table (pandas, a Parquet/CSV path or a DuckDB table) and validate it against the
   :class:`~causal.data.Design` (one clear error per problem, before any fitting);
2. per outcome, fit the default estimator (:class:`estimators.AutoCate`, restricted to
   candidates with valid CATE intervals; or the one named) with the design's ``weight`` as
   sample weights and ``cluster`` as groups, and take the doubly-robust average effect, the
   per-item effects with intervals and the candidate comparison;
3. per outcome, the diagnostics that are available (segments, drivers, robustness, ...).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import platform
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from causal._errors import ConfigError
from causal.data import Design, ValidatedData, missing_column_error, open_table, validate
from causal.data._readers import Source
from causal.workflows._config import ESTIMATORS
from causal.workflows._results import OutcomeEffect, WhatWorks, cate_column

__all__ = ["what_works"]

QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)
_PACKAGES = (
    "content-causal",
    "numpy",
    "pandas",
    "scikit-learn",
    "lightgbm",
    "econml",
    "duckdb",
    "dowhy",
    "shap",
)


# ----------------------------------------------------------------------------- progress


class _Progress:
    """A progress bar over named steps (tqdm: a widget in notebooks with ipywidgets, text
    otherwise); silent when disabled."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            try:
                import ipywidgets  # noqa: F401
                from tqdm.auto import tqdm
            except ImportError:
                from tqdm.std import tqdm
            self._bar = tqdm(total=total, desc="what works", unit="step", leave=True)

    def step(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)

    def done(self, k: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(k)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[_Progress]:
    bar = _Progress(total, enabled)
    try:
        yield bar
    finally:
        bar.close()


# ----------------------------------------------------------------------------- reading


#: simulate_content(intensity=True) adds this column; its true_cate_<o> columns are then the
#: effect per unit of intensity (a dose slope), not the 0/1 effect of ``boosted``.
SIM_INTENSITY_COLUMN = "boost_intensity"


def _truth_columns(columns: Sequence[str], outcomes: Sequence[str]) -> list[str]:
    """Simulation truth: ``true_cate_<o>``, or ``true_cate_<o>[<level>]`` per level (plus
    :data:`SIM_INTENSITY_COLUMN`, which says what the truth measures, when both are there)."""
    cols = [c for c in columns for o in outcomes
            if c == f"true_cate_{o}" or (c.startswith(f"true_cate_{o}[") and c.endswith("]"))]  # fmt: skip
    if cols and SIM_INTENSITY_COLUMN in columns:
        cols.append(SIM_INTENSITY_COLUMN)
    return cols


def _truth_column(outcome: str, arm: Any, v: ValidatedData, df: pd.DataFrame) -> str | None:
    """The simulation-truth column for this estimate, if it measures the same contrast.

    On ``simulate_content(intensity=True)`` data the truth is a slope per unit of
    ``boost_intensity``: like-for-like with a continuous-treatment estimate on that column (also
    per unit), but not with the 0/1 effect of ``boosted`` (whose truth is the slope times the
    expected intensity of a boosted item), so then there is no truth to compare with.
    """
    col = "true_" + cate_column(outcome, arm)
    if col not in df.columns:
        return None
    if SIM_INTENSITY_COLUMN in df.columns and v.design.treatment != SIM_INTENSITY_COLUMN:
        return None
    return col


def _load(
    data: Source | Any, design: Design, attributes: Sequence[str], connection: Any
) -> tuple[pd.DataFrame, str]:
    """The needed columns as a DataFrame (plus simulation truth when present), and a label."""
    needed = list(dict.fromkeys([*design.columns(), *attributes]))
    if isinstance(data, pd.DataFrame):
        missing = [c for c in attributes if c not in data.columns]
        if missing:
            raise missing_column_error(missing[0], list(data.columns), "attribute column")
        return data, f"pandas DataFrame ({len(data):,} rows)"
    if not isinstance(data, str | bytes) and not hasattr(data, "__fspath__"):
        raise ConfigError(
            "The 'data' parameter must be a pandas DataFrame, a .parquet/.csv path or a DuckDB "
            f"table name. Got {type(data).__name__} instead."
        )
    with open_table(data, connection=connection) as t:
        present = list(t.columns)
        for c in attributes:
            if c not in present:
                raise missing_column_error(c, present, "attribute column")
        if any(c not in present for c in needed):
            # validation names the missing column with its role and the nearest name
            return pd.DataFrame(columns=present), str(data)
        cols = needed + [c for c in _truth_columns(present, design.outcomes) if c not in needed]
        from causal.data import quote_ident

        select = ", ".join(quote_ident(c) for c in cols)
        df = t.connection.execute(f"SELECT {select} FROM {t.name}").df()
    return df, f"{data} (read with DuckDB)"


# ----------------------------------------------------------------------------- estimation


def _outcome_kind(y: np.ndarray) -> str:
    values = np.unique(y[: min(len(y), 200_000)])
    if values.size <= 2 and set(values.tolist()) <= {0.0, 1.0}:
        return "binary"
    if np.all(y >= 0) and np.all(y == np.round(y)):
        return "count"
    return "continuous"


def _model(estimator: str, seed: int, n_jobs: int | None, control: Any = None) -> Any:
    import estimators

    extra = {} if control is None else {"control": control}
    if estimator == "auto":
        return estimators.AutoCate(random_state=seed, n_jobs=n_jobs, **extra)
    return getattr(estimators, estimator)(random_state=seed, n_jobs=n_jobs, **extra)


def _control_level(v: ValidatedData, control: Any) -> Any:
    """The control level of a multi-valued treatment (None for binary/continuous)."""
    col = v.design.treatment
    if v.treatment_kind != "multi":
        if control is not None and not (
            v.treatment_kind == "binary" and str(control) in ("0", "0.0")
        ):
            raise ConfigError(
                f"The 'control' parameter names the control level of a multi-valued treatment; "
                f"'{col}' is {v.treatment_kind} (a 0/1 treatment's control is 0). Remove "
                f"'control' (got {control!r})."
            )
        return None
    levels = list(v.treatment_levels)
    shown = ", ".join(repr(x) for x in levels[:8]) + (" ..." if len(levels) > 8 else "")
    if control is None:
        for default in (0, "control", "none"):
            if default in levels:
                return default
        raise ConfigError(
            f"The treatment column '{col}' has {len(levels)} levels ({shown}); say which is "
            "the control with control=<level> (config key 'control'), e.g. the level of "
            "unboosted items. Each other level is then compared with it."
        )
    for lv in levels:
        if lv == control or str(lv) == str(control):
            return lv
    raise ConfigError(
        f"The control level {control!r} is not a value of the treatment column '{col}'; its "
        f"levels are {shown}. Set 'control' to one of them."
    )


def _treatment_values(v: ValidatedData) -> np.ndarray:
    """The treatment as fitted: 0/1 or doses, or the level labels of a multi-valued one."""
    if v.treatment_kind != "multi":
        return np.asarray(v.t)
    levels = list(v.treatment_levels)
    if all(isinstance(x, int | float) and not isinstance(x, bool) for x in levels):
        return np.asarray(levels, dtype=float)[np.asarray(v.t)]
    return np.asarray([str(x) for x in levels], dtype=object)[np.asarray(v.t)]


def _why(estimator: str, model: Any) -> str:
    if estimator != "auto":
        return f"{estimator} was named in the configuration (estimator: {estimator})."
    table = getattr(model, "score_table_", None)
    if table is None or len(table) == 0:
        return "Fitted without modifiers: the effect is a constant (the doubly-robust ATE)."
    best = table.iloc[0]
    names = [str(e) for e in table["estimator"]]
    text = (
        f"AutoCate compared {len(table)} candidates ({', '.join(names)}) by their out-of-fold "
        f"doubly-robust loss on shared cross-fitted nuisances; {best['estimator']} had the "
        f"lowest ({best['loss']:.4g} ± {best['loss_se']:.2g})"
    )
    weights = getattr(model, "weights_", None)
    if getattr(model, "selected_", None) == "ensemble" and weights is not None:
        kept = weights[weights > 0].sort_values(ascending=False)
        blend = ", ".join(f"{name} {w:.2f}" for name, w in kept.items())
        return text + (
            f"; a blend with weights minimising the same loss did better than any one "
            f"candidate on the benchmarks, so the effects are the blend ({blend})."
        )
    tied = [e for e, t in zip(names[1:], table["tied"].iloc[1:], strict=True) if t]
    if tied:
        text += f", statistically tied with {', '.join(tied)}"
    return text + "."


def _frames(df: pd.DataFrame, design: Design) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """X (modifiers; text as pandas categoricals, used natively) and W (other confounders)."""
    mods = list(design.modifiers)
    conf = [c for c in design.confounders if c not in set(mods)]

    def frame(cols: list[str]) -> pd.DataFrame | None:
        if not cols:
            return None
        out = df[cols].copy().reset_index(drop=True)
        for c in out.columns:
            s = out[c]
            if (
                s.dtype == object
                or pd.api.types.is_string_dtype(s)
                or pd.api.types.is_bool_dtype(s)
            ):
                out[c] = s.astype(str).astype("category") if s.dtype != bool else s.astype(int)
        return out

    return frame(mods), frame(conf)


def _weighted_mean(a: np.ndarray, w: np.ndarray | None) -> float:
    if a.size == 0:
        return float("nan")
    return float(np.average(a, weights=w)) if w is not None and w.sum() > 0 else float(a.mean())


def _quantiles(a: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    """QUANTILES of the per-item effect; weighted (inverted weighted CDF) under a weight."""
    if w is None:
        return {f"p{int(q * 100)}": float(np.quantile(a, q)) for q in QUANTILES}
    order = np.argsort(a, kind="stable")
    cum = np.cumsum(w[order]) / np.sum(w)
    idx = np.minimum(np.searchsorted(cum, QUANTILES, side="left"), a.size - 1)
    return {f"p{int(q * 100)}": float(a[order][i]) for q, i in zip(QUANTILES, idx, strict=True)}


def _fit(
    v: ValidatedData,
    X: pd.DataFrame | None,
    W: pd.DataFrame | None,
    *,
    estimator: str,
    seed: int,
    alpha: float,
    n_jobs: int | None,
    notes: list[str],
    control: Any = None,
    arm: Any = None,
    model: Any = None,
) -> tuple[Any, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """One model for all outcomes (the nuisances, propensity included, are fitted once):
    the model, Y as fitted, and the per-item effects and interval bounds, each (n, d), of
    ``arm`` vs the control (multi-valued treatments; None otherwise). A fitted ``model`` is
    reused (the other levels of a multi-valued treatment)."""
    outcomes = list(v.design.outcomes)
    Y = pd.DataFrame({o: np.asarray(v.y[o]) for o in outcomes})
    if model is None:
        model = _model(estimator, seed, n_jobs, control)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(Y, _treatment_values(v), X=X, W=W, sample_weight=v.weight,
                      groups=v.cluster)  # fmt: skip
        for w in caught:
            if "overlap" in str(w.message).lower():
                notes.append(str(w.message))
    n, d = v.n, len(outcomes)
    if X is None:
        ates = [model.ate_inference(alpha=alpha, outcome=o, T1=arm) for o in outcomes]
        cate = np.tile([a.effect for a in ates], (n, 1))
        lo = np.tile([a.effect_ci_lower for a in ates], (n, 1))
        hi = np.tile([a.effect_ci_upper for a in ates], (n, 1))
        return model, Y, cate, lo, hi
    cate = np.asarray(model.effect(X, T1=arm), dtype=float).reshape(n, d)
    try:
        lo_, hi_ = model.effect_interval(X, alpha=alpha, T1=arm)
        lo = np.asarray(lo_, dtype=float).reshape(n, d)
        hi = np.asarray(hi_, dtype=float).reshape(n, d)
    except NotImplementedError as exc:
        notes.append(f"no per-item intervals: {exc}")
        lo = hi = np.full((n, d), np.nan)
    for j, o in enumerate(outcomes):
        outside = float(np.mean((cate[:, j] < lo[:, j]) | (cate[:, j] > hi[:, j])))
        if outside > 0.01:
            notes.append(
                f"{o}: for {100 * outside:.1f}% of items the per-item estimate lies outside "
                "its interval (the interval is centred on the blend's debiased estimate; see "
                "estimators.AutoCate, 'Intervals'); for single items read the interval."
            )
    return model, Y, cate, lo, hi


def _outcome_result(
    outcome: str,
    model: Any,
    Y: pd.DataFrame,
    v: ValidatedData,
    df: pd.DataFrame,
    cate: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    estimator: str,
    seed: int,
    alpha: float,
    notes: list[str],
    arm: Any = None,
    control: Any = None,
) -> OutcomeEffect:
    y = np.asarray(v.y[outcome])
    ate = model.ate_inference(alpha=alpha, outcome=outcome, T1=arm)
    weight = None if v.weight is None else np.asarray(v.weight)
    if v.treatment_kind in ("binary", "multi"):
        code = 0 if v.treatment_kind == "binary" else list(v.treatment_levels).index(control)
        untreated = np.asarray(v.t) == code
        control_mean = _weighted_mean(y[untreated], None if weight is None else weight[untreated])
    else:
        control_mean = float("nan")
    with np.errstate(invalid="ignore"):
        share_pos = _weighted_mean((lo > 0).astype(float), weight) if np.isfinite(lo).all() \
            else float("nan")  # fmt: skip
        share_neg = _weighted_mean((hi < 0).astype(float), weight) if np.isfinite(hi).all() \
            else float("nan")  # fmt: skip
    segments, extras = pd.DataFrame(), {}
    truth_col = _truth_column(outcome, arm, v, df)
    if truth_col is None and "true_" + cate_column(outcome, arm) in df.columns:
        notes.append(
            f"{outcome}: the simulated truth (true_{cate_column(outcome, arm)}) is the effect per "
            f"unit of {SIM_INTENSITY_COLUMN}, not of {v.design.treatment}; the estimate is not "
            "compared with it."
        )
    if v.treatment_kind in ("binary", "multi") and v.design.modifiers:
        segments, extras = _evaluation(
            model, outcome, Y, v, df, alpha=alpha, seed=seed, notes=notes, arm=arm,
            truth_col=truth_col,
        )  # fmt: skip
    truth = None
    if truth_col is not None:
        truth = _weighted_mean(df[truth_col].to_numpy(dtype=float), weight)
    table = getattr(model, "score_table_", None)
    selected = getattr(model, "selected_", None) if estimator == "auto" else estimator
    if selected == "ensemble":
        w = model.weights_
        selected = "AutoCate blend of " + " + ".join(w[w > 0].sort_values(ascending=False).index)
    return OutcomeEffect(
        outcome=outcome,
        estimator=str(selected or type(model).__name__),
        why=_why(estimator, model),
        effect=float(ate.effect),
        effect_ci_lower=float(ate.effect_ci_lower),
        effect_ci_upper=float(ate.effect_ci_upper),
        se=float(ate.se),
        pvalue=float(ate.pvalue),
        control_mean=control_mean,
        outcome_kind=_outcome_kind(y),
        candidates=pd.DataFrame() if table is None else table.reset_index(drop=True),
        cate_quantiles=_quantiles(cate, weight),
        share_positive=share_pos,
        share_negative=share_neg,
        segments=segments,
        extras=extras,
        true_effect=truth,
        level=arm,
        contrast=None if arm is None else f"{arm} vs {control}",
    )


def _tradeoffs(
    model: Any,
    Y: pd.DataFrame,
    v: ValidatedData,
    *,
    primary: str | None,
    guardrails: dict[str, float],
    alpha: float,
    seed: int,
) -> dict[str, Any]:
    """Targeting across outcomes (:func:`estimators.tradeoff`): what boosting by the primary
    outcome's predicted effect does to every outcome, under the guardrails' margins."""
    import estimators

    tr = estimators.tradeoff(
        model, Y, np.asarray(v.t), primary=primary or v.design.outcomes[0],
        guardrails=guardrails or None, lambdas=None if guardrails else (0.0,), alpha=alpha,
        random_state=seed,
    )  # fmt: skip
    out: dict[str, Any] = {
        "primary": primary or v.design.outcomes[0],
        "guardrails": dict(tr.guardrails),
        "frontier": tr.frontier.reset_index(drop=True),
    }
    if tr.notes:
        out["notes"] = list(tr.notes)
    return out


def _segment_labels(v: ValidatedData) -> pd.DataFrame:
    """Segment columns as text labels (missing values as their own label)."""
    out = pd.DataFrame(index=pd.RangeIndex(v.n))
    for c in v.segments.columns:
        s = v.segments[c]
        out[c] = s.astype(object).where(s.notna(), "(missing)").astype(str).to_numpy()
    return out


def _evaluation(
    model: Any,
    outcome: str,
    Y: pd.DataFrame,
    v: ValidatedData,
    df: pd.DataFrame,
    *,
    alpha: float,
    seed: int,
    notes: list[str],
    arm: Any = None,
    truth_col: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Segment effects (GATE with a simultaneous band), calibration, Qini/RATE and the value
    of boosting the top share, from :func:`estimators.evaluate` on the fitted nuisances
    (of ``arm`` vs the control for a multi-valued treatment). Under the design's ``weight``
    the segment and targeting tables are weighted (:mod:`causal.workflows._weighted`)."""
    import estimators

    labels = _segment_labels(v) if v.segments.shape[1] else None
    if v.weight is not None:
        return _weighted_evaluation(
            model, outcome, v, df, labels, alpha=alpha, seed=seed, arm=arm, truth_col=truth_col
        )
    ev = estimators.evaluate(
        model, Y, _treatment_values(v), segments=labels, alpha=alpha, random_state=seed,
        outcome=outcome, T1=arm,
    )  # fmt: skip
    gate = ev.gate
    segments = pd.DataFrame()
    if labels is not None and len(gate):
        keep = ["n", "effect", "se", "effect_ci_lower", "effect_ci_upper", "pvalue",
                "band_lower", "band_upper"]  # fmt: skip
        segments = gate[["column", "value", *keep]].rename(columns={"column": "segment"})
        segments = segments.reset_index(drop=True)
        if truth_col is not None:
            truth = df[truth_col].to_numpy(dtype=float)
            segments["true_effect"] = [
                float(truth[labels[c].to_numpy() == str(val)].mean())
                for c, val in zip(segments["segment"], segments["value"], strict=True)
            ]
    extras: dict[str, Any] = {"band_critical_value": float(ev.band_critical_value)}
    for key, frame in (
        ("calibration", ev.blp),
        ("targeting", ev.policy_values),
        ("rate", ev.rate),
        ("qini", ev.qini),
    ):
        if frame is not None and len(frame):
            extras[key] = frame.reset_index(drop=True)
    extras["evaluation_source"] = ev.cate_source
    notes.extend(f"{outcome}: {n}" for n in ev.notes)
    return segments, extras


def _weighted_evaluation(
    model: Any,
    outcome: str,
    v: ValidatedData,
    df: pd.DataFrame,
    labels: pd.DataFrame | None,
    *,
    alpha: float,
    seed: int,
    arm: Any,
    truth_col: str | None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Weighted segment effects and targeting values from the model's doubly-robust scores
    and out-of-fold CATE (the unweighted calibration and RATE tables are not shown)."""
    from causal.workflows._weighted import weighted_gate, weighted_targeting
    from estimators.inference import DEFAULT_SHARES, dr_scores, honest_cate, nuisances

    arms = list(nuisances(model).levels[1:])
    t1 = arms[0] if arm is None else next(x for x in arms if x == arm or str(x) == str(arm))
    scores = dr_scores(model, outcome=outcome, T1=t1)
    w = np.asarray(v.weight, dtype=float)
    rng = np.random.default_rng(seed)
    segments = pd.DataFrame()
    extras: dict[str, Any] = {}
    if labels is not None:
        segments, crit = weighted_gate(scores, labels, w, groups=v.cluster, alpha=alpha, rng=rng)
        extras["band_critical_value"] = crit
        if truth_col is not None:
            truth = df[truth_col].to_numpy(dtype=float)
            segments["true_effect"] = [
                _weighted_mean(truth[m], w[m])
                for m in (
                    labels[c].to_numpy() == str(val)
                    for c, val in zip(segments["segment"], segments["value"], strict=True)
                )
            ]
    if v.design.modifiers:  # the model's X (see _frames); without it the effect is constant
        tau = honest_cate(model, outcome=outcome, T1=t1)
        if float(np.ptp(tau)) > 0:
            pv = weighted_targeting(scores, tau, w, shares=DEFAULT_SHARES, groups=v.cluster,
                                    alpha=alpha, rng=rng)  # fmt: skip
            extras["targeting"] = pv
            extras["qini"] = pd.DataFrame({
                "share": pv["share"], "n_targeted": pv["n_targeted"],
                "qini": pv["gain_vs_random"], "qini_ci_lower": pv["gain_vs_random_ci_lower"],
                "qini_ci_upper": pv["gain_vs_random_ci_upper"],
            })  # fmt: skip
    extras["evaluation_source"] = (
        f"weighted by '{v.design.weight}': doubly-robust scores and out-of-fold CATE "
        "(nuisance folds, one split); calibration and RATE not shown (unweighted only)"
    )
    return segments, extras


def _design_graph(design: Design) -> Any:
    """The graph the design assumes when none is given: every modifier and confounder causes
    the treatment and every outcome; the treatment causes every outcome."""
    from causal.graph import CausalGraph

    causes = list(dict.fromkeys([*design.modifiers, *design.confounders]))
    edges = [(c, design.treatment) for c in causes]
    edges += [(c, o) for c in causes for o in design.outcomes]
    edges += [(design.treatment, o) for o in design.outcomes]
    return CausalGraph.from_edges(edges)


def _graph_step(
    graph: str | None, design: Design, df: pd.DataFrame, notes: list[str]
) -> tuple[dict[str, Any], Design]:
    """Parse and check the graph, identify each effect; with a given graph, the adjustment
    sets (minus the modifiers) become the confounders. Returns the graph record and the design
    the models use."""
    from causal.graph import CausalGraph, identify

    g = CausalGraph.parse(graph) if graph is not None else _design_graph(design)
    g.validate(df, treatment=design.treatment, outcomes=list(design.outcomes))
    idents = [identify(g, design.treatment, o) for o in design.outcomes]
    used = design
    if graph is not None:
        adjust = list(dict.fromkeys(c for i in idents for c in i.adjustment_set))
        confounders = tuple(c for c in adjust if c not in set(design.modifiers))
        if set(confounders) != set(design.confounders):
            dropped = sorted(set(design.confounders) - set(confounders))
            added = sorted(set(confounders) - set(design.confounders))
            notes.append(
                "The graph's adjustment sets replace the configured confounders"
                + (f"; added {', '.join(added)}" if added else "")
                + (f"; dropped {', '.join(dropped)}" if dropped else "")
                + "."
            )
        used = dataclasses.replace(design, confounders=confounders)
        mediators = [m for m in design.modifiers if m in g.descendants(design.treatment)]
        if mediators:
            notes.append(
                f"The graph has the treatment causing the modifier(s) {', '.join(mediators)}; "
                "adjusting for them blocks part of the effect. Remove them from the modifiers."
            )
    record = {
        "source": "given" if graph is not None else "implied by the design (no graph given)",
        "dot": g.to_dot(),
        "svg": g.to_svg(highlight=[design.treatment, *design.outcomes]),
        "identification": [i.sentence for i in idents],
        "adjustment_sets": {i.outcome: list(i.adjustment_set) for i in idents},
    }
    return record, used


def _robustness(
    model: Any, outcome: str, *, alpha: float, seed: int, n_simulations: int, arm: Any = None
) -> dict[str, Any]:
    """Refutations, sensitivity, overlap and balance (:func:`causal.graph.robustness`)."""
    from causal.graph import robustness

    rob = robustness(
        model, outcome=outcome, n_simulations=n_simulations, alpha=alpha, seed=seed, T1=arm
    )
    d = rob.to_dict()
    return {
        "refutations": pd.DataFrame(d["refutations"], columns=["name", "passed", "detail"]),
        "sensitivity": d["sensitivity"] or {},
        "overlap": d["overlap"] or {},
        "balance": d["balance"] or {},
    }


DRIVER_PERMUTATION_ROWS = 200  # rows explained when the drivers fall back to permutation SHAP


def _drivers(
    model: Any,
    X: pd.DataFrame,
    Y: pd.DataFrame,
    outcome: str,
    *,
    alpha: float,
    seed: int,
    n_jobs: int | None,
    notes: list[str],
    arm: Any = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Drivers of the effect (SHAP of the CATE) beside predictive importance (SHAP of the
    outcome model), from :func:`causal.explain.compare`."""
    from causal._errors import LowFidelityError
    from causal.explain import compare

    try:
        cmp = compare(
            model,
            X,
            Y,
            outcome=outcome,
            random_state=seed,
            n_jobs=n_jobs,
            progress=False,
            T1=arm,
            # the permutation fallback (surrogate fidelity < 0.9) stacks every coalition of
            # every row into batched effect-model calls (causal.explain._permutation): ~4,200
            # model rows per explained row for the demo's 7 modifiers, ~2 s CPU per 20 rows for
            # the AutoCate blend (bench/RESULTS_explain.md), so 200 rows cost ~16 s, not minutes
            max_permutation_rows=DRIVER_PERMUTATION_ROWS,
        )
    except LowFidelityError as exc:
        notes.append(f"{outcome}: drivers not shown — {exc}")
        return pd.DataFrame(), {}
    drivers = cmp.causal.importance(alpha=alpha).reset_index(drop=True)
    extras = {
        "predictive_importance": cmp.predictive.importance(alpha=alpha).reset_index(drop=True),
        "drivers_text": cmp.text,
        "drivers_fidelity": float(cmp.causal.fidelity),
        "predictive_r2": float(cmp.predictive.fidelity),
    }
    return drivers, extras


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _dose_response(
    v: ValidatedData,
    X: pd.DataFrame | None,
    W: pd.DataFrame | None,
    outcome: str,
    *,
    alpha: float,
    seed: int,
    notes: list[str],
) -> dict[str, Any]:
    """The average dose–response curve of a continuous treatment
    (:func:`estimators.dose_response`: doubly-robust, cross-fitted, pointwise intervals) and
    its slope summary: the change from the lowest to the highest reported dose (the 5th and
    95th percentiles), and that change per unit of dose (the average slope over the range)."""
    import estimators

    cov = [f for f in (X, W) if f is not None]
    both = pd.concat(cov, axis=1) if cov else None
    dr = estimators.dose_response(
        np.asarray(v.y[outcome], dtype=float), np.asarray(v.t, dtype=float), X=both,
        groups=v.cluster, alpha=alpha, random_state=seed,
    )  # fmt: skip
    curve = dr.curve[dr.curve["segment"] == "all"].drop(columns="segment")
    curve = curve.reset_index(drop=True)
    notes.extend(f"{outcome}: {n}" for n in dr.notes)
    top = curve.iloc[-1]
    span = float(top["dose"] - curve["dose"].iloc[0])
    summary = {
        "reference": float(dr.reference),
        "dose_high": float(top["dose"]),
        "effect": float(top["effect"]),
        "effect_ci_lower": float(top["effect_ci_lower"]),
        "effect_ci_upper": float(top["effect_ci_upper"]),
        "se": float(top["se"]),
        "slope": float(top["effect"]) / span,
        "slope_ci_lower": float(top["effect_ci_lower"]) / span,
        "slope_ci_upper": float(top["effect_ci_upper"]) / span,
        "share_capped": float(dr.share_capped),
    }
    return {"dose_response": curve, "dose_response_summary": summary}


def _best_level(cates: list[np.ndarray], arms: list[Any], control: Any) -> np.ndarray:
    """Per item, the level with the largest estimated effect vs control; the control when no
    level's effect is above zero (ties: the first level in the treatment's order)."""
    stack = np.column_stack(cates)
    best = np.argmax(stack, axis=1)
    labels = np.asarray([str(a) for a in arms], dtype=object)[best]
    return np.where(stack.max(axis=1) > 0, labels, str(control)).astype(object)


def _one_effect(
    outcome: str,
    j: int,
    arm: Any,
    model: Any,
    Y: pd.DataFrame,
    v: ValidatedData,
    df: pd.DataFrame,
    X: pd.DataFrame | None,
    cate: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    bar: _Progress,
    timings: dict[str, float],
    effects: pd.DataFrame,
    estimator: str,
    seed: int,
    alpha: float,
    n_jobs: int | None,
    n_simulations: int,
    control: Any,
    notes: list[str],
) -> OutcomeEffect:
    """Everything for one outcome (and one level of a multi-valued treatment)."""
    name = outcome if arm is None else f"{outcome} [{arm} vs {control}]"
    col = cate_column(outcome, arm)
    bar.step(f"{name}: segments, calibration, targeting")
    t0 = time.perf_counter()
    effects[col] = cate[:, j]
    effects[f"{col}_ci_lower"] = lo[:, j]
    effects[f"{col}_ci_upper"] = hi[:, j]
    res = _outcome_result(
        outcome, model, Y, v, df, cate[:, j], lo[:, j], hi[:, j], estimator=estimator,
        seed=seed, alpha=alpha, notes=notes, arm=arm, control=control,
    )  # fmt: skip
    timings[f"evaluate {name}"] = time.perf_counter() - t0
    bar.done()
    bar.step(f"{name}: refutations, sensitivity, overlap")
    t0 = time.perf_counter()
    rob = _robustness(model, outcome, alpha=alpha, seed=seed, n_simulations=n_simulations,
                      arm=arm)  # fmt: skip
    res = dataclasses.replace(
        res,
        refutations=rob["refutations"],
        sensitivity=rob["sensitivity"],
        overlap=rob["overlap"],
        extras={**res.extras, "balance": rob["balance"]},
    )
    timings[f"robustness {name}"] = time.perf_counter() - t0
    bar.done()
    if X is not None:
        bar.step(f"{name}: drivers of the effect (SHAP)")
        t0 = time.perf_counter()
        drivers, dx = _drivers(model, X, Y, outcome, alpha=alpha, seed=seed, n_jobs=n_jobs,
                               notes=notes, arm=arm)  # fmt: skip
        res = dataclasses.replace(res, drivers=drivers, extras={**res.extras, **dx})
        timings[f"drivers {name}"] = time.perf_counter() - t0
        bar.done()
    return res


# ----------------------------------------------------------------------------- entry point


def what_works(
    data: Source | Any,
    design: Design,
    *,
    attributes: Sequence[str] = (),
    graph: str | None = None,
    estimator: str = "auto",
    primary: str | None = None,
    guardrails: Mapping[str, float] | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    connection: Any = None,
    progress: bool = True,
    n_jobs: int | None = None,
    n_simulations: int = 50,
    control: Any = None,
) -> WhatWorks:
    """What works: the effect of the treatment on every outcome, for whom, why, how sure.

    Parameters
    ----------
    data : pandas.DataFrame, path or str
        One row per unit: a DataFrame (never modified), a .parquet/.csv path, or a table
        name in ``connection`` (DuckDB).
    design : Design
        Column roles. ``weight`` weights every average reported (effects, segment effects,
        targeting values, shares; the calibration and RATE tables of
        :func:`estimators.evaluate` take no weights and are not shown under a weight);
        ``cluster`` keeps clusters whole in cross-fitting and makes the intervals
        cluster-robust; ``segments`` are reported. The treatment may be binary (0/1),
        multi-valued (levels such as none/small/large; see ``control``) or continuous.
    attributes : list of str
        Content attributes, each taken in turn as the treatment (the attribution table).
    graph : str, optional
        The causal graph (DOT text, or a YAML edge list; :meth:`causal.graph.CausalGraph.parse`).
        Each effect is identified from it, and its adjustment sets (minus the modifiers)
        become the confounders. Without one, the graph the design implies is drawn
        (modifiers and confounders cause treatment and outcomes).
    estimator : str
        ``"auto"`` (:class:`estimators.AutoCate`, choosing among candidates with valid CATE
        intervals by out-of-fold loss) or one of CausalForest, LinearDML, DRLearner,
        XLearner, TLearner, SLearner.
    primary : str, optional
        The outcome to raise when weighing outcomes against each other (default: the first).
    guardrails : mapping of outcome to margin, optional
        Outcomes that must not rise by more than the margin per unit (e.g. ``{"hides": 0.0}``)
        when targeting; the trade-off section scans the price put on them.
    seed : int
        Random state of every fitted model.
    alpha : float
        1 - confidence level of every interval.
    connection : duckdb.DuckDBPyConnection, optional
        The connection holding ``data`` when it is a table name.
    progress : bool
        Show a progress bar (in terminals and notebooks).
    n_jobs : int, optional
        Threads for model fitting (default: all cores).
    n_simulations : int
        Permutations / subsets / resamples of each no-refit refuter (placebo treatment, data
        subset, bootstrap); random common cause and dummy outcome share one nuisance refit.
    control : optional
        The control level of a multi-valued treatment (default: ``0``, ``"control"`` or
        ``"none"`` when one is a level; otherwise required). Every other level gets its own
        effect vs the control per outcome — average, per item (``cate_<o>[<level>]``),
        segments, targeting (boosting the top share *with that level*), drivers and
        robustness — and ``best_level_<o>`` names each item's level with the largest
        estimated effect (the control when none is above zero).

    Returns
    -------
    WhatWorks

    Examples
    --------
    >>> import causal
    >>> df = causal.simulate_content(n=3_000, seed=2)
    >>> d = causal.Design(unit="pin_id", treatment="boosted", outcomes=["saves"],
    ...                   modifiers=["quality_score", "format"],
    ...                   confounders=["creator_followers", "prior_impressions"])
    >>> ww = causal.what_works(df, d, progress=False)  # doctest: +SKIP
    >>> ww.report("what_works.html")  # doctest: +SKIP

    A boost tier with levels none / small / large, each compared with none:

    >>> df["tier"] = df["boosted"].map({0: "none", 1: "small"})  # doctest: +SKIP
    >>> df.loc[df["quality_score"] > 0.7, "tier"] = "large"  # doctest: +SKIP
    >>> d3 = causal.Design(unit="pin_id", treatment="tier", outcomes=["saves"],
    ...                    modifiers=["quality_score"], confounders=["creator_followers"])
    >>> ww3 = causal.what_works(df, d3, control="none", progress=False)  # doctest: +SKIP
    >>> ww3["saves", "large"].effect  # doctest: +SKIP
    """
    if not isinstance(design, Design):
        raise ConfigError(f"The 'design' parameter must be a Design. Got {type(design).__name__}.")
    if estimator not in ESTIMATORS:
        raise ConfigError(
            f"The 'estimator' parameter must be one of {', '.join(ESTIMATORS)}. "
            f"Got {estimator!r} instead."
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"The 'seed' parameter must be an int >= 0. Got {seed!r} instead.")
    if isinstance(alpha, bool) or not isinstance(alpha, float | int) or not 0 < alpha < 1:
        raise ConfigError(f"The 'alpha' parameter must be in (0, 1). Got {alpha!r} instead.")
    if primary is not None and primary not in design.outcomes:
        raise ConfigError(
            f"The 'primary' parameter must be one of the outcomes {list(design.outcomes)}. "
            f"Got {primary!r} instead."
        )
    for name, margin in dict(guardrails or {}).items():
        if name not in design.outcomes:
            raise ConfigError(
                f"The guardrail {name!r} is not one of the outcomes {list(design.outcomes)}; "
                "add it to the outcomes or remove it from 'guardrails'."
            )
        if isinstance(margin, bool) or not isinstance(margin, int | float):
            raise ConfigError(
                f"The margin of guardrail {name!r} must be a number (the largest acceptable "
                f"rise per unit, e.g. 0). Got {margin!r} instead."
            )
    if isinstance(attributes, str):
        attributes = [attributes]
    attributes = list(attributes)

    t_start = time.perf_counter()
    df, source = _load(data, design, attributes, connection)
    v = validate(df, design)
    control = _control_level(v, control)
    # the levels compared with the control (None: the one 0/1 or per-unit-dose contrast)
    arms: list[Any] = [None]
    if control is not None:
        arms = [lv for lv in v.treatment_levels if lv != control]
    notes: list[str] = list(v.warnings)
    graph_record, model_design = _graph_step(graph, design, df, notes)
    if model_design is not design:
        v = validate(df, model_design)
    X, W = _frames(df, model_design)
    timings: dict[str, float] = {}
    absent: dict[str, str] = {}
    outcomes: list[OutcomeEffect] = []
    effects = pd.DataFrame({design.unit: np.asarray(v.unit)})

    tradeoffs: dict[str, Any] = {}
    multi = v.treatment_kind == "binary" and len(design.outcomes) > 1 and X is not None
    # estimators.tradeoff and causal.graph.attribution take no sample weights: under a weight
    # they are not computed (named in methods["absent"]) rather than reported unweighted
    unweighted_only = design.weight is not None
    if unweighted_only:
        if multi:
            absent["Trade-offs between outcomes"] = (
                f"estimators.tradeoff takes no sample weights; under the weight "
                f"'{design.weight}' the trade-off table is not shown rather than shown unweighted."
            )
        if attributes:
            absent["Attribution table"] = (
                f"causal.graph.attribution takes no sample weights; under the weight "
                f"'{design.weight}' it is not computed rather than shown unweighted (run "
                "without 'weight' for it)."
            )
            notes.append(absent["Attribution table"])
            attributes = []
        multi = False
    per_outcome = (2 + int(X is not None)) * len(arms)
    # a continuous treatment: the dose–response curve per outcome (unweighted only)
    dose_curve = v.treatment_kind == "continuous" and design.weight is None
    total = 1 + per_outcome * len(design.outcomes) + int(multi) + int(bool(attributes))
    total += len(design.outcomes) * int(dose_curve)
    with _progress(total, progress) as bar:
        bar.step(f"fitting the effect model ({estimator}) for {len(design.outcomes)} outcome(s)")
        t0 = time.perf_counter()
        model, Y = None, None
        per_arm: dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for arm in arms:
            model, Y, cate, lo, hi = _fit(
                v, X, W, estimator=estimator, seed=int(seed), alpha=float(alpha),
                n_jobs=n_jobs, notes=notes, control=control, arm=arm, model=model,
            )  # fmt: skip
            per_arm[arm] = (cate, lo, hi)
        timings["fit"] = time.perf_counter() - t0
        bar.done()
        for j, outcome in enumerate(design.outcomes):
            for arm in arms:
                cate, lo, hi = per_arm[arm]
                res = _one_effect(
                    outcome, j, arm, model, Y, v, df, X, cate, lo, hi, bar=bar,
                    timings=timings, effects=effects, estimator=estimator, seed=int(seed),
                    alpha=float(alpha), n_jobs=n_jobs, n_simulations=n_simulations,
                    control=control, notes=notes,
                )  # fmt: skip
                outcomes.append(res)
            if control is not None:
                effects[f"best_level_{outcome}"] = _best_level(
                    [per_arm[a][0][:, j] for a in arms], arms, control
                )
        if dose_curve:
            for k, res in enumerate(outcomes):
                bar.step(f"{res.outcome}: dose–response curve")
                t0 = time.perf_counter()
                dx = _dose_response(v, X, W, res.outcome, alpha=float(alpha), seed=int(seed),
                                    notes=notes)  # fmt: skip
                outcomes[k] = dataclasses.replace(res, extras={**res.extras, **dx})
                timings[f"dose-response {res.outcome}"] = time.perf_counter() - t0
                bar.done()
        if multi:
            bar.step("trade-offs between outcomes")
            t0 = time.perf_counter()
            tradeoffs = _tradeoffs(
                model, Y, v, primary=primary, guardrails=dict(guardrails or {}),
                alpha=float(alpha), seed=int(seed),
            )  # fmt: skip
            timings["tradeoffs"] = time.perf_counter() - t0
            bar.done()
        attribution = pd.DataFrame()
        if attributes:
            bar.step(
                f"attribution: {len(attributes)} attribute(s) x {len(design.outcomes)} outcome(s)"
            )
            t0 = time.perf_counter()
            from causal.graph import attribution as attribution_table

            table = attribution_table(
                df, attributes, list(design.outcomes), graph,
                confounders=None if graph is not None else list(
                    dict.fromkeys([*design.modifiers, *design.confounders])
                ),
                groups=design.cluster, alpha=float(alpha), seed=int(seed), n_jobs=n_jobs,
            )  # fmt: skip
            attribution = pd.DataFrame(table.to_dict())
            timings["attribution"] = time.perf_counter() - t0
            bar.done()

    if v.treatment_kind == "continuous":
        absent["Segment effects and targeting"] = (
            "estimators.evaluate needs a discrete treatment; this one is continuous."
        )
        if design.weight is not None:
            absent["Dose–response curve"] = (
                f"estimators.dose_response takes no weights; under the weight "
                f"'{design.weight}' the curve is not shown rather than shown unweighted "
                "(the average effect per unit of the treatment is weighted)."
            )
    elif not design.modifiers:
        absent["Segment effects and targeting"] = (
            "the design names no modifiers, so the effect is one constant."
        )
    elif not design.segments:
        absent["Segment effects"] = "the design names no segments."
    if design.weight is not None and v.treatment_kind != "continuous" and design.modifiers:
        absent["Calibration (BLP) and RATE"] = (
            f"estimators.evaluate takes no weights; under the weight '{design.weight}' these "
            "tables are not shown rather than shown unweighted (segment effects and targeting "
            "values are weighted)."
        )
    if design.weight is not None and design.modifiers:
        notes.append(
            f"Drivers (mean |SHAP|) are unweighted summaries of the effect model; every "
            f"average effect, segment effect, share and targeting value uses '{design.weight}'."
        )
    if control is not None and len(design.outcomes) > 1 and X is not None:
        absent["Trade-offs between outcomes"] = (
            "computed for a binary boost; with several levels each level's targeting table "
            "shows its value per outcome."
        )
    if not design.modifiers:
        absent["Drivers of heterogeneity"] = "the design names no modifiers."
    if not attributes and "Attribution table" not in absent:
        absent["Attribution table"] = "no attributes were given."
    methods = {
        "source": source,
        "n": v.n,
        "treatment_kind": v.treatment_kind,
        **(
            {"control": control, "levels": list(v.treatment_levels)} if control is not None else {}
        ),  # fmt: skip
        "estimator": estimator,
        "seed": int(seed),
        "alpha": float(alpha),
        "clustered": design.cluster is not None,
        "weighted": design.weight is not None,
        "modifiers_encoded": list(v.x_names),
        "confounders_encoded": list(v.w_names),
        "versions": _versions(),
        "timings_s": {k: round(t, 2) for k, t in timings.items()},
        "elapsed_s": round(time.perf_counter() - t_start, 2),
        "absent": absent,
    }
    return WhatWorks(
        design=design,
        n=v.n,
        treatment_kind=v.treatment_kind,
        outcomes=tuple(outcomes),
        effects=effects,
        attribution=attribution,
        tradeoffs=tradeoffs,
        graph=graph_record,
        methods=methods,
        warnings=tuple(dict.fromkeys(notes)),
        control=control,
        model=model,
    )
