"""``causal readout DATA --config CONFIG.yaml --out DIR``: ``DIR/readout.json`` and ``readout.html``.

DATA is a .parquet/.csv path, or a table name in the DuckDB database given by ``--database``
(or, with ``--engine spark``, a table in the Spark session's catalog).
The JSON follows DESIGN.md (no NaN/Infinity tokens: undefined numbers are ``null``) and is
written atomically; a plain-text summary goes to stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from causal._errors import ConfigError
from causal.cli import app

__all__ = ["readout_command"]


def _load_yaml(path: Path) -> object:
    import yaml

    if not path.exists():
        raise ConfigError(f"The config file '{path}' does not exist.")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"The config file '{path}' is not valid YAML: {exc}") from None


@app.command("readout")
def readout_command(
    data: Annotated[
        str,
        typer.Argument(
            help="A .parquet/.csv file, or a table name (with --database, or --engine spark)."
        ),
    ],
    config: Annotated[Path, typer.Option("--config", "-c", help="Readout config (YAML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (created if needed).")],
    engine: Annotated[
        str, typer.Option("--engine", help="duckdb (default), pandas or spark.")
    ] = "duckdb",
    database: Annotated[
        Path | None,
        typer.Option("--database", help="DuckDB database file holding the table DATA."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not print the summary.")] = False,
) -> None:
    """Read out an A/B/n experiment: SRM, lifts with intervals, guardrails, decision."""
    from causal._io import write_json_atomic
    from causal.experiments import readout
    from causal.experiments._config import parse_config

    cfg = parse_config(_load_yaml(config))
    if engine not in ("duckdb", "pandas", "spark"):
        raise ConfigError(
            f"The '--engine' option must be 'duckdb', 'pandas' or 'spark'. Got {engine!r}."
        )
    connection = None
    if database is not None:
        if engine != "duckdb":
            raise ConfigError("The '--database' option needs '--engine duckdb'.")
        if not database.exists():
            raise ConfigError(f"The DuckDB database '{database}' does not exist.")
        import duckdb

        connection = duckdb.connect(str(database), read_only=True)
    elif engine != "spark" and not data.lower().endswith((".parquet", ".pq", ".csv")):
        raise ConfigError(
            f"DATA '{data}' is not a .parquet/.csv file; for a table name pass --database."
        )
    try:
        ro = readout(data, cfg.design, engine=engine, connection=connection, **cfg.options)
    finally:
        if connection is not None:
            connection.close()
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(ro.to_dict(), out / "readout.json")
    from causal.report import write_readout_page

    write_readout_page(ro, out / "readout.html")
    if not quiet:
        typer.echo(ro.summary())
        typer.echo(f"\nwrote {out / 'readout.json'} and {out / 'readout.html'}")
