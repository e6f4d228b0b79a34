"""Modifiers in, a numeric matrix out (categoricals as integer codes), and back again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from causal._errors import (
    ConfigError,
    InsufficientDataError,
    MissingValuesError,
    NotFittedError,
)
from causal.data._readers import missing_column_error

__all__ = ["Encoded", "encode", "estimator_features", "modifier_frame"]


def estimator_features(estimator: Any) -> list[str]:
    """The modifier names a fitted effect model was fitted with (its ``feature_names_in_``)."""
    if not callable(getattr(estimator, "effect", None)):
        raise ConfigError(
            f"explain() needs a fitted effect model with an effect(X) method (e.g. "
            f"estimators.AutoCate); got {type(estimator).__name__}."
        )
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        raise NotFittedError(
            f"This {type(estimator).__name__} is not fitted yet: call "
            "fit(Y, T, X=X, W=W) before explaining its effects."
        )
    names = [str(c) for c in names]
    if not names:
        raise ConfigError(
            f"This {type(estimator).__name__} was fitted without modifiers X, so its effect is "
            "constant and there is nothing to explain; refit with X=<modifier columns>."
        )
    return names


def modifier_frame(X: Any, features: list[str]) -> pd.DataFrame:
    """The modifier columns of ``X`` (a DataFrame or an array in ``features`` order).

    Columns of a DataFrame that are not modifiers are ignored; a missing modifier raises
    :class:`~causal.MissingColumnError` naming it and the nearest column. Never mutates ``X``.
    """
    if isinstance(X, pd.DataFrame):
        cols = [str(c) for c in X.columns]
        for f in features:
            if f not in cols:
                raise missing_column_error(f, cols, role="modifier column")
        frame = X.loc[:, [c for c in X.columns if str(c) in set(features)]]
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)[features]
    else:
        arr = np.asarray(X)
        if arr.ndim != 2 or arr.shape[1] != len(features):
            raise ConfigError(
                f"X must be a DataFrame with the modifier columns {features} or a 2-D array with "
                f"{len(features)} columns in that order; got shape {arr.shape}."
            )
        frame = pd.DataFrame(arr, columns=features)
    if len(frame) == 0:
        raise InsufficientDataError("X has no rows: pass the items whose effects to explain.")
    for c in features:
        n_missing = int(frame[c].isna().sum())
        if n_missing:
            raise MissingValuesError(
                f"The modifier column '{c}' has {n_missing} missing values; impute or drop those "
                "rows (the effect model cannot score them either)."
            )
    return frame


def _is_categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
    )


@dataclass(frozen=True)
class Encoded:
    """A numeric matrix of the modifiers: categoricals as codes into ``categories[name]``."""

    matrix: np.ndarray  # (n, p) float64
    features: tuple[str, ...]
    categories: dict[str, tuple[Any, ...]]  # categorical feature -> its levels (code order)

    @property
    def categorical_index(self) -> list[int]:
        return [j for j, f in enumerate(self.features) if f in self.categories]

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        """Back to a DataFrame with the original categories (for calling ``effect``)."""
        cols: dict[str, Any] = {}
        for j, f in enumerate(self.features):
            if f in self.categories:
                codes = np.rint(matrix[:, j]).astype(int)
                cols[f] = pd.Categorical.from_codes(codes, categories=list(self.categories[f]))
            else:
                cols[f] = matrix[:, j]
        return pd.DataFrame(cols)


def encode(frame: pd.DataFrame) -> Encoded:
    """Encode the modifier frame; categorical levels keep their dtype order (else sorted)."""
    n, p = frame.shape
    matrix = np.empty((n, p))
    categories: dict[str, tuple[Any, ...]] = {}
    for j, c in enumerate(frame.columns):
        s = frame[c]
        if _is_categorical(s):
            if isinstance(s.dtype, pd.CategoricalDtype):
                cat = s.cat.remove_unused_categories()
            else:
                levels = sorted(pd.unique(s.astype(object)), key=lambda v: (str(type(v)), v))
                cat = pd.Categorical(s.astype(object), categories=levels)
                cat = pd.Series(cat, index=s.index)
            categories[str(c)] = tuple(cat.cat.categories)
            matrix[:, j] = cat.cat.codes.to_numpy()
        else:
            values = s.to_numpy(dtype=float)
            if not np.isfinite(values).all():
                raise MissingValuesError(
                    f"The modifier column '{c}' has infinite values; remove or cap them."
                )
            matrix[:, j] = values
    return Encoded(matrix=matrix, features=tuple(str(c) for c in frame.columns),
                   categories=categories)  # fmt: skip
