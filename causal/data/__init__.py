"""Data roles (Design), validation, readers, engines and simulators."""

from causal.data._design import Design, ExperimentDesign, Mean, Metric, Proportion, Ratio

__all__ = ["Design", "ExperimentDesign", "Mean", "Metric", "Proportion", "Ratio"]
