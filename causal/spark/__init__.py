"""Spark: effect scoring and segment effects over tables that outgrow one machine.

Everything here runs on Apache Spark (the ``spark`` extra: ``pip install
'content-causal[spark]'``, Java 17+); pyspark is imported only when a function is called, and
without it each raises :class:`~causal.OptionalDependencyError` naming the extra.

- :func:`score_effects` — per-row CATE with intervals of a fitted ``estimators`` model over a
  Spark table (``mapInPandas``, the model broadcast once); write the result with
  ``.write.parquet``.
- :func:`segment_effects` — segment effects (GATE) with doubly-robust intervals and a sup-t
  band as Spark aggregations of the rows' AIPW scores; equal to ``estimators.evaluate``'s
  GATE table (HC1, or cluster-robust CR2) on the same model and rows.
- :func:`fit_on_sample` — the large-fit strategy: above ``max_rows``, fit on an exact-size
  stratified sample (treatment x segments, proportional allocation, reproducible by seed),
  recorded in the returned :class:`SampleFit`; then score every row with the two functions
  above.
- :class:`SparkEngine` — the experiment readout's Spark engine (``readout(...,
  engine="spark")``), re-exported from :mod:`causal.experiments`.

Examples
--------
>>> from causal.spark import fit_on_sample, score_effects, segment_effects  # doctest: +SKIP
>>> fit = fit_on_sample("events", outcome="saves", treatment="boosted",
...                     modifiers=["age", "topic"], segments=["country"], row_id="pin_id",
...                     max_rows=1_000_000, seed=0)  # doctest: +SKIP
>>> score_effects(fit, "events", keep=["pin_id"]).write.parquet("cate.parquet")  # doctest: +SKIP
>>> segment_effects(fit, "events", treatment="boosted", outcome="saves",
...                 segments=["country"]).to_pandas()  # doctest: +SKIP
"""

from causal.experiments._spark import SparkEngine, require_pyspark
from causal.spark._sample import SampleFit, fit_on_sample, stratified_sample
from causal.spark._score import score_effects
from causal.spark._segments import DRScorer, SegmentEffects, dr_scorer, segment_effects

__all__ = [
    "DRScorer",
    "SampleFit",
    "SegmentEffects",
    "SparkEngine",
    "dr_scorer",
    "fit_on_sample",
    "require_pyspark",
    "score_effects",
    "segment_effects",
    "stratified_sample",
]
