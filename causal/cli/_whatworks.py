"""``causal whatworks DATA --config CONFIG.yaml --out DIR``: report.html, summary.json, effects.parquet.

DATA is a .parquet/.csv path (DuckDB reads it), or a table name in the DuckDB database given by
``--database``. The config is validated before the data is read; the data before any model is
fitted. The three files are written to a staging folder and moved into ``DIR`` together, so a
failed run leaves no half-written report; ``DIR`` is created when needed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from causal._errors import ConfigError
from causal.cli import app

__all__ = ["whatworks_command", "write_whatworks_outputs"]

OUTPUTS = ("report.html", "summary.json", "effects.parquet")


def _write_together(out: Path, writers: dict[str, Callable[[Path], object]]) -> list[Path]:
    """Write every file into a staging folder inside ``out``, then move them in together."""
    import os
    import shutil
    import tempfile

    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        for name, write in writers.items():
            write(stage / name)
        paths = []
        for name in writers:
            os.replace(stage / name, out / name)
            paths.append(out / name)
        return paths
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_whatworks_outputs(ww: object, out: Path) -> list[Path]:
    """Write ``report.html``, ``summary.json`` and ``effects.parquet`` into ``out`` as a set."""
    return _write_together(
        out,
        {
            "summary.json": lambda p: _write_json(ww, p),
            "effects.parquet": lambda p: ww.effects.to_parquet(p, index=False),  # type: ignore[attr-defined]
            "report.html": lambda p: ww.report(p),  # type: ignore[attr-defined]
        },
    )


def _write_json(ww: object, path: Path) -> None:
    from causal._io import write_json_atomic

    write_json_atomic(ww.to_dict(), path)  # type: ignore[attr-defined]


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Estimate what works: effects per outcome, for whom, why, and how robust."""
    from causal.cli._readout import _load_yaml
    from causal.workflows import parse_whatworks_config, what_works

    cfg = parse_whatworks_config(_load_yaml(config), base_dir=config.parent)
    connection = None
    if database is not None:
        if not database.exists():
            raise ConfigError(f"The DuckDB database '{database}' does not exist.")
        import duckdb

        connection = duckdb.connect(str(database), read_only=True)
    elif not data.lower().endswith((".parquet", ".pq", ".csv")):
        raise ConfigError(
            f"DATA '{data}' is not a .parquet/.csv file; for a table name pass --database."
        )
    elif not Path(data).exists():
        raise ConfigError(f"The data file '{data}' does not exist.")
    try:
        ww = what_works(data, cfg.design, connection=connection, progress=not quiet, **cfg.options)
    finally:
        if connection is not None:
            connection.close()
    paths = write_whatworks_outputs(ww, out)
    if not quiet:
        typer.echo(ww.summary())
        typer.echo("\nwrote " + ", ".join(str(p) for p in paths))
