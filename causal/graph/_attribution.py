"""The attribution table: which content attributes cause which outcomes.

Each attribute in turn is the treatment; the graph gives its adjustment set per outcome
(DoWhy's efficient back-door set: never a descendant of the attribute, so effects that run
through the boost or through prior engagement are counted, not adjusted away); the
``estimators`` package estimates the effect from cross-fitted nuisances (one fit per attribute
and adjustment set, shared by its outcomes); each row gets the no-refit refutations, the
robustness value, and a Benjamini–Hochberg adjusted p-value across the whole table.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from causal._errors import ConfigError, NotIdentifiableError
from causal.data._readers import missing_column_error
from causal.graph._graph import CausalGraph
from causal.graph._identify import identify
from causal.graph._results import AttributionTable, Identification
from causal.graph._robustness import (
    _progress,
    bootstrap_refuter,
    data_subset_refuter,
    placebo_refuter,
    refit_refuters,
)
from causal.graph._scores import scores_of
from causal.graph._sensitivity import sensitivity

__all__ = ["attribute_kind", "attribution"]


def attribute_kind(s: pd.Series) -> str:
    """``"binary"`` (0/1 or bool numeric), ``"categorical"`` (text/categorical) or ``"continuous"``.

    Examples
    --------
    >>> attribute_kind(pd.Series([0, 1, 1])), attribute_kind(pd.Series(["a", "b"]))
    ('binary', 'categorical')
    """
    if isinstance(s.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
    ):
        return "categorical"
    if pd.api.types.is_bool_dtype(s.dtype) or set(pd.unique(s.dropna())) <= {0, 1}:
        return "binary"
    return "continuous"


def attribution(
    data: pd.DataFrame,
    attributes: Sequence[str],
    outcomes: Sequence[str],
    graph: CausalGraph | str | None = None,
    *,
    confounders: Sequence[str] | None = None,
    references: dict[str, Any] | None = None,
    groups: str | None = None,
    alpha: float = 0.05,
    refute: bool = True,
    refit: bool = False,
    n_simulations: int = 50,
    cv: int | None = None,
    nuisance_params: dict[str, Any] | None = None,
    n_jobs: int | None = None,
    seed: int = 0,
    progress: bool | Callable[[str], None] = False,
) -> AttributionTable:
    """Estimate the effect of each content attribute on each outcome, ranked, FDR-controlled.

    Parameters
    ----------
    data : DataFrame
    attributes : sequence of str
        Columns taken in turn as the treatment. Binary (0/1): effect of 1 vs 0. Categorical:
        each level vs a reference (``references[attr]``, default the most frequent level).
        Continuous: the partially linear effect per unit (``effect``) and per standard
        deviation of the attribute (``effect_per_sd``).
    outcomes : sequence of str
    graph : CausalGraph or str, optional
        The causal graph; each (attribute, outcome) is identified from it (DoWhy's efficient
        back-door set). Without a graph, ``confounders`` (minus the attribute itself) are the
        adjustment set for every attribute — only right if none of them is caused by an
        attribute.
    confounders : sequence of str, optional
        Used when ``graph`` is None.
    references : dict, optional
        ``{categorical attribute: reference level}``.
    groups : str, optional
        A cluster column (e.g. creator): folds keep clusters whole, intervals are
        cluster-robust.
    alpha : float
        Interval level ``1 - alpha``; FDR level of ``significant``.
    refute : bool
        Run the no-refit refuters (placebo treatment, data subset, bootstrap) per row.
    refit : bool
        Also random common cause and dummy outcome (one extra nuisance fit per attribute).
    n_simulations : int
        Simulations of each no-refit refuter.
    cv, nuisance_params, n_jobs
        Passed to :class:`estimators.LinearDML` (the nuisances; the ATE is doubly robust).
    seed : int
    progress : bool or callable

    Returns
    -------
    AttributionTable

    Examples
    --------
    >>> import causal
    >>> from causal.graph import attribution, default_content_graph
    >>> df = causal.simulate_content(n=2_000, seed=0, attribute_effects=True)
    >>> g = default_content_graph(None, ["saves"], attributes=["category", "format",
    ...     "quality_score", "age_days", "text_overlay", "shoppable", "caption_length"])
    >>> tab = attribution(df, ["text_overlay"], ["saves"], g, refute=False, n_jobs=1)
    >>> tab.to_dict()[0]["attribute"]
    'text_overlay'
    """
    import estimators
    from causal.stats._multitest import adjust_pvalues

    start = time.perf_counter()
    say = _progress(progress)
    if not isinstance(data, pd.DataFrame):
        raise ConfigError("data must be a pandas DataFrame.")
    attributes, outcomes = list(attributes), list(outcomes)
    if not attributes or not outcomes:
        raise ConfigError("Pass at least one attribute and one outcome.")
    for col, role in [*((a, "attribute") for a in attributes), *((o, "outcome") for o in outcomes)]:
        if col not in data.columns:
            raise missing_column_error(col, list(data.columns), role=f"{role} column")
    if groups is not None and groups not in data.columns:
        raise missing_column_error(groups, list(data.columns), role="groups column")
    g = None if graph is None else CausalGraph.parse(graph)
    if g is None and confounders is None:
        raise ConfigError(
            "Pass graph= (e.g. causal.graph.default_content_graph(None, outcomes, attributes=...)) "
            "or confounders= to say what to adjust for."
        )
    if g is not None:
        g.validate(data)
    references = dict(references or {})
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    idents: list[Identification] = []
    group_codes = None if groups is None else data[groups].to_numpy()

    for ai, attr in enumerate(attributes):
        kind = attribute_kind(data[attr])
        sets: dict[tuple[str, ...], list[str]] = {}
        for o in outcomes:
            if g is not None:
                ident = identify(g, attr, o)
                idents.append(ident)
                if ident.method == "no_path":
                    continue
                if ident.method != "backdoor":
                    raise NotIdentifiableError(
                        f"{ident.sentence} The attribution table supports back-door adjustment "
                        f"only; estimate {attr} -> {o} separately."
                    )
                adj = ident.adjustment_set
            else:
                adj = tuple(c for c in (confounders or ()) if c != attr and c not in outcomes)
                for c in adj:
                    if c not in data.columns:
                        raise missing_column_error(c, list(data.columns), role="confounder column")
            sets.setdefault(tuple(adj), []).append(o)
        T = data[attr]
        reference = None
        if kind == "categorical":
            levels = (
                list(pd.Series(T).astype("category").cat.categories)
                if not isinstance(T.dtype, pd.CategoricalDtype)
                else list(T.cat.categories)
            )
            counts = T.value_counts()
            reference = references.get(attr, counts.index[0])
            if reference not in levels:
                raise ConfigError(
                    f"The reference level {reference!r} of '{attr}' is not one of its levels {levels}."
                )
            T = T.astype(object)
            arms = [lv for lv in levels if lv != reference and counts.get(lv, 0) > 0]
        elif kind == "binary":
            T = T.astype(int)
            reference, arms = 0, [1]
        else:
            T = T.astype(float)
            arms = [None]
        sd_attr = float(data[attr].std()) if kind == "continuous" else math.nan
        for adj, outs in sets.items():
            say(
                f"[attribution {ai + 1}/{len(attributes)}] {attr} ({kind}) on {', '.join(outs)}; "
                f"adjusting for {', '.join(adj) or 'nothing'} ..."
            )
            W = data[list(adj)] if adj else pd.DataFrame({"_constant": np.zeros(len(data))})
            est = estimators.LinearDML(
                cv=cv,
                nuisance_params=nuisance_params,
                n_jobs=n_jobs,
                random_state=int(rng.integers(0, 2**31 - 1)),
                discrete_treatment=kind != "continuous",
                control=reference if kind != "continuous" else None,
            ).fit(data[outs], T, W=W, groups=group_codes)
            for o in outs:
                sd_y = float(data[o].std())
                for arm in arms:
                    sc = scores_of(est, outcome=o, T1=arm)
                    res = sc.estimate(alpha)
                    sens = sensitivity(sc, alpha=alpha, ks=(1.0,))
                    refs = []
                    if refute:
                        s = int(rng.integers(0, 2**31 - 1))
                        refs = [
                            placebo_refuter(sc, n_simulations=n_simulations, alpha=alpha, seed=s),
                            data_subset_refuter(
                                sc, n_simulations=n_simulations, alpha=alpha, seed=s + 1
                            ),
                            bootstrap_refuter(
                                sc, n_simulations=n_simulations, alpha=alpha, seed=s + 2
                            ),
                        ]
                        if refit:
                            refs += list(refit_refuters(est, sc, alpha=alpha, seed=s + 3))
                    label = f"{attr}={arm}" if kind == "categorical" else attr
                    per_sd = res.effect * sd_attr if kind == "continuous" else math.nan
                    std_effect = (
                        (per_sd if kind == "continuous" else res.effect) / sd_y
                        if sd_y > 0
                        else math.nan
                    )
                    rows.append(
                        {
                            "attribute": label,
                            "outcome": o,
                            "effect": float(res.effect),
                            "effect_ci_lower": float(res.effect_ci_lower),
                            "effect_ci_upper": float(res.effect_ci_upper),
                            "pvalue": float(res.pvalue),
                            "pvalue_adjusted": math.nan,
                            "robustness_value": float(sens.robustness_value),
                            "variable": attr,
                            "kind": kind,
                            "level": None if kind == "continuous" else arm,
                            "reference": reference,
                            "se": float(res.se),
                            "effect_per_sd": float(per_sd),
                            "effect_per_sd_ci_lower": float(res.effect_ci_lower * sd_attr)
                            if kind == "continuous"
                            else math.nan,
                            "effect_per_sd_ci_upper": float(res.effect_ci_upper * sd_attr)
                            if kind == "continuous"
                            else math.nan,
                            "std_effect": float(std_effect),
                            "adjustment_set": list(adj),
                            "refutations": [r.to_dict() for r in refs],
                            "refutations_passed": bool(all(r.passed for r in refs))
                            if refs
                            else None,
                            "robust": bool(sens.robust),
                            "n": int(sc.n),
                        }
                    )
    if rows:
        p = np.array([r["pvalue"] for r in rows])
        finite = np.isfinite(p)
        adj_p = np.full(p.shape, math.nan)
        if finite.any():
            adj_p[finite] = adjust_pvalues(p[finite], "bh")
        for r, q in zip(rows, adj_p, strict=True):
            r["pvalue_adjusted"] = float(q)
            r["significant"] = bool(q <= alpha) if np.isfinite(q) else False
    order = {o: i for i, o in enumerate(outcomes)}
    rows.sort(
        key=lambda r: (
            order[r["outcome"]],
            -abs(r["std_effect"]) if np.isfinite(r["std_effect"]) else 0,
        )
    )
    rank: dict[str, int] = {}
    for r in rows:
        rank[r["outcome"]] = rank.get(r["outcome"], 0) + 1
        r["rank"] = rank[r["outcome"]]
    say(f"[attribution] {len(rows)} rows in {time.perf_counter() - start:.1f} s")
    return AttributionTable(
        rows=tuple(rows),
        alpha=alpha,
        correction="bh",
        identifications=tuple(idents),
        seconds=time.perf_counter() - start,
    )
