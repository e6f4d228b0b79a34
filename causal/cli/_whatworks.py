"""``causal whatworks DATA --config CONFIG.yaml --out DIR``: report.html, summary.json, effects.parquet.

DATA is a .parquet/.csv path (DuckDB reads it), or a table name in the DuckDB database given by
``--database``; with ``--engine spark``, a table in the Spark session's catalog or a
.parquet/.csv path that Spark reads. The Spark engine brings the design's columns to the driver
(Arrow), ordered by the ``unit`` column (a distributed table has no input order), and runs the
same :func:`causal.what_works` as DuckDB: the same files and numbers on the same rows. Above
the config's ``max_rows`` (default 1,000,000) it stops with an error pointing to
:func:`causal.spark.fit_on_sample` and :func:`causal.spark.score_effects` (fit on a stratified
sample, score every row distributed). The config is validated before the data is read; the
data before any model is fitted. The three files are written to a staging folder and moved into ``DIR`` together, so a
failed run leaves no half-written report; ``DIR`` is created when needed.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from causal._errors import ConfigError
from causal.cli import BOOL_METAVAR, app

__all__ = ["whatworks_command", "write_whatworks_outputs"]

OUTPUTS = ("report.html", "summary.json", "effects.parquet")


class WhatWorksEngine(StrEnum):
    """Where DATA is read."""

    duckdb = "duckdb"
    spark = "spark"


def read_with_spark(
    data: str, design: Any, attributes: list[str] | tuple[str, ...], max_rows: int
) -> tuple[Any, str]:
    """The design's columns (and any simulation truth) of a Spark table or file, as pandas.

    Ordered by the ``unit`` column (a distributed table has no input order). A table with
    more than ``max_rows`` rows is an error naming the Python path for it.
    """
    import pandas as pd

    from causal.data import missing_column_error
    from causal.experiments._spark import SparkEngine, _col
    from causal.workflows._whatworks import _truth_columns

    engine = SparkEngine()  # pyspark absent: the error naming the 'spark' extra
    df = engine._frame(data)  # a missing table/file: the readout's error
    present = [f.name for f in df.schema.fields]
    for c in attributes:
        if c not in present:
            raise missing_column_error(c, present, "attribute column")
    needed = list(dict.fromkeys([*design.columns(), *attributes]))
    if any(c not in present for c in needed):
        # what_works' validation names the missing column with its role and the nearest name
        return pd.DataFrame(columns=present), str(data)
    n_rows = df.count()
    if n_rows > max_rows:
        raise ConfigError(
            f"The Spark table '{data}' has {n_rows:,} rows, more than the config's max_rows = "
            f"{max_rows:,} that 'causal whatworks --engine spark' fits on in one process. Raise "
            "max_rows if the driver can hold the rows, or fit on a stratified sample and score "
            "every row on Spark from Python: causal.spark.fit_on_sample(...) then "
            "causal.spark.score_effects(...) (and causal.spark.segment_effects for segments)."
        )
    cols = needed + [c for c in _truth_columns(present, design.outcomes) if c not in needed]
    frame = df.select(*[_col(c).alias(c) for c in cols]).orderBy(_col(design.unit))
    return frame.toPandas(), f"{data} (read with Spark)"


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
        str,
        typer.Argument(
            help="A .parquet/.csv file, or a table name (with --database or --engine spark)."
        ),
    ],
    config: Annotated[Path, typer.Option("--config", "-c", help="What-works config (YAML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (created if needed).")],
    engine: Annotated[
        WhatWorksEngine,
        typer.Option(
            "--engine",
            help="Where DATA is read. spark: a Spark table or file, its columns brought to the "
            "driver ordered by unit (at most the config's max_rows rows, default 1,000,000).",
        ),
    ] = WhatWorksEngine.duckdb,
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
        if engine is not WhatWorksEngine.duckdb:
            raise ConfigError("The '--database' option needs '--engine duckdb'.")
        check_database(database)
        import duckdb

        connection = duckdb.connect(str(database), read_only=True)
    elif engine is not WhatWorksEngine.spark or data.lower().endswith((".parquet", ".pq", ".csv")):
        check_data_path(data)
    source = data
    if engine is WhatWorksEngine.spark:
        source, label = read_with_spark(
            data, cfg.design, cfg.options.get("attributes", ()), cfg.max_rows
        )
    try:
        ww = what_works(
            source, cfg.design, connection=connection, progress=not quiet, **cfg.options
        )
    finally:
        if connection is not None:
            connection.close()
    if engine is WhatWorksEngine.spark:
        ww.methods.update(source=label, engine="spark", max_rows=cfg.max_rows)
    else:
        ww.methods["engine"] = "duckdb"
    paths = write_whatworks_outputs(ww, out)
    if not quiet:
        typer.echo(ww.summary())
        typer.echo("\nwrote " + ", ".join(str(p) for p in paths))
