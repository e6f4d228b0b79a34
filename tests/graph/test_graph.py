"""CausalGraph: parsing, validation errors, path queries, SVG — no DoWhy needed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from causal import GraphError, MissingColumnError
from causal.graph import CausalGraph, default_content_graph


def test_dot_parsing_chains_groups_latent_and_comments():
    g = CausalGraph.from_dot(
        """
        // the boost
        digraph content {
          rankdir=LR;
          node [shape=box];
          U [label="taste", observed="no"];  /* latent */
          quality -> boosted -> saves;
          {quality U} -> saves [color=red];
          "creator followers" -> boosted
          # a comment line
        }
        """
    )
    assert set(g.edges) == {
        ("quality", "boosted"),
        ("boosted", "saves"),
        ("quality", "saves"),
        ("U", "saves"),
        ("creator followers", "boosted"),
    }
    assert g.latent == frozenset({"U"})
    assert g.observed == ("quality", "boosted", "saves", "creator followers")


def test_dot_round_trip_and_yaml_and_edge_forms():
    g = default_content_graph("boosted", ["saves", "hides"])
    back = CausalGraph.from_dot(g.to_dot())
    assert set(back.edges) == set(g.edges) and set(back.nodes) == set(g.nodes)
    y = CausalGraph.parse("edges:\n  - [q, t]\n  - q -> y\n  - t -> y\nlatent: [u]\n")
    assert y.edges == (("q", "t"), ("q", "y"), ("t", "y")) and y.latent == frozenset({"u"})
    assert CausalGraph.parse("- a -> b\n").edges == (("a", "b"),)


def test_graph_file(tmp_path):
    p = tmp_path / "g.dot"
    p.write_text("digraph { a -> b }")
    assert CausalGraph.parse(str(p)).edges == (("a", "b"),)
    with pytest.raises(GraphError, match="does not exist"):
        CausalGraph.parse(str(tmp_path / "missing.dot"))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("digraph { a -> b; b -> c; c -> a }", r"cycle: a -> b -> c -> a"),
        ("digraph { a -> a }", "self-loop"),
        ("graph { a -- b }", "undirected"),
        ("digraph { a -- b }", "Undirected edge"),
        ("digraph { a b -> c }", "Cannot read the DOT statement"),
        ("a -> b", "not DOT|edges"),
    ],
)
def test_bad_graphs_give_clear_errors(text, match):
    with pytest.raises(GraphError, match=match):
        CausalGraph.parse(text)


def test_bad_edge_items():
    with pytest.raises(GraphError, match=r"pair \[cause, effect\]"):
        CausalGraph.from_edges(["a => b"])


def test_validate_names_missing_node_and_suggests_column():
    g = CausalGraph.from_dot("digraph { qualty -> boosted; qualty -> saves; boosted -> saves }")
    df = pd.DataFrame(columns=["quality", "boosted", "saves"])
    with pytest.raises(MissingColumnError, match=r"graph node 'qualty'.*Did you mean 'quality'"):
        g.validate(df)
    # a latent node need not be a column
    g.mark_latent(["qualty"]).validate(df)


def test_validate_treatment_outcome_roles():
    g = CausalGraph.from_dot(
        'digraph { q -> t; q -> y; t -> y; y -> z; z -> w; U [observed="no"] }'
    )
    cols = ["q", "t", "y", "z", "w"]
    with pytest.raises(GraphError, match=r"treatment 'tt' is not a node.*Did you mean 't'"):
        g.validate(cols, treatment="tt", outcomes=["y"])
    with pytest.raises(GraphError, match="outcome 'yy' is not a node"):
        g.validate(cols, treatment="t", outcomes="yy")
    with pytest.raises(GraphError, match="marked unobserved"):
        g.validate(cols, treatment="U", outcomes=["y"])
    with pytest.raises(GraphError, match="outcome 'z' causes the treatment 'w'"):
        g.validate(cols, treatment="w", outcomes=["z"])
    assert g.validate(cols, treatment="t", outcomes=["y"]) is g


def test_queries():
    g = CausalGraph.from_edges(["a -> b", "b -> c", "a -> c", "d -> a"])
    assert g.parents("c") == ("b", "a")
    assert g.descendants("a") == frozenset({"b", "c"})
    assert g.ancestors("c") == frozenset({"a", "b", "d"})
    with pytest.raises(GraphError, match="Did you mean 'a'"):
        g.parents("aa")


def test_open_backdoor_path_known_answers():
    # t <- u -> y is open unless u is adjusted; the collider path t <- a -> m <- b -> y is
    # closed unless the collider m is adjusted (M-bias).
    g = CausalGraph.from_edges(
        ["u -> t", "u -> y", "t -> y", "a -> t", "a -> m", "b -> m", "b -> y"]
    )
    assert g.open_backdoor_path("t", "y", []) == ["t", "<-", "u", "->", "y"]
    assert g.open_backdoor_path("t", "y", ["u"]) is None
    assert g.open_backdoor_path("t", "y", ["u", "m"]) == [
        "t",
        "<-",
        "a",
        "->",
        "m",
        "<-",
        "b",
        "->",
        "y",
    ]
    assert g.open_backdoor_path("t", "y", ["u", "m", "a"]) is None


def test_default_content_graph_structure():
    g = default_content_graph("boosted", ["saves"])
    # the boost is caused by every pre-treatment node and causes only the outcome
    assert set(g.parents("boosted")) == set(g.nodes) - {"boosted", "saves"}
    assert g.descendants("boosted") == frozenset({"saves"})
    # attribute order: category -> shoppable, format -> text_overlay
    assert "shoppable" in g.descendants("category")
    assert "text_overlay" in g.descendants("format")
    assert "prior_impressions" in g.descendants("quality_score")
    g2 = default_content_graph(None, ["saves"], attributes=["format"], extra_edges=["format -> x"])
    assert "boosted" not in g2.nodes and ("format", "x") in g2.edges
    # pairs naming absent attributes are dropped
    assert ("category", "shoppable") not in g2.edges


def test_svg_is_wellformed_and_escaped():
    g = CausalGraph.from_dot('digraph { "a<b" -> "c&d"; U [observed="no"]; U -> "c&d" }')
    svg = g.to_svg(engine="python", highlight=["a<b"])
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag.endswith("svg")
    texts = [t.text for t in root.iter() if t.tag.endswith("text")]
    assert set(texts) == {"a<b", "c&d", "U"}
    assert "stroke-dasharray" in svg  # the latent node is dashed
    assert 'src="http' not in svg and 'href="http' not in svg  # self-contained
    with pytest.raises(GraphError, match="engine"):
        g.to_svg(engine="neato")
    assert g._repr_html_().startswith("<svg")


def test_svg_layers_point_downwards():
    g = default_content_graph("boosted", ["saves", "hides"])
    root = ET.fromstring(g.to_svg(engine="python"))
    ys = {}
    for grp in root.iter():
        if grp.tag.split("}")[-1] == "g":
            rect = next(e for e in grp if e.tag.endswith("rect"))
            text = next(e for e in grp if e.tag.endswith("text"))
            ys[text.text] = float(rect.get("y"))
    for a, b in g.edges:
        assert ys[a] < ys[b], (a, b)


def test_editing_returns_new_graphs():
    g = CausalGraph.from_edges(["q -> t", "q -> y", "t -> y"])
    g2 = g.remove_nodes(["q"])
    assert g2.edges == (("t", "y"),) and g.nodes == ("q", "t", "y")
    with pytest.raises(GraphError, match="cycle"):
        g.add_edges(["y -> q"])
