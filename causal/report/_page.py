"""Self-contained HTML pages: inline CSS, inline SVG plots, no network, everything escaped.

Sections carry HTML fragments made by result objects' ``_repr_html_`` (which escape their own
text); titles and headings given here are escaped here.
"""

from __future__ import annotations

import html
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from causal._io import write_text_atomic

__all__ = ["Section", "inline_svg", "render_page", "svg_figure", "write_page"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#1d2125;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #dfe3e8;padding-bottom:.2rem}
.lede{color:#5a6470;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e6e9ed;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f5f7f9}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}figcaption{color:#5a6470;font-size:.85rem}
.note{background:#f5f7f9;border-left:3px solid #8895a7;padding:.5rem .8rem}
h3{font-size:1rem;margin:1.2rem 0 .3rem}.findings li{margin:.3rem 0}
td.t{text-align:left}td.pass{color:#2e7d32;font-weight:600}
span.pass{color:#2e7d32;font-weight:600}span.fail{color:#b8322a;font-weight:600}td.fail{color:#b8322a;font-weight:600}
.row{display:flex;flex-wrap:wrap;gap:1rem}.row figure{flex:1 1 22rem}
"""


_SVG_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Section:
    """One titled part of a page; ``body_html`` is trusted (already escaped) HTML."""

    title: str
    body_html: str


def render_page(title: str, sections: Sequence[Section], *, lede: str = "") -> str:
    """The whole page as one HTML string with no external resources.

    Examples
    --------
    >>> page = render_page("A <b>", [Section("S", "<p>x</p>")])
    >>> "A &lt;b&gt;" in page and "<p>x</p>" in page and "http" not in page
    True
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if lede:
        parts.append(f'<p class="lede">{html.escape(lede)}</p>')
    for s in sections:
        parts.append(f"<section><h2>{html.escape(s.title)}</h2>{s.body_html}</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def svg_figure(fig: object, caption: str = "") -> str:
    """A matplotlib figure as inline SVG inside ``<figure>`` (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(  # type: ignore[attr-defined]
        buf, format="svg", bbox_inches="tight", metadata={"Date": None}
    )
    plt.close(fig)  # type: ignore[arg-type]
    svg = buf.getvalue()
    svg = svg[svg.find("<svg") :]  # drop the XML prolog and DOCTYPE (which names a URL)
    # matplotlib repeats every drawn label in an XML comment; user text (a category name)
    # must not reach the page unescaped, even inside a comment, so comments are dropped.
    svg = _SVG_COMMENT.sub("", svg)
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{cap}</figure>"


def inline_svg(svg: str) -> str:
    """An SVG document as an inline fragment: prolog, DOCTYPE (it names a URL) and comments
    (they repeat labels unescaped) removed; scripts and external references refused."""
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("not an SVG document")
    out = _SVG_COMMENT.sub("", svg[start:])
    if re.search(r"<script|xlink:href=\"(?!#)|href=\"(?!#)", out, re.IGNORECASE):
        raise ValueError("the SVG holds a script or an external reference")
    return out


def write_page(
    path: str | os.PathLike[str], title: str, sections: Sequence[Section], *, lede: str = ""
) -> Path:
    """Render and write a page atomically; return its path."""
    return write_text_atomic(render_page(title, sections, lede=lede), path)
