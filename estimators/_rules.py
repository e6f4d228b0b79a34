"""Input rules shared by the estimators and ``causal.validate`` (one set of rules, two callers).

``estimators`` imports nothing from ``causal``; ``causal.data._validate`` imports these (lazily)
so a table that ``causal.validate`` accepts is one the estimators accept, with the same limits
and the same advice. Each rule returns the *text* of a problem (or None); the caller raises its
own error type (:class:`~estimators.EstimatorInputError` here, a ``CausalError`` in causal).

Examples
--------
>>> too_few_units(["ctl", "boost"], [25, 4], minimum=10)
('boost', 4)
>>> missing_values_fix(n_missing=5, n_rows=5)
'every value is missing: drop the column'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "MAX_CATEGORY_LEVELS",
    "MIN_UNITS_PER_ARM",
    "ambiguous_control",
    "default_control",
    "high_cardinality_message",
    "missing_values_fix",
    "too_few_units",
]

#: Fewest units allowed at each treatment level: with fewer, the outcome model of that arm and
#: the propensity rest on a handful of points and the doubly-robust weights explode.
MIN_UNITS_PER_ARM = 10
#: A categorical modifier or confounder with more distinct levels than this warns: each level's
#: effect rests on few units (and a one-hot encoding makes one column per level).
MAX_CATEGORY_LEVELS = 50


def too_few_units(
    levels: Sequence[Any], counts: Iterable[Any], minimum: int = MIN_UNITS_PER_ARM
) -> tuple[Any, int] | None:
    """The first treatment level with fewer than ``minimum`` units, as ``(level, count)``.

    Parameters
    ----------
    levels : sequence
        Treatment levels.
    counts : iterable of int
        Units at each level, in the order of ``levels``.
    minimum : int, default :data:`MIN_UNITS_PER_ARM`

    Returns
    -------
    tuple of (level, int) or None
        None when every level has at least ``minimum`` units.

    Examples
    --------
    >>> from estimators.rules import too_few_units
    >>> too_few_units([0, 1], [120, 9]), too_few_units([0, 1], [120, 10])
    ((1, 9), None)
    """
    for level, count in zip(levels, counts, strict=True):
        if int(count) < minimum:
            return level, int(count)
    return None


def missing_values_fix(n_missing: int, n_rows: int) -> str:
    """The advice for a modifier/confounder column with missing values.

    A column missing everywhere carries no information: drop the column (dropping the rows
    would drop every row).

    Parameters
    ----------
    n_missing, n_rows : int
        Missing values in the column, and its length.

    Returns
    -------
    str
        The fix, to follow "column 'c' has N missing values; ...".

    Examples
    --------
    >>> from estimators.rules import missing_values_fix
    >>> missing_values_fix(3, 100)
    'impute or drop those rows'
    """
    if n_missing >= n_rows:
        return "every value is missing: drop the column"
    return "impute or drop those rows"


def high_cardinality_message(
    role: str, column: str, n_levels: int, max_levels: int = MAX_CATEGORY_LEVELS
) -> str | None:
    """The warning text when a categorical column has more than ``max_levels`` levels.

    Parameters
    ----------
    role : str
        What the column is (e.g. "modifier", "confounder").
    column : str
    n_levels : int
        Distinct levels of the column.
    max_levels : int, default :data:`MAX_CATEGORY_LEVELS`

    Returns
    -------
    str or None
        None when ``n_levels <= max_levels``.

    Examples
    --------
    >>> from estimators.rules import high_cardinality_message
    >>> high_cardinality_message("modifier", "creator", 50) is None
    True
    >>> high_cardinality_message("modifier", "creator", 51_000)[:47]
    "The modifier column 'creator' has 51,000 levels"
    """
    if n_levels <= max_levels:
        return None
    return (
        f"The {role} column '{column}' has {n_levels:,} levels (more than "
        f"{max_levels}): each level's effect rests on few units, and a one-hot encoding "
        "makes one column per level. Group rare levels (e.g. into 'other') or pass a numeric "
        "summary instead."
    )


def _is_zero(v: Any) -> bool:
    return not isinstance(v, str) and v == 0


def default_control(levels: Sequence[Any]) -> Any | None:
    """The control level implied by the labels alone, or None when the labels do not say.

    ``False`` for booleans, ``0`` for numbers that include 0, the label ``"control"`` when
    present. Anything else (``{"ctl", "boost"}``, ``{1, 2}``) is ambiguous: taking the first in
    sort order would silently make ``"boost"`` the reference and flip the sign of every effect.

    Parameters
    ----------
    levels : sequence
        Treatment levels.

    Returns
    -------
    level or None

    Examples
    --------
    >>> from estimators.rules import default_control
    >>> default_control([1, 0]), default_control(["boost", "Control"]), default_control([1, 2])
    (0, 'Control', None)
    """
    for v in levels:
        if _is_zero(v):  # also False (a boolean T) and 0.0
            return v
    for v in levels:
        if isinstance(v, str) and v.strip().lower() == "control":
            return v
    return None


def ambiguous_control(levels: Sequence[Any], arg: str = "control") -> str:
    """The message when :func:`default_control` finds no control among ``levels``.

    Parameters
    ----------
    levels : sequence
        Treatment levels (the first ten are shown).
    arg : str, default "control"
        The parameter the caller should pass.

    Returns
    -------
    str

    Examples
    --------
    >>> from estimators.rules import ambiguous_control
    >>> ambiguous_control(["boost", "ctl"]).endswith("e.g. control='boost'.")
    True
    """
    shown = list(levels)[:10]
    return (
        f"The treatment has levels {shown} and none of them is 0, False or 'control', so which "
        f"arm is the reference is ambiguous (taking the first in sort order, {shown[0]!r}, would "
        f"report every effect as {shown[-1]!r} vs {shown[0]!r}). Pass {arg}=<the control level>, "
        f"e.g. {arg}={shown[0]!r}."
    )
