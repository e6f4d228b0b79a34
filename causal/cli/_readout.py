"""``causal readout DATA --config CONFIG.yaml --out DIR``: ``DIR/readout.json`` and ``readout.html``.

DATA is a .parquet/.csv path (or a glob of files with the same columns), or a table name in the
DuckDB database given by ``--database``. The config is validated completely before the data is
touched; the JSON follows DESIGN.md (no NaN/Infinity tokens: undefined numbers are ``null``).
Both files are written into a temporary folder and moved into place together
(:func:`causal._io.output_set`): a failed run leaves the previous run's files as they were.
A plain-text summary goes to stdout.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from causal._errors import ConfigError
from causal.cli import BOOL_METAVAR, app

__all__ = ["readout_command"]

_HELP = "\n\n".join(
    [
        "Read out an A/B/n experiment: SRM, lifts with intervals, guardrails, decision.",
        "CONFIG is YAML. Required: variant (the variant column), control (the control label), "
        "metrics (a list; each has name, type mean|proportion|ratio, column — or numerator and "
        "denominator for a ratio — and optionally covariate (a CUPED pre-period column; for a "
        "ratio a \\[numerator_pre, denominator_pre] pair), cap (a quantile, means only) and "
        "direction increase|decrease).",
        "Optional: unit (rows per unit are summed), cluster (cluster-randomized), segments "
        "(columns), guardrails (metrics with a margin: 0.01 = 1% relative harm tolerated), "
        "expected_split ({variant: share}, shares summing to 1), alpha (0.05), correction "
        "(holm|bh|none), relative_margins (true|false), srm_alpha (0.001), sequential "
        "({method: always_valid|group_sequential, planned_units, looks}).",
        "Example: {variant: arm, control: control, metrics: \\[{name: ctr, type: ratio, "
        "numerator: clicks, denominator: views}]}",
    ]
)


class EngineName(StrEnum):
    """Where the sufficient statistics are computed."""

    duckdb = "duckdb"
    pandas = "pandas"


def _load_yaml(path: Path) -> object:
    import yaml

    if not path.exists():
        raise ConfigError(f"The config file '{path}' does not exist.")
    if path.is_dir():
        raise ConfigError(f"The config '{path}' is a folder; give a YAML file.")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"The config file '{path}' is not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"The config file '{path}' is not UTF-8 text.") from None


@app.command("readout", help=_HELP)
def readout_command(
    data: Annotated[
        str,
        typer.Argument(
            help="A .parquet/.csv file or a glob of them, or a table name (with --database)."
        ),
    ],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Readout config (YAML; keys above).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if needed).")],
    engine: Annotated[
        EngineName, typer.Option("--engine", help="Where the aggregates are computed.")
    ] = EngineName.duckdb,
    database: Annotated[
        Path | None,
        typer.Option("--database", help="DuckDB database file holding the table DATA."),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Do not print the summary.", metavar=BOOL_METAVAR),
    ] = False,
) -> None:
    from causal._io import output_set, write_json_atomic
    from causal.cli._inputs import check_data_path, check_database
    from causal.experiments import readout
    from causal.experiments._config import parse_config

    cfg = parse_config(_load_yaml(config))
    if out.exists() and not out.is_dir():
        raise ConfigError(
            f"The '--out' path '{out}' is an existing file; give a folder (created if needed)."
        )
    connection = None
    if database is not None:
        if engine is not EngineName.duckdb:
            raise ConfigError("The '--database' option needs '--engine duckdb'.")
        check_database(database)
        import duckdb

        connection = duckdb.connect(str(database), read_only=True)
    else:
        check_data_path(data)
    try:
        ro = readout(data, cfg.design, engine=engine.value, connection=connection, **cfg.options)
    finally:
        if connection is not None:
            connection.close()
    from causal.report import write_readout_page

    with output_set(out) as tmp:
        write_json_atomic(ro.to_dict(), tmp / "readout.json")
        write_readout_page(ro, tmp / "readout.html")
    if not quiet:
        typer.echo(ro.summary())
        typer.echo(f"\nwrote {out / 'readout.json'} and {out / 'readout.html'}")
