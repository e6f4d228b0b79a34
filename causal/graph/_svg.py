"""A pure-Python layered (Sugiyama-style) drawing of a DAG as self-contained SVG.

Used when graphviz's ``dot`` program is absent. Layers: the longest path from a root; order
within a layer: a few down/up sweeps of the barycentre heuristic (Sugiyama, Tagawa & Toda
1981) to reduce crossings; edges are straight lines with arrow heads. No external assets.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["layered_svg"]

_CHAR_W = 7.2  # px per character at 12px sans-serif (approximate)
_NODE_H = 28.0
_LAYER_GAP = 80.0
_NODE_GAP = 24.0


def _layers(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        parents[b].append(a)
    level: dict[str, int] = {}

    def depth(n: str) -> int:
        if n not in level:
            stack = [n]
            while stack:
                v = stack[-1]
                todo = [p for p in parents[v] if p not in level]
                if todo:
                    stack += todo
                    continue
                level[v] = 1 + max((level[p] for p in parents[v]), default=-1)
                stack.pop()
        return level[n]

    for n in nodes:
        depth(n)
    return level


def layered_svg(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    latent: frozenset[str] | set[str] = frozenset(),
    highlight: set[str] | None = None,
) -> str:
    """SVG text drawing the DAG top to bottom (latent nodes dashed, highlighted ones filled).

    Examples
    --------
    >>> svg = layered_svg(["a", "b<"], [("a", "b<")])
    >>> svg.startswith("<svg") and "b&lt;" in svg
    True
    """
    highlight = highlight or set()
    level = _layers(nodes, edges)
    n_layers = 1 + max(level.values(), default=0)
    rows: list[list[str]] = [[n for n in nodes if level[n] == k] for k in range(n_layers)]
    nbrs_up: dict[str, list[str]] = {n: [] for n in nodes}
    nbrs_down: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        nbrs_up[b].append(a)
        nbrs_down[a].append(b)

    def sweep(order_from: list[list[str]], down: bool) -> None:
        rng = range(1, n_layers) if down else range(n_layers - 2, -1, -1)
        for k in rng:
            ref = {n: i for i, n in enumerate(order_from[k - 1 if down else k + 1])}
            row = order_from[k]
            pos = {n: i for i, n in enumerate(row)}

            def bary(n: str, ref: dict[str, int] = ref, pos: dict[str, int] = pos) -> float:
                nb = [ref[m] for m in (nbrs_up[n] if down else nbrs_down[n]) if m in ref]
                return sum(nb) / len(nb) if nb else float(pos[n])

            row.sort(key=bary)

    for _ in range(4):
        sweep(rows, True)
        sweep(rows, False)

    width_of = {n: max(60.0, _CHAR_W * len(n) + 20.0) for n in nodes}
    row_w = [sum(width_of[n] for n in r) + _NODE_GAP * max(len(r) - 1, 0) for r in rows]
    total_w = max(row_w, default=100.0) + 40.0
    total_h = n_layers * _NODE_H + (n_layers - 1) * _LAYER_GAP + 40.0
    xy: dict[str, tuple[float, float]] = {}
    for k, r in enumerate(rows):
        x = (total_w - row_w[k]) / 2
        y = 20.0 + k * (_NODE_H + _LAYER_GAP)
        for n in r:
            xy[n] = (x + width_of[n] / 2, y + _NODE_H / 2)
            x += width_of[n] + _NODE_GAP

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="cg-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
    ]
    for a, b in edges:
        (x1, y1), (x2, y2) = xy[a], xy[b]
        # leave the box edges: start at the bottom of a, end at the top of b (or sides)
        sy = y1 + _NODE_H / 2 if y2 > y1 else y1 - _NODE_H / 2 if y2 < y1 else y1
        ey = y2 - _NODE_H / 2 if y2 > y1 else y2 + _NODE_H / 2 if y2 < y1 else y2
        dash = ' stroke-dasharray="4 3"' if a in latent else ""
        out.append(
            f'<line x1="{x1:.1f}" y1="{sy:.1f}" x2="{x2:.1f}" y2="{ey:.1f}" stroke="#555" '
            f'stroke-width="1" marker-end="url(#cg-arrow)"{dash}><title>'
            f"{html.escape(a)} → {html.escape(b)}</title></line>"
        )
    for n in nodes:
        x, y = xy[n]
        w = width_of[n]
        fill = "#dbe9f6" if n in highlight else "#ffffff"
        dash = ' stroke-dasharray="4 3"' if n in latent else ""
        out.append(
            f'<g><rect x="{x - w / 2:.1f}" y="{y - _NODE_H / 2:.1f}" width="{w:.1f}" '
            f'height="{_NODE_H:.0f}" rx="6" fill="{fill}" stroke="#333"{dash}/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{html.escape(n)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)
