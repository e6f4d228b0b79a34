"""Causal graphs (DAGs): construction from DOT text or edge lists, validation, path queries.

A :class:`CausalGraph` is an immutable set of named nodes and directed edges, some nodes
possibly *latent* (unobserved; DoWhy's ``observed="no"`` attribute in DOT). It is checked for
cycles when built and against a table by :meth:`CausalGraph.validate`. Identification itself is
DoWhy's (:func:`causal.graph.identify`); the small path queries here (ancestors, descendants,
open back-door paths) only serve validation and error messages.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from causal._errors import GraphError
from causal.data._readers import missing_column_error

__all__ = ["CausalGraph", "default_content_graph"]

_ID = r'(?:"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_.]*|-?[0-9]+(?:\.[0-9]+)?)'
_KEYWORDS = {"node", "edge", "graph", "subgraph", "strict", "digraph"}


def _unquote(token: str) -> str:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return token[1:-1].replace('\\"', '"')
    return token


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"(^|[^:])//[^\n]*", r"\1", text)
    return re.sub(r"^\s*#[^\n]*", "", text, flags=re.M)


def _split_attrs(stmt: str) -> tuple[str, dict[str, str]]:
    """``'a -> b [x="1", y=2]'`` -> (``'a -> b'``, ``{'x': '1', 'y': '2'}``)."""
    attrs: dict[str, str] = {}
    m = re.search(r"\[(.*)\]\s*$", stmt, flags=re.S)
    if m:
        for key, value in re.findall(rf"({_ID})\s*=\s*({_ID})", m.group(1)):
            attrs[_unquote(key)] = _unquote(value)
        stmt = stmt[: m.start()]
    return stmt.strip(), attrs


def _parse_dot(text: str) -> tuple[list[str], list[tuple[str, str]], set[str]]:
    """Nodes (in order of appearance), edges and latent nodes of a DOT ``digraph``."""
    body = _strip_comments(text).strip()
    m = re.match(rf"^(?:strict\s+)?(di)?graph\s*(?:{_ID})?\s*\{{(.*)\}}\s*;?\s*$", body, flags=re.S)
    if not m:
        raise GraphError(
            "The graph text is not DOT: expected 'digraph { a -> b; ... }' (got "
            f"{body[:60]!r}). Write one edge per statement, e.g. 'digraph {{ quality -> saves; }}', "
            "or pass an edge list to CausalGraph.from_edges."
        )
    if not m.group(1):
        raise GraphError(
            "The DOT graph is undirected ('graph { ... }'): a causal graph must be a 'digraph' "
            "with '->' edges."
        )
    nodes: list[str] = []
    edges: list[tuple[str, str]] = []
    latent: set[str] = set()

    def add(node: str) -> None:
        if node not in nodes:
            nodes.append(node)

    for raw in re.split(r";|\n", m.group(2)):
        stmt = raw.strip()
        if not stmt:
            continue
        if "--" in stmt and "->" not in stmt:
            raise GraphError(
                f"Undirected edge in {stmt!r}: causal graphs need directed edges 'a -> b'."
            )
        stmt, attrs = _split_attrs(stmt)
        if not stmt or stmt.split()[0] in _KEYWORDS or re.match(rf"^{_ID}\s*=", stmt):
            continue  # default attributes (node [...], graph [...]) or graph settings (rankdir=LR)
        parts = [p.strip() for p in stmt.split("->")]
        groups: list[list[str]] = []
        for part in parts:
            part = part.strip()
            if part.startswith("{") and part.endswith("}"):
                names = re.findall(_ID, part[1:-1])
            else:
                names = re.findall(_ID, part)
                if len(names) != 1 or re.sub(_ID, "", part, count=1).strip():
                    raise GraphError(
                        f"Cannot read the DOT statement {raw.strip()!r}: expected 'a -> b', "
                        "'a -> b -> c', '{a b} -> c' or 'a [observed=\"no\"]'."
                    )
            groups.append([_unquote(n) for n in names])
        for group in groups:
            for name in group:
                add(name)
        for src, dst in zip(groups, groups[1:], strict=False):
            edges += [(a, b) for a in src for b in dst]
        if len(groups) == 1 and attrs.get("observed", "yes").lower() in ("no", "false", "0"):
            latent.update(groups[0])
    return nodes, edges, latent


def _edge_of(item: Any) -> tuple[str, str]:
    if isinstance(item, str):
        parts = [p.strip() for p in item.split("->")]
        if len(parts) == 2 and all(parts):
            return parts[0], parts[1]
    elif isinstance(item, Sequence) and len(item) == 2:
        return str(item[0]), str(item[1])
    raise GraphError(
        f"Cannot read the edge {item!r}: write each edge as a pair [cause, effect] or as the "
        "text 'cause -> effect'."
    )


@dataclass(frozen=True)
class CausalGraph:
    """A directed acyclic graph over named variables, some possibly latent.

    Build it with :meth:`from_dot`, :meth:`from_edges`, :meth:`parse` or
    :func:`default_content_graph`; it is checked for cycles when built.

    Attributes
    ----------
    nodes : tuple of str
        Every variable, in order of first appearance.
    edges : tuple of (str, str)
        ``(cause, effect)`` pairs.
    latent : frozenset of str
        Unobserved nodes (not expected in the data).

    Examples
    --------
    >>> g = CausalGraph.from_dot("digraph { quality -> boosted; quality -> saves; boosted -> saves }")
    >>> g.parents("saves")
    ('quality', 'boosted')
    >>> CausalGraph.from_edges([("a", "b"), ("b", "a")])
    Traceback (most recent call last):
    ...
    causal._errors.GraphError: The graph has a cycle: a -> b -> a. A causal graph must be acyclic; remove one of these edges.
    """

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    latent: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        unknown = sorted({n for e in self.edges for n in e} - set(self.nodes))
        if unknown:
            raise GraphError(f"Edges mention nodes that are not in 'nodes': {unknown}.")
        if not set(self.latent) <= set(self.nodes):
            raise GraphError(
                f"Latent nodes not in the graph: {sorted(set(self.latent) - set(self.nodes))}."
            )
        for a, b in self.edges:
            if a == b:
                raise GraphError(f"The graph has a self-loop {a} -> {a}; remove it.")
        cycle = self._find_cycle()
        if cycle:
            raise GraphError(
                f"The graph has a cycle: {' -> '.join(cycle)}. A causal graph must be acyclic; "
                "remove one of these edges."
            )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_edges(
        cls, edges: Iterable[Any], *, nodes: Iterable[str] = (), latent: Iterable[str] = ()
    ) -> CausalGraph:
        """A graph from ``(cause, effect)`` pairs or ``"cause -> effect"`` strings.

        Parameters
        ----------
        edges : iterable
            Pairs or strings; duplicates are dropped.
        nodes : iterable of str, optional
            Extra isolated nodes.
        latent : iterable of str, optional
            Unobserved nodes.

        Examples
        --------
        >>> CausalGraph.from_edges(["x -> t", ["x", "y"], ("t", "y")]).edges
        (('x', 't'), ('x', 'y'), ('t', 'y'))
        """
        pairs: list[tuple[str, str]] = []
        order: list[str] = []
        for item in edges:
            a, b = _edge_of(item)
            if (a, b) not in pairs:
                pairs.append((a, b))
            for n in (a, b):
                if n not in order:
                    order.append(n)
        for n in [*nodes, *latent]:
            if str(n) not in order:
                order.append(str(n))
        return cls(tuple(order), tuple(pairs), frozenset(str(n) for n in latent))

    @classmethod
    def from_dot(cls, text: str) -> CausalGraph:
        """A graph from DOT text: ``digraph { a -> b; b -> c -> d; {x z} -> y; u [observed="no"] }``.

        Node and edge attributes are ignored except ``observed="no"`` (DoWhy's mark of a latent
        node). Comments (``//``, ``/* */``, ``#``) are allowed.

        Examples
        --------
        >>> g = CausalGraph.from_dot('digraph { U [observed="no"]; U -> t; U -> y; t -> y }')
        >>> sorted(g.latent)
        ['U']
        """
        nodes, edges, latent = _parse_dot(text)
        return cls.from_edges(edges, nodes=nodes, latent=latent)

    @classmethod
    def parse(cls, source: str | Path | CausalGraph) -> CausalGraph:
        """A graph from DOT text, YAML text, or a path to a ``.dot``/``.gv``/``.yaml`` file.

        YAML: ``edges: [[cause, effect], "cause -> effect", ...]`` and optionally
        ``latent: [...]`` (a bare list of edges also works).

        Examples
        --------
        >>> CausalGraph.parse("edges:\\n  - [q, t]\\n  - q -> y\\n").edges
        (('q', 't'), ('q', 'y'))
        """
        if isinstance(source, CausalGraph):
            return source
        text = str(source)
        if isinstance(source, Path) or (
            "\n" not in text and "{" not in text and text.endswith((".dot", ".gv", ".yaml", ".yml"))
        ):
            path = Path(text)
            if not path.is_file():
                raise GraphError(f"The graph file '{path}' does not exist.")
            text = path.read_text()
        if re.match(r"^\s*(?:(?://|#)[^\n]*\n\s*)*(?:strict\s+)?(?:di)?graph\b", text):
            return cls.from_dot(text)
        import yaml  # a core dependency (configs)

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise GraphError(f"The graph is neither DOT nor valid YAML: {exc}") from None
        if isinstance(doc, list):
            doc = {"edges": doc}
        if not isinstance(doc, dict) or "edges" not in doc:
            raise GraphError(
                "A YAML graph needs an 'edges' list, e.g. 'edges: [[quality, saves], "
                "\"boosted -> saves\"]' (optionally 'latent: [name, ...]')."
            )
        return cls.from_edges(
            doc["edges"] or [], nodes=doc.get("nodes") or (), latent=doc.get("latent") or ()
        )

    # ------------------------------------------------------------------ queries
    @property
    def observed(self) -> tuple[str, ...]:
        """Nodes that are not latent, in node order."""
        return tuple(n for n in self.nodes if n not in self.latent)

    def parents(self, node: str) -> tuple[str, ...]:
        """Direct causes of ``node``."""
        self._check_node(node)
        return tuple(a for a, b in self.edges if b == node)

    def children(self, node: str) -> tuple[str, ...]:
        """Direct effects of ``node``."""
        self._check_node(node)
        return tuple(b for a, b in self.edges if a == node)

    def descendants(self, node: str) -> frozenset[str]:
        """Every node reachable from ``node`` along directed edges (``node`` excluded)."""
        return self._reach(node, forward=True)

    def ancestors(self, node: str) -> frozenset[str]:
        """Every node with a directed path into ``node`` (``node`` excluded)."""
        return self._reach(node, forward=False)

    def _reach(self, node: str, *, forward: bool) -> frozenset[str]:
        self._check_node(node)
        nxt: dict[str, list[str]] = {n: [] for n in self.nodes}
        for a, b in self.edges:
            (nxt[a] if forward else nxt[b]).append(b if forward else a)
        seen: set[str] = set()
        stack = list(nxt[node])
        while stack:
            v = stack.pop()
            if v not in seen:
                seen.add(v)
                stack += nxt[v]
        return frozenset(seen)

    def _check_node(self, node: str) -> None:
        if node not in self.nodes:
            import difflib

            near = difflib.get_close_matches(str(node), self.nodes, n=1)
            hint = f" Did you mean '{near[0]}'?" if near else ""
            raise GraphError(f"'{node}' is not a node of the graph.{hint}")

    def _find_cycle(self) -> list[str] | None:
        nxt: dict[str, list[str]] = {n: [] for n in self.nodes}
        for a, b in self.edges:
            nxt[a].append(b)
        state = dict.fromkeys(self.nodes, 0)  # 0 new, 1 on stack, 2 done
        for start in self.nodes:
            if state[start]:
                continue
            path = [start]
            iters = [iter(nxt[start])]
            state[start] = 1
            while iters:
                child = next(iters[-1], None)
                if child is None:
                    state[path.pop()] = 2
                    iters.pop()
                elif state[child] == 1:
                    return [*path[path.index(child) :], child]
                elif state[child] == 0:
                    state[child] = 1
                    path.append(child)
                    iters.append(iter(nxt[child]))
        return None

    def open_backdoor_path(
        self, treatment: str, outcome: str, adjusted: Iterable[str]
    ) -> list[str] | None:
        """A back-door path from ``treatment`` to ``outcome`` left open by ``adjusted``, if any.

        Returns the path as alternating node names, e.g. ``['t', '<-', 'U', '->', 'y']``,
        or None when every back-door path is blocked (d-separation, Pearl 2009, def. 1.2.3).
        Paths are searched shortest first, up to 12 nodes long and 50,000 partial paths (dense
        graphs have exponentially many; the search is for an error message, not a proof).
        """
        self._check_node(treatment)
        self._check_node(outcome)
        z = set(adjusted)
        parents = {n: set() for n in self.nodes}
        children = {n: set() for n in self.nodes}
        for a, b in self.edges:
            parents[b].add(a)
            children[a].add(b)
        anc_z = set(z)
        for v in z:
            anc_z |= self.ancestors(v)

        def open_at(prev: str, v: str, nxt: str) -> bool:
            collider = prev in parents[v] and nxt in parents[v]
            return (v in anc_z) if collider else (v not in z)

        # breadth-first over simple paths that start with an edge INTO the treatment
        frontier: list[list[str]] = [[treatment, p] for p in sorted(parents[treatment])]
        budget = 50_000
        while frontier and budget > 0:
            budget -= len(frontier)
            new: list[list[str]] = []
            for path in frontier:
                last = path[-1]
                if last == outcome:
                    return _arrows(path, children)
                if len(path) >= 12:
                    continue
                for nb in sorted(parents[last] | children[last]):
                    if nb in path:
                        continue
                    if open_at(path[-2], last, nb):
                        new.append([*path, nb])
            frontier = new
        return None

    # ------------------------------------------------------------------ editing
    def add_edges(self, edges: Iterable[Any], *, latent: Iterable[str] = ()) -> CausalGraph:
        """A new graph with extra edges (and latent nodes).

        Examples
        --------
        >>> CausalGraph.from_edges(["a -> b"]).add_edges(["c -> b"]).parents("b")
        ('a', 'c')
        """
        return CausalGraph.from_edges(
            [*self.edges, *edges], nodes=self.nodes, latent=[*self.latent, *latent]
        )

    def remove_nodes(self, nodes: Iterable[str]) -> CausalGraph:
        """A new graph without ``nodes`` and their edges (e.g. to drop a confounder)."""
        drop = set(nodes)
        for n in drop:
            self._check_node(n)
        return CausalGraph(
            tuple(n for n in self.nodes if n not in drop),
            tuple(e for e in self.edges if e[0] not in drop and e[1] not in drop),
            frozenset(self.latent - drop),
        )

    def mark_latent(self, nodes: Iterable[str]) -> CausalGraph:
        """A new graph where ``nodes`` are unobserved (kept in the graph, not in the data)."""
        extra = list(nodes)
        for n in extra:
            self._check_node(n)
        return CausalGraph(self.nodes, self.edges, frozenset([*self.latent, *extra]))

    # ------------------------------------------------------------------ validation
    def validate(
        self,
        columns: Any,
        *,
        treatment: str | None = None,
        outcomes: Sequence[str] | str = (),
    ) -> CausalGraph:
        """Check the graph against a table (or its column names); returns ``self``.

        Every observed node must be a column (the error names the node and the closest column);
        the treatment and outcomes must be observed nodes of the graph, with the outcomes not
        causes of the treatment.

        Raises
        ------
        MissingColumnError
            An observed node is not a column.
        GraphError
            Treatment/outcome not in the graph, latent, or the outcome causes the treatment.
        """
        names = [str(c) for c in getattr(columns, "columns", columns)]
        present = set(names)
        for node in self.observed:
            if node not in present:
                err = missing_column_error(node, names, role="graph node")
                raise type(err)(
                    f"{err} Rename the node, add the column, or mark the node unobserved "
                    f"('{node} [observed=\"no\"]' in DOT)."
                )
        outs = [outcomes] if isinstance(outcomes, str) else list(outcomes)
        for role, node in [("treatment", treatment), *(("outcome", o) for o in outs)]:
            if node is None:
                continue
            if node not in self.nodes:
                import difflib

                near = difflib.get_close_matches(node, self.nodes, n=1)
                hint = f" Did you mean '{near[0]}'?" if near else ""
                raise GraphError(
                    f"The {role} '{node}' is not a node of the graph.{hint} Add it with its "
                    "edges (e.g. graph.add_edges(...)) or pick a node of the graph."
                )
            if node in self.latent:
                raise GraphError(f"The {role} '{node}' is marked unobserved in the graph.")
        if treatment is not None:
            for o in outs:
                if treatment in self.descendants(o):
                    raise GraphError(
                        f"The outcome '{o}' causes the treatment '{treatment}' in the graph "
                        "(a directed path outcome -> treatment): reverse or remove that edge."
                    )
        return self

    # ------------------------------------------------------------------ output
    def to_dot(self) -> str:
        """DOT text of the graph (latent nodes dashed, with ``observed="no"``).

        Examples
        --------
        >>> print(CausalGraph.from_edges(["a -> b"]).to_dot())
        digraph {
          "a";
          "b";
          "a" -> "b";
        }
        """

        def q(n: str) -> str:
            return '"' + n.replace('"', '\\"') + '"'

        lines = ["digraph {"]
        for n in self.nodes:
            extra = ' [observed="no", style="dashed"]' if n in self.latent else ""
            lines.append(f"  {q(n)}{extra};")
        lines += [f"  {q(a)} -> {q(b)};" for a, b in self.edges]
        lines.append("}")
        return "\n".join(lines)

    def to_networkx(self) -> Any:
        """The graph as a ``networkx.DiGraph`` (what DoWhy takes)."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from(self.edges)
        return g

    def to_svg(self, *, highlight: Iterable[str] = (), engine: str = "auto") -> str:
        """The graph as a self-contained SVG string.

        Parameters
        ----------
        highlight : iterable of str
            Nodes drawn emphasised (e.g. treatment and outcome).
        engine : {"auto", "dot", "python"}
            ``"dot"``: graphviz's ``dot`` program (must be on PATH); ``"python"``: the built-in
            layered layout; ``"auto"``: ``dot`` when present, else the built-in layout.
        """
        if engine not in ("auto", "dot", "python"):
            raise GraphError(f"engine must be 'auto', 'dot' or 'python'; got {engine!r}.")
        dot = shutil.which("dot")
        if engine == "dot" and dot is None:
            raise GraphError("engine='dot' needs graphviz's 'dot' program on PATH.")
        if engine != "python" and dot is not None:
            res = subprocess.run(
                [dot, "-Tsvg"], input=self.to_dot(), capture_output=True, text=True, check=False
            )
            if res.returncode == 0 and "<svg" in res.stdout:
                return res.stdout[res.stdout.index("<svg") :]
        from causal.graph._svg import layered_svg

        return layered_svg(self.nodes, self.edges, self.latent, set(highlight))

    def _repr_html_(self) -> str:
        return self.to_svg(engine="python")

    def __repr__(self) -> str:
        return (
            f"CausalGraph({len(self.nodes)} nodes, {len(self.edges)} edges"
            + (f", latent {sorted(self.latent)}" if self.latent else "")
            + ")"
        )


def _arrows(path: list[str], children: dict[str, set[str]]) -> list[str]:
    out = [path[0]]
    for a, b in zip(path, path[1:], strict=False):
        out += ["->" if b in children[a] else "<-", b]
    return out


#: Attribute-to-attribute edges of the content simulator (a category sets how often a pin is
#: shoppable; videos carry text overlays less often; better creators write longer captions).
CONTENT_ATTRIBUTE_EDGES: tuple[tuple[str, str], ...] = (
    ("category", "shoppable"),
    ("format", "text_overlay"),
    ("quality_score", "caption_length"),
)


def default_content_graph(
    treatment: str | None = "boosted",
    outcomes: Sequence[str] = ("impressions", "saves", "outbound_clicks", "hides", "revenue"),
    *,
    attributes: Sequence[str] = (
        "category",
        "format",
        "quality_score",
        "age_days",
        "text_overlay",
        "shoppable",
    ),
    creator: Sequence[str] = ("creator_followers",),
    prior: Sequence[str] = ("prior_impressions",),
    attribute_edges: Sequence[tuple[str, str]] = CONTENT_ATTRIBUTE_EDGES,
    extra_edges: Iterable[Any] = (),
) -> CausalGraph:
    """The content-ecosystem DAG template, to edit for your platform.

    Creator features cause the content attributes (who makes what), prior engagement, the
    distribution boost and every outcome; content attributes cause prior engagement, the boost
    and the outcomes; prior engagement causes the boost (targeting) and the outcomes; the boost
    causes the outcomes. ``attribute_edges`` orders the attributes among themselves (an
    attribute's total effect then runs through the ones it causes, which are not adjusted for);
    pairs naming an absent node are dropped. The defaults match :func:`causal.simulate_content`.

    Parameters
    ----------
    treatment : str or None
        The distribution boost node (None: no boost node, e.g. for attribute-only graphs).
    outcomes, attributes, creator, prior : sequence of str
        Node names of each group (empty to leave a group out).
    attribute_edges : sequence of (str, str)
        Causal order among attributes and creator features.
    extra_edges : iterable
        Further edges, e.g. ``["quality_score -> format"]``.

    Examples
    --------
    >>> g = default_content_graph("boosted", ["saves"])
    >>> "prior_impressions" in g.parents("boosted")
    True
    >>> g.descendants("boosted")
    frozenset({'saves'})
    """
    edges: list[tuple[str, str]] = []
    attrs, creators, priors = list(attributes), list(creator), list(prior)
    outs = list(outcomes)
    for c in creators:
        edges += [(c, x) for x in [*attrs, *priors]]
    present = set(attrs) | set(creators)
    edges += [(a, b) for a, b in attribute_edges if a in present and b in present]
    for a in [*creators, *attrs]:
        edges += [(a, p) for p in priors]
    sources = [*creators, *attrs, *priors]
    if treatment is not None:
        edges += [(s, treatment) for s in sources]
        edges += [(treatment, o) for o in outs]
    for s in sources:
        edges += [(s, o) for o in outs]
    nodes = [*creators, *attrs, *priors, *([treatment] if treatment else []), *outs]
    return CausalGraph.from_edges(edges, nodes=nodes).add_edges(extra_edges)
