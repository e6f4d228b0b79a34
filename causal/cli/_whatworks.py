"""``causal whatworks DATA --config CONFIG.yaml --out DIR``: report.html, summary.json, effects.parquet.

DATA is a .parquet/.csv path (DuckDB reads it), or a table name in the DuckDB database given by
``--database``. The config is validated before the data is read; the data before any model is
fitted. The three files are written to a staging folder and moved into ``DIR`` together, so a
failed run leaves no half-written report; ``DIR`` is created when needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from causal._errors import ConfigError
from causal.cli import BOOL_METAVAR, app

__all__ = ["whatworks_command", "write_whatworks_outputs"]

OUTPUTS = ("report.html", "summary.json", "effects.parquet")


def write_whatworks_outputs(ww: Any, out: Path) -> list[Path]:
    """Write ``report.html``, ``summary.json`` and ``effects.parquet`` into ``out`` as a set
    (:func:`causal._io.output_set`: all moved in together, nothing on failure)."""
    from causal._io import output_set, write_json_atomic

    with output_set(out) as tmp:
        write_json_atomic(ww.to_dict(), tmp / "summary.json")
        ww.effects.to_parquet(tmp / "effects.parquet", index=False)
        ww.report(tmp / "report.html")
    return [out / name for name in OUTPUTS]


@app.command("whatworks")
def whatworks_command(
    data: Annotated[
        str, typer.Argument(help="A .parquet/.csv file, or a table name (with --database).")
    ],
    config: Annotated[Path, typer.Option("--config", "-c", help="What-works config (YAML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (created if needed).")],
    database: Annotated[
        Path | None,
        typer.Option("--database", help="DuckDB database file holding the table DATA."),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No progress or summary.", metavar=BOOL_METAVAR),
    ] = False,
) -> None:
    """Estimate what works: effects per outcome, for whom, why, and how robust."""
    from causal.cli._inputs import check_data_path, check_database
    from causal.cli._readout import _load_yaml
    from causal.workflows import parse_whatworks_config, what_works

    cfg = parse_whatworks_config(_load_yaml(config), base_dir=config.parent)
    if out.exists() and not out.is_dir():
        raise ConfigError(
            f"The '--out' path '{out}' is an existing file; give a folder (created if needed)."
        )
    connection = None
    if database is not None:
        check_database(database)
        import duckdb

        connection = duckdb.connect(str(database), read_only=True)
    else:
        check_data_path(data)
    try:
        ww = what_works(data, cfg.design, connection=connection, progress=not quiet, **cfg.options)
    finally:
        if connection is not None:
            connection.close()
    paths = write_whatworks_outputs(ww, out)
    if not quiet:
        typer.echo(ww.summary())
        typer.echo("\nwrote " + ", ".join(str(p) for p in paths))
