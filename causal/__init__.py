"""content-causal: what content works, for whom, and why — causally.

The flat public API. Heavy parts import lazily on first use, so ``import causal`` stays fast
and does not pay for dowhy, shap, statsmodels, lightgbm or matplotlib.

Examples
--------
>>> import causal
>>> design = causal.Design(unit="pin_id", treatment="boosted", outcomes=["saves"])
>>> design.treatment
'boosted'
"""

from __future__ import annotations

import importlib
from typing import Any

from causal._errors import *  # noqa: F403
from causal._errors import __all__ as _error_names

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "Design": "causal.data",
    "ExperimentDesign": "causal.data",
    "Mean": "causal.data",
    "Proportion": "causal.data",
    "Ratio": "causal.data",
    "simulate_content": "causal.data",
    "simulate_experiment": "causal.data",
    "validate": "causal.data",
    "validate_experiment": "causal.data",
    "read_table": "causal.data",
    "experiment_truth": "causal.data",
    "true_ate": "causal.data",
    "readout": "causal.experiments",
    "Readout": "causal.experiments",
    "what_works": "causal.workflows",
    "WhatWorks": "causal.workflows",
    "simulate_boost_dose": "causal.data",
    "true_dose_response": "causal.data",
}

__all__ = [*_error_names, *_LAZY, "__version__"]
_SUBPACKAGES = ("explain", "spark")  # reachable as attributes, imported on first access


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None and name in _SUBPACKAGES:  # causal.explain without importing it first
        return importlib.import_module(f"causal.{name}")
    if module is None:
        raise AttributeError(f"module 'causal' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
