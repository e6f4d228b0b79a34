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


# ---- the experiment readout page ---------------------------------------------------------------

_BANNER = (
    '<div role="alert" style="background:#fde8e8;border:2px solid #c81e1e;color:#771d1d;'
    'padding:.8rem 1rem;margin:1rem 0;font-weight:600">{}</div>'
)
_OK_BANNER = (
    '<div style="background:#eef6ee;border-left:4px solid #2f7d32;padding:.5rem .8rem;'
    'margin:1rem 0">{}</div>'
)
_LIFT_COLS = ("metric", "variant", "control_mean", "treatment_mean", "effect", "effect_ci_lower",
              "effect_ci_upper", "rel_effect", "rel_effect_ci_lower", "rel_effect_ci_upper",
              "pvalue_adjusted", "variance_reduction")  # fmt: skip
_LIFT_HEADERS = {
    "control_mean": "control", "treatment_mean": "treatment", "effect": "lift",
    "effect_ci_lower": "lift low", "effect_ci_upper": "lift high", "rel_effect": "relative",
    "rel_effect_ci_lower": "rel. low", "rel_effect_ci_upper": "rel. high", "pvalue": "p",
    "pvalue_adjusted": "p adjusted", "variance_reduction": "CUPED var. red.",
    "n_control": "n control", "n_treatment": "n treatment",
}  # fmt: skip
_SEQ_COLS = ("metric", "variant", "seq_information_fraction", "seq_critical_z",
             "seq_effect_ci_lower", "seq_effect_ci_upper", "seq_rel_effect_ci_lower",
             "seq_rel_effect_ci_upper", "seq_pvalue", "seq_pvalue_adjusted",
             "seq_significant")  # fmt: skip


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _level(ro: Any) -> str:
    return f"{round(100 * (1 - ro.alpha))}%"


def _lift_plot(rows: list[Any], ro: Any, caption: str) -> str:
    ok = [r for r in rows if pd.notna(r.rel_effect) and pd.notna(r.rel_effect_ci_lower)]
    if not ok:
        return ""
    fig = _forest(
        [f"{r.metric} ({r.variant})" for r in ok],
        [r.rel_effect for r in ok],
        [r.rel_effect_ci_lower for r in ok],
        [r.rel_effect_ci_upper for r in ok],
        xlabel="relative lift vs control (%)",
        percent=True,
    )
    return svg_figure(fig, caption)


def _segment_plots(ro: Any) -> str:
    """One forest plot per metric: relative lift by segment value and arm, BH-adjusted colour."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    parts = []
    metrics = list(dict.fromkeys(r.metric for r in ro.segments))
    for metric in metrics:
        rows = [r for r in ro.segments if r.metric == metric and pd.notna(r.rel_effect)
                and pd.notna(r.rel_effect_ci_lower)]  # fmt: skip
        if not rows:
            continue
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.3))
        ys = list(range(len(rows)))[::-1]
        for y, r in zip(ys, rows, strict=True):
            sig = pd.notna(r.pvalue_adjusted) and r.pvalue_adjusted < ro.alpha
            color = "#1f77b4" if sig else "#7f7f7f"
            ax.plot([100 * r.rel_effect_ci_lower, 100 * r.rel_effect_ci_upper], [y, y],
                    color=color, lw=2)  # fmt: skip
            ax.plot([100 * r.rel_effect], [y], "o", color=color)
        overall = {(m.metric, m.variant): m.rel_effect for m in ro.metrics}
        for v in dict.fromkeys(r.variant for r in rows):
            o = overall.get((metric, v))
            if o is not None and pd.notna(o):
                ax.axvline(100 * o, color="#d62728", lw=1, ls=":")
        ax.axvline(0, color="#444", lw=1, ls="--")
        ax.set_yticks(ys, [f"{r.segment}={r.segment_value} ({r.variant})" for r in rows])
        ax.set_xlabel("relative lift vs control (%)")
        ax.set_title(metric)
        ax.grid(axis="x", alpha=0.3)
        parts.append(svg_figure(
            fig,
            f"{metric}: {_level(ro)} intervals per segment value; blue: Benjamini–Hochberg "
            "adjusted p below alpha; dotted red: the overall lift; dashed: no effect.",
        ))  # fmt: skip
    skipped = sum(1 for r in ro.segments if pd.isna(r.rel_effect))
    if skipped:
        parts.append(_p(f"{skipped} segment row(s) without a relative lift (e.g. a control "
                        "mean of 0 or too few units) are not plotted; see readout.json."))  # fmt: skip
    return "".join(parts)


def readout_sections(ro: Any) -> list[Section]:
    """Sections of an experiment readout page.

    A red banner when the sample-ratio check fails (the lift table is then marked
    untrustworthy), the decision, lifts (table and forest plot), sequential results when
    monitored, guardrails, power (minimum detectable effects), segments as forest plots, notes.
    Numbers are formatted by :mod:`causal.experiments._format`; nothing is computed here.
    """
    from causal.experiments._format import html_table

    sections: list[Section] = []
    srm = ro.srm
    # -- sample ratio and decision
    obs = ", ".join(f"{k}: {v:,}" for k, v in srm.observed.items())
    if not srm.ok:
        p = "—" if pd.isna(srm.pvalue) else f"{srm.pvalue:.3g}"
        head = _BANNER.format(html.escape(
            f"Sample ratio mismatch (p = {p} < {srm.alpha:g}; observed {obs}). The split of "
            "units contradicts the configured split, so every lift on this page is "
            "UNTRUSTWORTHY: find the cause (assignment, logging, filtering) before deciding."
        ))  # fmt: skip
    else:
        status = ("passed" if getattr(srm, "checked", True)
                  else f"not checked ({getattr(srm, 'reason', '')})")  # fmt: skip
        p = "—" if pd.isna(srm.pvalue) else f"{srm.pvalue:.3g}"
        head = _OK_BANNER.format(html.escape(f"Sample ratio check {status} (p = {p}; {obs})."))
    arms = "".join(
        f"<li><b>{html.escape(v)}</b>: {html.escape(d.decision)} — {html.escape(d.reason)}</li>"
        for v, d in ro.decisions.items()
    )
    sections.append(Section("Decision", head + f"<p><b>{html.escape(ro.decision.upper())}</b>"
                            f"</p><ul>{arms}</ul>"))  # fmt: skip
    # -- lifts
    rows = list(ro.metrics)
    bad = not ro.trustworthy
    caption = (f"UNTRUSTWORTHY (sample ratio mismatch) — {_level(ro)} intervals" if bad
               else f"{_level(ro)} intervals; p adjusted: {ro.correction} over the configured "
               "success metrics × arms (guardrails: their own family)")  # fmt: skip
    table = html_table(
        [r.to_dict() for r in rows], _LIFT_COLS, caption=caption, headers=_LIFT_HEADERS,
        css_class="untrustworthy" if bad else "",
    )  # fmt: skip
    style = "overflow-x:auto" + (";opacity:.55;border:2px dashed #c81e1e;padding:.3rem" if bad
                                 else "")  # fmt: skip
    table = f'<div style="{style}">{table}</div>'
    plot = _lift_plot(rows, ro, f"{_level(ro)} intervals of the relative lift; blue: excludes "
                      "zero." + (" UNTRUSTWORTHY: sample ratio mismatch." if bad else ""))  # fmt: skip
    notes = [f"{r.metric} / {r.variant}: {n}" for r in rows for n in r.notes] + list(ro.notes)
    note_html = ("<div class='note'><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
                 + "</ul></div>") if notes else ""  # fmt: skip
    sections.append(Section("Lifts", table + plot + note_html))
    # -- sequential
    if getattr(ro, "sequential", None):
        seq_rows = ro.to_pandas().to_dict("records")
        sections.append(Section("Sequential monitoring", _p(ro._sequential_caption())
                                + html_table(seq_rows, _SEQ_COLS)))  # fmt: skip
    # -- guardrails
    if ro.guardrails:
        grows = [{"metric": g.metric, "variant": v, "direction": g.direction,
                  "margin": g.margin, "estimate": g.estimate, "bound": g.bound,
                  "non_inferior": g.non_inferior} for v, g in ro.guardrails]  # fmt: skip
        rel = any(g.relative for _, g in ro.guardrails)
        sections.append(Section(
            "Guardrails (non-inferiority)",
            html_table(grows, ["metric", "variant", "direction", "margin", "estimate", "bound",
                               "non_inferior"],
                       percent=("margin", "estimate", "bound") if rel else (),
                       headers={"non_inferior": "held"})
            + _p("A guardrail holds when the bound on the harmful side of its interval stays "
                 "within the margin" + (" (relative to the control mean)." if rel else ".")),
        ))  # fmt: skip
    # -- power
    prows = ro.power()
    sections.append(Section(
        "Power: the smallest lift this sample could detect",
        html_table(prows, ["metric", "variant", "n_control", "n_treatment", "se", "mde",
                           "rel_mde"],
                   headers={"mde": "MDE (80% power)", "rel_mde": "relative MDE"})
        + _p(f"Two-sided at alpha = {ro.alpha:g}: a true lift smaller than the MDE would often "
             "go unnoticed, so a non-significant result does not show there is no effect."),
    ))  # fmt: skip
    # -- segments
    if ro.segments:
        sections.append(Section(
            "Segments (exploratory, Benjamini–Hochberg across segment × metric × arm)",
            _segment_plots(ro),
        ))  # fmt: skip
    # wt-eval's heterogeneity section (present once that branch is merged)
    if getattr(ro, "heterogeneity", ()):
        from causal.report._heterogeneity import heterogeneity_html  # type: ignore[import-not-found]

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
