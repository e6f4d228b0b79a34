"""Plots of explanations (matplotlib ``Figure`` objects, no pyplot state; SVG-friendly).

Each function returns a :class:`matplotlib.figure.Figure`: Jupyter shows it inline, reports
save it as SVG (``fig.savefig(buf, format="svg")``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["beeswarm", "compare_bars", "dependence", "importance_bars", "waterfall"]

_BLUE = "#1f5fa8"
_RED = "#c0392b"
_GREY = "#7f7f7f"


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def importance_bars(ex: Any, top: int = 15) -> Any:
    """Horizontal bars of mean |SHAP| with the importance bands as error bars."""
    imp = ex.importance().head(top).iloc[::-1]
    fig = _figure(6.5, 0.35 * len(imp) + 1.2)
    ax = fig.add_subplot()
    y = np.arange(len(imp))
    err = np.vstack(
        [
            imp["importance"] - imp["importance_ci_lower"],
            imp["importance_ci_upper"] - imp["importance"],
        ]
    )
    ax.barh(y, imp["importance"], xerr=err, color=_BLUE, ecolor="black", capsize=3)
    ax.set_yticks(y, imp["feature"])
    what = f" of {ex.outcome}" if ex.outcome else ""
    ax.set_xlabel(f"mean |SHAP| — average change in the effect{what}")
    ax.set_title(f"What drives the effect{what} (fidelity R² = {ex.fidelity:.3f})", fontsize=10)
    return fig


def _colour_values(col: pd.Series) -> np.ndarray:
    """Values in [0, 1] for colouring: ranks for numbers, codes for categories."""
    if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col.dtype):
        codes = pd.Categorical(col.astype(object)).codes.astype(float)
        top = max(codes.max(), 1.0)
        return codes / top
    r = col.rank(pct=True).to_numpy(dtype=float)
    return np.nan_to_num(r, nan=0.5)


def beeswarm(ex: Any, top: int = 12, max_points: int = 3000, seed: int = 0) -> Any:
    """One row per modifier: each item's SHAP value, coloured low (blue) to high (red)."""
    from matplotlib import colormaps

    rng = np.random.default_rng(seed)
    n = ex.values.shape[0]
    rows = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    feats = list(ex.importance()["feature"].head(top))[::-1]
    fig = _figure(7.0, 0.4 * len(feats) + 1.3)
    ax = fig.add_subplot()
    cmap = colormaps["coolwarm"]
    for i, f in enumerate(feats):
        j = ex.feature_names.index(f)
        v = ex.values[rows, j]
        # jitter by local density so dense regions spread out like a swarm
        hist, edges = np.histogram(v, bins=50)
        b = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(hist) - 1)
        width = 0.4 * hist[b] / max(hist.max(), 1)
        yj = i + rng.uniform(-1, 1, size=v.size) * width
        c = _colour_values(ex.data[f].iloc[rows])
        ax.scatter(v, yj, c=cmap(c), s=4, alpha=0.7, linewidths=0)
    ax.axvline(0, color=_GREY, lw=0.8)
    ax.set_yticks(np.arange(len(feats)), feats)
    ax.set_xlabel("SHAP value (change in the effect vs the average)")
    ax.set_title("Per-item contributions (colour: low → high value / category)", fontsize=10)
    return fig


def dependence(ex: Any, features: list[str], max_points: int = 3000, seed: int = 0) -> Any:
    """SHAP value of each feature against its value (strip plot per level for categories)."""
    rng = np.random.default_rng(seed)
    n = ex.values.shape[0]
    rows = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    k = len(features)
    fig = _figure(3.6 * k, 3.2)
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, f in zip(axes, features, strict=True):
        j = ex.feature_names.index(f)
        v = ex.values[rows, j]
        col = ex.data[f].iloc[rows]
        if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(
            col.dtype
        ):
            levels = list(pd.unique(col.astype(object)))
            means = {lv: float(v[(col.astype(object) == lv).to_numpy()].mean()) for lv in levels}
            levels.sort(key=lambda lv: means[lv])
            for i, lv in enumerate(levels):
                sel = (col.astype(object) == lv).to_numpy()
                ax.scatter(i + rng.uniform(-0.25, 0.25, sel.sum()), v[sel], s=4, alpha=0.5,
                           color=_BLUE, linewidths=0)  # fmt: skip
                ax.plot([i - 0.3, i + 0.3], [means[lv]] * 2, color=_RED, lw=2)
            ax.set_xticks(np.arange(len(levels)), [str(lv) for lv in levels], rotation=45,
                          ha="right")  # fmt: skip
        else:
            x = col.to_numpy(dtype=float)
            ax.scatter(x, v, s=4, alpha=0.5, color=_BLUE, linewidths=0)
            order = np.argsort(x)
            if x.size >= 20:  # a running mean to show the shape
                w = max(5, x.size // 20)
                smooth = np.convolve(v[order], np.ones(w) / w, mode="valid")
                ax.plot(x[order][w // 2 : w // 2 + smooth.size], smooth, color=_RED, lw=2)
        ax.axhline(0, color=_GREY, lw=0.8)
        ax.set_xlabel(f)
        ax.set_ylabel("SHAP value")
    fig.suptitle("How the effect changes with its top drivers", fontsize=10)
    return fig


def waterfall(seg: Any, top: int = 8) -> Any:
    """From the average effect to a segment's effect, one bar per modifier's contribution."""
    c = seg.contributions
    head = c.head(top)
    rest = float(c["contribution"].iloc[top:].sum())
    labels = [f"{r.feature} = {r.value}" for r in head.itertuples()]
    steps = list(head["contribution"].astype(float))
    if len(c) > top:
        labels.append(f"{len(c) - top} other modifiers")
        steps.append(rest)
    fig = _figure(7.0, 0.4 * len(steps) + 1.6)
    ax = fig.add_subplot()
    start = seg.base_value
    for i, s in enumerate(steps):
        y = len(steps) - 1 - i
        ax.barh(y, s, left=start, color=_RED if s >= 0 else _BLUE)
        ax.text(start + s, y, f" {s:+.3g}", va="center", ha="left" if s >= 0 else "right",
                fontsize=8)  # fmt: skip
        start += s
    ax.set_yticks(np.arange(len(steps))[::-1], labels)
    ax.axvline(seg.base_value, color=_GREY, lw=0.8, ls="--")
    ax.axvline(seg.effect, color="black", lw=1.0)
    ax.set_xlabel(
        f"effect: average {seg.base_value:.3g} → segment {seg.effect:.3g} "
        f"(model's own mean {seg.cate_mean:.3g})"
    )
    ax.set_title(f"Why the effect differs in {seg.name} (n = {seg.n:,})", fontsize=10)
    return fig


def compare_bars(table: pd.DataFrame, outcome: str | None, top: int = 12) -> Any:
    """Predictive vs causal importance side by side (each as a share of its total)."""
    t = table.head(top).iloc[::-1]
    fig = _figure(7.0, 0.4 * len(t) + 1.4)
    ax = fig.add_subplot()
    y = np.arange(len(t))
    ax.barh(y + 0.2, t["predictive_share"], height=0.4, color=_GREY,
            label=f"predicts {outcome or 'the outcome'}")  # fmt: skip
    ax.barh(y - 0.2, t["causal_share"], height=0.4, color=_BLUE,
            label="changes the effect of the treatment")  # fmt: skip
    ax.set_yticks(y, t["feature"])
    ax.set_xlabel("share of total mean |SHAP|")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("What predicts the outcome ≠ what makes the treatment work", fontsize=10)
    return fig
