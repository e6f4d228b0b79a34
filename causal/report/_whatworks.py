"""The what-works report: a :class:`~causal.workflows.WhatWorks` result as one HTML page.

Presentation only: every number is read from the result. A section appears only when its
results exist; otherwise the methods appendix says why it is absent. All user text (column
names, category labels) is escaped; plots are inline SVG.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from causal.experiments._format import format_value
from causal.report._page import Section, inline_svg, render_page, svg_figure, write_page

__all__ = [
    "findings",
    "render_whatworks_page",
    "whatworks_fragment",
    "whatworks_sections",
    "write_whatworks_page",
]

_BLUE, _GREY, _RED, _GREEN = "#1f6fb4", "#8a8f96", "#b8322a", "#2e7d32"


# ----------------------------------------------------------------------------- numbers


def _num(x: float, digits: int = 3, sign: bool = True) -> str:
    """A number with ``digits`` significant digits (sign shown when ``sign``)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if x == 0:
        return "0"
    mag = abs(x)
    if mag >= 10 ** (digits + 2) or mag < 1e-4:
        text = f"{x:+.{digits - 1}e}" if sign else f"{x:.{digits - 1}e}"
    else:
        decimals = max(0, digits - 1 - int(math.floor(math.log10(mag))))
        text = f"{x:+,.{decimals}f}" if sign else f"{x:,.{decimals}f}"
    return text.replace("-", "−")


def _pvalue(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {format_value('pvalue', p)}"


def _e(text: Any) -> str:
    return html.escape(str(text))


def _level(alpha: float) -> str:
    return f"{round(100 * (1 - alpha))}%"


def _unit_phrase(o: Any, ww: Any) -> str:
    t = ww.design.treatment
    if ww.treatment_kind == "continuous":
        return f"per unit of {t}"
    if getattr(o, "contrast", None) is not None:
        return f"per item (items with {t} = {o.level} vs {ww.control})"
    return f"per item (items with {t} = 1 vs 0)"


# ----------------------------------------------------------------------------- findings


def findings(ww: Any) -> list[str]:
    """Key findings in plain language, numbers first (one string each, unescaped)."""
    alpha = float(ww.methods.get("alpha", 0.05))
    lvl = _level(alpha)
    out: list[str] = []
    for o in ww.outcomes:
        scale = 100.0 if o.outcome_kind == "binary" else 1.0
        unit = " percentage points" if o.outcome_kind == "binary" else ""
        eff = f"{_num(o.effect * scale)}{unit}"
        ci = f"{lvl} CI {_num(o.effect_ci_lower * scale)} to {_num(o.effect_ci_upper * scale)}"
        sig = o.effect_ci_lower > 0 or o.effect_ci_upper < 0
        verb = "raises" if o.effect > 0 else "lowers"
        rel = ""
        if sig and math.isfinite(o.control_mean) and o.control_mean > 0:
            rel = (
                f", {_num(100 * o.effect / o.control_mean, 2)}% of the untreated mean "
                f"({_num(o.control_mean * scale, 3, sign=False)})"
            )
        subject = (
            "the treatment"
            if getattr(o, "contrast", None) is None
            else f"{ww.design.treatment} = {o.level} (vs {ww.control})"
        )
        what = (
            f"{subject} {verb} {o.outcome}{rel}"
            if sig
            else f"no clear effect on {o.outcome} (the interval includes zero)"
        )
        line = f"{o.label}: {eff} {_unit_phrase(o, ww)} ({ci}; {_pvalue(o.pvalue)}) — {what}."
        if o.true_effect is not None:
            # like for like: a continuous treatment's truth is the simulator's slope per unit
            per = f" per unit of {ww.design.treatment}" if ww.treatment_kind == "continuous" else ""
            line += (
                f" Simulated data: the true effect is {_num(o.true_effect * scale)}{per}; the "
                f"interval {'covers' if o.covers_truth else 'MISSES'} it."
            )
        out.append(line)
        if math.isfinite(o.share_positive) and ww.design.modifiers:
            q = o.cate_quantiles
            out.append(
                f"{o.label}, item by item: the effect is clearly positive for "
                f"{100 * o.share_positive:.0f}% of items and clearly negative for "
                f"{100 * o.share_negative:.0f}%; the middle half lie between "
                f"{_num(q['p25'] * scale)} and {_num(q['p75'] * scale)}{unit}."
            )
        seg = o.segments
        if len(seg) >= 2:
            best = seg.loc[seg["effect"].idxmax()]
            worst = seg.loc[seg["effect"].idxmin()]
            out.append(
                f"{o.label} by segment: largest for {best['segment']} = {best['value']} "
                f"({_num(best['effect'] * scale)}), smallest for {worst['segment']} = "
                f"{worst['value']} ({_num(worst['effect'] * scale)})."
            )
        dose = _dose_line(o, ww, lvl)
        if dose:
            out.append(dose)
        guarded = o.outcome in (ww.tradeoffs.get("guardrails") or {})
        tgt = "" if guarded else _targeting_line(o, scale, unit, lvl)
        if tgt:
            out.append(tgt)
        if len(o.drivers):
            top = ", ".join(str(f) for f in o.drivers["feature"].head(3))
            out.append(f"{o.label}: the effect varies most with {top}.")
        if len(o.refutations):
            passed = int(o.refutations["passed"].sum())
            out.append(
                f"{o.label}: {passed} of {len(o.refutations)} robustness checks passed"
                + ("." if passed == len(o.refutations) else " — read the estimate with care.")
            )
    out.extend(_level_lines(ww, lvl))
    trade = _tradeoff_line(ww, lvl)
    if trade:
        out.append(trade)
    if len(ww.attribution):
        sig = ww.attribution[ww.attribution["pvalue_adjusted"] < alpha]
        out.append(
            f"Attribution: {len(sig)} of {len(ww.attribution)} attribute–outcome effects are "
            f"significant after false-discovery-rate control at {alpha:g}."
        )
    return out


def _dose_line(o: Any, ww: Any, lvl: str) -> str:
    """Continuous treatment: the dose–response summary (change over the dose range)."""
    sm = o.extras.get("dose_response_summary")
    if not sm:
        return ""
    t = ww.design.treatment
    return (
        f"{o.outcome}, dose–response: raising {t} from {sm['reference']:.3g} to "
        f"{sm['dose_high']:.3g} changes {o.outcome} by {_num(sm['effect'])} per item ({lvl} CI "
        f"{_num(sm['effect_ci_lower'])} to {_num(sm['effect_ci_upper'])}), an average slope of "
        f"{_num(sm['slope'])} per unit of {t} over that range (the curve need not be a line)."
    )


def _dose_figure(o: Any, ww: Any, alpha: float) -> str:
    plt = _plt()
    c = o.extras["dose_response"]
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    ax.fill_between(c["dose"], c["effect_ci_lower"], c["effect_ci_upper"], color="#9cbfe0")
    ax.plot(c["dose"], c["effect"], "o-", color=_BLUE, ms=3)
    ax.axhline(0, color="#444", lw=1, ls="--")
    ax.set_xlabel(str(ww.design.treatment))
    ax.set_ylabel(f"change in {o.outcome} per item")
    fig.tight_layout()
    return svg_figure(
        fig,
        f"{o.outcome}: the average change when every item gets the dose on the x-axis instead "
        f"of the lowest shown (doubly robust; shaded: pointwise {_level(alpha)} intervals).",
    )


def _level_lines(ww: Any, lvl: str) -> list[str]:
    """Multi-valued treatment: per outcome, the level with the largest average effect and how
    often each level is an item's best (by point estimate)."""
    if getattr(ww, "control", None) is None:
        return []
    out = []
    for outcome in ww.design.outcomes:
        entries = [o for o in ww.outcomes if o.outcome == outcome]
        if len(entries) < 2:
            continue
        top = max(entries, key=lambda o: o.effect)
        line = (
            f"{outcome}, which level: {top.level} has the largest average effect vs "
            f"{ww.control} ({_num(top.effect)}, {lvl} CI {_num(top.effect_ci_lower)} to "
            f"{_num(top.effect_ci_upper)})"
        )
        best = ww.effects.get(f"best_level_{outcome}")
        if best is not None and ww.design.modifiers:
            shares = best.value_counts(normalize=True)
            line += (
                "; item by item, the best level is "
                + ", ".join(f"{v} for {100 * p:.0f}%" for v, p in shares.items())
                + f" of items (point estimates; {ww.control} where no level is estimated above zero)"
            )
        out.append(line + ".")
    return out


def _heterogeneity_text(o: Any) -> str:
    cal = o.extras.get("calibration")
    if not isinstance(cal, pd.DataFrame) or "heterogeneity" not in set(cal["term"]):
        return ""
    b2 = cal.set_index("term").loc["heterogeneity"]
    verdict = (
        "the model's ranking carries real heterogeneity"
        if b2["pvalue"] < 0.05
        else "no evidence that the model ranks items by their true effect"
    )
    return (
        f"calibration slope {_num(float(b2['effect']), 2, sign=False)} "
        f"(1 = calibrated; one-sided {_pvalue(float(b2['pvalue']))}): {verdict}"
    )


def _targeting_line(o: Any, scale: float, unit: str, lvl: str) -> str:
    pv = o.extras.get("targeting")
    if not isinstance(pv, pd.DataFrame) or not len(pv):
        return ""
    best = pv.loc[pv["value"].idxmax()]
    everyone = pv.loc[pv["share"].idxmax()]
    if best["share"] >= everyone["share"]:
        text = (
            f"{o.label}, targeting: no top share by predicted effect does better than "
            f"treating all items ({_num(everyone['value'] * scale)}{unit} per item)"
        )
    else:
        text = (
            f"{o.label}, targeting: treating only the top {100 * best['share']:.0f}% of items "
            f"by predicted effect changes {o.outcome} by {_num(best['value'] * scale)}{unit} per "
            f"item across all items ({lvl} CI {_num(best['value_ci_lower'] * scale)} to "
            f"{_num(best['value_ci_upper'] * scale)}), against {_num(everyone['value'] * scale)} "
            f"for treating all"
        )
    het = _heterogeneity_text(o)
    return text + (f"; {het}." if het else ".")


def _tradeoff_row(ww: Any) -> Any:
    fr = ww.tradeoffs.get("frontier")
    if not isinstance(fr, pd.DataFrame) or not len(fr):
        return None
    rec = fr[fr["recommended"]] if "recommended" in fr.columns else fr.iloc[:0]
    return rec.iloc[0] if len(rec) else None


def _tradeoff_line(ww: Any, lvl: str) -> str:
    row = _tradeoff_row(ww)
    if row is None:
        if ww.tradeoffs.get("guardrails"):
            return (
                "Trade-offs: no targeting policy keeps every guardrail "
                f"({', '.join(ww.tradeoffs['guardrails'])}) within its margin."
            )
        return ""
    primary = ww.tradeoffs["primary"]
    parts = [
        f"{o.label} {_num(row[o.outcome])} ({_num(row[o.outcome + '_ci_lower'])} to "
        f"{_num(row[o.outcome + '_ci_upper'])})"
        for o in ww.outcomes
        if o.outcome in row.index
    ]
    guards = ww.tradeoffs.get("guardrails") or {}
    rule = (
        f"holding {', '.join(f'{g} within +{_num(m, 2, sign=False)}' for g, m in guards.items())}"
        if guards
        else "with no guardrail"
    )
    return (
        f"Trade-offs: boosting the {100 * row['share_boosted']:.0f}% of items with the best "
        f"predicted effect on {primary}, {rule}, changes per item (over boosting none; "
        f"{lvl} CI) " + "; ".join(parts) + "."
    )


# ----------------------------------------------------------------------------- plots


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _ate_forest(ww: Any) -> str:
    """One small panel per outcome (own scale): the average effect, its interval, the truth."""
    plt = _plt()
    k = len(ww.outcomes)
    fig, axes = plt.subplots(k, 1, figsize=(7.5, 0.9 * k + 0.6), squeeze=False)
    for ax, o in zip(axes[:, 0], ww.outcomes, strict=True):
        sig = o.effect_ci_lower > 0 or o.effect_ci_upper < 0
        color = _BLUE if sig else _GREY
        ax.plot([o.effect_ci_lower, o.effect_ci_upper], [0, 0], color=color, lw=3)
        ax.plot([o.effect], [0], "o", color=color, ms=8)
        if o.true_effect is not None:
            ax.plot([o.true_effect], [0], "x", color=_RED, ms=9, mew=2)
        ax.axvline(0, color="#444", lw=1, ls="--")
        ax.set_yticks([0], [o.label])
        ax.set_ylim(-0.6, 0.6)
        lo = min(o.effect_ci_lower, 0.0, o.true_effect if o.true_effect is not None else 0.0)
        hi = max(o.effect_ci_upper, 0.0, o.true_effect if o.true_effect is not None else 0.0)
        pad = 0.08 * (hi - lo or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    truth = (
        " Red ×: the simulator's true effect."
        if any(o.true_effect is not None for o in ww.outcomes)
        else ""
    )
    return svg_figure(
        fig,
        f"Average effect per outcome with its {_level(ww.methods.get('alpha', 0.05))} interval "
        f"(each outcome on its own scale); blue: the interval excludes zero.{truth}",
    )


def _cate_histograms(ww: Any) -> str:
    plt = _plt()
    k = len(ww.outcomes)
    ncols = min(k, 2)
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.6 * nrows), squeeze=False)
    for ax in axes.flat[k:]:
        ax.set_visible(False)
    for ax, o in zip(axes.flat, ww.outcomes, strict=False):
        cate = ww.effects[o.cate_column].to_numpy(dtype=float)
        lo, hi = np.quantile(cate, [0.005, 0.995])
        ax.hist(np.clip(cate, lo, hi), bins=40, color="#9cbfe0", edgecolor="white")
        ax.axvline(o.effect, color=_BLUE, lw=2, label="average")
        ax.axvline(0, color="#444", lw=1, ls="--")
        ax.set_title(o.label, fontsize=10)
        ax.set_yticks([])
    fig.tight_layout()
    return svg_figure(
        fig,
        "Distribution of the per-item effect (CATE) per outcome; solid line: the average "
        "effect, dashed: zero. The tails (0.5% each side) are clipped for display.",
    )


def _segment_forest(o: Any, alpha: float) -> str:
    plt = _plt()
    seg = o.segments
    labels = [f"{s} = {v}" for s, v in zip(seg["segment"], seg["value"], strict=True)]
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(seg) + 1.0))
    ys = np.arange(len(seg))[::-1]
    has_band = "band_lower" in seg.columns
    for y, (_, r) in zip(ys, seg.iterrows(), strict=True):
        lo, hi = (
            (r["band_lower"], r["band_upper"])
            if has_band
            else (r["effect_ci_lower"], r["effect_ci_upper"])
        )
        color = _BLUE if (lo > 0 or hi < 0) else _GREY
        if has_band:
            ax.plot([r["band_lower"], r["band_upper"]], [y, y], color=color, lw=1, alpha=0.6)
        ax.plot([r["effect_ci_lower"], r["effect_ci_upper"]], [y, y], color=color, lw=3)
        ax.plot([r["effect"]], [y], "o", color=color)
        if "true_effect" in seg.columns and pd.notna(r["true_effect"]):
            ax.plot([r["true_effect"]], [y], "x", color=_RED, ms=7, mew=2)
    ax.axvline(o.effect, color=_BLUE, lw=1, ls=":")
    ax.axvline(0, color="#444", lw=1, ls="--")
    ax.set_yticks(ys, labels)
    ax.set_xlabel(f"effect on {o.label}")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    band = (
        " Thin line: the simultaneous band over all segments (read all rows together)."
        if has_band
        else ""
    )
    return svg_figure(
        fig,
        f"Segment effects on {o.label}: thick line the pointwise {_level(alpha)} interval."
        f"{band} Dotted: the overall average; blue: excludes zero.",
    )


def _targeting_figure(o: Any, alpha: float) -> str:
    plt = _plt()
    pv = o.extras["targeting"]
    qini = o.extras.get("qini")
    has_qini = isinstance(qini, pd.DataFrame) and len(qini)
    fig, axes = plt.subplots(1, 2 if has_qini else 1, figsize=(8.5, 3.2), squeeze=False)
    ax = axes[0, 0]
    ax.fill_between(pv["share"], pv["value_ci_lower"], pv["value_ci_upper"], color="#9cbfe0")
    ax.plot(pv["share"], pv["value"], "o-", color=_BLUE, ms=3)
    ax.axhline(0, color="#444", lw=1, ls="--")
    ax.set_xlabel("share boosted (highest predicted effect first)")
    ax.set_ylabel(f"gain in {o.label} per item")
    ax.set_title("value of boosting the top share", fontsize=10)
    if has_qini:
        ax = axes[0, 1]
        share = np.concatenate([[0.0], qini["share"].to_numpy(dtype=float)])
        ax.fill_between(qini["share"], qini["qini_ci_lower"], qini["qini_ci_upper"],
                        color="#9cbfe0")  # fmt: skip
        ax.plot(share, np.concatenate([[0.0], qini["qini"].to_numpy(dtype=float)]), color=_BLUE)
        ax.axhline(0, color="#444", lw=1, ls="--")
        ax.set_xlabel("share boosted")
        ax.set_ylabel("gain over a random share, per item")
        ax.set_title("Qini curve", fontsize=10)
    fig.tight_layout()
    return svg_figure(
        fig,
        f"{o.label}: left, the average gain per item (over boosting nothing) when the top "
        f"share by predicted effect is boosted; right, the gain over boosting a random share of "
        f"the same size. Shaded: {_level(alpha)} intervals; predictions out of fold.",
    )


def _tradeoff_figure(ww: Any, alpha: float) -> str:
    plt = _plt()
    fr = ww.tradeoffs["frontier"]
    primary = ww.tradeoffs["primary"]
    others = [o.outcome for o in ww.outcomes if o.outcome != primary and o.outcome in fr]
    fig, axes = plt.subplots(1, len(others), figsize=(4.2 * len(others), 3.4), squeeze=False)
    for ax, g in zip(axes[0], others, strict=True):
        colors = [_GREEN if f else _GREY for f in fr.get("feasible", [True] * len(fr))]
        ax.errorbar(
            fr[g], fr[primary],
            xerr=[fr[g] - fr[f"{g}_ci_lower"], fr[f"{g}_ci_upper"] - fr[g]],
            yerr=[fr[primary] - fr[f"{primary}_ci_lower"], fr[f"{primary}_ci_upper"] - fr[primary]],
            fmt="none", ecolor="#bbb", lw=1,
        )  # fmt: skip
        ax.scatter(fr[g], fr[primary], c=colors, zorder=3)
        margin = (ww.tradeoffs.get("guardrails") or {}).get(g)
        if margin is not None:
            ax.axvline(margin, color=_RED, lw=1, ls="--")
        ax.set_xlabel(f"change in {g} per item")
        ax.set_ylabel(f"change in {primary} per item")
    fig.tight_layout()
    return svg_figure(
        fig,
        f"Each point is a targeting policy (a price on the guardrails); green: every guardrail's "
        f"upper {_level(alpha)} bound within its margin (red dashed line).",
    )


def _bars(df: pd.DataFrame, value: str, label: str, title: str) -> Any:
    plt = _plt()
    top = df.head(12).iloc[::-1]
    fig, ax = plt.subplots(figsize=(5.0, 0.32 * len(top) + 0.9))
    xerr = None
    if {"importance_ci_lower", "importance_ci_upper"} <= set(top.columns):
        xerr = np.vstack(
            [
                (top[value] - top["importance_ci_lower"]).clip(lower=0),
                (top["importance_ci_upper"] - top[value]).clip(lower=0),
            ]
        )
    ax.barh(top[label].astype(str), top[value], xerr=xerr, color="#9cbfe0", ecolor="#444")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- tables


def _table(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """An escaped HTML table; numbers formatted by field name (one formatting module)."""
    cols = list(columns) if columns is not None else list(df.columns)
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    rows = []
    for rec in df[cols].to_dict(orient="records"):
        cells = []
        for c in cols:
            v = rec[c]
            if isinstance(v, float | np.floating) and c not in ("pvalue", "pvalue_adjusted"):
                text = _num(float(v), 4, sign=False) if math.isfinite(v) else "—"
            elif isinstance(v, np.integer):
                text = f"{int(v):,}"
            elif isinstance(v, bool | np.bool_):
                text = (
                    "pass"
                    if bool(v) and c == "passed"
                    else ("FAIL" if c == "passed" else ("yes" if v else "no"))
                )
            else:
                text = format_value(c, v if not isinstance(v, np.floating) else float(v))
            cls = ' class="t"' if isinstance(v, str) else ""
            if c == "passed":
                cls = ' class="pass"' if bool(v) else ' class="fail"'
            cells.append(f"<td{cls}>{_e(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _ate_table(ww: Any) -> str:
    df = ww.to_pandas()
    if "true_effect" in df.columns:
        df["covers truth"] = [o.covers_truth for o in ww.outcomes]
    return _table(df)


# ----------------------------------------------------------------------------- sections


def _findings_html(ww: Any) -> str:
    items = "".join(f"<li>{_e(f)}</li>" for f in findings(ww))
    return f'<ul class="findings">{items}</ul>'


def whatworks_sections(ww: Any) -> list[Section]:
    """The sections of the what-works page, in reading order; absent results, no section."""
    alpha = float(ww.methods.get("alpha", 0.05))
    sections = [Section("Key findings", _findings_html(ww))]
    sections.append(Section("Effect per outcome", _ate_forest(ww) + _ate_table(ww)))
    if ww.design.modifiers:
        sections.append(Section("For whom: the effect item by item", _cate_histograms(ww)))
    seg_parts = [
        f"<h3>{_e(o.label)}</h3>{_segment_forest(o, alpha)}" for o in ww.outcomes if len(o.segments)
    ]
    if seg_parts:
        sections.append(Section("Segment effects", "".join(seg_parts)))
    tgt_parts = []
    for o in ww.outcomes:
        pv = o.extras.get("targeting")
        if not isinstance(pv, pd.DataFrame) or not len(pv):
            continue
        het = _heterogeneity_text(o)
        rate = o.extras.get("rate")
        rate_text = ""
        if isinstance(rate, pd.DataFrame) and "AUTOC" in set(rate["metric"]):
            r = rate.set_index("metric").loc["AUTOC"]
            rate_text = (
                f" AUTOC (rank-weighted gain of the top items) {_num(float(r['effect']))} "
                f"({_level(alpha)} CI {_num(float(r['effect_ci_lower']))} to "
                f"{_num(float(r['effect_ci_upper']))})."
            )
        text = f"<p>{_e(het.capitalize() + '.' if het else '')}{_e(rate_text)}</p>"
        cols = ["share", "n_targeted", "value", "value_ci_lower", "value_ci_upper"]
        cols += [c for c in ("gain_vs_random", "effect_targeted") if c in pv.columns]
        tgt_parts.append(
            f"<h3>{_e(o.label)}</h3>{text}{_targeting_figure(o, alpha)}" + _table(pv[cols])
        )
    if tgt_parts:
        sections.append(Section("Where a boost pays off: the value of targeting",
                                "".join(tgt_parts)))  # fmt: skip
    dose_parts = [
        f"<h3>{_e(o.label)}</h3><p>{_e(_dose_line(o, ww, _level(alpha)))}</p>"
        + _dose_figure(o, ww, alpha)
        + _table(
            o.extras["dose_response"], ["dose", "effect", "effect_ci_lower", "effect_ci_upper", "n"]
        )  # fmt: skip
        for o in ww.outcomes
        if isinstance(o.extras.get("dose_response"), pd.DataFrame)
    ]
    if dose_parts:
        sections.append(Section("How much boost: the dose–response curve", "".join(dose_parts)))
    fr = ww.tradeoffs.get("frontier")
    if isinstance(fr, pd.DataFrame) and len(fr):
        body = f"<p>{_e(_tradeoff_line(ww, _level(alpha)))}</p>"
        if len(fr) > 1:
            body += _tradeoff_figure(ww, alpha)
        cols = ["lam", "share_boosted"]
        for o in ww.outcomes:
            cols += [c for c in (o.outcome, f"{o.outcome}_ci_lower", f"{o.outcome}_ci_upper")
                     if c in fr.columns]  # fmt: skip
        cols += [c for c in ("feasible", "pareto", "recommended") if c in fr.columns]
        body += _table(fr[cols])
        sections.append(Section("Trade-offs between outcomes", body))
    drv_parts = []
    for o in ww.outcomes:
        if not len(o.drivers):
            continue
        figs = [_bars(o.drivers, "importance", "feature", f"drives the effect on {o.label}")]
        pred = o.extras.get("predictive_importance")
        if isinstance(pred, pd.DataFrame) and len(pred):
            figs.append(_bars(pred, "importance", "feature", f"predicts {o.label}"))
        fid = o.extras.get("drivers_fidelity")
        r2 = o.extras.get("predictive_r2")
        caption = (
            f"Mean |SHAP| with {_level(alpha)} bands. Effect surrogate fidelity R² "
            f"{_num(fid, 3, sign=False) if fid is not None else '—'}; the modifiers predict "
            f"{o.label} with held-out R² {_num(r2, 2, sign=False) if r2 is not None else '—'}."
        )
        text = o.extras.get("drivers_text", "")
        drv_parts.append(
            f"<h3>{_e(o.label)}</h3>"
            + (f"<p>{_e(text)}</p>" if text else "")
            + "<div class='row'>"
            + "".join(svg_figure(f) for f in figs)
            + f"</div><p class='lede'>{_e(caption)}</p>"
        )
    if drv_parts:
        sections.append(
            Section(
                "Drivers of the effect, beside what predicts the outcome",
                "<p>Left: which attributes make the effect larger or smaller (SHAP of the "
                "effect model). Right: which attributes predict the outcome itself. A strong "
                "predictor of saves need not change what a boost does.</p>" + "".join(drv_parts),
            )
        )
    # overlap and balance belong to the treatment (per level vs control), not the outcome
    first_outcome = ww.outcomes[0].outcome if ww.outcomes else None
    rob_parts = [_robustness_html(o, alpha, first=o.outcome == first_outcome) for o in ww.outcomes]
    rob_parts = [p for p in rob_parts if p]
    if rob_parts:
        sections.append(Section("Robustness, sensitivity and overlap", "".join(rob_parts)))
    if len(ww.attribution):
        sections.append(Section("Which attributes cause engagement", _table(ww.attribution)))
    if ww.graph.get("svg"):
        text = ww.graph.get("identification", "")
        sections.append(
            Section(
                "The causal graph",
                f"<p>{_e(ww.graph.get('source', ''))}.</p>"
                + f"<figure>{inline_svg(ww.graph['svg'])}</figure>"
                + "".join(f"<p>{_e(t)}</p>" for t in (text if isinstance(text, list) else [text])),
            )
        )
    sections.append(Section("Methods", _methods(ww)))
    return sections


def _verdict(ok: bool) -> str:
    return '<span class="pass">pass</span>' if ok else '<span class="fail">FAIL</span>'


def _overlap_figure(o: Any) -> str:
    plt = _plt()
    hist = o.overlap.get("histogram") or {}
    edges = np.asarray(hist.get("edges", []), dtype=float)
    if edges.size < 2:
        return ""
    fig, ax = plt.subplots(figsize=(5.5, 2.6))
    mids, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    for (arm, counts), color in zip(
        ((k, v) for k, v in hist.items() if k != "edges"), (_GREY, _BLUE, _GREEN), strict=False
    ):
        c = np.asarray(counts, dtype=float)
        ax.bar(mids, c / max(c.sum(), 1.0), width=width, alpha=0.55, color=color, label=str(arm))
    for x in (o.overlap.get("lower"), o.overlap.get("upper")):
        if x is not None:
            ax.axvline(float(x), color=_RED, lw=1, ls="--")
    ax.set_xlabel("estimated propensity")
    ax.set_yticks([])
    ax.legend(fontsize=8, title="arm", title_fontsize=8)
    fig.tight_layout()
    return svg_figure(fig, f"{o.label}: propensity per arm; dashed: the trimming bounds.")


def _robustness_html(o: Any, alpha: float, *, first: bool) -> str:
    bits = []
    if len(o.refutations):
        bits.append(_table(o.refutations, ["name", "passed", "detail"]))
    sens = o.sensitivity
    if sens:
        rv = sens.get("robustness_value")
        bits.append(
            f"<p><strong>Sensitivity</strong> {_verdict(bool(sens.get('robust')))}: "
            f"robustness value {_e(_num(100 * float(rv), 2, sign=False) + '%' if rv is not None else '—')}. "
            f"{_e(sens.get('reading', ''))}</p>"
        )
    ov = o.overlap if first else {}
    if ov:
        trimmed = ov.get("trimmed_estimate")
        text = (
            f"{100 * float(ov['share_outside']):.1f}% of items have a propensity outside "
            f"[{ov['lower']:g}, {ov['upper']:g}]."
        )
        if trimmed is not None and math.isfinite(float(trimmed)):
            text += (
                f" On the {int(ov['n_trimmed']):,} items inside, the effect is "
                f"{_num(float(trimmed))} ({_level(alpha)} CI {_num(float(ov['trimmed_ci_lower']))}"
                f" to {_num(float(ov['trimmed_ci_upper']))}). {ov.get('estimand_note', '')}"
            )
        bits.append(
            f"<p><strong>Overlap</strong> (the treatment's, the same for every outcome) "
            f"{_verdict(bool(ov.get('ok')))}: {_e(text)}</p>" + _overlap_figure(o)
        )
    bal = (o.extras.get("balance") or {}) if first else {}
    if bal:
        table = pd.DataFrame(bal.get("table") or [])
        flagged = int(bal.get("n_flagged_after") or 0)
        bits.append(
            f"<p><strong>Balance</strong> {_verdict(flagged == 0)}: "
            f"{_e(bal.get('n_flagged_before'))} covariate(s) with a standardized mean difference "
            f"above {_e(bal.get('threshold'))} before weighting, {_e(flagged)} after.</p>"
        )
        if len(table) and {"covariate", "smd_before", "smd_after"} <= set(table.columns):
            top = table.reindex(table["smd_before"].abs().sort_values(ascending=False).index)
            bits.append(_table(top.head(8), ["covariate", "smd_before", "smd_after"]))
    if not bits:
        return ""
    return f"<h3>{_e(o.label)}</h3>" + "".join(bits)


def _methods(ww: Any) -> str:
    m = ww.methods
    d = ww.design
    roles = [
        ("unit", d.unit),
        ("treatment", f"{d.treatment} ({ww.treatment_kind})"),
        ("outcomes", ", ".join(d.outcomes)),
        ("modifiers (X)", ", ".join(d.modifiers) or "none"),
        ("confounders (W)", ", ".join(d.confounders) or "none"),
        ("segments", ", ".join(d.segments) or "none"),
        ("cluster", d.cluster or "none"),
        ("weight", d.weight or "none"),
    ]
    parts = [
        f"<p>Data: {_e(f'{ww.n:,}')} rows from {_e(m.get('source', 'a table'))}. "
        f"Seed {_e(m.get('seed'))}; intervals at {_e(_level(m.get('alpha', 0.05)))}"
        + (", cluster-robust by " + _e(d.cluster) if d.cluster else "")
        + (", weighted by " + _e(d.weight) if d.weight else "")
        + ".</p>",
        "<table><tbody>"
        + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in roles)
        + "</tbody></table>",
        "<h3>Estimator and why</h3><ul>"
        + "".join(f"<li>{_e(o.label)}: {_e(o.why)}</li>" for o in ww.outcomes)
        + "</ul>",
        "<p>The average effects are doubly robust (AIPW on cross-fitted nuisances; for a "
        "continuous treatment the partially linear DML coefficient), with influence-function "
        "standard errors; they need not equal the mean of the per-item effects.</p>",
    ]
    for o in ww.outcomes:
        if len(o.candidates):
            parts.append(f"<h3>Candidates for {_e(o.label)}</h3>" + _table(o.candidates))
    absent = m.get("absent") or {}
    if absent:
        parts.append(
            "<h3>Sections not shown</h3><ul>"
            + "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in absent.items())
            + "</ul>"
        )
    if ww.warnings:
        parts.append(
            "<h3>Warnings</h3><ul>" + "".join(f"<li>{_e(w)}</li>" for w in ww.warnings) + "</ul>"
        )
    versions = m.get("versions") or {}
    if versions:
        parts.append(
            "<h3>Package versions</h3><p>"
            + _e(", ".join(f"{k} {v}" for k, v in versions.items()))
            + "</p>"
        )
    if m.get("elapsed_s") is not None:
        parts.append(f"<p>Run time: {_e(m['elapsed_s'])} s.</p>")
    return "".join(parts)


def whatworks_fragment(ww: Any) -> str:
    """The notebook view: key findings and the effect table (what ``_repr_html_`` shows)."""
    return (
        "<div class='causal-whatworks'><strong>What works</strong>"
        + _findings_html(ww)
        + _ate_table(ww)
        + "</div>"
    )


def render_whatworks_page(ww: Any) -> str:
    """The whole page as an HTML string."""
    return render_page("What works", whatworks_sections(ww), lede=_lede(ww))


def _lede(ww: Any) -> str:
    d = ww.design
    return (
        f"The causal effect of {d.treatment} on {', '.join(d.outcomes)} across "
        f"{ww.n:,} items: how large, for whom, why, and how sure."
    )


def write_whatworks_page(ww: Any, path: str | os.PathLike[str]) -> Path:
    """Write the what-works report as one self-contained HTML file; return its path."""
    return write_page(path, "What works", whatworks_sections(ww), lede=_lede(ww))
