"""Identification through DoWhy: the back-door set, front-door or IV where the graph allows.

DoWhy (``dowhy.causal_identifier.identify_effect_auto``) does the work; it is imported here,
inside the function, so ``import causal`` never pays for it (≈3–7 s).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from causal._errors import ConfigError, GraphError, NotIdentifiableError
from causal.graph._graph import CausalGraph
from causal.graph._results import Identification

__all__ = ["adjustment_columns", "identify"]


def _words(names: list[str] | tuple[str, ...]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def identify(
    graph: CausalGraph | str,
    treatment: str,
    outcome: str,
    *,
    data: Any = None,
    adjustment: str = "efficient",
) -> Identification:
    """Identify the effect of ``treatment`` on ``outcome`` from the graph, with DoWhy.

    DoWhy decides whether and how the effect is identified. The back-door set reported is the
    *optimal* adjustment set (Rotnitzky & Smucler 2020; Henckel, Perković & Maathuis 2022: the
    valid set of observed variables giving the smallest asymptotic variance — the parents of
    the causal path's nodes that are not descendants of the treatment, so pure causes of the
    treatment are left out) when it is valid, else DoWhy's default back-door set. The optimal
    set is computed in closed form and checked by d-separation, because DoWhy's own
    ``efficient-adjustment`` search did not finish on the content template (see
    :func:`_dowhy_identify`). Without a back-door set, a front-door set or
    instruments are used where the graph offers them.

    Parameters
    ----------
    graph : CausalGraph or str
        The graph, or DOT/YAML text (see :meth:`CausalGraph.parse`).
    treatment, outcome : str
        Observed nodes of the graph.
    data : DataFrame, optional
        When given, the graph is validated against its columns first.
    adjustment : {"efficient", "minimal", "maximal"}
        Which valid back-door set to prefer.

    Returns
    -------
    Identification

    Raises
    ------
    NotIdentifiableError
        When no back-door, front-door or instrumental-variable estimand exists; the message
        names a back-door path that no observed set can block.

    Examples
    --------
    >>> g = CausalGraph.from_dot(
    ...     "digraph { quality -> boosted; quality -> saves; followers -> boosted;"
    ...     " followers -> saves; boosted -> saves }")
    >>> identify(g, "boosted", "saves").sentence
    'Adjusting for quality and followers identifies the effect of boosted on saves.'
    """
    graph = CausalGraph.parse(graph)
    if adjustment not in ("efficient", "minimal", "maximal"):
        raise ConfigError(
            f"adjustment must be 'efficient', 'minimal' or 'maximal'; got {adjustment!r}."
        )
    graph.validate(
        data if data is not None else graph.observed, treatment=treatment, outcomes=[outcome]
    )

    if treatment not in graph.ancestors(outcome):
        return Identification(
            treatment,
            outcome,
            "no_path",
            (),
            (),
            (),
            f"The graph has no directed path from {treatment} to {outcome}: its effect is zero "
            "by the graph's assumptions.",
            "",
        )
    est, oset = _dowhy_identify(graph, treatment, outcome, adjustment)
    order = {n: i for i, n in enumerate(graph.nodes)}
    backdoor = est.get_backdoor_variables() if est.estimands.get("backdoor") is not None else None
    if backdoor is not None and oset is not None:
        backdoor = list(oset)
    if backdoor is not None:
        adj = tuple(sorted(backdoor, key=order.__getitem__))
        if adj:
            sentence = (
                f"Adjusting for {_words(adj)} identifies the effect of {treatment} on {outcome}."
            )
        else:
            sentence = f"No adjustment is needed: nothing confounds {treatment} and {outcome} in the graph."
        return Identification(
            treatment, outcome, "backdoor", adj, (), (), sentence, str(est.estimands["backdoor"])
        )
    front = tuple(est.frontdoor_variables or ())
    if front and est.estimands.get("frontdoor") is not None:
        return Identification(
            treatment,
            outcome,
            "frontdoor",
            (),
            front,
            (),
            f"No back-door set exists, but the front-door mediators {_words(front)} identify the "
            f"effect of {treatment} on {outcome} (all of its effect runs through them).",
            str(est.estimands["frontdoor"]),
        )
    ivs = tuple(est.instrumental_variables or ())
    if ivs and est.estimands.get("iv") is not None:
        return Identification(
            treatment,
            outcome,
            "iv",
            (),
            (),
            ivs,
            f"No back-door set exists; {_words(ivs)} {'is an instrument' if len(ivs) == 1 else 'are instruments'} "
            f"for {treatment}, which identifies the effect on {outcome} under the extra "
            "assumptions of instrumental variables (e.g. a homogeneous or monotone effect).",
            str(est.estimands["iv"]),
        )
    non_desc = [
        n
        for n in graph.observed
        if n not in (treatment, outcome) and n not in graph.descendants(treatment)
    ]
    path = graph.open_backdoor_path(treatment, outcome, non_desc)
    shown = " ".join(path) if path else "(a back-door path through unobserved nodes)"
    raise NotIdentifiableError(
        f"The effect of {treatment} on {outcome} is not identified by the graph: the back-door "
        f"path {shown} stays open whatever observed variables are adjusted for, and the graph "
        "offers no front-door mediators or instruments. Measure a variable on that path (and add "
        "it to the data), or state why an edge on it does not exist."
    )


def adjustment_columns(
    graph: CausalGraph | str,
    treatment: str,
    outcome: str,
    modifiers: list[str] | tuple[str, ...] = (),
    *,
    data: Any = None,
) -> tuple[list[str], list[str]]:
    """The estimator's columns from the graph: modifiers ``X`` and confounders ``W``.

    ``W`` is the identified adjustment set minus the modifiers (``estimators`` adjusts for
    ``X`` and ``W`` together). The modifiers are checked: none may be caused by the treatment
    (a mediator as ``X`` would adjust part of the effect away), and adjusting for them on top of
    ``W`` must keep every back-door path blocked (a collider among them would open one).

    Returns
    -------
    (X, W) : two lists of column names

    Raises
    ------
    GraphError
        A modifier is not a node, is caused by the treatment, or opens a back-door path.
    NotIdentifiableError
        The effect is not identified by back-door adjustment.

    Examples
    --------
    >>> g = CausalGraph.from_edges(["q -> t", "q -> y", "f -> y", "f -> t", "t -> y"])
    >>> adjustment_columns(g, "t", "y", ["q"])
    (['q'], ['f'])
    """
    import networkx as nx

    graph = CausalGraph.parse(graph)
    ident = identify(graph, treatment, outcome, data=data)
    if ident.method not in ("backdoor", "no_path"):
        raise NotIdentifiableError(
            f"{ident.sentence} The estimators adjust by back-door only: estimate this effect "
            "with a front-door or instrumental-variable method instead."
        )
    X = list(modifiers)
    desc = graph.descendants(treatment)
    for m in X:
        if m not in graph.nodes:
            raise GraphError(
                f"The modifier '{m}' is not a node of the graph: add it with its causes so the "
                "graph can say whether adjusting for it is safe."
            )
        if m in desc or m == treatment:
            raise GraphError(
                f"The modifier '{m}' is caused by the treatment '{treatment}' in the graph (a "
                "mediator): using it as a modifier adjusts part of the effect away. Use "
                "pre-treatment attributes as modifiers."
            )
    Z = set(ident.adjustment_set) | set(X)
    g = graph.to_networkx()
    g.remove_edges_from([(treatment, c) for c in graph.children(treatment)])
    if ident.method == "backdoor" and not nx.is_d_separator(g, {treatment}, {outcome}, Z):
        path = graph.open_backdoor_path(treatment, outcome, Z)
        shown = " ".join(path) if path else "a back-door path"
        raise GraphError(
            f"Adjusting for the modifiers {X} opens the path {shown} (a collider among them): "
            "drop that modifier or add a variable on the path to the adjustment set."
        )
    return X, [c for c in ident.adjustment_set if c not in X]


def _dowhy_identify(
    graph: CausalGraph, treatment: str, outcome: str, adjustment: str
) -> tuple[Any, tuple[str, ...] | None]:
    """DoWhy's identified estimand, and the optimal set when ``adjustment="efficient"``.

    DoWhy 0.14's own ``efficient-adjustment`` enumerates every simple path of a moralised
    graph: on the content template (each attribute causes every outcome) it ran for minutes
    without finishing. So DoWhy identifies (default back-door search, front-door, IV) and the
    optimal set is computed here by its closed form (:func:`_o_set`), checked by d-separation.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("dowhy").setLevel(logging.ERROR)
        BackdoorAdjustment, EstimandType, identify_effect_auto = _dowhy_identifier()

        methods = {
            "efficient": BackdoorAdjustment.BACKDOOR_DEFAULT,
            "minimal": BackdoorAdjustment.BACKDOOR_MIN,
            "maximal": BackdoorAdjustment.BACKDOOR_MAX,
        }
        est = identify_effect_auto(
            graph.to_networkx(),
            [treatment],
            [outcome],
            list(graph.observed),
            EstimandType.NONPARAMETRIC_ATE,
            backdoor_adjustment=methods[adjustment],
        )
    oset = _o_set(graph, treatment, outcome) if adjustment == "efficient" else None
    return est, oset


def _dowhy_identifier() -> tuple[Any, Any, Any]:
    """DoWhy's identifier, imported without its side effect on the user's session.

    ``import dowhy`` runs ``sympy.init_printing()`` (in ``dowhy.causal_model``), which replaces
    ``sys.displayhook`` — in a REPL or notebook every tuple and list then prints without
    quotes, as maths. It is switched off for the import.
    """
    import sympy

    real = sympy.init_printing
    sympy.init_printing = lambda *args, **kwargs: None
    try:
        from dowhy.causal_identifier import (
            BackdoorAdjustment,
            EstimandType,
            identify_effect_auto,
        )
    finally:
        sympy.init_printing = real
    return BackdoorAdjustment, EstimandType, identify_effect_auto


def _o_set(graph: CausalGraph, treatment: str, outcome: str) -> tuple[str, ...] | None:
    """The optimal adjustment set ``O = pa(cn) minus forb`` (Henckel, Perković & Maathuis 2022).

    ``cn``: nodes on proper causal paths from the treatment to the outcome (the treatment
    excluded); ``forb``: their descendants and the treatment. It is the valid adjustment set
    with the smallest asymptotic variance (Rotnitzky & Smucler 2020; DoWhy's
    ``efficient-adjustment``). Returned only when every node of ``O`` is observed and ``O``
    d-separates treatment and outcome once the treatment's outgoing edges are removed (the
    back-door criterion; ``O`` holds no descendant of the treatment by construction).
    """
    import networkx as nx

    desc_t = graph.descendants(treatment)
    anc_y = graph.ancestors(outcome) | {outcome}
    cn = {v for v in desc_t if v in anc_y}
    forb = {treatment} | cn
    for v in cn:
        forb |= graph.descendants(v)
    o = {p for v in cn for p in graph.parents(v)} - forb
    if o & set(graph.latent):
        return None
    g = graph.to_networkx()
    g.remove_edges_from([(treatment, c) for c in graph.children(treatment)])
    if not nx.is_d_separator(g, {treatment}, {outcome}, o):
        return None
    order = {n: i for i, n in enumerate(graph.nodes)}
    return tuple(sorted(o, key=order.__getitem__))
