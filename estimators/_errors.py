"""Exceptions and warnings of the ``estimators`` package.

``estimators`` imports nothing from ``causal``, so it has its own small tree. Both errors derive
from :class:`ValueError` (as scikit-learn's ``NotFittedError`` does), so generic handlers work.
"""

from __future__ import annotations

__all__ = [
    "EstimatorInputError",
    "HighCardinalityWarning",
    "NotFittedError",
    "OverlapWarning",
]


class EstimatorInputError(ValueError):
    """Bad input to ``fit`` or ``effect``: names the argument or column, the problem and the fix."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``."""


class OverlapWarning(UserWarning):
    """Some estimated propensities were outside ``[clip, 1 - clip]`` and were clipped."""


class HighCardinalityWarning(UserWarning):
    """A categorical modifier or confounder has very many levels (few units per level)."""
