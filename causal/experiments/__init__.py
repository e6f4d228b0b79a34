"""A/B experiments: metric specs -> aggregates (engines) -> causal.stats -> a Readout.

The flow is ``readout(data, design)``: an :class:`Engine` (DuckDB by default, or pandas)
reduces the table to :class:`~causal.stats.Moments` per (variant[, segment]) group in one
grouped query (:class:`Aggregates`), then :func:`readout_from_aggregates` calls the
:mod:`causal.stats` functions and returns a :class:`Readout`.
"""

from causal.data import ExperimentDesign, Mean, Metric, Proportion, Ratio
from causal.experiments._engines import (
    DuckDBEngine,
    Engine,
    PandasEngine,
    get_engine,
    quote_ident,
)
from causal.experiments._plan import (
    AggregateRequest,
    Aggregates,
    GroupKey,
    MetricInputs,
    merge_aggregates,
    metric_inputs,
    moment_names,
)
from causal.experiments._readout import (
    MetricRow,
    Readout,
    readout,
    readout_from_aggregates,
)
from causal.experiments._sequential import SequentialLook, SequentialPlan

__all__ = [
    "AggregateRequest",
    "Aggregates",
    "DuckDBEngine",
    "Engine",
    "ExperimentDesign",
    "GroupKey",
    "Mean",
    "Metric",
    "MetricInputs",
    "MetricRow",
    "PandasEngine",
    "Proportion",
    "Ratio",
    "Readout",
    "SequentialLook",
    "SequentialPlan",
    "get_engine",
    "merge_aggregates",
    "metric_inputs",
    "moment_names",
    "quote_ident",
    "readout",
    "readout_from_aggregates",
]
