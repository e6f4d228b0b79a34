"""The input rules the estimators enforce, for code that validates data before fitting.

One set of rules, two callers: the estimators apply them in ``fit`` (raising
:class:`~estimators.EstimatorInputError`), and ``causal.validate`` applies them to a table
before any model is fitted (raising its own ``CausalError``), so a table that
``causal.validate`` accepts is one the estimators accept, with the same limits and the same
advice. Each rule returns the *text* of a problem (or None); the caller raises its own error.

A separate module from :mod:`estimators.inference` because these are about the *inputs* (what
data ``fit`` accepts), not about a fitted model's pieces.

Examples
--------
>>> from estimators.rules import MIN_UNITS_PER_ARM, too_few_units
>>> too_few_units(["ctl", "boost"], [25, 4], minimum=10)
('boost', 4)
>>> too_few_units([0, 1], [MIN_UNITS_PER_ARM, MIN_UNITS_PER_ARM]) is None
True
"""

from __future__ import annotations

from estimators._rules import (
    MAX_CATEGORY_LEVELS,
    MIN_UNITS_PER_ARM,
    ambiguous_control,
    default_control,
    high_cardinality_message,
    missing_values_fix,
    too_few_units,
)

__all__ = [
    "MAX_CATEGORY_LEVELS",
    "MIN_UNITS_PER_ARM",
    "ambiguous_control",
    "default_control",
    "high_cardinality_message",
    "missing_values_fix",
    "too_few_units",
]
