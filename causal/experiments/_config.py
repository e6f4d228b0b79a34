"""The ``readout`` config (YAML per DESIGN.md) → an ExperimentDesign and readout options.

The whole config is validated before any data is read: every key is checked by the entry of
:data:`KEYS` that owns it, and every problem found is reported at once, each naming its key
(``metrics[1].cap``, ``srm_alpha``, ...) and what is allowed. To add a key, append a
:class:`ConfigKey` to :data:`KEYS` (its ``check`` parses the value; its ``option`` names the
:func:`~causal.experiments.readout` keyword it feeds).

Keys: ``variant``, ``control``, ``metrics`` (each ``name``, ``type`` one of ``mean |
proportion | ratio``, ``column`` or ``numerator`` + ``denominator``, optional ``covariate``: a
column or a list of columns, for a ratio a ``[numerator_pre, denominator_pre]`` pair; optional
``cap`` (a quantile, means only) and ``direction`` ``increase | decrease``), optional ``unit``,
``cluster``, ``guardrails`` (metrics with a ``margin``), ``segments``, ``expected_split``
(shares summing to 1), ``alpha`` (0.05), ``correction`` (``holm | bh | none``),
``relative_margins`` (true), ``srm_alpha`` (0.001), ``sequential`` (``{method: always_valid |
group_sequential, planned_units: N, looks: K, spending: obf | pocock}``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from causal._errors import ConfigError
from causal.data import ExperimentDesign, Mean, Metric, Proportion, Ratio
from causal.experiments._sequential import SequentialPlan

__all__ = ["KEYS", "ConfigKey", "ReadoutConfig", "parse_config"]

#: Shares of ``expected_split`` may miss 1 by this much (e.g. three arms at 0.333) and are then
#: rescaled; a larger miss is a typo to fix, not something to guess.
SPLIT_SUM_ATOL = 1e-3

_METRIC_KEYS = {"name", "type", "column", "numerator", "denominator", "covariate", "cap",
                "direction"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReadoutConfig:
    """A parsed config: the design plus keyword arguments for :func:`readout`.

    Examples
    --------
    >>> cfg = parse_config({"variant": "arm", "control": "c",
    ...                     "metrics": [{"name": "y", "type": "mean", "column": "y"}]})
    >>> cfg.design.metrics[0].column, cfg.options["correction"]
    ('y', 'holm')
    """

    design: ExperimentDesign
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """One top-level config key: how to check it and where its value goes.

    ``check(value, key)`` returns the parsed value or raises :class:`~causal.ConfigError`
    naming ``key``. ``option`` is the :func:`readout` keyword fed with the parsed value (or
    ``default`` when the key is absent); ``None`` for keys that build the design.
    """

    name: str
    check: Callable[[Any, str], Any]
    doc: str
    required: bool = False
    option: str | None = None
    default: Any = None


# ---- value checks (each names its key) --------------------------------------------------------


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "text",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)  # fmt: skip


def _column(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"'{key}' must be a column name (text). Got {value!r}.")
    return value


def _columns(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"'{key}' must be a list of column names. Got {_type_name(value)}.")
    cols = tuple(_column(v, f"{key}[{i}]") for i, v in enumerate(value))
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise ConfigError(f"'{key}' repeats column(s) {', '.join(dup)}.")
    return cols


def _label(value: Any, key: str) -> str:
    if isinstance(value, bool):
        raise ConfigError(
            f"'{key}' was read as the boolean {str(value).lower()} (YAML reads yes/no/on/off "
            f'that way); quote the label, e.g. {key}: "{"yes" if value else "no"}".'
        )
    if isinstance(value, int) or (isinstance(value, str) and value.strip()):
        return str(value)
    raise ConfigError(f"'{key}' must be a variant label (text or an integer). Got {value!r}.")


def _probability(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"'{key}' must be a number in (0, 1). Got {_type_name(value)} {value!r}.")
    if not (0.0 < float(value) < 1.0):
        raise ConfigError(f"'{key}' must be a number in (0, 1). Got {value!r}.")
    return float(value)


def _boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(
            f"'{key}' must be true or false (unquoted). Got {_type_name(value)} {value!r}."
        )
    return value


def _choice(*allowed: str) -> Callable[[Any, str], str]:
    def check(value: Any, key: str) -> str:
        if value not in allowed:
            raise ConfigError(f"'{key}' must be one of {', '.join(allowed)}. Got {value!r}.")
        return str(value)

    return check


def _optional_column(value: Any, key: str) -> str | None:
    return None if value is None else _column(value, key)


def _split(value: Any, key: str) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(
            f"'{key}' must map each variant label to its share, e.g. {{control: 0.5, "
            f"treatment: 0.5}}. Got {value!r}."
        )
    shares: dict[str, float] = {}
    for label, share in value.items():
        name = _label(label, f"{key} label")
        if isinstance(share, bool) or not isinstance(share, int | float):
            raise ConfigError(f"'{key}.{name}' must be a share in (0, 1]. Got {share!r}.")
        if not (0.0 < float(share) <= 1.0) or not math.isfinite(share):
            raise ConfigError(f"'{key}.{name}' must be a share in (0, 1]. Got {share!r}.")
        if name in shares:
            raise ConfigError(f"'{key}' names variant '{name}' twice.")
        shares[name] = float(share)
    total = math.fsum(shares.values())
    if abs(total - 1.0) > SPLIT_SUM_ATOL:
        raise ConfigError(
            f"The '{key}' shares sum to {total:.4g}, not 1 "
            f"({', '.join(f'{k}: {v:g}' for k, v in shares.items())}); give each variant's "
            "share of traffic so that they sum to 1."
        )
    return shares


def _sequential(value: Any, key: str) -> SequentialPlan:
    return SequentialPlan.from_mapping(value, key)


def _metric_list(value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"'{key}' must be a list of metric mappings. Got {_type_name(value)}.")
    return value


#: Every top-level key of the readout config, in documentation order.
KEYS: dict[str, ConfigKey] = {
    k.name: k
    for k in [
        ConfigKey("variant", _column, "the column holding each unit's variant label", True),
        ConfigKey("control", _label, "the control label in that column", True),
        ConfigKey("metrics", _metric_list, "success metrics (list)", True),
        ConfigKey("guardrails", _metric_list, "metrics that must not get worse, with margin"),
        ConfigKey("unit", _optional_column, "unit id column (rows per unit are summed)"),
        ConfigKey("cluster", _optional_column, "randomization cluster column"),
        ConfigKey("segments", _columns, "columns to repeat the readout by (exploratory)"),
        ConfigKey("expected_split", _split, "share of traffic per variant (sums to 1)"),
        # passed to readout() only when configured (see parse_config)
        ConfigKey(
            "sequential",
            _sequential,
            "monitoring plan {method: always_valid|group_sequential, planned_units, looks}",
        ),  # fmt: skip
        ConfigKey("alpha", _probability, "two-sided level", option="alpha", default=0.05),
        ConfigKey(
            "correction",
            _choice("holm", "bh", "none"),
            "multiple-testing correction",
            option="correction",
            default="holm",
        ),  # fmt: skip
        ConfigKey(
            "relative_margins",
            _boolean,
            "guardrail margins relative to control",
            option="relative_margins",
            default=True,
        ),  # fmt: skip
        ConfigKey(
            "srm_alpha",
            _probability,
            "level of the sample-ratio check",
            option="srm_alpha",
            default=0.001,
        ),  # fmt: skip
        ConfigKey(
            "heterogeneity",
            _columns,
            "columns whose effect heterogeneity to estimate (calibration, banded GATEs, targeting)",
            option="heterogeneity",
            default=None,
        ),  # fmt: skip
    ]
}


# ---- metrics ----------------------------------------------------------------------------------


def _metric(spec: Any, where: str, guardrail: bool) -> tuple[Metric, float | None, str]:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"'{where}' must be a mapping with 'name' and 'type'. Got {spec!r}.")
    allowed = _METRIC_KEYS | ({"margin"} if guardrail else set())
    extra = sorted(str(k) for k in set(spec) - allowed)
    if extra:
        hints = [_suggest(k, allowed) for k in extra]
        raise ConfigError(
            f"'{where}': unknown key(s) {', '.join(extra)}{''.join(hints)}; allowed: "
            f"{', '.join(sorted(allowed))}."
        )
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"'{where}.name' must be the metric's name (text). Got {name!r}.")
    kind = spec.get("type")
    label = f"{where} ('{name}')"
    raw_cov = spec.get("covariate")
    cov: str | tuple[str, ...] | None = None
    if isinstance(raw_cov, str):
        cov = _column(raw_cov, f"{where}.covariate")
    elif raw_cov is not None:
        cov = _columns(raw_cov, f"{where}.covariate")
    direction = spec.get("direction", "increase")
    if direction not in ("increase", "decrease"):
        raise ConfigError(
            f"'{where}.direction' ('{name}') must be 'increase' or 'decrease'. Got {direction!r}."
        )

    def need(key: str) -> str:
        val = spec.get(key)
        if not isinstance(val, str) or not val:
            raise ConfigError(f"{label}: a {kind} metric needs '{key}' (a column name).")
        return val

    if "cap" in spec and kind != "mean":
        raise ConfigError(f"{label}: 'cap' applies to mean metrics only.")
    metric: Metric
    if kind == "mean":
        cap = spec.get("cap")
        if cap is not None:
            cap = _probability(cap, f"{where}.cap")
        metric = Mean(name, need("column"), covariate=cov, cap=cap)
    elif kind == "proportion":
        metric = Proportion(name, need("column"), covariate=cov)
    elif kind == "ratio":
        if cov is not None and (isinstance(cov, str) or len(cov) != 2):
            raise ConfigError(
                f"'{where}.covariate' ('{name}'): a ratio metric's covariate must be the pair "
                f"[numerator_pre, denominator_pre]. Got {spec.get('covariate')!r}."
            )
        metric = Ratio(name, need("numerator"), need("denominator"), covariate=cov)
    else:
        raise ConfigError(
            f"'{where}.type' ('{name}') must be one of mean, proportion, ratio. Got {kind!r}."
        )
    _ = metric.covariates  # validates the covariate names
    margin = spec.get("margin")
    if guardrail:
        if not isinstance(margin, int | float) or isinstance(margin, bool) or margin <= 0:
            raise ConfigError(
                f"'{where}.margin' ('{name}'): a guardrail needs a positive 'margin' (e.g. 0.01 "
                f"= 1% relative harm tolerated). Got {margin!r}."
            )
        margin = float(margin)
    return metric, margin, direction


def _suggest(key: str, allowed: set[str] | dict[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# ---- the whole config -------------------------------------------------------------------------


def parse_config(cfg: Any) -> ReadoutConfig:
    """Validate a readout config (a mapping, e.g. from YAML) into a :class:`ReadoutConfig`.

    Every key is checked before anything else happens (no data is read here); all problems
    are reported together in one :class:`~causal.ConfigError`, each naming its key.

    Examples
    --------
    >>> parse_config({"variant": "arm", "control": "c", "srm_alpha": 2,
    ...               "metrics": [{"name": "y", "type": "mean", "column": "y"}]})
    Traceback (most recent call last):
    ...
    causal._errors.ConfigError: 'srm_alpha' must be a number in (0, 1). Got 2.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(
            "The readout config must be a mapping (YAML keys: variant, control, metrics, ...). "
            f"Got {_type_name(cfg)}."
        )
    problems: list[str] = []
    extra = sorted(str(k) for k in set(cfg) - set(KEYS))
    for k in extra:
        problems.append(f"Unknown config key '{k}'{_suggest(k, KEYS)}")
    if extra:
        problems[-1] += f"; allowed: {', '.join(KEYS)}"
    parsed: dict[str, Any] = {}
    for name, key in KEYS.items():
        if name not in cfg or cfg[name] is None:
            if key.required:
                problems.append(f"The readout config needs '{name}' ({key.doc})")
            continue
        try:
            parsed[name] = key.check(cfg[name], name)
        except ConfigError as exc:
            problems.append(str(exc).rstrip("."))

    metrics: list[Metric] = []
    guards: list[Metric] = []
    margins: dict[str, float] = {}
    decrease: list[str] = []
    for list_key, out, guardrail in (("metrics", metrics, False), ("guardrails", guards, True)):
        for i, spec in enumerate(parsed.get(list_key, [])):
            try:
                m, margin, d = _metric(spec, f"{list_key}[{i}]", guardrail=guardrail)
            except ConfigError as exc:
                problems.append(str(exc).rstrip("."))
                continue
            out.append(m)
            if guardrail:
                margins[m.name] = float(margin)  # type: ignore[arg-type]
            if d == "decrease":
                decrease.append(m.name)
    if "metrics" in parsed and not parsed["metrics"] and not parsed.get("guardrails"):
        problems.append("'metrics' is empty; list at least one metric")
    names = [m.name for m in metrics + guards]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        problems.append(f"metric names must be unique across 'metrics' and 'guardrails'; "
                        f"repeated: {', '.join(dup)}")  # fmt: skip
    split = parsed.get("expected_split")
    if split is not None and "control" in parsed and parsed["control"] not in split:
        problems.append(
            f"'expected_split' must include the control '{parsed['control']}' (it names "
            f"{', '.join(split)})"
        )
    if problems:
        if len(problems) == 1:
            raise ConfigError(problems[0] + ".")
        listed = " ".join(f"({i}) {p}." for i, p in enumerate(problems, 1))
        raise ConfigError(f"The readout config has {len(problems)} problems: {listed}")

    try:
        design = ExperimentDesign(
            variant=parsed["variant"],
            control=parsed["control"],
            metrics=metrics,
            unit=parsed.get("unit"),
            guardrails=guards,
            segments=parsed.get("segments"),
            cluster=parsed.get("cluster"),
            expected_split=split,
        )
    except ConfigError as exc:
        raise ConfigError(f"In the readout config: {exc}") from None
    options: dict[str, Any] = {
        key.option: parsed.get(name, key.default) for name, key in KEYS.items() if key.option
    }
    options |= {"margins": margins, "decrease_is_good": tuple(decrease)}
    if "sequential" in parsed:
        options["sequential"] = parsed["sequential"]
    return ReadoutConfig(design, options)
