"""The readout YAML config (DESIGN.md) → ExperimentDesign and readout options."""

from __future__ import annotations

import pytest

from causal import ConfigError
from causal.experiments import Mean, Proportion, Ratio
from causal.experiments._config import parse_config

FULL = {
    "variant": "arm",
    "control": 0,
    "unit": "user_id",
    "metrics": [
        {"name": "rev", "type": "mean", "column": "revenue", "covariate": "rev_pre", "cap": 0.99},
        {"name": "conv", "type": "proportion", "column": "converted"},
        {
            "name": "ctr",
            "type": "ratio",
            "numerator": "clicks",
            "denominator": "views",
            "covariate": ["clicks_pre", "views_pre"],
        },
    ],  # fmt: skip
    "guardrails": [
        {
            "name": "hides",
            "type": "mean",
            "column": "hides",
            "margin": 0.02,
            "direction": "decrease",
        },
    ],  # fmt: skip
    "segments": ["country"],
    "expected_split": {0: 1, 1: 1},
    "alpha": 0.1,
    "correction": "bh",
}


def test_full_config_maps_to_design_and_options():
    cfg = parse_config(FULL)
    d = cfg.design
    assert d.control == "0" and d.unit == "user_id" and d.segments == ("country",)
    assert d.metrics == (
        Mean("rev", "revenue", covariate="rev_pre", cap=0.99),
        Proportion("conv", "converted"),
        Ratio("ctr", "clicks", "views", covariate=("clicks_pre", "views_pre")),
    )
    assert d.guardrails == (Mean("hides", "hides"),)
    assert d.expected_split == {"0": 0.5, "1": 0.5}
    assert cfg.options["margins"] == {"hides": 0.02}
    assert cfg.options["decrease_is_good"] == ("hides",)
    assert cfg.options["alpha"] == 0.1 and cfg.options["correction"] == "bh"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"metrics": [{"name": "r", "type": "ratio", "numerator": "a"}]}, "needs 'denominator'"),
        (
            {"metrics": [{"name": "r", "type": "proportion", "column": "a", "cap": 0.9}]},
            "mean metrics only",
        ),  # fmt: skip
        ({"metrics": [{"name": "r", "type": "mean", "column": "a", "cap": 1.5}]}, "quantile"),
        (
            {"metrics": [{"name": "r", "type": "mean", "column": "a", "direction": "up"}]},
            "'direction'",
        ),  # fmt: skip
        (
            {"metrics": [{"name": "r", "type": "mean", "column": "a", "colour": 1}]},
            "unknown key",
        ),  # fmt: skip
        (
            {
                "metrics": [
                    {
                        "name": "r",
                        "type": "ratio",
                        "numerator": "a",
                        "denominator": "b",
                        "covariate": ["x"],
                    }
                ]
            },
            "pair",
        ),  # fmt: skip
        ({"control": None}, "'control'"),
        ({"expected_split": [0.5, 0.5]}, "expected_split"),
    ],
)
def test_bad_configs_name_the_problem(patch, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(FULL | patch)
