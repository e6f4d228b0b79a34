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
    "expected_split": {0: 0.5, 1: 0.5},
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
        (
            {"metrics": [{"name": "r", "type": "mean", "column": "a", "cap": 1.5}]},
            r"metrics\[0\].cap",
        ),
        (
            {"metrics": [{"name": "r", "type": "mean", "column": "a", "direction": "up"}]},
            r"'metrics\[0\].direction'",
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


# ---- config mistakes are errors, naming the key (issue 8, item 12) --------------------------

BASE = {
    "variant": "arm",
    "control": "control",
    "metrics": [{"name": "y", "type": "mean", "column": "y"}],
}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"expected_split": {"control": 0.5, "treatment": 0.6}}, "shares sum to 1.1"),
        ({"expected_split": {"control": 1, "treatment": 1}}, "shares sum to 2"),
        ({"expected_split": {"control": 0.5, "treatment": -0.5}}, "'expected_split.treatment'"),
        ({"expected_split": {"a": 0.5, "b": 0.5}}, "must include the control 'control'"),
        ({"srm_alpha": 2}, "'srm_alpha' must be a number in \\(0, 1\\). Got 2"),
        ({"srm_alpha": True}, "'srm_alpha' must be a number"),
        ({"alpha": 0}, "'alpha' must be a number in \\(0, 1\\)"),
        ({"alpha": "0.05"}, "'alpha' must be a number in \\(0, 1\\). Got text"),
        ({"relative_margins": "no"}, "'relative_margins' must be true or false"),
        ({"relative_margins": 1}, "'relative_margins' must be true or false"),
        ({"correction": "bonferroni"}, "'correction' must be one of holm, bh, none"),
        ({"control": True}, "'control' was read as the boolean true"),
        ({"segments": "platform "}, None),  # a single column is accepted
        ({"segments": [1]}, r"'segments\[0\]' must be a column name"),
        ({"segmnets": ["platform"]}, "did you mean 'segments'"),
        (
            {"metrics": [{"name": "y", "type": "mean", "column": "y", "cap": "0.99"}]},
            r"'metrics\[0\].cap' must be a number",
        ),  # fmt: skip
        ({"metrics": []}, "'metrics' is empty"),
        (
            {
                "metrics": [{"name": "y", "type": "mean", "column": "y"}],
                "guardrails": [{"name": "y", "type": "mean", "column": "z", "margin": 0.1}],
            },
            "repeated: y",
        ),  # fmt: skip
    ],
)
def test_config_mistakes_name_the_key(patch, message):
    if message is None:
        parse_config(BASE | patch)
        return
    with pytest.raises(ConfigError, match=message):
        parse_config(BASE | patch)


def test_shares_within_rounding_of_one_are_accepted():
    cfg = parse_config(BASE | {"expected_split": {"control": 0.333, "a": 0.333, "b": 0.333}})
    assert sum(cfg.design.expected_split.values()) == pytest.approx(1.0)


def test_every_problem_is_reported_at_once():
    bad = BASE | {"srm_alpha": 2, "relative_margins": "no", "alphaa": 0.1}
    with pytest.raises(ConfigError) as info:
        parse_config(bad)
    msg = str(info.value)
    assert msg.startswith("The readout config has 3 problems")
    for key in ("'srm_alpha'", "'relative_margins'", "'alphaa' (did you mean 'alpha'?)"):
        assert key in msg


def test_keys_table_feeds_readout_options():
    from inspect import signature

    from causal.experiments import readout
    from causal.experiments._config import KEYS

    params = signature(readout).parameters
    for key in KEYS.values():
        assert key.option is None or key.option in params, key.name
    opts = parse_config(BASE).options
    assert opts == {"alpha": 0.05, "correction": "holm", "relative_margins": True,
                    "srm_alpha": 0.001, "heterogeneity": None, "margins": {},
                    "decrease_is_good": ()}  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 2}, "'alpha'"),
        ({"srm_alpha": 2}, "'srm_alpha'"),
        ({"relative_margins": "no"}, "'relative_margins'"),
        ({"correction": "bonferroni"}, "'correction'"),
        ({"decrease_is_good": "y"}, "'decrease_is_good'"),
    ],
)
def test_python_parameters_checked_before_the_data_is_read(monkeypatch, kwargs, message):
    from causal.experiments import DuckDBEngine, ExperimentDesign, PandasEngine, readout

    def never(*a, **k):
        raise AssertionError("the engine ran before the parameters were checked")

    monkeypatch.setattr(DuckDBEngine, "aggregate", never)
    monkeypatch.setattr(PandasEngine, "aggregate", never)
    design = ExperimentDesign("arm", "control", [Mean("y", "y")])
    with pytest.raises(ConfigError, match=message):
        readout("does-not-matter.parquet", design, **kwargs)
