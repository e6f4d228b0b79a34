"""The readout page's "Effect heterogeneity" section (presentation only)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from causal.report._page import svg_figure

__all__ = ["heterogeneity_html"]


def heterogeneity_html(results: Sequence[Any]) -> str:
    """The readout page's heterogeneity section (escaped HTML; GATE plot as inline SVG)."""
    esc = html.escape
    parts = []
    for r in results:
        ev = r.evaluation
        parts.append(f"<h3>{esc(r.metric)} — {esc(r.variant)}</h3><p>{esc(r.verdict)}</p>")
        parts.append(
            f"<p>Units analysed: {r.n_used:,} of {r.n_total:,}"
            f"{' (stratified subsample)' if r.subsampled else ''}; assignment probability "
            f"{r.assignment_probability:.3g} ({esc(r.probability_source)}).</p>"
        )
        cols = ["segment", "n", "effect", "effect_ci_lower", "effect_ci_upper", "band_lower",
                "band_upper"]  # fmt: skip
        parts.append(
            ev.gate[cols].to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0)
        )
        parts.append(svg_figure(ev.plot_gate(), "Segment effects: pointwise intervals (blue) "
                                "and the simultaneous band over all segments (grey)."))  # fmt: skip
        parts.append(r.targeting.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0))
        for n in r.notes:
            parts.append(f"<p><em>{esc(n)}</em></p>")
    return "\n".join(parts)
