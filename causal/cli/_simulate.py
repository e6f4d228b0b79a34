"""``causal simulate content|experiment``: write simulated data with its ground truth.

Files are written as a set (:func:`causal._io.output_set`: a temporary folder beside the
output, then ``os.replace``), as .parquet or .csv by the extension of ``--out``. The experiment's true lifts also go to a
JSON sidecar ``<out>.truth.json`` (the same dict as :func:`causal.data.experiment_truth`),
so they survive CSV; the content table carries its truth in ``true_*`` columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from causal._errors import ConfigError
from causal._io import output_set, table_format, write_json_atomic, write_table
from causal.cli import app

__all__ = ["simulate_app"]

simulate_app = typer.Typer(
    name="simulate",
    help="Simulate data with known true effects (content items, or an A/B/n experiment).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(simulate_app, name="simulate")

_OUT_HELP = "Output file, .parquet or .csv."
_SEED_HELP = "Random seed (same seed, same data)."


def _format_of(path: Path) -> str:
    try:
        return table_format(path)
    except ValueError:
        raise ConfigError(
            f"The '--out' file '{path}' must end in .parquet or .csv "
            f"(got '{path.suffix or 'no extension'}')."
        ) from None


def _write_json(obj: Any, path: Path) -> None:
    try:
        write_json_atomic(obj, path)
    except OSError as exc:
        raise ConfigError(f"Cannot write '{path}': {exc.strerror or exc}.") from exc


def _check_out(path: Path) -> None:
    _format_of(path)  # fail on a bad extension before simulating
    if path.is_dir():
        raise ConfigError(f"The '--out' path '{path}' is a folder; give a .parquet/.csv file name.")


@simulate_app.command("content")
def content(
    out: Annotated[Path, typer.Option("--out", help=_OUT_HELP)],
    rows: Annotated[int, typer.Option("--rows", min=1, help="Number of pins (rows).")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help=_SEED_HELP)] = 0,
    confounding: Annotated[
        float, typer.Option("--confounding", min=0.0, help="Strength of the targeting rule.")
    ] = 1.0,
    randomized: Annotated[
        bool, typer.Option("--randomized", help="Assign the boost at random (no confounding).")
    ] = False,
    intensity: Annotated[
        bool, typer.Option("--intensity", help="Add a continuous boost_intensity column.")
    ] = False,
) -> None:
    """Simulate content items (pins) with a boost and true effects (true_cate_* columns)."""
    from causal.data import simulate_content

    path = Path(out)
    _check_out(path)
    df = simulate_content(
        n=rows, seed=seed, confounding=confounding, randomized=randomized, intensity=intensity
    )
    with output_set(path.parent) as tmp:
        write_table(df, tmp / path.name)
    typer.echo(f"wrote {len(df):,} rows x {df.shape[1]} columns to {path}")


@simulate_app.command("experiment")
def experiment(
    out: Annotated[Path, typer.Option("--out", help=_OUT_HELP)],
    users: Annotated[int, typer.Option("--users", min=1, help="Users randomized.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help=_SEED_HELP)] = 0,
    variants: Annotated[
        str, typer.Option("--variants", help="Comma-separated variant labels, control first.")
    ] = "control,treatment",
    srm: Annotated[
        float,
        typer.Option("--srm", min=0.0, max=0.99, help="Share of the first treatment arm lost."),
    ] = 0.0,
    clusters: Annotated[
        int | None, typer.Option("--clusters", min=1, help="Randomize by this many clusters.")
    ] = None,
    effect_scale: Annotated[
        float, typer.Option("--effect-scale", help="Multiply every true lift (0: an A/A test).")
    ] = 1.0,
) -> None:
    """Simulate a user-randomized A/B/n test; true lifts go to <out>.truth.json."""
    from causal.data import simulate_experiment

    path = Path(out)
    _check_out(path)
    labels = [v.strip() for v in variants.split(",")]
    df = simulate_experiment(
        n_users=users,
        seed=seed,
        variants=labels,
        srm=srm,
        n_clusters=clusters,
        effect_scale=effect_scale,
    )
    truth_path = path.with_name(path.name + ".truth.json")
    with output_set(path.parent) as tmp:  # the table and its truth, moved into place together
        write_table(df, tmp / path.name)
        _write_json(
            {"true_lifts": df.attrs["true_lifts"], "simulation": df.attrs["simulation"]},
            tmp / truth_path.name,
        )
    typer.echo(f"wrote {len(df):,} rows x {df.shape[1]} columns to {path} (truth: {truth_path})")
