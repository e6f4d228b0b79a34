"""Simulators with ground truth: content items (observational) and A/B/n experiments.

The two simulators live in :mod:`causal.data._simulate_content` and
:mod:`causal.data._simulate_experiment`; this module gathers their public names.
"""

from __future__ import annotations

from causal.data._simulate_content import CONTENT_OUTCOMES, simulate_content, true_ate
from causal.data._simulate_experiment import (
    EXPERIMENT_METRICS,
    LIFT_DRIVERS,
    SEGMENT_COLUMNS,
    experiment_truth,
    simulate_experiment,
)

__all__ = [
    "CONTENT_OUTCOMES",
    "EXPERIMENT_METRICS",
    "LIFT_DRIVERS",
    "SEGMENT_COLUMNS",
    "experiment_truth",
    "simulate_content",
    "simulate_experiment",
    "true_ate",
]
