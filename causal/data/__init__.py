"""Data roles (Design), validation, readers, engines and simulators."""

from causal.data._design import Design, ExperimentDesign, Mean, Metric, Proportion, Ratio
from causal.data._readers import (
    TableHandle,
    missing_column_error,
    open_table,
    quote_ident,
    read_table,
)
from causal.data._simulate import (
    CONTENT_OUTCOMES,
    EXPERIMENT_METRICS,
    experiment_truth,
    simulate_content,
    simulate_experiment,
    true_ate,
)
from causal.data._simulate_dose import simulate_boost_dose, true_dose_response
from causal.data._validate import (
    MISSING_LEVEL,
    CategoricalEncoding,
    HighCardinalityWarning,
    ValidatedData,
    ValidatedExperiment,
    validate,
    validate_experiment,
)

__all__ = [
    "CONTENT_OUTCOMES",
    "EXPERIMENT_METRICS",
    "MISSING_LEVEL",
    "CategoricalEncoding",
    "Design",
    "ExperimentDesign",
    "HighCardinalityWarning",
    "Mean",
    "Metric",
    "Proportion",
    "Ratio",
    "TableHandle",
    "ValidatedData",
    "ValidatedExperiment",
    "experiment_truth",
    "open_table",
    "missing_column_error",
    "quote_ident",
    "read_table",
    "simulate_content",
    "simulate_experiment",
    "true_ate",
    "validate",
    "validate_experiment",
    "simulate_boost_dose",
    "true_dose_response",
]
