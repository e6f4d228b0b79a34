"""The one exception tree of content-causal.

Every error a user can trigger derives from :class:`CausalError`; each subclass also derives
from the matching builtin (``ValueError``, ``TypeError``, ``KeyError``-free) so generic handlers
still work. Messages name the column or parameter and the fix.
"""

from __future__ import annotations

__all__ = [
    "CausalError",
    "ColumnRoleError",
    "ConfigError",
    "ConstantColumnError",
    "DuplicateUnitError",
    "InsufficientDataError",
    "MissingColumnError",
    "MissingValuesError",
    "NonBinaryTreatmentError",
    "NonNumericColumnError",
    "OverlapError",
    "SampleRatioMismatchError",
    "UnknownVariantError",
    "NotFittedError",
    "OptionalDependencyError",
    "LowFidelityError",
]


class CausalError(Exception):
    """Base class of every error raised on purpose by content-causal."""


class ConfigError(CausalError, ValueError):
    """A parameter or configuration value is invalid (names the parameter and what is allowed)."""


class MissingColumnError(CausalError, ValueError):
    """A column named in a design is not in the data (suggests the nearest name)."""


class ColumnRoleError(CausalError, ValueError):
    """A column is used in two incompatible roles (e.g. treatment and confounder)."""


class NonNumericColumnError(CausalError, TypeError):
    """A column that must be numeric holds text or another non-numeric type."""


class MissingValuesError(CausalError, ValueError):
    """A column holds NaN or infinite values where none are allowed (says how many rows)."""


class ConstantColumnError(CausalError, ValueError):
    """A column that must vary is constant (e.g. everyone treated)."""


class NonBinaryTreatmentError(CausalError, ValueError):
    """A binary (0/1) treatment was required but the column holds other values."""


class DuplicateUnitError(CausalError, ValueError):
    """Unit ids repeat where one row per unit is required."""


class InsufficientDataError(CausalError, ValueError):
    """Too few units overall or in a treatment arm / variant to analyse."""


class OverlapError(CausalError, ValueError):
    """Treated and control units do not overlap in their covariates (positivity fails)."""


class SampleRatioMismatchError(CausalError, ValueError):
    """The observed split of units across variants contradicts the configured split."""


class UnknownVariantError(CausalError, ValueError):
    """A configured variant or control label does not occur in the data."""


class NotFittedError(CausalError, ValueError):
    """A model or analysis was used before it was fitted."""


class OptionalDependencyError(CausalError, ImportError):
    """An optional part (e.g. Spark) is used without its extra installed."""


# --- causal.graph ---------------------------------------------------------------------------
__all__ += ["GraphError", "NotIdentifiableError"]


class GraphError(CausalError, ValueError):
    """A causal graph is malformed (a cycle, bad DOT text, a node not in the data)."""


class NotIdentifiableError(GraphError):
    """The graph does not identify the requested effect (names the open back-door path)."""


class LowFidelityError(CausalError, ValueError):
    """A surrogate reproduces the model it stands for too poorly to explain it (says the R²)."""
