"""The ``readout`` config (YAML per DESIGN.md) → an ExperimentDesign and readout options.

Keys: ``variant``, ``control``, ``metrics`` (each ``name``, ``type`` one of ``mean |
proportion | ratio``, ``column`` or ``numerator`` + ``denominator``, optional ``covariate``: a
column or a list of columns, for a ratio a ``[numerator_pre, denominator_pre]`` pair; optional
``cap`` (a quantile, means only) and ``direction`` ``increase | decrease``), optional ``unit``,
``cluster``, ``guardrails`` (metrics with a ``margin``), ``segments``, ``expected_split``,
``alpha`` (0.05), ``correction`` (``holm | bh | none``), ``relative_margins`` (true),
``srm_alpha`` (0.001).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from causal._errors import ConfigError
from causal.data import ExperimentDesign, Mean, Metric, Proportion, Ratio

__all__ = ["ReadoutConfig", "parse_config"]

_TOP = {
    "variant", "control", "metrics", "unit", "cluster", "guardrails", "segments",
    "expected_split", "alpha", "correction", "relative_margins", "srm_alpha",
}  # fmt: skip
_METRIC = {"name", "type", "column", "numerator", "denominator", "covariate", "cap", "direction"}


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


def _metric(spec: Any, where: str, guardrail: bool) -> tuple[Metric, float | None, str]:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must be a mapping with 'name' and 'type'. Got {spec!r}.")
    allowed = _METRIC | ({"margin"} if guardrail else set())
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}."
        )
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} needs a 'name' (text). Got {name!r}.")
    kind = spec.get("type")
    where = f"{where} ('{name}')"
    cov = spec.get("covariate")
    if isinstance(cov, list):
        cov = tuple(cov)
    direction = spec.get("direction", "increase")
    if direction not in ("increase", "decrease"):
        raise ConfigError(
            f"{where}: 'direction' must be 'increase' or 'decrease'. Got {direction!r}."
        )

    def need(key: str) -> str:
        val = spec.get(key)
        if not isinstance(val, str) or not val:
            raise ConfigError(f"{where}: a {kind} metric needs '{key}' (a column name).")
        return val

    metric: Metric
    if kind == "mean":
        metric = Mean(name, need("column"), covariate=cov, cap=spec.get("cap"))
    elif kind == "proportion":
        if "cap" in spec:
            raise ConfigError(f"{where}: 'cap' applies to mean metrics only.")
        metric = Proportion(name, need("column"), covariate=cov)
    elif kind == "ratio":
        if "cap" in spec:
            raise ConfigError(f"{where}: 'cap' applies to mean metrics only.")
        metric = Ratio(name, need("numerator"), need("denominator"), covariate=cov)
    else:
        raise ConfigError(f"{where}: 'type' must be one of mean, proportion, ratio. Got {kind!r}.")
    _ = metric.covariates  # validates the covariate names
    margin = spec.get("margin")
    if guardrail:
        if not isinstance(margin, int | float) or isinstance(margin, bool) or margin <= 0:
            raise ConfigError(
                f"{where}: a guardrail needs a positive 'margin' (e.g. 0.01 = 1% relative "
                f"harm tolerated). Got {margin!r}."
            )
        margin = float(margin)
    return metric, margin, direction


def parse_config(cfg: Any) -> ReadoutConfig:
    """Validate a readout config (a mapping, e.g. from YAML) into a :class:`ReadoutConfig`.

    Raises :class:`~causal.ConfigError` naming the key and what is allowed.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError("The readout config must be a mapping (YAML keys: variant, control, "
                          "metrics, ...).")  # fmt: skip
    extra = sorted(set(cfg) - _TOP)
    if extra:
        raise ConfigError(
            f"Unknown config key(s) {', '.join(extra)}; allowed: {', '.join(sorted(_TOP))}."
        )
    for key in ("variant", "control", "metrics"):
        if key not in cfg:
            raise ConfigError(f"The readout config needs '{key}'.")
    metrics_in = cfg.get("metrics") or []
    guards_in = cfg.get("guardrails") or []
    if not isinstance(metrics_in, list) or not isinstance(guards_in, list):
        raise ConfigError("'metrics' and 'guardrails' must be lists of metric mappings.")
    metrics, guards, margins, decrease = [], [], {}, []
    for i, spec in enumerate(metrics_in):
        m, _, d = _metric(spec, f"metrics[{i}]", guardrail=False)
        metrics.append(m)
        if d == "decrease":
            decrease.append(m.name)
    for i, spec in enumerate(guards_in):
        m, margin, d = _metric(spec, f"guardrails[{i}]", guardrail=True)
        guards.append(m)
        margins[m.name] = margin
        if d == "decrease":
            decrease.append(m.name)
    split = cfg.get("expected_split")
    if split is not None and not isinstance(split, Mapping):
        raise ConfigError(f"'expected_split' must map variant labels to shares. Got {split!r}.")
    control = cfg["control"]
    if control is None or control == "":
        raise ConfigError("The readout config needs 'control': the control variant label.")
    design = ExperimentDesign(
        variant=cfg["variant"],
        control=str(control),
        metrics=metrics,
        unit=cfg.get("unit"),
        guardrails=guards,
        segments=cfg.get("segments"),
        cluster=cfg.get("cluster"),
        expected_split=None if split is None else {str(k): v for k, v in split.items()},
    )
    options: dict[str, Any] = {
        "alpha": cfg.get("alpha", 0.05),
        "correction": cfg.get("correction", "holm"),
        "margins": margins,
        "relative_margins": bool(cfg.get("relative_margins", True)),
        "decrease_is_good": tuple(decrease),
        "srm_alpha": cfg.get("srm_alpha", 0.001),
    }
    return ReadoutConfig(design, options)
