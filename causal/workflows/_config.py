"""The ``whatworks`` config (YAML per DESIGN.md) → a :class:`~causal.data.Design` and options.

Keys (DESIGN.md): ``unit``, ``treatment``, ``outcomes``, ``modifiers``, ``confounders``,
optional ``segments``, ``attributes`` (content attributes, each taken in turn as the
treatment), ``estimator`` (``auto`` default), ``graph`` (DOT text or a path to a .dot/.gv file),
``seed``. Also accepted: ``cluster``, ``weight``, ``time`` and ``treatment_kind`` (the other
:class:`~causal.data.Design` roles), ``control`` (the control level of a multi-valued
treatment, e.g. ``none``), ``alpha`` (0.05), and for weighing outcomes against each
other ``primary`` (the outcome to raise) and ``guardrails`` (outcome: largest acceptable rise).
``max_rows`` (default 1,000,000) is the most rows ``causal whatworks --engine spark`` brings
from Spark to the driver to fit on (:attr:`WhatWorksConfig.max_rows`; not a ``what_works``
option).

The config is checked completely before any data is read: an unknown key names the closest
known one, a wrong type names the key and what it must be.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from causal._errors import ConfigError
from causal.data import Design

__all__ = ["ESTIMATORS", "WhatWorksConfig", "parse_whatworks_config"]

#: Values of the ``estimator`` key: ``auto`` (AutoCate) or one named estimator.
ESTIMATORS: tuple[str, ...] = (
    "auto",
    "CausalForest",
    "LinearDML",
    "DRLearner",
    "XLearner",
    "TLearner",
    "SLearner",
)

_COLUMN = ("unit", "treatment", "cluster", "weight", "time")
_COLUMNS = ("outcomes", "modifiers", "confounders", "segments", "attributes")
_KEYS = (
    *_COLUMN,
    *_COLUMNS,
    "estimator",
    "graph",
    "seed",
    "alpha",
    "treatment_kind",
    "primary",
    "guardrails",
    "control",
    "max_rows",
)

#: Default of the ``max_rows`` key (the Spark engine's fitting size; causal.spark's default).
DEFAULT_MAX_ROWS = 1_000_000


@dataclass(frozen=True, slots=True)
class WhatWorksConfig:
    """A parsed config: the design plus keyword arguments for :func:`causal.what_works`.

    Examples
    --------
    >>> cfg = parse_whatworks_config({"unit": "pin_id", "treatment": "boosted",
    ...                               "outcomes": ["saves"], "seed": 3})
    >>> cfg.design.treatment, cfg.options["seed"]
    ('boosted', 3)
    """

    design: Design
    options: dict[str, Any] = field(default_factory=dict)
    max_rows: int = DEFAULT_MAX_ROWS


def _type_name(value: Any) -> str:
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _column(cfg: Mapping[str, Any], key: str, required: bool) -> str | None:
    value = cfg.get(key)
    if value is None:
        if required:
            raise ConfigError(f"The config needs '{key}': the name of the {key} column.")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"The config key '{key}' must be a column name (text). Got {_type_name(value)} "
            f"({value!r}) instead."
        )
    return value


def _columns(cfg: Mapping[str, Any], key: str, required: bool) -> tuple[str, ...]:
    value = cfg.get(key)
    if value is None:
        if required:
            raise ConfigError(f"The config needs '{key}': a list of column names.")
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(
            f"The config key '{key}' must be a list of column names, e.g. {key}: [a, b]. "
            f"Got {value!r} instead."
        )
    if required and not value:
        raise ConfigError(f"The config key '{key}' needs at least one column.")
    return tuple(value)


def _graph(value: Any, base: Path | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            "The config key 'graph' must be DOT text (digraph { a -> b }) or the path of a "
            f".dot/.gv file. Got {value!r} instead."
        )
    text = value.strip()
    if "->" in text or "{" in text:
        return text
    path = Path(text)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise ConfigError(
            f"The config key 'graph' names the file '{text}', which does not exist; give DOT "
            "text (digraph { a -> b }) or an existing .dot/.gv path."
        )
    return path.read_text(encoding="utf-8")


def parse_whatworks_config(
    cfg: Any, *, base_dir: str | os.PathLike[str] | None = None
) -> WhatWorksConfig:
    """Check a whatworks config mapping and turn it into a Design and options.

    Parameters
    ----------
    cfg : mapping
        The parsed YAML.
    base_dir : path, optional
        Folder that a relative ``graph`` path is resolved against (the config file's folder).

    Returns
    -------
    WhatWorksConfig

    Raises
    ------
    ConfigError
        Naming the key: unknown (with the closest known key), wrong type or missing.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(
            "The whatworks config must be a YAML mapping with at least 'unit', 'treatment' "
            f"and 'outcomes'. Got {_type_name(cfg)} instead."
        )
    for key in cfg:
        if key not in _KEYS:
            near = difflib.get_close_matches(str(key), _KEYS, n=1, cutoff=0.5)
            hint = f" Did you mean '{near[0]}'?" if near else ""
            raise ConfigError(f"Unknown config key '{key}'.{hint} Known keys: {', '.join(_KEYS)}.")
    estimator = cfg.get("estimator", "auto")
    if estimator not in ESTIMATORS:
        near = difflib.get_close_matches(str(estimator), ESTIMATORS, n=1, cutoff=0.5)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        raise ConfigError(
            f"The config key 'estimator' must be one of {', '.join(ESTIMATORS)}. "
            f"Got {estimator!r}.{hint}"
        )
    seed = cfg.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(
            f"The config key 'seed' must be a whole number >= 0. Got {_type_name(seed)} "
            f"({seed!r}) instead."
        )
    alpha = cfg.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigError(
            f"The config key 'alpha' must be a number in (0, 1), e.g. 0.05. Got {alpha!r}."
        )
    max_rows = cfg.get("max_rows", DEFAULT_MAX_ROWS)
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ConfigError(
            "The config key 'max_rows' must be a whole number >= 1 (the most rows the Spark "
            f"engine fits on), e.g. 1000000. Got {_type_name(max_rows)} ({max_rows!r}) instead."
        )
    kind = cfg.get("treatment_kind", "auto")
    design = Design(
        unit=_column(cfg, "unit", True),  # type: ignore[arg-type]
        treatment=_column(cfg, "treatment", True),  # type: ignore[arg-type]
        outcomes=_columns(cfg, "outcomes", True),
        modifiers=_columns(cfg, "modifiers", False),
        confounders=_columns(cfg, "confounders", False),
        segments=_columns(cfg, "segments", False),
        cluster=_column(cfg, "cluster", False),
        weight=_column(cfg, "weight", False),
        time=_column(cfg, "time", False),
        treatment_kind=kind,
    )
    primary = _column(cfg, "primary", False)
    guardrails = cfg.get("guardrails") or {}
    if not isinstance(guardrails, Mapping) or not all(
        isinstance(k, str) and isinstance(m, int | float) and not isinstance(m, bool)
        for k, m in guardrails.items()
    ):
        raise ConfigError(
            "The config key 'guardrails' must map outcomes to margins, e.g. "
            f"guardrails: {{hides: 0.0}}. Got {guardrails!r} instead."
        )
    control = cfg.get("control")
    if control is not None and (
        isinstance(control, bool) or not isinstance(control, str | int | float)
    ):
        raise ConfigError(
            "The config key 'control' must be one level of the treatment column (text or a "
            f"number), e.g. control: none. Got {_type_name(control)} ({control!r}) instead."
        )
    base = Path(base_dir) if base_dir is not None else None
    options = {
        "attributes": _columns(cfg, "attributes", False),
        "estimator": estimator,
        "primary": primary,
        "guardrails": {str(k): float(m) for k, m in guardrails.items()},
        "graph": _graph(cfg.get("graph"), base),
        "seed": seed,
        "alpha": float(alpha),
    }
    if control is not None:
        options["control"] = control
    return WhatWorksConfig(design=design, options=options, max_rows=max_rows)
