"""The experiment validation rules: one set, evaluated as cheap aggregates by every engine.

Each rule is data (which metric, which column, what is bad) plus the one error it raises, so the
readout's engines (DuckDB renders :meth:`RowRule.sql_bad` as a ``COUNT(*) FILTER``, pandas uses
:meth:`RowRule.bad_mask`) and :func:`~causal.data.validate_experiment` (the same DuckDB
``COUNT(*) FILTER`` aggregates, never a pandas load) apply the same rules with the same
messages:

- metric columns are numeric (or boolean): :func:`check_numeric`;
- a proportion column holds only 0 and 1 (or booleans): :class:`RowRule` ``binary``;
- a ratio denominator is never negative: :class:`RowRule` ``nonnegative``;
- a ratio denominator sums to more than 0 in every variant: :func:`denominator_total_problem`.
  Not an error on either path: the readout reports that metric's row as not estimated, with
  the reason, so one bad metric does not hide the others, and a success metric in that state
  makes the decision untrustworthy; :func:`~causal.data.validate_experiment` returns the same
  reason (a warning and ``not_estimable``) instead of raising.

Row rules are first decided from the column's minimum, maximum and type (free for a Parquet
file, part of the engines' pre-pass anyway): an integer column within [0, 1] is binary, a column
whose minimum is >= 0 is non-negative. Only the others need a counting pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from causal._errors import ConfigError, NonNumericColumnError
from causal.data._design import Metric, Proportion, Ratio

__all__ = [
    "DUCKDB_NUMERIC",
    "RowRule",
    "check_numeric",
    "denominator_total_problem",
    "duckdb_numeric",
    "row_rules",
    "sql_double",
]

RuleKind = Literal["binary", "nonnegative"]


@dataclass(frozen=True, slots=True)
class RowRule:
    """A row-level rule on one metric column.

    Examples
    --------
    >>> r = RowRule("conversion", "converted", "binary")
    >>> r.sql_bad('"converted"')
    '"converted" NOT IN (0, 1)'
    >>> r.proven(minimum=0, maximum=1, integer=True)
    True
    """

    metric: str
    column: str
    kind: RuleKind

    def sql_bad(self, col: str) -> str:
        """SQL predicate true for a bad (non-null) value of the quoted column ``col``."""
        if self.kind == "binary":
            return f"{col} NOT IN (0, 1)"
        return f"{col} < 0"

    def bad_mask(self, x: np.ndarray) -> np.ndarray:
        """Bad values of ``x`` (a float array, NaN for missing: never bad here)."""
        x = np.asarray(x, dtype=float)
        if self.kind == "binary":
            return ~np.isnan(x) & (x != 0.0) & (x != 1.0)
        return x < 0

    def proven(
        self, *, minimum: float | int | None, maximum: float | int | None, integer: bool
    ) -> bool:
        """True when the column's range and type already show every row passes."""
        if minimum is None or maximum is None:
            return True  # no non-null value
        if self.kind == "binary":
            return integer and minimum >= 0 and maximum <= 1
        return minimum >= 0

    def check(self, bad: int) -> None:
        """Raise this rule's error when ``bad`` rows break it."""
        if bad <= 0:
            return
        if self.kind == "binary":
            raise ConfigError(
                f"Metric '{self.metric}': the proportion column '{self.column}' must hold only "
                f"0 and 1 (or booleans), but {bad:,} row(s) hold other values. Recode it to 0/1 "
                "or use a Mean metric for counts and amounts."
            )
        raise ConfigError(
            f"Metric '{self.metric}': the denominator column '{self.column}' has {bad:,} "
            "negative value(s); a ratio needs counts or amounts >= 0 (otherwise its absolute "
            "and relative lifts can have opposite signs). Fix or drop those rows."
        )


def row_rules(metrics: Sequence[Metric]) -> tuple[RowRule, ...]:
    """The row rules of ``metrics``: proportions are 0/1, ratio denominators are >= 0.

    Examples
    --------
    >>> [r.kind for r in row_rules([Proportion("p", "c"), Ratio("r", "a", "b")])]
    ['binary', 'nonnegative']
    """
    out: dict[tuple[str, RuleKind], RowRule] = {}
    for m in metrics:
        if isinstance(m, Proportion):
            out.setdefault((m.column, "binary"), RowRule(m.name, m.column, "binary"))
        elif isinstance(m, Ratio):
            rule = RowRule(m.name, m.denominator, "nonnegative")
            out.setdefault((rule.column, rule.kind), rule)
    return tuple(out.values())


def check_numeric(metric: str, column: str, type_name: str, numeric: bool) -> None:
    """A metric column must be numeric (or boolean).

    Examples
    --------
    >>> check_numeric("saves", "saves", "VARCHAR", False)
    Traceback (most recent call last):
    ...
    causal._errors.NonNumericColumnError: Metric 'saves': column 'saves' must be numeric ...
    """
    if not numeric:
        raise NonNumericColumnError(
            f"Metric '{metric}': column '{column}' must be numeric (or boolean) but holds "
            f"{type_name} values; convert it to numbers or pick another column."
        )


def denominator_total_problem(metric: Ratio, variant: str, total: float) -> str | None:
    """Why ``metric`` cannot be estimated when its denominator sums to ``total`` (not > 0) in
    ``variant``, or None when it can.

    Not an error on any path: the readout reports that metric's row as not estimated (so one
    bad metric does not hide the others) and, for a success metric, makes the decision
    ``untrustworthy``; :func:`~causal.data.validate_experiment` returns the same text as a
    warning and in ``not_estimable``.

    Examples
    --------
    >>> denominator_total_problem(Ratio("ctr", "clicks", "views"), "treatment", 10.0) is None
    True
    >>> denominator_total_problem(Ratio("ctr", "clicks", "views"), "treatment", 0.0)[:60]
    "Metric 'ctr': the denominator column 'views' sums to 0 in va"
    """
    if total > 0:
        return None
    return (
        f"Metric '{metric.name}': the denominator column '{metric.denominator}' sums to "
        f"{total:g} in variant '{variant}', so the ratio '{metric.numerator}/"
        f"{metric.denominator}' is undefined there; the readout reports it as not estimated "
        "(a success metric then makes the decision untrustworthy). Check the column, or drop "
        "that variant or metric."
    )


#: DuckDB column types a metric may have (booleans count as 0/1).
DUCKDB_NUMERIC = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
    "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN",
)  # fmt: skip
#: DuckDB types that can never hold NaN or infinity.
DUCKDB_EXACT = tuple(t for t in DUCKDB_NUMERIC if t not in ("FLOAT", "DOUBLE"))


def duckdb_numeric(type_name: str) -> bool:
    """True for a DuckDB numeric or boolean type name (``DECIMAL(18,3)`` included).

    Examples
    --------
    >>> duckdb_numeric("DECIMAL(18,3)"), duckdb_numeric("VARCHAR")
    (True, False)
    """
    return type_name.split("(")[0] in DUCKDB_NUMERIC


def sql_double(col: str, type_name: str) -> str:
    """SQL casting the quoted numeric or boolean column ``col`` to DOUBLE.

    Booleans go through INTEGER: DuckDB pushes casts into its CSV reader, where the text
    'FALSE' does not parse as a DOUBLE.

    Examples
    --------
    >>> sql_double('"x"', "BOOLEAN")
    'CAST(CAST("x" AS INTEGER) AS DOUBLE)'
    """
    if type_name == "BOOLEAN":
        return f"CAST(CAST({col} AS INTEGER) AS DOUBLE)"
    return f"CAST({col} AS DOUBLE)"
