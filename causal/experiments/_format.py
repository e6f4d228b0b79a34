"""Formatting of readout numbers for text and HTML (presentation only; never computes).

Field names drive formatting: ``rel_*`` and ``variance_reduction`` print as percentages,
``pvalue*`` with 3-4 significant digits, counts as integers, NaN as an em dash.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["format_value", "html_table", "text_table"]

_PCT = ("rel_effect", "rel_effect_ci_lower", "rel_effect_ci_upper", "variance_reduction",
        "rel_mde", "information_fraction")  # fmt: skip


def format_value(field: str, value: Any, *, percent: bool | None = None) -> str:
    """Format one value by its field name (``percent`` overrides the name's choice).

    Examples
    --------
    >>> format_value("rel_effect", 0.0123)
    '+1.23%'
    >>> format_value("pvalue", 0.00001)
    '<0.0001'
    >>> format_value("effect", float("nan"))
    '—'
    """
    field = field.removeprefix("seq_")  # sequential columns format like their fixed kin
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if field in _PCT if percent is None else percent:
            sign = "+" if field.startswith("rel_") and value > 0 else ""
            return f"{sign}{value * 100:.2f}%"
        if field.startswith("pvalue") or field == "alpha":
            return "<0.0001" if value < 1e-4 else f"{value:.4f}"
        return f"{value:.4g}"
    return str(value)


def text_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table of ``rows`` (dicts) with the given columns.

    Examples
    --------
    >>> print(text_table([{"metric": "ctr", "effect": 0.5}], ["metric", "effect"]))
    metric  effect
    ctr        0.5
    """
    cells = [[format_value(c, r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    text_cols = {i for i, c in enumerate(columns) if c in ("metric", "variant", "role", "segment")}

    def line(vals: Sequence[str]) -> str:
        out = [
            v.ljust(widths[i]) if i in text_cols else v.rjust(widths[i]) for i, v in enumerate(vals)
        ]
        return "  ".join(out).rstrip()

    return "\n".join([line(list(columns)), *(line(r) for r in cells)])


def html_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    caption: str = "",
    *,
    percent: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    css_class: str = "",
) -> str:
    """An escaped HTML table (no external assets).

    ``percent`` names extra columns shown as percentages; ``headers`` relabels columns.

    Examples
    --------
    >>> "<td>&lt;b&gt;</td>" in html_table([{"metric": "<b>"}], ["metric"])
    True
    """
    names = headers or {}
    head = "".join(f"<th>{html.escape(names.get(c, c))}</th>" for c in columns)

    def cell(c: str, v: Any) -> str:
        return html.escape(format_value(c, v, percent=True if c in percent else None))

    body = "".join(
        "<tr>" + "".join(f"<td>{cell(c, r.get(c))}</td>" for c in columns) + "</tr>" for r in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    cls = f' class="{html.escape(css_class)}"' if css_class else ""
    return f"<table{cls}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
