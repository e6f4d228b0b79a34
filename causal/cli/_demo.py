"""``causal demo --out DIR``: simulate data, then run both jobs on the embedded default (DuckDB).

1. An A/B experiment is simulated and read out through DuckDB from Parquet:
   ``DIR/readout/readout.json`` (the DESIGN.md contract) and ``DIR/readout/readout.html``.
   The config it used is written to ``DIR/readout.yaml`` so ``causal readout`` can rerun it.
2. Content items with a confounded distribution boost are simulated and the boost's effect on
   each outcome is estimated item by item with the default estimator (``AutoCate``, restricted
   to candidates with valid CATE intervals, cross-fitting and SEs clustered by creator):
   ``DIR/whatworks/effects.parquet`` (the DESIGN.md column contract), ``estimates.json``
   (doubly-robust ATE per outcome beside the simulation's true ATE) and ``effects.html``
   (estimates against the truth, with plots).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from causal.cli import app

__all__ = ["DEMO_READOUT_CONFIG", "demo_command"]

DEMO_READOUT_CONFIG: dict[str, Any] = {
    "variant": "variant",
    "control": "control",
    "unit": "user_id",
    "metrics": [
        {"name": "saves", "type": "mean", "column": "saves", "covariate": "saves_pre"},
        {
            "name": "ctr",
            "type": "ratio",
            "numerator": "clicks",
            "denominator": "impressions",
            "covariate": ["clicks_pre", "impressions_pre"],
        },
        {
            "name": "conversion",
            "type": "proportion",
            "column": "converted",
            "covariate": "converted_pre",
        },
        {"name": "revenue", "type": "mean", "column": "revenue", "covariate": "revenue_pre"},
    ],
    "guardrails": [
        {
            "name": "impressions",
            "type": "mean",
            "column": "impressions",
            "covariate": "impressions_pre",
            "margin": 0.02,
        },
    ],
    "segments": ["platform", "tenure"],
    "alpha": 0.05,
    "correction": "holm",
}

DEMO_OUTCOMES = ("saves", "outbound_clicks", "hides", "revenue")
DEMO_MODIFIERS = (
    "category",
    "format",
    "quality_score",
    "age_days",
    "creator_followers",
    "text_overlay",
    "shoppable",
)
DEMO_CONFOUNDERS = ("prior_impressions",)


def _step(i: int, n: int, text: str, quiet: bool) -> float:
    if not quiet:
        typer.echo(f"[{i}/{n}] {text}", err=True)
    return time.perf_counter()


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("demo"),
    users: Annotated[int, typer.Option("--users", min=1000, help="Experiment users.")] = 200_000,
    rows: Annotated[int, typer.Option("--rows", min=2000, help="Content items.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Simulate data, read out an experiment and estimate what works (with the truth beside)."""
    import yaml

    from causal._io import write_json_atomic, write_table, write_text_atomic
    from causal.data import Design, simulate_content, simulate_experiment
    from causal.experiments import readout
    from causal.experiments._config import parse_config
    from causal.report import write_effects_page, write_readout_page
    from causal.workflows import estimate_effects

    out.mkdir(parents=True, exist_ok=True)
    n = 5
    t0 = _step(1, n, f"simulating an A/B experiment with {users:,} users", quiet)
    exp = simulate_experiment(n_users=users, seed=seed)
    exp_path = write_table(exp, out / "experiment.parquet")
    write_text_atomic(yaml.safe_dump(DEMO_READOUT_CONFIG, sort_keys=False), out / "readout.yaml")

    _step(2, n, "reading it out in DuckDB (one grouped query per table)", quiet)
    cfg = parse_config(DEMO_READOUT_CONFIG)
    ro = readout(str(exp_path), cfg.design, engine="duckdb", **cfg.options)
    write_json_atomic(ro.to_dict(), out / "readout" / "readout.json")
    write_readout_page(ro, out / "readout" / "readout.html")
    if not quiet:
        typer.echo(ro.summary())

    _step(3, n, f"simulating {rows:,} content items with a confounded boost", quiet)
    content = simulate_content(n=rows, seed=seed)
    write_table(content, out / "content.parquet")

    _step(4, n, f"estimating the boost's effect on {', '.join(DEMO_OUTCOMES)} (AutoCate)", quiet)
    design = Design(
        unit="pin_id",
        treatment="boosted",
        outcomes=DEMO_OUTCOMES,
        modifiers=DEMO_MODIFIERS,
        confounders=DEMO_CONFOUNDERS,
        cluster="creator_id",
    )
    est = estimate_effects(content, design, seed=seed)

    _step(5, n, "writing effects.parquet, estimates.json and effects.html", quiet)
    wdir = out / "whatworks"
    write_table(est.effects, wdir / "effects.parquet")
    write_json_atomic(est.to_dict(), wdir / "estimates.json")
    write_effects_page(est, wdir / "effects.html")
    if not quiet:
        typer.echo(est.summary())
        typer.echo(f"\nwrote {out}/ in {time.perf_counter() - t0:.0f} s", err=True)
