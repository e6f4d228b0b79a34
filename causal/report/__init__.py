"""Presentation only: result objects in, self-contained HTML out."""

from causal.report._page import Section, render_page, svg_figure, write_page
from causal.report._pages import (
    effects_sections,
    readout_sections,
    write_effects_page,
    write_readout_page,
)
from causal.report._whatworks import (
    findings,
    render_whatworks_page,
    whatworks_sections,
    write_whatworks_page,
)

__all__ = [
    "Section",
    "effects_sections",
    "findings",
    "render_whatworks_page",
    "readout_sections",
    "render_page",
    "svg_figure",
    "write_effects_page",
    "write_page",
    "write_readout_page",
    "whatworks_sections",
    "write_whatworks_page",
]
