"""identify(): DoWhy's identification, the optimal adjustment set, and clear failures."""

from __future__ import annotations

import pandas as pd
import pytest

from causal import ConfigError, MissingColumnError, NotIdentifiableError
from causal.graph import CausalGraph, default_content_graph, identify

# Small graphs on which DoWhy 0.14's own efficient-adjustment search finishes: our closed-form
# optimal set must equal it (Henckel, Perković & Maathuis 2022; Rotnitzky & Smucler 2020).
SMALL_GRAPHS = [
    ["q -> t", "q -> y", "f -> t", "f -> y", "t -> m", "m -> y", "c -> y", "t -> y", "z -> t"],
    ["a -> t", "a -> b", "b -> y", "t -> y", "c -> t", "c -> y", "d -> c"],
    ["w1 -> t", "w1 -> w2", "w2 -> y", "t -> m", "m -> y", "v -> m", "z -> w1"],
]


@pytest.mark.parametrize("edges", SMALL_GRAPHS)
def test_optimal_set_equals_dowhy_efficient_adjustment(edges):
    from dowhy.causal_identifier import BackdoorAdjustment, EstimandType, identify_effect_auto

    g = CausalGraph.from_edges(edges)
    ref = identify_effect_auto(
        g.to_networkx(),
        ["t"],
        ["y"],
        list(g.nodes),
        EstimandType.NONPARAMETRIC_ATE,
        backdoor_adjustment=BackdoorAdjustment.BACKDOOR_EFFICIENT,
    ).get_backdoor_variables()
    ours = identify(g, "t", "y")
    assert ours.method == "backdoor"
    assert set(ours.adjustment_set) == set(ref)


def test_sentence_and_classic_cases():
    g = CausalGraph.from_dot(
        "digraph { quality -> boosted; quality -> saves; followers -> boosted; "
        "followers -> saves; boosted -> saves; boosted -> impressions; impressions -> saves }"
    )
    ident = identify(g, "boosted", "saves")
    assert ident.adjustment_set == ("quality", "followers")  # the mediator is not adjusted
    assert ident.sentence == (
        "Adjusting for quality and followers identifies the effect of boosted on saves."
    )
    assert "quality" in ident._repr_html_() and ident.to_pandas().shape[0] == 1
    # M-bias: the collider m must not be adjusted for
    m = CausalGraph.from_edges(["a -> t", "a -> m", "b -> m", "b -> y", "t -> y"])
    assert "m" not in identify(m, "t", "y", adjustment="minimal").adjustment_set
    # nothing to adjust for
    assert identify(CausalGraph.from_edges(["t -> y"]), "t", "y").sentence.startswith(
        "No adjustment"
    )


def test_content_template_never_adjusts_for_descendants():
    g = default_content_graph("boosted", ["saves"])
    for attr in ("text_overlay", "format", "category", "quality_score"):
        adj = set(identify(g, attr, "saves").adjustment_set)
        assert not adj & (g.descendants(attr) | {attr}), attr
        assert "boosted" not in adj and "prior_impressions" not in adj
    assert "shoppable" not in identify(g, "category", "saves").adjustment_set
    assert "format" in identify(g, "text_overlay", "saves").adjustment_set
    boost = identify(g, "boosted", "saves").adjustment_set
    assert set(boost) == set(g.parents("boosted"))


def test_frontdoor_iv_and_no_path():
    fd = CausalGraph.from_dot('digraph { U [observed="no"]; U -> t; U -> y; t -> m; m -> y }')
    r = identify(fd, "t", "y")
    assert r.method == "frontdoor" and r.frontdoor == ("m",) and "front-door" in r.sentence
    iv = CausalGraph.from_dot('digraph { U [observed="no"]; U -> t; U -> y; t -> y; z -> t }')
    r = identify(iv, "t", "y")
    assert r.method == "iv" and r.instruments == ("z",)
    none = identify(CausalGraph.from_edges(["q -> t", "q -> y"]), "t", "y")
    assert none.method == "no_path" and "zero" in none.sentence


def test_not_identifiable_names_the_open_path():
    g = CausalGraph.from_dot(
        'digraph { U [observed="no"]; U -> t; U -> y; t -> y; q -> t; q -> y }'
    )
    with pytest.raises(NotIdentifiableError, match=r"back-door path t <- U -> y stays open"):
        identify(g, "t", "y")


def test_identify_validates_against_data():
    g = CausalGraph.from_edges(["qualty -> t", "qualty -> y", "t -> y"])
    with pytest.raises(MissingColumnError, match="Did you mean 'quality'"):
        identify(g, "t", "y", data=pd.DataFrame(columns=["quality", "t", "y"]))
    with pytest.raises(ConfigError, match="adjustment must be"):
        identify(g, "t", "y", adjustment="smallest")


def test_dowhy_import_leaves_the_display_alone():
    import subprocess
    import sys

    code = (
        "import sys; hook = sys.displayhook\n"
        "from causal.graph import CausalGraph, identify\n"
        "identify(CausalGraph.from_edges(['q -> t', 'q -> y', 't -> y']), 't', 'y')\n"
        "print(sys.displayhook is hook)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_adjustment_columns_partition_and_checks():
    from causal import GraphError
    from causal.graph import adjustment_columns

    g = default_content_graph("boosted", ["saves"])
    X, W = adjustment_columns(g, "boosted", "saves", ["quality_score", "format"])
    assert X == ["quality_score", "format"]
    assert set(W) | set(X) == set(identify(g, "boosted", "saves").adjustment_set)
    assert not set(W) & set(X)
    # a mediator as modifier adjusts part of the effect away
    with pytest.raises(GraphError, match="modifier 'prior_impressions' is caused by the treatment"):
        adjustment_columns(g, "quality_score", "saves", ["prior_impressions"])
    # a collider as modifier opens a path (M-bias, with b unobserved so it cannot block it)
    m = CausalGraph.from_edges(["a -> t", "a -> m", "b -> m", "b -> y", "t -> y"], latent=["b"])
    with pytest.raises(GraphError, match=r"opens the path t <- a -> m <- b -> y"):
        adjustment_columns(m, "t", "y", ["m"])
    with pytest.raises(GraphError, match="not a node"):
        adjustment_columns(m, "t", "y", ["zz"])
