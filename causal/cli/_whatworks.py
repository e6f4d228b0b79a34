"""``causal whatworks DATA --config CONFIG.yaml --out DIR``: report.html, summary.json, effects.parquet.

DATA is a .parquet/.csv path (DuckDB reads it), or a table name in the DuckDB database given by
``--database``; with ``--engine spark``, a table in the Spark session's catalog or a
.parquet/.csv path that Spark reads. The Spark engine brings the design's columns to the driver
(Arrow), ordered by the ``unit`` column (a distributed table has no input order), and runs the
same :func:`causal.what_works` as DuckDB: the same files and numbers on the same rows. Above
the config's ``max_rows`` (default 1,000,000) it fits on an exact-size stratified sample
(:func:`causal.spark.stratified_sample`: treatment x segments, proportional, the config's
``seed``), recorded in ``summary.json`` (``methods.sample``) and in the report, and scores every
row on Spark (:func:`causal.spark.score_effects`) into one ``effects.parquet`` ordered by unit
(written through Spark, so ``DIR`` must be a path the executors can write: local mode or a
shared file system). Designs without modifiers, with attributes or with a multi-level
treatment stop there with an error pointing to :func:`causal.spark.fit_on_sample`. The config
is validated before the data is read; the data before any model is fitted.
The three files are written to a staging folder and moved into ``DIR`` together, so a
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
    data: str,
    design: Any,
    attributes: list[str] | tuple[str, ...],
    max_rows: int,
    seed: int = 0,
) -> tuple[Any, str, Any]:
    """The design's columns (and any simulation truth) of a Spark table or file, as pandas.

    Ordered by the ``unit`` column (a distributed table has no input order). Returns the
    frame, a source label and, above ``max_rows`` rows, ``(spark_frame, sample_record)``: the
    frame is then a stratified sample (:func:`causal.spark.stratified_sample`, by treatment x
    segments, ``max_rows`` rows, ``seed``) and every row is scored afterwards.
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
        return pd.DataFrame(columns=present), str(data), None
    cols = needed + [c for c in _truth_columns(present, design.outcomes) if c not in needed]
    n_rows = df.count()
    if n_rows <= max_rows:
        frame = df.select(*[_col(c).alias(c) for c in cols]).orderBy(_col(design.unit))
        return frame.toPandas(), f"{data} (read with Spark)", None
    if not design.modifiers or attributes:
        raise ConfigError(
            f"The Spark table '{data}' has {n_rows:,} rows, more than the config's max_rows = "
            f"{max_rows:,}: 'causal whatworks --engine spark' then fits on a stratified sample "
            "and scores every row, which needs modifiers and no attributes. Raise max_rows if "
            "the driver can hold the rows, or from Python use causal.spark.fit_on_sample(...) "
            "then causal.spark.score_effects(...)."
        )
    from causal.spark import stratified_sample

    pdf, record = stratified_sample(
        df, strata=[design.treatment, *design.segments], row_id=design.unit,
        max_rows=max_rows, seed=seed, columns=cols, spark=engine.spark,
    )  # fmt: skip
    pdf = pdf.sort_values(design.unit, kind="stable").reset_index(drop=True)
    return pdf, f"{data} (read with Spark). {record['note']}", (df, record)


def write_spark_effects(ww: Any, frame: Any, path: Path, *, alpha: float) -> None:
    """Score every row of the Spark ``frame`` with ``ww.model`` and write ``path`` (one
    parquet file, the contract's columns, ordered by unit) — used above ``max_rows``."""
    import shutil

    from pyspark.sql import functions as F

    from causal.experiments._spark import _col
    from causal.spark import score_effects

    unit = ww.design.unit
    intervals = bool(getattr(ww.model, "_supports_intervals", True))
    scored = None
    for o in ww.design.outcomes:
        s = score_effects(
            ww.model, frame, keep=[unit], alpha=alpha if intervals else None, outcome=o
        )
        lo = F.col("effect_ci_lower") if intervals else F.lit(None).cast("double")
        hi = F.col("effect_ci_upper") if intervals else F.lit(None).cast("double")
        s = s.select(
            _col(unit).alias(unit),
            F.col("effect").alias(f"cate_{o}"),
            lo.alias(f"cate_{o}_ci_lower"),
            hi.alias(f"cate_{o}_ci_upper"),
        )
        scored = s if scored is None else scored.join(s, on=unit, how="inner")
    staging = path.with_name(path.name + ".spark")
    scored.repartition(1).sortWithinPartitions(_col(unit)).write.mode("overwrite").parquet(
        str(staging)
    )
    parts = sorted(staging.glob("part-*.parquet"))
    if len(parts) != 1:  # an empty table writes none
        raise ConfigError(f"Spark wrote {len(parts)} effect files into '{staging}'; expected 1.")
    parts[0].replace(path)
    shutil.rmtree(staging)


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
            "driver ordered by unit; above the config's max_rows (default 1,000,000) the model "
            "is fitted on a stratified sample of max_rows rows and every row scored on Spark.",
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
    source, sample = data, None
    if engine is WhatWorksEngine.spark:
        source, label, sample = read_with_spark(
            data, cfg.design, cfg.options.get("attributes", ()), cfg.max_rows,
            seed=cfg.options["seed"],
        )  # fmt: skip
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
    if sample is None:
        paths = write_whatworks_outputs(ww, out)
    else:
        frame, record = sample
        if ww.control is not None:
            raise ConfigError(
                "Above max_rows, 'causal whatworks --engine spark' scores a binary or "
                "continuous treatment; this one has levels. Raise max_rows, or score each "
                "level from Python with causal.spark.fit_on_sample + score_effects."
            )
        from causal.stats._results import _plain

        ww.methods["sample"] = _plain({k: v for k, v in record.items() if k != "note"})
        ww.methods["sample_note"] = record["note"]
        from causal._io import output_set, write_json_atomic

        with output_set(out) as tmp:
            write_json_atomic(ww.to_dict(), tmp / "summary.json")
            write_spark_effects(ww, frame, tmp / "effects.parquet", alpha=cfg.options["alpha"])
            ww.report(tmp / "report.html")
        paths = [out / name for name in OUTPUTS]
    if not quiet:
        typer.echo(ww.summary())
        typer.echo("\nwrote " + ", ".join(str(p) for p in paths))
