"""Validate a table against a Design / ExperimentDesign: one clear CausalError per problem.

:func:`validate` checks an observational what-works table and returns a frozen
:class:`ValidatedData` holding prepared arrays (outcomes ``y``, treatment ``t``, encoded
modifiers ``x`` and confounders ``w``, ...). :func:`validate_experiment` checks an experiment
table and returns a :class:`ValidatedExperiment` summary. Neither modifies the caller's data:
arrays are copies, marked read-only.

Categorical columns (text, pandas categoricals, booleans stored as text) are one-hot encoded
with stable names ``"<column>=<level>"``: levels are sorted as text, the first is the reference
(dropped), and a missing value is its own level ``"(missing)"``. The same data therefore
encodes to the same columns whether it came from pandas, parquet, CSV or DuckDB.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from causal._errors import (
    ColumnRoleError,
    ConfigError,
    ConstantColumnError,
    DuplicateUnitError,
    InsufficientDataError,
    MissingColumnError,
    MissingValuesError,
    NonBinaryTreatmentError,
    NonNumericColumnError,
    UnknownVariantError,
)
from causal.data._design import Design, ExperimentDesign, Ratio
from causal.data._readers import (
    Source,
    TableHandle,
    missing_column_error,
    open_table,
    quote_ident,
)
from causal.data._rules import (
    DUCKDB_EXACT,
    check_numeric,
    denominator_total_problem,
    duckdb_numeric,
    row_rules,
    sql_double,
)

__all__ = [
    "MISSING_LEVEL",
    "CategoricalEncoding",
    "HighCardinalityWarning",
    "ValidatedData",
    "ValidatedExperiment",
    "validate",
    "validate_experiment",
]

MISSING_LEVEL = "(missing)"
TreatmentKind = Literal["binary", "multi", "continuous"]
# "auto" treats an integer-valued numeric treatment with at most this many levels as multi-valued
_MAX_MULTI_LEVELS = 10


class HighCardinalityWarning(UserWarning):
    """A categorical modifier or confounder has very many levels (one column per level)."""


@dataclass(frozen=True, slots=True)
class CategoricalEncoding:
    """How one categorical column was one-hot encoded.

    Attributes
    ----------
    column : str
        The source column.
    levels : tuple of str
        All levels, sorted as text (``"(missing)"`` last when present).
    reference : str
        The dropped reference level (the first level).
    names : tuple of str
        Encoded column names, ``"<column>=<level>"`` for each non-reference level.
    """

    column: str
    levels: tuple[str, ...]
    reference: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class ValidatedData:
    """A what-works table checked against its :class:`Design`, as prepared arrays.

    Attributes
    ----------
    design : Design
        The design validated against.
    n : int
        Number of rows (units).
    unit : ndarray, shape (n,)
        Unit ids.
    y : mapping of str to ndarray, shape (n,)
        Float outcome per outcome column, in ``design.outcomes`` order.
    t : ndarray, shape (n,)
        Treatment: float 0/1 (binary), float values (continuous) or integer codes into
        ``treatment_levels`` (multi).
    treatment_kind : {"binary", "multi", "continuous"}
        The treatment's kind (given in the design, or inferred).
    treatment_levels : tuple
        ``(0, 1)`` for binary, the sorted labels for multi (codes index them; the first is
        the reference), ``()`` for continuous.
    x : pandas.DataFrame, shape (n, p)
        Modifiers, numeric, categorical ones one-hot encoded (float64; its own copy).
    w : pandas.DataFrame, shape (n, q)
        Confounders not already among the modifiers, encoded the same way.
    encodings : mapping of str to CategoricalEncoding
        The encoding of each categorical modifier or confounder.
    segments : pandas.DataFrame, shape (n, s)
        The segment columns as given (a copy).
    cluster, weight, time : ndarray or None
        The cluster ids, float weights and time values, when the design names them.
    warnings : tuple of str
        Non-fatal findings (also issued as Python warnings).

    Examples
    --------
    >>> df = pd.DataFrame({"id": range(6), "t": [0, 1] * 3, "y": [1.0, 2, 3, 4, 5, 6],
    ...                    "fmt": ["a", "b", "c"] * 2})
    >>> v = validate(df, Design("id", "t", "y", modifiers=["fmt"]), min_units_per_arm=1)
    >>> list(v.x.columns), v.treatment_kind
    (['fmt=b', 'fmt=c'], 'binary')
    """

    design: Design
    n: int
    unit: np.ndarray
    y: Mapping[str, np.ndarray]
    t: np.ndarray
    treatment_kind: TreatmentKind
    treatment_levels: tuple[Any, ...]
    x: pd.DataFrame
    w: pd.DataFrame
    encodings: Mapping[str, CategoricalEncoding]
    segments: pd.DataFrame
    cluster: np.ndarray | None
    weight: np.ndarray | None
    time: np.ndarray | None
    warnings: tuple[str, ...]

    @property
    def x_names(self) -> tuple[str, ...]:
        """Encoded modifier names, in column order."""
        return tuple(self.x.columns)

    @property
    def w_names(self) -> tuple[str, ...]:
        """Encoded confounder names, in column order."""
        return tuple(self.w.columns)


@dataclass(frozen=True, slots=True, eq=False)
class ValidatedExperiment:
    """An experiment table checked against its :class:`ExperimentDesign`.

    Attributes
    ----------
    design : ExperimentDesign
        The design validated against.
    n : int
        Number of units (rows, or distinct ``unit`` ids when the design names a unit).
    variants : tuple of str
        Variant labels as text, control first, then the others sorted.
    control : str
        The control label as text.
    counts : mapping of str to int
        Units per variant.
    warnings : tuple of str
        Non-fatal findings (e.g. a covariate with missing values that will be zero-filled).
    not_estimable : mapping of str to str
        Metrics the readout will report as not estimated (a ratio whose denominator sums to
        0 in a variant), with the reason; a success metric among them makes the readout's
        decision untrustworthy.
    """

    design: ExperimentDesign
    n: int
    variants: tuple[str, ...]
    control: str
    counts: Mapping[str, int]
    warnings: tuple[str, ...]
    not_estimable: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


# ----------------------------------------------------------------------------- helpers


def _frame(source: Source | Any, columns: Sequence[str], connection: Any) -> pd.DataFrame:
    """The needed columns as a DataFrame, with missing columns reported by role elsewhere."""
    if isinstance(source, pd.DataFrame):
        if source.columns.has_duplicates:
            dup = sorted({str(c) for c in source.columns[source.columns.duplicated()]})
            raise ConfigError(
                f"The data has duplicate column names ({', '.join(dup)}); rename them first."
            )
        return source
    # Read only the named columns that exist; absent ones are then reported with their role.
    with open_table(source, connection=connection) as t:
        present = [c for c in dict.fromkeys(columns) if c in t.types]
        if not present:
            return pd.DataFrame(columns=list(t.columns))
        select = ", ".join(quote_ident(c) for c in present)
        out = t.connection.execute(f"SELECT {select} FROM {t.name}").df()
    if len(present) == len(dict.fromkeys(columns)):
        return out
    # a named column is absent: keep every name visible for the "did you mean" suggestion
    return out.reindex(columns=list(t.columns))


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(s.dtype) or (
        pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype)
    )


def _is_text_like(s: pd.Series) -> bool:
    """Text, categorical or object columns holding only text (and missing values)."""
    if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s.dtype):
        if s.dtype == object:  # check the distinct values only (fast on large columns)
            _, uniq = pd.factorize(s, use_na_sentinel=True)
            return all(isinstance(v, str) for v in uniq)
        return True
    return False


def _float(s: pd.Series) -> np.ndarray:
    """A float copy of a numeric (or boolean, or nullable) column, NA as NaN."""
    if pd.api.types.is_bool_dtype(s.dtype) and s.isna().any():
        return s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return s.to_numpy(dtype=float, na_value=np.nan, copy=True)


def _count_bad(a: np.ndarray) -> tuple[int, int]:
    nan = int(np.isnan(a).sum())
    inf = int(np.isinf(a).sum())
    return nan, inf


def _finite(a: np.ndarray, column: str, role: str, fix: str) -> np.ndarray:
    nan, inf = _count_bad(a)
    if nan or inf:
        parts = [f"{nan:,} missing (NaN)" if nan else "", f"{inf:,} infinite" if inf else ""]
        what = " and ".join(p for p in parts if p)
        raise MissingValuesError(
            f"The {role} column '{column}' has {what} value(s) in {a.size:,} rows; {fix}"
        )
    return a


def _numeric(df: pd.DataFrame, column: str, role: str) -> np.ndarray:
    s = df[column]
    if not _is_numeric(s):
        raise NonNumericColumnError(
            f"The {role} column '{column}' must be numeric but holds {s.dtype} values "
            f"(e.g. {s.dropna().iloc[0]!r}); convert it to numbers or pick another column."
            if s.notna().any()
            else f"The {role} column '{column}' must be numeric but is entirely empty."
        )
    return _float(s)


def _text(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    return v if isinstance(v, str) else str(v)


def _factorize(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and the distinct values as text labels; missing values get code -1.

    Only the distinct values are converted to text, so this is fast on millions of rows.
    """
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), [_text(u) for u in np.asarray(uniq, dtype=object)]


def _labels(s: pd.Series) -> pd.Series:
    """Values as text labels (missing -> "(missing)"); booleans as "false"/"true"."""
    codes, text = _factorize(s)
    lut = np.array([*text, MISSING_LEVEL], dtype=object)
    return pd.Series(lut[codes], index=s.index, dtype=object)


def _encode(
    df: pd.DataFrame, column: str, role: str, max_levels: int, notes: list[str]
) -> tuple[pd.DataFrame, CategoricalEncoding | None]:
    """One column as numeric feature(s): numeric passes through, categorical is one-hot."""
    from estimators.rules import high_cardinality_message, missing_values_fix

    s = df[column]
    if _is_numeric(s):
        a = _float(s)
        n_nan = int(np.isnan(a).sum())
        fix = missing_values_fix(n_nan, a.size)
        more = "." if n_nan >= a.size else ", or encode the column as a category."
        a = _finite(a, column, role, fix + more)
        return pd.DataFrame({column: a}, index=pd.RangeIndex(len(a))), None
    if pd.api.types.is_datetime64_any_dtype(s.dtype) or isinstance(s.dtype, pd.PeriodDtype):
        raise NonNumericColumnError(
            f"The {role} column '{column}' holds dates ({s.dtype}); convert it to a number "
            "(e.g. age in days) or a category (e.g. weekday) first."
        )
    if not _is_text_like(s):
        raise NonNumericColumnError(
            f"The {role} column '{column}' mixes text with other values ({s.dtype}); make it "
            "all numbers or all text (a category)."
        )
    raw, text = _factorize(s)
    seen = set(text) | ({MISSING_LEVEL} if (raw < 0).any() else set())
    if isinstance(s.dtype, pd.CategoricalDtype):  # unused categories keep their columns
        seen |= {_text(c) for c in s.dtype.categories}
    levels = sorted(seen - {MISSING_LEVEL}) + ([MISSING_LEVEL] if MISSING_LEVEL in seen else [])
    msg = high_cardinality_message(role, column, len(levels), max_levels)
    if msg is not None:
        warnings.warn(msg, HighCardinalityWarning, stacklevel=3)
        notes.append(msg)
    position = {lvl: i for i, lvl in enumerate(levels)}
    lut = np.array([position[t] for t in text] + [position.get(MISSING_LEVEL, -1)])
    codes = lut[raw]  # raw == -1 (missing) picks the last entry
    names = tuple(f"{column}={lvl}" for lvl in levels[1:])
    onehot = np.zeros((len(s), len(names)))
    rows = np.flatnonzero(codes > 0)
    onehot[rows, codes[rows] - 1] = 1.0
    enc = CategoricalEncoding(column, tuple(levels), levels[0], names)
    return pd.DataFrame(onehot, columns=list(names)), enc


def _py(v: Any) -> Any:
    """A numpy scalar as a plain Python value; integer-valued floats as int (for messages)."""
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _check_roles(design: Design) -> None:
    """A column may not play two incompatible roles (e.g. treatment and confounder)."""
    roles: dict[str, list[str]] = {}

    def add(col: str | None, role: str) -> None:
        if col is not None:
            roles.setdefault(col, []).append(role)

    add(design.unit, "unit")
    add(design.treatment, "treatment")
    for c in design.outcomes:
        add(c, "outcome")
    for c in dict.fromkeys(design.modifiers):
        add(c, "modifier")
    for c in dict.fromkeys(design.confounders):
        add(c, "confounder")
    for c in dict.fromkeys(design.segments):
        add(c, "segment")
    add(design.cluster, "cluster")
    add(design.weight, "weight")
    add(design.time, "time")
    # Roles that may share a column: a modifier is also adjusted for (X is in the outcome
    # model), segments/cluster/time may also be modifiers or confounders.
    compatible = {"modifier", "confounder", "segment", "cluster", "time"}
    for col, rs in roles.items():
        if len(rs) > 1 and not set(rs) <= compatible:
            listed = " and ".join(dict.fromkeys(rs))
            if rs.count("outcome") > 1:
                listed = "outcome (listed twice)"
            raise ColumnRoleError(
                f"The column '{col}' is used as {listed}; a column can play only one of the "
                "unit, treatment, outcome and weight roles. Remove it from all but one."
            )


def _require(columns: Sequence[Any], named: list[tuple[str, str]]) -> None:
    """Every (column, role) must be in ``columns``; one message lists all missing columns."""
    missing = [(c, r) for c, r in named if c not in columns]
    if not missing:
        return
    if len(missing) == 1:
        c, r = missing[0]
        raise missing_column_error(c, list(columns), f"{r} column")
    parts = []
    for c, r in missing:
        msg = str(missing_column_error(c, list(columns)))
        hint = msg.split("Did you mean ")[1].split("?")[0] if "Did you mean" in msg else None
        parts.append(f"{r} '{c}'" + (f" (did you mean {hint}?)" if hint else ""))
    raise MissingColumnError(
        f"{len(missing)} columns named in the design are not in the data: {'; '.join(parts)}."
    )


def _treatment(
    df: pd.DataFrame, design: Design, require_binary: bool, min_units_per_arm: int
) -> tuple[np.ndarray, TreatmentKind, tuple[Any, ...]]:
    col = design.treatment
    s = df[col]
    kind = "binary" if require_binary else design.treatment_kind
    numeric = _is_numeric(s)
    if numeric:
        a = _finite(_float(s), col, "treatment", "drop those rows (the treatment must be known).")
    else:
        if s.isna().any():
            raise MissingValuesError(
                f"The treatment column '{col}' has {int(s.isna().sum()):,} missing value(s) "
                f"in {len(s):,} rows; drop those rows (the treatment must be known)."
            )
        if kind == "continuous":
            raise NonNumericColumnError(
                f"The treatment column '{col}' must be numeric for a continuous treatment but "
                f"holds {s.dtype} values."
            )
        a = np.empty(0)
    values = np.unique(a) if numeric else np.array(sorted(_labels(s).unique()), dtype=object)
    if values.size < 2:
        only = values[0] if values.size else "nothing"
        raise ConstantColumnError(
            f"The treatment column '{col}' is constant (every row is {only!r}); effects need "
            "both treated and untreated units."
        )
    is01 = numeric and set(values.tolist()) <= {0.0, 1.0}
    if kind == "auto":
        if is01:
            kind = "binary"
        elif not numeric or (
            values.size <= _MAX_MULTI_LEVELS and bool(np.all(values == np.round(values)))
        ):
            kind = "multi"
        else:
            kind = "continuous"
    if kind == "binary" and not is01:
        shown = ", ".join(repr(_py(v)) for v in values[:6])
        more = f" and {values.size - 6} more" if values.size > 6 else ""
        raise NonBinaryTreatmentError(
            f"The treatment column '{col}' must be binary (0/1) but holds {values.size} distinct "
            f"values: {shown}{more}. Recode it to 0 = control, 1 = treated "
            f"(e.g. (df['{col}'] == <treated value>).astype(int))."
        )
    if kind == "continuous":
        return _readonly(a), "continuous", ()
    if numeric:
        levels: tuple[Any, ...] = tuple(_py(v) for v in values)
        codes = np.searchsorted(values, a)
    else:
        levels = tuple(values.tolist())
        codes = pd.Categorical(_labels(s), categories=list(levels)).codes.astype(np.int64)
    from estimators.rules import too_few_units

    counts = np.bincount(codes, minlength=len(levels))
    few = too_few_units(levels, counts, min_units_per_arm)
    if few is not None:
        lvl, cnt = few
        arm = {0: "control", 1: "treated"}.get(lvl, repr(lvl)) if kind == "binary" else None
        which = f"{arm} units ('{col}' = {lvl!r})" if arm else f"units with '{col}' = {lvl!r}"
        raise InsufficientDataError(
            f"Only {int(cnt):,} {which}; at least {min_units_per_arm:,} per arm are "
            "needed (see 'min_units_per_arm')."
        )
    if kind == "binary":
        return _readonly(a), "binary", (0, 1)
    return _readonly(codes.astype(np.int64)), "multi", levels


def _check_units(df: pd.DataFrame, col: str, role: str = "unit") -> np.ndarray:
    s = df[col]
    if s.isna().any():
        raise MissingValuesError(
            f"The {role} column '{col}' has {int(s.isna().sum()):,} missing id(s); every row "
            "needs an id."
        )
    dup = s.duplicated(keep=False)
    if dup.any():
        examples = ", ".join(repr(v) for v in pd.unique(s[dup])[:3].tolist())
        n_ids = int(s[dup].nunique())
        raise DuplicateUnitError(
            f"The {role} column '{col}' repeats {n_ids:,} id(s) (e.g. {examples}) over "
            f"{int(dup.sum()):,} rows; the design needs one row per unit. Aggregate rows per "
            "unit first, or name a different unit column."
        )
    return _readonly(s.to_numpy(copy=True))


# ----------------------------------------------------------------------------- validate


def validate(
    data: Source,
    design: Design,
    *,
    min_units_per_arm: int = 10,
    require_binary: bool = False,
    max_levels: int = 50,
    connection: Any = None,
) -> ValidatedData:
    """Check ``data`` against ``design`` and return the prepared arrays.

    Each problem raises one :class:`~causal.CausalError` subclass naming the column:
    :class:`~causal.ColumnRoleError` (a column in two incompatible roles),
    :class:`~causal.MissingColumnError` (with the nearest name),
    :class:`~causal.NonNumericColumnError` (a text outcome, weight, ...),
    :class:`~causal.MissingValuesError` (NaN or infinite values, with how many rows),
    :class:`~causal.ConstantColumnError` (constant treatment),
    :class:`~causal.NonBinaryTreatmentError`, :class:`~causal.DuplicateUnitError` and
    :class:`~causal.InsufficientDataError` (too few treated or control units).

    Parameters
    ----------
    data : pandas.DataFrame, path or str
        The table (never modified), or anything :func:`~causal.data.read_table` reads.
    design : Design
        Column roles.
    min_units_per_arm : int
        Fewest units allowed at each treatment level (binary or multi-valued).
    require_binary : bool
        Require a 0/1 treatment whatever ``design.treatment_kind`` says.
    max_levels : int
        A categorical modifier or confounder with more levels warns
        (:class:`HighCardinalityWarning`).
    connection : duckdb.DuckDBPyConnection, optional
        Connection holding ``data`` when it is a table name.

    Returns
    -------
    ValidatedData

    Examples
    --------
    >>> from causal.data import simulate_content
    >>> df = simulate_content(n=2_000, seed=0)
    >>> v = validate(df, Design("pin_id", "boosted", ["saves"],
    ...                         modifiers=["format", "quality_score"],
    ...                         confounders=["creator_followers"]))
    >>> v.x_names
    ('format=image', 'format=video', 'quality_score')
    """
    if not isinstance(design, Design):
        raise ConfigError(f"The 'design' parameter must be a Design. Got {type(design).__name__}.")
    if isinstance(min_units_per_arm, bool) or not isinstance(min_units_per_arm, int | np.integer):
        raise ConfigError(
            f"The 'min_units_per_arm' parameter must be an int >= 1. Got {min_units_per_arm!r}."
        )
    if min_units_per_arm < 1:
        raise ConfigError(
            f"The 'min_units_per_arm' parameter must be an int >= 1. Got {min_units_per_arm!r}."
        )
    _check_roles(design)
    df = _frame(data, design.columns(), connection)
    named = [(design.unit, "unit"), (design.treatment, "treatment")]
    named += [(c, "outcome") for c in design.outcomes]
    named += [(c, "modifier") for c in design.modifiers]
    named += [(c, "confounder") for c in design.confounders]
    named += [(c, "segment") for c in design.segments]
    named += [(c, r) for c, r in ((design.cluster, "cluster"), (design.weight, "weight"),
                                  (design.time, "time")) if c is not None]  # fmt: skip
    _require(list(df.columns), list(dict.fromkeys(named)))
    n = len(df)
    if n == 0:
        raise InsufficientDataError("The data has no rows.")

    notes: list[str] = []
    unit = _check_units(df, design.unit)
    y = {}
    for c in design.outcomes:
        a = _numeric(df, c, "outcome")
        y[c] = _readonly(_finite(a, c, "outcome", "drop or impute those rows first."))
    t, kind, levels = _treatment(df, design, require_binary, min_units_per_arm)

    def block(cols: Sequence[str], role: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        frames, encs = [], {}
        for c in dict.fromkeys(cols):
            f, enc = _encode(df, c, role, max_levels, notes)
            frames.append(f)
            if enc is not None:
                encs[c] = enc
        if not frames:
            return pd.DataFrame(index=pd.RangeIndex(n)), encs
        return pd.concat(frames, axis=1), encs

    x, enc_x = block(design.modifiers, "modifier")
    w_cols = [c for c in design.confounders if c not in set(design.modifiers)]
    w, enc_w = block(w_cols, "confounder")

    cluster = weight = time = None
    if design.cluster is not None:
        s = df[design.cluster]
        if s.isna().any():
            raise MissingValuesError(
                f"The cluster column '{design.cluster}' has {int(s.isna().sum()):,} missing "
                "id(s); every row needs a cluster."
            )
        cluster = _readonly(s.to_numpy(copy=True))
    if design.weight is not None:
        wa = _finite(
            _numeric(df, design.weight, "weight"),
            design.weight,
            "weight",
            "drop those rows or fill the weights.",
        )
        if (wa < 0).any():
            raise ConfigError(
                f"The weight column '{design.weight}' has {int((wa < 0).sum()):,} negative "
                "value(s); weights must be >= 0."
            )
        if not (wa > 0).any():
            raise ConstantColumnError(f"The weight column '{design.weight}' is all zero.")
        weight = _readonly(wa)
    if design.time is not None:
        time = _readonly(df[design.time].to_numpy(copy=True))
    segments = df.loc[:, list(dict.fromkeys(design.segments))].copy().reset_index(drop=True)

    return ValidatedData(
        design=design,
        n=n,
        unit=unit,
        y=MappingProxyType(y),
        t=t,
        treatment_kind=kind,
        treatment_levels=levels,
        x=x,
        w=w,
        encodings=MappingProxyType({**enc_x, **enc_w}),
        segments=segments,
        cluster=cluster,
        weight=weight,
        time=time,
        warnings=tuple(notes),
    )


# ----------------------------------------------------------------------------- experiments


def validate_experiment(
    data: Source,
    design: ExperimentDesign,
    *,
    min_units_per_arm: int = 2,
    connection: Any = None,
) -> ValidatedExperiment:
    """Check an experiment table against ``design``, inside DuckDB (never loaded into pandas).

    Raises one :class:`~causal.CausalError` subclass per problem, naming the column:
    a missing column (:class:`~causal.MissingColumnError`, with the nearest name), a
    non-numeric metric or covariate, a metric with NaN or infinite values or a covariate with
    infinite values (:class:`~causal.MissingValuesError`), a proportion that is not 0/1 or a
    negative ratio denominator (:class:`~causal.ConfigError`) — these metric rules are the
    readout engines' own (:mod:`causal.data._rules`), a control label, or a
    configured split label, absent from the data and labels present in the data but not in
    the configured split (:class:`~causal.UnknownVariantError`), fewer than two variants or
    too few units in one (:class:`~causal.InsufficientDataError`), and a unit or cluster
    found in more than one variant (:class:`~causal.DuplicateUnitError`).

    A ratio whose denominator sums to 0 in a variant is **not** an error, here as in the
    readout: the readout reports that metric as not estimated (the other metrics are still
    read out) and, when it is a success metric, makes the decision untrustworthy. It is
    returned in ``not_estimable`` with the reason and warned about, so a pipeline can stop on
    it; raising here while the readout carries on would make the two disagree.

    Every check is a cheap aggregate that DuckDB computes where the data live (a DataFrame is
    scanned in place; a Parquet/CSV file or a table is never read into pandas): one ungrouped
    pass (nulls, NaN, infinities and the row rules of each metric column), one pass grouped by
    variant (rows and denominator totals) and, with a ``unit``/``cluster``, one grouped by id
    (ids in several variants, units per variant).

    Parameters
    ----------
    data : pandas.DataFrame, path or str
        The table (never modified), or anything :func:`~causal.data.open_table` reads.
    design : ExperimentDesign
        Column roles and metrics.
    min_units_per_arm : int
        Fewest units allowed in each variant.
    connection : duckdb.DuckDBPyConnection, optional
        Connection holding ``data`` when it is a table name.

    Returns
    -------
    ValidatedExperiment

    Examples
    --------
    >>> from causal.data import Mean, simulate_experiment
    >>> df = simulate_experiment(n_users=1_000, seed=0)
    >>> v = validate_experiment(df, ExperimentDesign("variant", "control",
    ...                         [Mean("saves", "saves", covariate="saves_pre")]))
    >>> v.variants
    ('control', 'treatment')
    """
    if not isinstance(design, ExperimentDesign):
        raise ConfigError(
            f"The 'design' parameter must be an ExperimentDesign. Got {type(design).__name__}."
        )
    if isinstance(min_units_per_arm, bool) or not isinstance(min_units_per_arm, int | np.integer):
        raise ConfigError(
            f"The 'min_units_per_arm' parameter must be an int >= 1. Got {min_units_per_arm!r}."
        )
    named: list[tuple[str, str]] = [(design.variant, "variant")]
    if design.unit:
        named.append((design.unit, "unit"))
    for m in design.all_metrics():
        if isinstance(m, Ratio):
            named += [(m.numerator, f"metric '{m.name}' numerator"),
                      (m.denominator, f"metric '{m.name}' denominator")]  # fmt: skip
        else:
            named.append((m.column, f"metric '{m.name}'"))
        named += [(c, f"metric '{m.name}' covariate") for c in m.covariates]
    named += [(c, "segment") for c in design.segments]
    if design.cluster:
        named.append((design.cluster, "cluster"))
    first_role: dict[str, str] = {}
    for c, r in named:
        first_role.setdefault(c, r)
    source: Any = data
    if isinstance(data, pd.DataFrame):
        if data.columns.has_duplicates:
            dup = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
            raise ConfigError(
                f"The data has duplicate column names ({', '.join(dup)}); rename them first."
            )
        _require([str(c) for c in data.columns], list(first_role.items()))
        source = data[list(first_role)]  # only the named columns (no copy: copy-on-write)
    with open_table(source, connection=connection) as t:
        _require(list(t.columns), list(first_role.items()))
        return _validate_experiment_sql(t, design, min_units_per_arm)


def _validate_experiment_sql(
    t: TableHandle, design: ExperimentDesign, min_units_per_arm: int
) -> ValidatedExperiment:
    """The checks of :func:`validate_experiment` as DuckDB aggregates over ``t``."""
    q = quote_ident
    con, src, types = t.connection, t.name, t.types
    metrics = design.all_metrics()

    # 1. types (metadata only)
    for m in metrics:
        for c in m.columns():
            check_numeric(m.name, c, types[c], duckdb_numeric(types[c]))

    # 2. one ungrouped pass: nulls / NaN / infinities per metric column, the row rules, and
    #    empty variant / unit / cluster ids
    exprs: list[str] = []

    def add(sql: str) -> int:
        exprs.append(sql)
        return len(exprs) - 1

    def bad_counts(c: str) -> tuple[int, int | None, int | None]:
        """(nulls, NaN, infinite) expression indices of column ``c``."""
        nulls = add(f"COUNT(*) - COUNT({q(c)})")
        if types[c].split("(")[0] in DUCKDB_EXACT:
            return nulls, None, None
        x = sql_double(q(c), types[c])
        return (
            nulls,
            add(f"COUNT(*) FILTER (WHERE isnan({x}))"),
            add(f"COUNT(*) FILTER (WHERE isinf({x}))"),
        )

    value_cols = list(
        dict.fromkeys(c for m in metrics for c in m.columns()[: 2 if isinstance(m, Ratio) else 1])
    )
    cov_cols = list(dict.fromkeys(c for m in metrics for c in m.covariates if c not in value_cols))
    counts_of = {c: bad_counts(c) for c in [*value_cols, *cov_cols]}
    rules = row_rules(metrics)
    rule_idx = [
        add(f"COUNT(*) FILTER (WHERE {r.sql_bad(sql_double(q(r.column), types[r.column]))})")
        for r in rules
    ]
    id_cols = [c for c in (design.variant, design.unit, design.cluster) if c is not None]
    id_idx = {c: add(f"COUNT(*) - COUNT({q(c)})") for c in dict.fromkeys(id_cols)}
    n_idx = add("COUNT(*)")
    row = con.execute(f"SELECT {', '.join(exprs)} FROM {src}").fetchall()[0]
    n_rows = int(row[n_idx])

    def val(i: int | None) -> int:
        return 0 if i is None else int(row[i] or 0)

    notes: list[str] = []
    for m in metrics:
        for c in m.columns()[: 2 if isinstance(m, Ratio) else 1]:
            nulls, nan_i, inf_i = counts_of[c]
            nan, inf = val(nulls) + val(nan_i), val(inf_i)
            if nan or inf:
                parts = [
                    f"{nan:,} missing (NaN)" if nan else "",
                    f"{inf:,} infinite" if inf else "",
                ]
                raise MissingValuesError(
                    f"The metric '{m.name}' column '{c}' has "
                    f"{' and '.join(p for p in parts if p)} value(s) in {n_rows:,} rows; fill "
                    "them (e.g. 0 for no activity) or drop those rows before the readout."
                )
        for c in m.covariates:
            nulls, nan_i, inf_i = counts_of[c]
            if val(inf_i):
                raise MissingValuesError(
                    f"Metric '{m.name}': the covariate column '{c}' has {val(inf_i):,} infinite "
                    "value(s); cap or drop them."
                )
            nan = val(nulls) + val(nan_i)
            msg = (
                f"covariate '{c}' is missing for {nan:,} rows: they are set to 0 with a "
                "missing indicator."
            )
            if nan and msg not in notes:
                notes.append(msg)
    # the readout engines' row rules (causal.data._rules), same rules, same messages
    for rule, i in zip(rules, rule_idx, strict=True):
        rule.check(val(i))
    if val(id_idx[design.variant]):
        raise MissingValuesError(
            f"The variant column '{design.variant}' is empty for {val(id_idx[design.variant]):,} "
            "rows; drop or label those rows."
        )

    # 3. grouped by variant label: rows and denominator totals
    label = f"CAST({q(design.variant)} AS VARCHAR)"
    ratios = [m for m in metrics if isinstance(m, Ratio)]
    dens = list(dict.fromkeys(m.denominator for m in ratios))
    sums = "".join(f", SUM({sql_double(q(c), types[c])})" for c in dens)
    grouped = con.execute(f"SELECT {label}, COUNT(*){sums} FROM {src} GROUP BY 1").fetchall()
    rows_per = {str(r[0]): int(r[1]) for r in grouped}
    totals = {str(r[0]): dict(zip(dens, r[2:], strict=True)) for r in grouped}
    present = sorted(rows_per)
    control = design.control if isinstance(design.control, str) else str(design.control)
    if isinstance(design.control, bool):
        control = str(design.control).lower()
    if control not in present:
        near = [p for p in present if p.lower() == control.lower()]
        near = near or difflib.get_close_matches(control, present, n=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        raise UnknownVariantError(
            f"The control label '{control}' does not occur in the variant column "
            f"'{design.variant}'.{hint} Labels present: {', '.join(present[:20])}."
        )
    if design.expected_split is not None:
        configured = set(design.expected_split)
        absent = sorted(configured - set(present))
        if absent:
            raise UnknownVariantError(
                f"The expected_split names variant(s) {absent} that do not occur in the "
                f"variant column '{design.variant}'; labels present: {', '.join(present)}."
            )
        stray = sorted(set(present) - configured)
        if stray:
            shown = ", ".join(f"'{s}' ({rows_per[s]:,} rows)" for s in stray[:5])
            raise UnknownVariantError(
                f"The variant column '{design.variant}' holds label(s) not in expected_split: "
                f"{shown}; drop those rows or add them to the split."
            )

    # 4. grouped by unit / cluster id: ids in several variants, units per variant
    units_per: dict[str, int] | None = None
    for col, role in ((design.unit, "unit"), (design.cluster, "cluster")):
        if col is None:
            continue
        if val(id_idx[col]):
            raise MissingValuesError(
                f"The {role} column '{col}' has {val(id_idx[col]):,} missing id(s)."
            )
        ids = (
            f"SELECT {q(col)} AS id, MIN({label}) AS v, MAX({label}) AS v2 FROM {src} "
            f"GROUP BY {q(col)}"
        )
        per = con.execute(
            f"WITH ids AS ({ids}) SELECT v, COUNT(*), COUNT(*) FILTER (WHERE v <> v2) "
            "FROM ids GROUP BY v"
        ).fetchall()
        n_mixed = sum(int(r[2]) for r in per)
        if n_mixed:
            examples = con.execute(
                f"WITH ids AS ({ids}) SELECT id FROM ids WHERE v <> v2 ORDER BY id LIMIT 3"
            ).fetchall()
            shown = ", ".join(repr(_py(r[0])) for r in examples)
            raise DuplicateUnitError(
                f"{n_mixed:,} value(s) of the {role} column '{col}' (e.g. {shown}) appear in "
                f"more than one variant; each {role} must be randomized to exactly one variant."
            )
        if role == "unit":
            units_per = {str(r[0]): int(r[1]) for r in per}
    counts_s = rows_per if units_per is None else units_per
    variants = (control, *sorted(v for v in present if v != control))
    if len(variants) < 2:
        raise InsufficientDataError(
            f"The variant column '{design.variant}' holds only the control '{control}'; an "
            "experiment needs at least two variants."
        )
    counts = {v: int(counts_s.get(v, 0)) for v in variants}
    not_estimable: dict[str, str] = {}
    for m in ratios:
        for v in variants:
            total = totals[v][m.denominator]
            problem = denominator_total_problem(m, v, 0.0 if total is None else float(total))
            if problem is not None and m.name not in not_estimable:
                not_estimable[m.name] = problem
                notes.append(problem)
    for v, c in counts.items():
        if c < min_units_per_arm:
            raise InsufficientDataError(
                f"Variant '{v}' has only {c:,} unit(s); at least {min_units_per_arm:,} per "
                "variant are needed (see 'min_units_per_arm')."
            )
    for msg in notes:
        warnings.warn(msg, UserWarning, stacklevel=3)
    return ValidatedExperiment(
        design=design,
        n=int(sum(counts.values())),
        variants=variants,
        control=control,
        counts=MappingProxyType(counts),
        warnings=tuple(notes),
        not_estimable=MappingProxyType(not_estimable),
    )
