"""Report pages for an experiment readout and for item-level effect estimates.

Presentation only: every number shown is read from the result objects.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import pandas as pd

from causal.report._page import Section, svg_figure, write_page

__all__ = ["effects_sections", "readout_sections", "write_effects_page", "write_readout_page"]


def _table(df: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    return df.to_html(
        index=False, escape=True, border=0, na_rep="–", float_format=lambda v: floatfmt.format(v)
    )


def _percent(value: float) -> str:
    return "–" if pd.isna(value) else f"{100 * value:+.2f}%"


def _forest(
    labels: list[str],
    est: list[float],
    lo: list[float],
    hi: list[float],
    *,
    xlabel: str,
    percent: bool,
) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    scale = 100.0 if percent else 1.0
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 1.2))
    ys = list(range(len(labels)))[::-1]
    for y, e, a, b in zip(ys, est, lo, hi, strict=True):
        color = "#1f77b4" if a > 0 or b < 0 else "#7f7f7f"
        ax.plot([a * scale, b * scale], [y, y], color=color, lw=2)
        ax.plot([e * scale], [y], "o", color=color)
    ax.axvline(0, color="#444", lw=1, ls="--")
    ax.set_yticks(ys, labels)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    return fig


def readout_sections(ro: Any) -> list[Section]:
    """Sections of an experiment readout page: decision, lifts (plot and table), segments."""
    rows = ro.to_pandas()
    sections = [Section("Summary", ro._repr_html_())]
    ok = rows.dropna(subset=["rel_effect", "rel_effect_ci_lower", "rel_effect_ci_upper"])
    if len(ok):
        labels = [f"{m} ({v})" for m, v in zip(ok["metric"], ok["variant"], strict=True)]
        fig = _forest(
            labels,
            list(ok["rel_effect"]),
            list(ok["rel_effect_ci_lower"]),
            list(ok["rel_effect_ci_upper"]),
            xlabel="relative lift vs control (%)",
            percent=True,
        )
        sections.append(
            Section(
                "Relative lifts",
                svg_figure(
                    fig, f"{int(round(100 * (1 - ro.alpha)))}% intervals; blue: excludes zero."
                ),
            )
        )
    seg = ro.to_pandas(segments=True)
    if len(seg):
        cols = [
            "segment",
            "segment_value",
            "metric",
            "variant",
            "effect",
            "effect_ci_lower",
            "effect_ci_upper",
            "rel_effect",
            "pvalue_adjusted",
        ]
        sections.append(
            Section(
                "Segments (exploratory, Benjamini–Hochberg across segment × metric)",
                _table(seg[cols]),
            )
        )
    if getattr(ro, "heterogeneity", ()):
        from causal.report._heterogeneity import heterogeneity_html

        sections.append(Section("Effect heterogeneity", heterogeneity_html(ro.heterogeneity)))
    return sections


def write_readout_page(ro: Any, path: str | os.PathLike[str]) -> Path:
    """Write the experiment readout as one self-contained HTML file."""
    lede = f"Decision: {ro.decision}. Engine: {ro.engine}. Correction: {ro.correction}."
    return write_page(path, "Experiment readout", readout_sections(ro), lede=lede)


def effects_sections(est: Any) -> list[Section]:
    """Sections of an effect-estimates page: ATEs, candidates, estimate vs truth plots."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ates = est.to_pandas()
    sections = [Section("Average effect of the boost, per outcome", _table(ates))]
    sections.append(
        Section(
            "Estimator candidates (out-of-fold doubly-robust loss; lower is better)",
            _table(est.score_table),
        )
    )
    if est.calibration:
        k = len(est.calibration)
        ncols = min(k, 2)
        nrows = -(-k // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
        for ax in axes.flat[k:]:
            ax.set_visible(False)
        for ax, (outcome, cal) in zip(axes.flat, est.calibration.items(), strict=False):
            lo = min(cal["estimated"].min(), cal["true"].min())
            hi = max(cal["estimated"].max(), cal["true"].max())
            ax.plot([lo, hi], [lo, hi], color="#999", lw=1, ls="--")
            ax.plot(cal["estimated"], cal["true"], "o-", color="#1f77b4")
            ax.set_title(outcome)
            ax.set_xlabel("mean estimated CATE")
            ax.set_ylabel("mean true CATE")
        fig.tight_layout()
        sections.append(
            Section(
                "Estimated against true effects (simulated data)",
                svg_figure(
                    fig,
                    "Items grouped by deciles of the estimated effect; on the dashed line the "
                    "estimates are calibrated.",
                ),
            )
        )
    return sections


def write_effects_page(est: Any, path: str | os.PathLike[str]) -> Path:
    """Write effect estimates as one self-contained HTML file."""
    d = est.design
    lede = (
        f"Treatment {html.escape(d.treatment)} on {len(est.effects):,} items; "
        "doubly-robust ATE with cluster-robust intervals where a cluster is given."
    )
    return write_page(path, "What the boost does", effects_sections(est), lede=lede)
