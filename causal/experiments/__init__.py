"""A/B experiments: metric specs -> aggregates (engines) -> causal.stats -> a Readout."""

from causal.data import ExperimentDesign, Mean, Metric, Proportion, Ratio
from causal.experiments._engines import DuckDBEngine, Engine, PandasEngine, get_engine
from causal.experiments._plan import (
    AggregateRequest,
    Aggregates,
    GroupKey,
    merge_aggregates,
    metric_inputs,
)

__all__ = [
    "AggregateRequest",
    "Aggregates",
    "DuckDBEngine",
    "Engine",
    "ExperimentDesign",
    "GroupKey",
    "Mean",
    "Metric",
    "PandasEngine",
    "Proportion",
    "Ratio",
    "get_engine",
    "merge_aggregates",
    "metric_inputs",
]
