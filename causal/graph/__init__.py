"""Causal graphs, identification, robustness — and the content-attribute attribution table.

Built on DoWhy (identification), imported lazily: ``import causal`` and ``causal readout``
never pay for it. Estimation uses the ``estimators`` package; every refuter and diagnostic
reuses the estimator's cross-fitted nuisances where the mathematics allows.

Public API (stable; the what-works workflow writes it into ``summary.json``)
---------------------------------------------------------------------------
Graphs
    ``CausalGraph.from_dot(text)``, ``CausalGraph.from_edges(pairs)``,
    ``CausalGraph.parse(dot_or_yaml_text_or_path)``, ``default_content_graph(treatment,
    outcomes, attributes=..., creator=..., prior=...)``; ``graph.validate(data,
    treatment=, outcomes=)`` (cycles are refused when built, naming the cycle; a node missing
    from the data is named with the closest column); ``graph.to_svg()`` (graphviz ``dot`` when
    on PATH, else a pure-Python layered layout); ``add_edges``, ``remove_nodes``,
    ``mark_latent``; ``parents``, ``descendants``, ``ancestors``.
Identification
    ``identify(graph, treatment, outcome) -> Identification`` with ``.adjustment_set`` (the
    confounders ``W``), ``.method`` (backdoor / frontdoor / iv / no_path), ``.sentence``;
    raises ``NotIdentifiableError`` naming an open back-door path.
    ``adjustment_columns(graph, treatment, outcome, modifiers) -> (X, W)``: the estimator's
    modifiers and confounders, checked (no mediator as a modifier, no collider opened).
Robustness of one estimate (a fitted ``estimators`` model)
    ``robustness(est, outcome=, T1=, n_simulations=100, progress=True) -> Robustness``:
    ``.refutations`` (``RefutationResult(name, passed, detail)``: placebo_treatment,
    random_common_cause, data_subset, bootstrap, dummy_outcome), ``.sensitivity``,
    ``.overlap``, ``.balance``; ``.to_dict()`` gives the per-outcome ``summary.json`` keys
    ``{"refutations": [{name, passed, detail}], "sensitivity": {robustness_value, ...},
    "overlap": {...}, "balance": {...}}``.
    The parts alone: ``scores_of(est, outcome=, T1=)`` then ``sensitivity(scores)``
    (Cinelli–Hazlett robustness value, benchmarks, ``.plot()`` contour figure, E-value for
    binary outcomes), ``overlap(scores, trim=True)``, ``balance(scores)``.
Attribution
    ``attribution(data, attributes, outcomes, graph) -> AttributionTable``; ``.to_dict()``
    is the ``summary.json`` ``attribution`` list: ``[{attribute, outcome, effect,
    effect_ci_lower, effect_ci_upper, pvalue, pvalue_adjusted, robustness_value}]``;
    ``.to_pandas()`` has every column (kind, level, reference, per-SD effects, adjustment set,
    refutations, rank, ...).

Examples
--------
>>> from causal.graph import CausalGraph, identify
>>> g = CausalGraph.from_dot("digraph { q -> t; q -> y; t -> y }")
>>> identify(g, "t", "y").adjustment_set
('q',)
"""

from causal.graph._attribution import attribute_kind, attribution
from causal.graph._graph import CausalGraph, default_content_graph
from causal.graph._identify import adjustment_columns, identify
from causal.graph._results import (
    AttributionTable,
    Balance,
    Identification,
    Overlap,
    RefutationResult,
    Robustness,
    Sensitivity,
)
from causal.graph._robustness import REFUTERS, balance, overlap, robustness, smd
from causal.graph._scores import EffectScores, scores_of
from causal.graph._sensitivity import evalue, partial_r2_benchmarks, robustness_value, sensitivity

__all__ = [
    "REFUTERS",
    "AttributionTable",
    "Balance",
    "CausalGraph",
    "EffectScores",
    "Identification",
    "Overlap",
    "RefutationResult",
    "Robustness",
    "Sensitivity",
    "adjustment_columns",
    "attribute_kind",
    "attribution",
    "balance",
    "default_content_graph",
    "evalue",
    "identify",
    "overlap",
    "partial_r2_benchmarks",
    "robustness",
    "robustness_value",
    "scores_of",
    "sensitivity",
    "smd",
]
