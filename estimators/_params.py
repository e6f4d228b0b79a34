"""Parameter constraints declared as data, with one uniform error message.

"The 'alpha' parameter of CausalForest must be a float in (0, 1). Got 1.5 instead."
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from estimators._errors import EstimatorInputError

__all__ = ["Integer", "Options", "Real", "check_params", "resolve_rng", "RandomStateLike"]

RandomStateLike = int | np.random.Generator | None


@dataclass(frozen=True, slots=True)
class Real:
    """A real number in an interval; ``closed`` is one of 'neither', 'left', 'right', 'both'."""

    low: float
    high: float
    closed: str = "neither"
    allow_none: bool = False

    def ok(self, value: Any) -> bool:
        if value is None:
            return self.allow_none
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        v = float(value)
        if math.isnan(v):
            return False
        lo_ok = v >= self.low if self.closed in ("left", "both") else v > self.low
        hi_ok = v <= self.high if self.closed in ("right", "both") else v < self.high
        return lo_ok and hi_ok

    def describe(self) -> str:
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        hi = "inf" if math.isinf(self.high) else f"{self.high:g}"
        text = f"a float in {left}{self.low:g}, {hi}{right}"
        return text + " or None" if self.allow_none else text


@dataclass(frozen=True, slots=True)
class Integer:
    """An integer in ``[low, high]`` (``high=None``: unbounded)."""

    low: int
    high: int | None = None
    allow_none: bool = False

    def ok(self, value: Any) -> bool:
        if value is None:
            return self.allow_none
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return False
        v = int(value)
        return v >= self.low and (self.high is None or v <= self.high)

    def describe(self) -> str:
        hi = "inf)" if self.high is None else f"{self.high}]"
        text = f"an int in [{self.low}, {hi}"
        return text + " or None" if self.allow_none else text


@dataclass(frozen=True, slots=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def ok(self, value: Any) -> bool:
        return any(value is v or (type(value) is type(v) and value == v) for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


def check_params(owner: str, values: Mapping[str, Any], constraints: Mapping[str, Any]) -> None:
    """Validate ``values`` against ``constraints`` with a uniform message.

    Parameters
    ----------
    owner : str
        The class name used in the message.
    values : mapping
        Parameter name -> value.
    constraints : mapping
        Parameter name -> a constraint (``Real``, ``Integer``, ``Options``) or a tuple of them
        (any may match).

    Raises
    ------
    EstimatorInputError
        ``"The 'alpha' parameter of CausalForest must be a float in (0, 1). Got 1.5 instead."``

    Examples
    --------
    >>> check_params("X", {"alpha": 0.05}, {"alpha": Real(0, 1)})
    """
    for name, constraint in constraints.items():
        value = values[name]
        options = constraint if isinstance(constraint, tuple) else (constraint,)
        if not any(c.ok(value) for c in options):
            wanted = " or ".join(c.describe() for c in options)
            raise EstimatorInputError(
                f"The {name!r} parameter of {owner} must be {wanted}. Got {value!r} instead."
            )


def resolve_rng(random_state: Any, owner: str) -> np.random.Generator:
    """Resolve ``random_state`` (int, Generator or None) once into a Generator.

    Examples
    --------
    >>> resolve_rng(0, "X").integers(10) == resolve_rng(0, "X").integers(10)
    np.True_
    """
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise EstimatorInputError(
                f"The 'random_state' parameter of {owner} must be a non-negative int, a "
                f"numpy Generator or None. Got {random_state!r} instead."
            )
        return np.random.default_rng(int(random_state))
    raise EstimatorInputError(
        f"The 'random_state' parameter of {owner} must be an int, a numpy Generator or None. "
        f"Got {random_state!r} instead."
    )
