"""Input checking and conversion: pandas or numpy in, clean arrays and frames out.

Nothing here modifies the caller's objects: every conversion copies.

Categorical modifiers (string, object or pandas ``category`` columns) are kept as pandas
categoricals with the levels seen in ``fit``; LightGBM nuisance models use them natively.
Final stages that need numbers use :class:`FinalEncoder` (one-hot for few levels, an ordered
code for many). A level not seen in ``fit`` raises :class:`EstimatorInputError` at ``effect``
time, naming the column and the levels.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from estimators._errors import EstimatorInputError, HighCardinalityWarning
from estimators._rules import (
    MIN_UNITS_PER_ARM,
    ambiguous_control,
    default_control,
    high_cardinality_message,
    missing_values_fix,
    too_few_units,
)

__all__ = ["Column", "FinalEncoder", "Prepared", "frame_like", "prepare"]

#: Above this many distinct numeric values a treatment is taken as continuous when
#: ``discrete_treatment=None`` (integer-valued treatments with at most this many levels are arms).
MAX_AUTO_LEVELS = 10


@dataclass(frozen=True, slots=True)
class Column:
    """The schema of one modifier/confounder column seen in ``fit``.

    Attributes
    ----------
    name : str
    categorical : bool
        Kept as a pandas categorical (text, object or ``category`` columns).
    levels : tuple
        The levels seen in ``fit`` (categorical columns), sorted.
    """

    name: str
    categorical: bool
    levels: tuple[Any, ...] = ()


@dataclass(slots=True)
class Prepared:
    """Validated training data (arrays are copies; shapes in the field comments)."""

    y: np.ndarray  # (n, d_y) float
    outcome_names: list[str]
    y_pandas: bool
    y_2d: bool
    discrete: bool
    levels: tuple[Any, ...]  # discrete: control first, then the other arms
    t_codes: np.ndarray  # (n,) int, 0 = control (discrete) / empty
    t_cont: np.ndarray  # (n,) float (continuous) / empty
    X: pd.DataFrame | None
    W: pd.DataFrame | None
    x_schema: list[Column]
    w_schema: list[Column]
    sample_weight: np.ndarray | None  # (n,)
    groups: np.ndarray | None  # (n,) int codes
    index: pd.Index | None
    x_pandas: bool
    Z: pd.DataFrame = field(init=False)  # X and W side by side, for nuisance models

    def __post_init__(self) -> None:
        parts = [f for f in (self.X, self.W) if f is not None]
        n = self.y.shape[0]
        self.Z = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=pd.RangeIndex(n))

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_arms(self) -> int:
        """Number of treatment columns: arms other than control, or 1 if continuous."""
        return len(self.levels) - 1 if self.discrete else 1


def _is_categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
    )


def _as_frame(data: Any, arg: str, prefix: str) -> tuple[pd.DataFrame, bool]:
    if isinstance(data, pd.DataFrame):
        df = data.copy()
        df.columns = [str(c) for c in df.columns]
        return df.reset_index(drop=True), True
    if isinstance(data, pd.Series):
        return data.to_frame(
            name=str(data.name) if data.name is not None else prefix + "0"
        ).reset_index(drop=True), True
    arr = np.asarray(data)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise EstimatorInputError(
            f"{arg} must be 2-D (n_samples, n_features); got shape {arr.shape}."
        )
    return pd.DataFrame(arr, columns=[f"{prefix}{j}" for j in range(arr.shape[1])]), False


def _all_numbers(values: tuple[Any, ...]) -> bool:
    """Every value is text that parses as a number (a numeric column read as strings)."""
    try:
        return all(isinstance(v, str) for v in values) and bool(
            np.isfinite(np.asarray(values, dtype=float)).all()
        )
    except (TypeError, ValueError):
        return False


def _text_example(arr: np.ndarray) -> Any:
    """The first text (str/bytes) value of ``arr``, or None when it holds none."""
    if arr.dtype.kind in "US":
        return arr.ravel()[0] if arr.size else None
    if arr.dtype.kind == "O":
        return next((v for v in arr.ravel() if isinstance(v, str | bytes)), None)
    return None


def _clean_features(
    data: Any, arg: str, prefix: str, role: str = "modifier"
) -> tuple[pd.DataFrame, list[Column], bool, pd.Index | None]:
    index = data.index if isinstance(data, pd.DataFrame | pd.Series) else None
    df, is_pandas = _as_frame(data, arg, prefix)
    if df.columns.duplicated().any():
        dup = sorted(set(df.columns[df.columns.duplicated()]))
        raise EstimatorInputError(f"{arg} has duplicate column names {dup}; rename them.")
    schema: list[Column] = []
    out: dict[str, pd.Series] = {}
    for col in df.columns:
        s = df[col]
        if s.isna().any():
            n_missing = int(s.isna().sum())
            raise EstimatorInputError(
                f"{arg} column {col!r} has {n_missing} missing values in {len(s)} rows; "
                f"{missing_values_fix(n_missing, len(s))} before fitting."
            )
        if _is_categorical(s):
            levels = tuple(sorted(pd.unique(s.astype(object)), key=lambda v: (str(type(v)), v)))
            msg = high_cardinality_message(role, f"{arg}.{col}", len(levels))
            if msg is not None:
                if _all_numbers(levels):
                    msg += (
                        f" Its values are numbers stored as text: convert it "
                        f"(pd.to_numeric({arg}[{col!r}])) to use it as a number."
                    )
                warnings.warn(msg, HighCardinalityWarning, stacklevel=5)
            out[col] = pd.Series(pd.Categorical(s.astype(object), categories=list(levels)))
            schema.append(Column(col, True, levels))
        else:
            values = s.to_numpy(dtype=float)
            if not np.isfinite(values).all():
                raise EstimatorInputError(
                    f"{arg} column {col!r} has infinite values; remove or cap them."
                )
            out[col] = pd.Series(values)
            schema.append(Column(col, False))
    return pd.DataFrame(out), schema, is_pandas, index


def frame_like(data: Any, schema: list[Column], arg: str, prefix: str) -> pd.DataFrame:
    """Convert new modifiers to the columns, dtypes and categories seen in ``fit``.

    What ``effect(X)`` does to new rows before predicting; a scorer that applies a fitted
    model's nuisance models to new rows (e.g. on Spark executors) must do the same.

    Parameters
    ----------
    data : DataFrame or array-like of shape (n, p)
        New rows. A DataFrame is matched by column name (extra columns are ignored); an array
        by position.
    schema : list of Column
        The columns seen in ``fit`` (``FittedNuisances.x_schema`` / ``.w_schema``).
    arg : str
        The argument's name in error messages (e.g. ``"X"``).
    prefix : str
        Column-name prefix of unnamed (array) columns, as in ``fit`` (``"x"`` for X).

    Returns
    -------
    DataFrame
        The schema's columns in its order: floats, and pandas categoricals with the levels
        seen in ``fit``; a fresh ``RangeIndex``; ``data`` is not modified.

    Raises
    ------
    EstimatorInputError
        On missing columns, missing values, unseen levels or a numeric column that is now
        text.

    Examples
    --------
    >>> from estimators.inference import Column
    >>> from estimators.inference import frame_like
    >>> import pandas as pd
    >>> schema = [Column("x", False), Column("fmt", True, ("image", "video"))]
    >>> new = pd.DataFrame({"fmt": ["video", "image"], "x": [1, 2], "other": [0, 0]})
    >>> f = frame_like(new, schema, "X", "x")
    >>> list(f.columns), list(f["fmt"].cat.categories), f["x"].dtype.name
    (['x', 'fmt'], ['image', 'video'], 'float64')
    """
    df, _ = _as_frame(data, arg, prefix)
    names = [c.name for c in schema]
    missing = [c for c in names if c not in df.columns]
    if missing:
        if not isinstance(data, pd.DataFrame) and df.shape[1] == len(names):
            df.columns = names
        else:
            raise EstimatorInputError(
                f"{arg} is missing column(s) {missing} seen in fit; pass the same columns."
            )
    out: dict[str, pd.Series] = {}
    for c in schema:
        s = df[c.name]
        if s.isna().any():
            raise EstimatorInputError(
                f"{arg} column {c.name!r} has {int(s.isna().sum())} missing values."
            )
        if c.categorical:
            obj = s.astype(object)
            unseen = sorted({v for v in pd.unique(obj) if v not in set(c.levels)}, key=str)
            if unseen:
                raise EstimatorInputError(
                    f"{arg} column {c.name!r} has level(s) {unseen[:10]} not seen in fit; "
                    "effects are only defined for levels present in the training data. Map them "
                    "to a seen level (e.g. an 'other' level) or refit."
                )
            out[c.name] = pd.Series(pd.Categorical(obj, categories=list(c.levels)))
        else:
            if _is_categorical(s):
                raise EstimatorInputError(
                    f"{arg} column {c.name!r} was numeric in fit but is {s.dtype} now."
                )
            out[c.name] = pd.Series(s.to_numpy(dtype=float))
    return pd.DataFrame(out)


def _treatment(
    T: Any, discrete_treatment: bool | None, control: Any, n: int
) -> tuple[bool, tuple[Any, ...], np.ndarray, np.ndarray]:
    s = pd.Series(T.to_numpy() if isinstance(T, pd.Series | pd.DataFrame) else np.asarray(T))
    if isinstance(T, pd.DataFrame) or np.ndim(np.asarray(T)) != 1:
        arr = np.asarray(T)
        if arr.ndim == 2 and arr.shape[1] == 1:
            s = pd.Series(arr[:, 0])
        else:
            raise EstimatorInputError(
                f"T must be one column (n_samples,); got shape {arr.shape}. Encode several "
                "treatment arms as one column of labels."
            )
    if len(s) != n:
        raise EstimatorInputError(f"T has {len(s)} rows but Y has {n}; pass rows that match.")
    if s.isna().any():
        raise EstimatorInputError(
            f"T has {int(s.isna().sum())} missing values; drop those rows before fitting."
        )
    numeric = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    uniq = pd.unique(s)
    if discrete_treatment is None:
        integer_valued = numeric and bool(np.all(np.mod(s.to_numpy(dtype=float), 1) == 0))
        discrete_treatment = bool(
            (not numeric) or (integer_valued and len(uniq) <= MAX_AUTO_LEVELS)
        )
        if numeric and len(uniq) == 2:
            discrete_treatment = True
    if not discrete_treatment:
        if not numeric:
            raise EstimatorInputError(
                f"T has non-numeric values ({s.dtype}) but discrete_treatment=False; pass "
                "numbers for a continuous treatment."
            )
        t = s.to_numpy(dtype=float)
        if not np.isfinite(t).all():
            raise EstimatorInputError("T has infinite values; remove or cap them.")
        if np.var(t) == 0:
            raise EstimatorInputError("T is constant; there is no treatment variation to use.")
        return False, (), np.empty(0, dtype=int), t
    levels = sorted(uniq.tolist(), key=lambda v: (str(type(v)), v))
    if control is None and len(levels) >= 2:
        # the level itself (so a boolean T gets False, not the int 0); never the first in sort
        # order by default: {"ctl", "boost"} would silently make "boost" the reference
        control = default_control(levels)
        if control is None:
            raise EstimatorInputError(ambiguous_control(levels))
    elif control is not None and control not in levels:
        raise EstimatorInputError(
            f"The control level {control!r} is not among the treatment levels {levels[:10]}; "
            "pass one of them as control=."
        )
    if len(levels) < 2:
        raise EstimatorInputError(
            f"T has only one level ({levels[0]!r}): one treatment arm is empty, so no effect can "
            "be estimated. Pass data with both treated and control units."
        )
    ordered = (control, *[v for v in levels if v != control])
    codes = pd.Categorical(s.to_numpy(dtype=object), categories=list(ordered)).codes.astype(int)
    counts = np.bincount(codes, minlength=len(ordered))
    few = too_few_units(ordered, counts, MIN_UNITS_PER_ARM)
    if few is not None:
        raise EstimatorInputError(
            f"Treatment arm {few[0]!r} has only {few[1]} unit(s); each arm needs at least "
            f"{MIN_UNITS_PER_ARM} (the same rule as causal.validate). Collect more data, or drop "
            "or merge that arm."
        )
    return True, ordered, codes, np.empty(0)


def _align(inputs: dict[str, Any]) -> list[Any]:
    """The inputs, pandas ones aligned on their index (see :func:`prepare`)."""
    given = {k: v for k, v in inputs.items() if v is not None}
    pandas = {k: v for k, v in given.items() if isinstance(v, pd.Series | pd.DataFrame)}
    if len(pandas) < 2:
        return list(inputs.values())
    ref_name, ref = next(iter(pandas.items()))
    ref_index = ref.index
    differ = [k for k, v in pandas.items() if len(v) == len(ref) and not v.index.equals(ref_index)]
    if not differ:  # same indexes (or different lengths: reported later, by name)
        return list(inputs.values())
    same_labels = ref_index.is_unique and all(
        pandas[k].index.is_unique and bool(pandas[k].index.isin(ref_index).all()) for k in differ
    )
    if same_labels and len(pandas) == len(given):
        out = dict(inputs)
        for k in differ:
            out[k] = pandas[k].loc[ref_index]
        return list(out.values())
    first = differ[0]
    if not same_labels:
        why = f"{first} and {ref_name} have different index labels"
    else:
        arrays = [k for k in given if k not in pandas]
        why = (
            f"{first} and {ref_name} have the same index labels in a different order, and "
            f"{', '.join(arrays)} {'is' if len(arrays) == 1 else 'are'} not pandas, so the rows "
            "cannot be matched by label"
        )
    raise EstimatorInputError(
        f"{why}; matching rows by position would pair each unit with another unit's values. "
        f"Align them first (e.g. {first} = {first}.reindex({ref_name}.index)), pass every "
        "input as pandas with the same index labels, or pass numpy arrays (.to_numpy()) to match "
        "by position on purpose."
    )


def prepare(
    Y: Any,
    T: Any,
    X: Any,
    W: Any,
    sample_weight: Any,
    groups: Any,
    *,
    discrete_treatment: bool | None,
    control: Any,
) -> Prepared:
    """Validate and convert ``fit`` inputs (copies only; the caller's objects are untouched).

    pandas inputs are matched on their index, never silently by position: when every input
    given is a pandas object with the same (unique) index labels in another order, they are
    aligned to the first one's order (``Y``'s when it is pandas); when their indexes differ
    otherwise, an :class:`EstimatorInputError` says which.
    """
    Y, T, X, W, sample_weight, groups = _align(
        {"Y": Y, "T": T, "X": X, "W": W, "sample_weight": sample_weight, "groups": groups}
    )
    y_pandas = isinstance(Y, pd.Series | pd.DataFrame)
    if isinstance(Y, pd.DataFrame):
        names = [str(c) for c in Y.columns]
    elif isinstance(Y, pd.Series):
        names = [str(Y.name) if Y.name is not None else "y"]
    else:
        arr = np.asarray(Y)
        names = (
            ["y"]
            if arr.ndim == 1
            else [f"y{j}" for j in range(arr.shape[1] if arr.ndim == 2 else 0)]
        )
    yarr = np.asarray(Y.to_numpy() if y_pandas else Y)
    y_2d = yarr.ndim == 2
    if yarr.ndim == 1:
        yarr = yarr[:, None]
    if yarr.ndim != 2 or yarr.shape[1] == 0:
        raise EstimatorInputError(
            f"Y must be 1-D or 2-D (n_samples, n_outcomes); got {yarr.shape}."
        )
    for j in range(yarr.shape[1]):
        text = _text_example(yarr[:, j])
        if text is not None:
            raise EstimatorInputError(
                f"Y column {names[j]!r} holds text (e.g. {text!r}), not numbers; convert it "
                "first (pd.to_numeric, or map the labels to numbers)."
            )
    try:
        y = yarr.astype(float)
    except (TypeError, ValueError) as exc:
        raise EstimatorInputError(f"Y must be numeric; got dtype {yarr.dtype}.") from exc
    for j, name in enumerate(names):
        bad = ~np.isfinite(y[:, j])
        if bad.any():
            raise EstimatorInputError(
                f"Y column {name!r} has {int(bad.sum())} missing or infinite values; drop those "
                "rows before fitting."
            )
    n = y.shape[0]
    discrete, levels, codes, t_cont = _treatment(T, discrete_treatment, control, n)

    Xf = Wf = None
    xs: list[Column] = []
    ws: list[Column] = []
    index = None
    x_pandas = False
    if X is not None:
        Xf, xs, x_pandas, index = _clean_features(X, "X", "x")
        if len(Xf) != n:
            raise EstimatorInputError(f"X has {len(Xf)} rows but Y has {n}; pass rows that match.")
    if W is not None:
        Wf, ws, _, _ = _clean_features(W, "W", "w", role="confounder")
        if len(Wf) != n:
            raise EstimatorInputError(f"W has {len(Wf)} rows but Y has {n}; pass rows that match.")
        if Xf is not None:
            clash = sorted(set(Xf.columns) & set(Wf.columns))
            if clash:
                raise EstimatorInputError(
                    f"Column(s) {clash} are in both X and W; a column is either a modifier (X) "
                    "or a confounder (W), not both."
                )
    if index is None and isinstance(Y, pd.Series | pd.DataFrame):
        index = Y.index

    sw = None
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=float).reshape(-1)
        if sw.shape[0] != n:
            raise EstimatorInputError(
                f"sample_weight has {sw.shape[0]} rows but Y has {n}; pass rows that match."
            )
        if not np.isfinite(sw).all() or (sw < 0).any() or sw.sum() <= 0:
            raise EstimatorInputError(
                "sample_weight must be finite and non-negative with a positive sum."
            )
    g = None
    if groups is not None:
        gs = pd.Series(
            np.asarray(groups).reshape(-1)
            if not isinstance(groups, pd.Series)
            else groups.to_numpy()
        )
        if len(gs) != n:
            raise EstimatorInputError(
                f"groups has {len(gs)} rows but Y has {n}; pass rows that match."
            )
        if gs.isna().any():
            raise EstimatorInputError(
                f"groups has {int(gs.isna().sum())} missing values; every row needs a cluster id."
            )
        g = pd.factorize(gs)[0].astype(int)
    return Prepared(
        y=y,
        outcome_names=names,
        y_pandas=y_pandas,
        y_2d=y_2d,
        discrete=discrete,
        levels=levels,
        t_codes=codes,
        t_cont=t_cont,
        X=Xf,
        W=Wf,
        x_schema=xs,
        w_schema=ws,
        sample_weight=sw,
        groups=g,
        index=index,
        x_pandas=x_pandas,
    )


@dataclass(slots=True)
class FinalEncoder:
    """Numeric encoding of the modifiers X for final stages that need numbers.

    Numeric columns pass through. A categorical column with at most ``max_onehot_levels`` levels
    becomes one-hot columns named ``"<col>=<level>"`` (the first level dropped when
    ``drop_first``, for linear final stages with an intercept). A column with more levels
    becomes one ordered code: levels ranked by their mean effect signal (the doubly-robust
    pseudo-outcome), shrunk toward the overall mean by ``count / (count + 20)`` so rare levels
    (and levels absent from the rows fitted on) sit near the middle; a forest can split on it
    like LightGBM splits a sorted categorical.

    The code is a target encoding, so the rows a final stage is trained and scored on must not
    be encoded with their own signal: :meth:`transform_oof` encodes each cross-fitting fold with
    ranks fitted on the other folds (issue 9: ranking on the full sample made a 500-level
    placebo look like a strong effect modifier, and AutoCate's scores optimistic). New rows
    (``effect(X)``) use the ranks fitted on every row. Each outcome gets its own encoder.
    """

    schema: list[Column]
    max_onehot_levels: int
    drop_first: bool
    ranks: dict[str, dict[Any, float]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    def fit(self, X: pd.DataFrame, signal: np.ndarray) -> FinalEncoder:
        names: list[str] = []
        for c in self.schema:
            if not c.categorical:
                names.append(c.name)
            elif len(c.levels) <= self.max_onehot_levels:
                keep = c.levels[1:] if self.drop_first else c.levels
                names.extend(f"{c.name}={lev}" for lev in keep)
            else:
                df = pd.DataFrame({"lev": X[c.name].astype(object).to_numpy(), "s": signal})
                stats = df.groupby("lev", sort=False)["s"].agg(["mean", "count"])
                overall = float(np.mean(signal))
                shrink = stats["count"] / (stats["count"] + 20.0)
                score = overall + shrink * (stats["mean"] - overall)
                # every level seen in fit gets a rank; levels without rows here sit at the mean
                score = score.reindex(pd.Index(list(c.levels), dtype=object)).fillna(overall)
                order = score.rank(method="first").to_dict()
                self.ranks[c.name] = {k: float(v) for k, v in order.items()}
                names.append(c.name)
        self.names = names
        return self

    @property
    def target_encoded(self) -> bool:
        """Whether some column is encoded from the signal (a high-cardinality categorical)."""
        return bool(self.ranks)

    def transform_oof(self, X: pd.DataFrame, signal: np.ndarray, folds: np.ndarray) -> np.ndarray:
        """Encode the rows ``fit`` saw, each fold with ranks fitted on the other folds only.

        Without a target-encoded column this equals :meth:`transform`.
        """
        out = self.transform(X, len(X))
        if not self.target_encoded:
            return out
        for k in np.unique(folds):
            rest, here = folds != k, folds == k
            sub = FinalEncoder(self.schema, self.max_onehot_levels, self.drop_first)
            sub.fit(X.loc[rest].reset_index(drop=True), signal[rest])
            out[here] = sub.transform(X.loc[here].reset_index(drop=True), int(here.sum()))
        return out

    def transform(self, X: pd.DataFrame | None, n: int) -> np.ndarray:
        if X is None or not self.schema:
            return np.zeros((n, 0))
        cols: list[np.ndarray] = []
        for c in self.schema:
            if not c.categorical:
                cols.append(X[c.name].to_numpy(dtype=float)[:, None])
            elif c.name in self.ranks:
                cols.append(
                    X[c.name].astype(object).map(self.ranks[c.name]).to_numpy(dtype=float)[:, None]
                )
            else:
                keep = c.levels[1:] if self.drop_first else c.levels
                codes = X[c.name].astype(object).to_numpy()
                cols.append(
                    np.column_stack([(codes == lev).astype(float) for lev in keep])
                    if keep
                    else np.zeros((len(X), 0))
                )
        return np.hstack(cols) if cols else np.zeros((n, 0))
