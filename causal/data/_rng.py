"""Small shared helpers of the data layer: seeds and numeric parameter checks."""

from __future__ import annotations

import numbers
from typing import TypeAlias

import numpy as np

from causal._errors import ConfigError

__all__ = ["Seed", "check_fraction", "check_positive_int", "resolve_rng"]

Seed: TypeAlias = int | np.random.Generator | None


def resolve_rng(seed: Seed, param: str = "seed") -> np.random.Generator:
    """Turn ``seed`` (int, Generator or None) into a Generator, once.

    Examples
    --------
    >>> resolve_rng(3).integers(10) == resolve_rng(3).integers(10)
    np.True_
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(
            f"The '{param}' parameter must be a non-negative int, a numpy Generator or None. "
            f"Got {seed!r} instead."
        )
    return np.random.default_rng(int(seed))


def check_positive_int(value: object, param: str) -> int:
    """``value`` as an int >= 1, or a :class:`ConfigError` naming ``param``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"The '{param}' parameter must be an int >= 1. Got {value!r} instead.")
    return int(value)


def check_fraction(value: object, param: str) -> float:
    """``value`` as a float strictly between 0 and 1, or a :class:`ConfigError`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 < float(value) < 1.0
    ):
        raise ConfigError(
            f"The '{param}' parameter must be a number strictly between 0 and 1. "
            f"Got {value!r} instead."
        )
    return float(value)
