"""Data roles (Design), validation, readers, engines and simulators."""

from causal.data._design import Design, ExperimentDesign, Mean, Metric, Proportion, Ratio
from causal.data._simulate import (
    CONTENT_OUTCOMES,
    EXPERIMENT_METRICS,
    experiment_truth,
    simulate_content,
    simulate_experiment,
    true_ate,
)

__all__ = [
    "CONTENT_OUTCOMES",
    "EXPERIMENT_METRICS",
    "Design",
    "ExperimentDesign",
    "Mean",
    "Metric",
    "Proportion",
    "Ratio",
    "experiment_truth",
    "simulate_content",
    "simulate_experiment",
    "true_ate",
]
