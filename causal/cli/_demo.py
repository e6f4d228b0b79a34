"""``causal demo --out DIR``: simulate data, then both reports on the embedded default (DuckDB).

1. An A/B experiment is simulated, written to Parquet and read out through DuckDB:
   ``DIR/readout.json`` (the DESIGN.md contract) and ``DIR/readout.html``.
2. Content items with a confounded distribution boost are simulated, written to Parquet and
   analysed by :func:`causal.what_works` reading through DuckDB: ``DIR/report.html``,
   ``DIR/summary.json`` and ``DIR/effects.parquet``. The simulated truth is in the data, so
   the report shows every estimate beside the true effect.

The simulated tables and both configs go to ``DIR/data/`` so that ``causal readout`` and
``causal whatworks`` can rerun them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from causal.cli import BOOL_METAVAR, app

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

DEMO_WHATWORKS_CONFIG: dict[str, Any] = {
    "unit": "pin_id",
    "treatment": "boosted",
    "outcomes": ["saves", "outbound_clicks", "hides", "revenue"],
    "modifiers": [
        "category",
        "format",
        "quality_score",
        "age_days",
        "creator_followers",
        "text_overlay",
        "shoppable",
    ],
    "confounders": ["prior_impressions"],
    "segments": ["format", "category"],
    "cluster": "creator_id",
    "primary": "saves",
    "guardrails": {"hides": 0.1},
    "seed": 1,
}


def _step(i: int, n: int, text: str, quiet: bool) -> None:
    if not quiet:
        typer.echo(f"[{i}/{n}] {text}", err=True)


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("demo"),
    users: Annotated[int, typer.Option("--users", min=1000, help="Experiment users.")] = 200_000,
    rows: Annotated[int, typer.Option("--rows", min=1000, help="Content items.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress output.", metavar=BOOL_METAVAR)
    ] = False,
) -> None:
    """Simulate data, read out an experiment and estimate what works (truth beside)."""
    import yaml

    from causal._io import output_set, write_json_atomic, write_table, write_text_atomic
    from causal.cli._whatworks import OUTPUTS, write_whatworks_outputs
    from causal.data import simulate_content, simulate_experiment
    from causal.experiments import readout
    from causal.experiments._config import parse_config
    from causal.report import write_readout_page
    from causal.workflows import parse_whatworks_config, what_works

    t0 = time.perf_counter()
    data = out / "data"
    n = 4
    _step(1, n, f"simulating an A/B experiment with {users:,} users", quiet)
    exp_path = write_table(
        simulate_experiment(n_users=users, seed=seed), data / "experiment.parquet"
    )
    write_text_atomic(yaml.safe_dump(DEMO_READOUT_CONFIG, sort_keys=False), data / "readout.yaml")

    _step(2, n, "reading it out in DuckDB (one grouped query per table)", quiet)
    cfg = parse_config(DEMO_READOUT_CONFIG)
    ro = readout(str(exp_path), cfg.design, engine="duckdb", **cfg.options)

    _step(3, n, f"simulating {rows:,} content items with a confounded boost", quiet)
    content_path = write_table(simulate_content(n=rows, seed=seed), data / "content.parquet")
    ww_config = {**DEMO_WHATWORKS_CONFIG, "seed": seed}
    write_text_atomic(yaml.safe_dump(ww_config, sort_keys=False), data / "whatworks.yaml")

    _step(4, n, "what works: the boost's effect on each outcome, for whom, and why", quiet)
    wcfg = parse_whatworks_config(ww_config)
    ww = what_works(str(content_path), wcfg.design, progress=not quiet, **wcfg.options)
    with output_set(out) as tmp:  # the five reports appear together, or none of them
        write_json_atomic(ro.to_dict(), tmp / "readout.json")
        write_readout_page(ro, tmp / "readout.html")
        write_whatworks_outputs(ww, tmp)
    paths = [out / name for name in (*OUTPUTS, "readout.html", "readout.json")]
    if not quiet:
        typer.echo(ro.summary())
        typer.echo("")
        typer.echo(ww.summary())
        typer.echo(f"\ndone in {time.perf_counter() - t0:.0f} s:")
    for p in paths:
        typer.echo(str(p))
