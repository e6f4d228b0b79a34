"""Per-row CATE of a fitted effect model over a Spark table (``mapInPandas``, model broadcast)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from causal._errors import ConfigError, NotFittedError
from causal.data import missing_column_error
from causal.experiments._spark import SparkEngine, _col, check_python_workers, require_pyspark
from causal.spark._segments import _context, check_table

__all__ = ["score_effects"]

EFFECT_COLUMNS = ("effect", "effect_ci_lower", "effect_ci_upper")
# what the executors import to unpickle the model and score Arrow batches
WORKER_MODULES = ("pandas", "pyarrow", "estimators", "causal")


def _features(model: Any) -> list[str]:
    model = getattr(model, "model", model)  # a SampleFit
    try:
        feats = list(model.feature_names_in_)
    except (AttributeError, TypeError, ValueError):
        feats = []
    if not feats:
        raise NotFittedError(
            "The model has no fitted feature names (feature_names_in_): fit an estimators "
            "model with X (a DataFrame) before scoring a Spark table."
        )
    return feats


def score_effects(
    model: Any,
    data: Any,
    *,
    keep: tuple[str, ...] | list[str] = (),
    alpha: float | None = 0.05,
    check: bool = True,
    spark: Any = None,
    outcome: str | None = None,
) -> Any:
    """Per-row CATE of a fitted ``estimators`` model over a Spark table, computed on the
    executors (``mapInPandas``, the model broadcast once).

    Parameters
    ----------
    model : fitted estimator or :class:`~causal.spark.SampleFit`
        Any fitted :mod:`estimators` CATE model (``effect``, ``effect_interval``,
        ``feature_names_in_``) with one outcome.
    data : Spark DataFrame, table name, .parquet/.csv path or pandas DataFrame
        Must hold the model's modifier columns (``model.feature_names_in_``).
    keep : list of str
        Columns copied to the output beside the effects (e.g. the item id).
    alpha : float or None
        Level of the pointwise intervals ``effect_ci_lower``/``effect_ci_upper``; None for
        point effects only (models without valid intervals, e.g. meta-learners).
    check : bool, default True
        First check, in one Spark aggregation (a pass over the table), that the modifier
        columns have no missing values and no categorical levels unseen in fit, so bad rows
        give a clear error here instead of an executor traceback when the result is written.
    spark : SparkSession, optional
        Default the active session.
    outcome : str, optional
        For a model fitted on several outcomes, the one to score (its effects only).

    Returns
    -------
    pyspark.sql.DataFrame
        ``keep`` columns, then ``effect`` (and ``effect_ci_lower``, ``effect_ci_upper``); lazy:
        write it (``.write.parquet``) or collect it. The numbers are those of
        ``model.effect(X)`` / ``model.effect_interval(X)`` in one process (tests: 1e-12).

    Notes
    -----
    What travels: the whole fitted model is broadcast once per executor (``effect`` needs its
    final stages and encoders; a 100k-row AutoCate pickles to tens of MB), and each executor
    scores Arrow batches of ``spark.sql.execution.arrow.maxRecordsPerBatch`` rows (10,000 by
    default) in pandas. No shuffle: the output keeps the input's partitioning. The executors
    need ``content-causal`` and its estimator dependencies installed (same versions as the
    driver, since the model is pickled).

    Examples
    --------
    >>> scored = score_effects(est, "items", keep=["item_id"])  # doctest: +SKIP
    >>> scored.write.parquet("cate.parquet")  # doctest: +SKIP
    """
    require_pyspark()
    from pyspark.sql import types as T

    feats = _features(model)
    model = getattr(model, "model", model)
    if alpha is not None and not 0.0 < float(alpha) < 1.0:
        raise ConfigError(f"The 'alpha' parameter must be in (0, 1). Got {alpha!r}.")
    engine = SparkEngine(spark)
    df = engine._frame(data)
    check_python_workers(engine.spark, WORKER_MODULES)
    fields = {f.name: f for f in df.schema.fields}
    keep = list(dict.fromkeys(keep))
    for c in [*keep, *feats]:
        if c not in fields:
            raise missing_column_error(c, list(fields))
    ctx = _context(model)
    names = list(ctx.data.outcome_names)
    column: int | None = None
    if outcome is not None:
        if outcome not in names:
            raise ConfigError(
                f"The 'outcome' parameter must be one of the model's outcomes {names}. "
                f"Got {outcome!r}."
            )
        column = names.index(outcome) if len(names) > 1 else None
    elif ctx.data.y.shape[1] != 1:
        raise ConfigError(
            f"score_effects scores one outcome; the model has {ctx.data.y.shape[1]} "
            f"({list(ctx.data.outcome_names)}): fit one model per outcome or pass outcome=."
        )
    if check:
        cats = [c for c in ctx.data.x_schema if c.categorical]
        nums = [c.name for c in ctx.data.x_schema if not c.categorical]
        check_table(df, needed=feats, categorical=cats, numeric=nums)
    clash = sorted(set(EFFECT_COLUMNS) & set(keep))
    if clash:
        raise ConfigError(f"The 'keep' columns {clash} clash with the output's effect columns.")
    outs = ["effect"] + ([] if alpha is None else ["effect_ci_lower", "effect_ci_upper"])
    schema = T.StructType(
        [fields[c] for c in keep] + [T.StructField(c, T.DoubleType(), True) for c in outs]
    )
    bc = engine.spark.sparkContext.broadcast(model)
    level = None if alpha is None else float(alpha)

    def score(batches: Any) -> Any:
        import numpy as np

        est = bc.value
        for pdf in batches:
            x = pdf[feats]
            eff = np.asarray(est.effect(x), dtype=float)
            if column is not None:
                eff = eff[:, column]
            if eff.ndim != 1:
                raise ValueError("score_effects scores one outcome; the model has several.")
            out = pdf[keep].copy() if keep else pd.DataFrame(index=pdf.index)
            out["effect"] = eff
            if level is not None:
                lo, hi = (np.asarray(b, dtype=float) for b in est.effect_interval(x, alpha=level))
                if column is not None:
                    lo, hi = lo[:, column], hi[:, column]
                out["effect_ci_lower"] = lo
                out["effect_ci_upper"] = hi
            yield out

    cols = [_col(c) for c in dict.fromkeys([*keep, *feats])]
    return df.select(*cols).mapInPandas(score, schema)
