"""Heterogeneity inside experiment readouts: known segment lifts recovered, A/A says none."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import causal
from causal.experiments import readout
from causal.experiments._config import parse_config
from causal.experiments._heterogeneity import heterogeneity_analysis

LIFTS = {"treatment": {"saves": 0.3}}


def _config(columns: list[str]) -> dict:
    return {
        "variant": "variant",
        "control": "control",
        "metrics": [{"name": "saves", "type": "mean", "column": "saves"}],
        "heterogeneity": columns,
    }


@pytest.fixture(scope="module")
def with_lift():
    df = causal.simulate_experiment(40_000, seed=1, lifts=LIFTS)
    cfg = parse_config(_config(["tenure", "platform"]))
    return df, readout(df, cfg.design, **cfg.options)


def test_readout_recovers_known_segment_lifts(with_lift):
    df, ro = with_lift
    (h,) = ro.heterogeneity
    truth = causal.experiment_truth(lifts=LIFTS)["segments"]
    gate = h.evaluation.gate
    for _, row in gate.iterrows():
        true_effect = truth[row["column"]][row["value"]]["saves"]["treatment"]["effect"]
        assert row["band_lower"] <= true_effect <= row["band_upper"], row["segment"]
    assert h.heterogeneous  # tenure lifts 2.0 / 1.0 / 0.5, platform 1.3 / 1.0 / 0.3
    assert h.assignment_probability == pytest.approx(0.5, abs=0.01)
    assert not h.subsampled and h.n_used == h.n_total == len(df)


def test_readout_json_and_page_have_the_section(with_lift, tmp_path):
    _, ro = with_lift
    d = ro.to_dict()
    (entry,) = d["heterogeneity"]
    assert {"calibration", "gate", "targeting", "n_used", "subsampled", "verdict"} <= set(entry)
    json.dumps(d)
    from causal.report._pages import write_readout_page

    path = write_readout_page(ro, tmp_path / "readout.html")
    text = path.read_text()
    assert "Effect heterogeneity" in text and "<svg" in text and "tenure=new" in text


def test_aa_test_reports_no_heterogeneity():
    df = causal.simulate_experiment(30_000, seed=2, effect_scale=0.0)
    cfg = parse_config(_config(["tenure", "country"]))
    (h,) = readout(df, cfg.design, **cfg.options).heterogeneity
    assert not h.heterogeneous and h.verdict.startswith("No heterogeneity")
    gate = h.evaluation.gate
    assert ((gate["band_lower"] <= 0) & (gate["band_upper"] >= 0)).all()


def test_targeting_pays_when_a_segment_is_harmed():
    rng = np.random.default_rng(3)
    n = 20_000
    seg = rng.choice(["a", "b", "c"], n)
    t = rng.integers(0, 2, n)
    effect = np.select([seg == "a", seg == "b"], [1.0, 0.5], -1.0)
    df = pd.DataFrame(
        {
            "variant": np.where(t == 1, "new", "old"),
            "seg": seg,
            "y": t * effect + rng.normal(size=n),
        }
    )
    design = causal.ExperimentDesign("variant", "old", [causal.Mean("y", "y")])
    (h,) = heterogeneity_analysis(df, design, ["seg"])
    tgt = h.targeting.set_index("policy")
    assert tgt.at["gain of targeting over shipping to all", "effect_ci_lower"] > 0
    assert tgt.at["ship to benefiting segments", "share_shipped"] == pytest.approx(2 / 3, abs=0.02)
    assert h.verdict.startswith("Heterogeneity worth targeting")


def test_stratified_subsample_is_recorded():
    df = causal.simulate_experiment(20_000, seed=4, lifts=LIFTS)
    design = parse_config(_config(["tenure"])).design
    (h,) = heterogeneity_analysis(df, design, ["tenure"], max_rows=5_000)
    assert h.subsampled and h.n_total == len(df) and abs(h.n_used - 5_000) <= 10
    assert any("Stratified subsample" in n for n in h.notes)
    assert h.to_dict()["max_rows"] > 0


def test_bad_input():
    df = causal.simulate_experiment(2_000, seed=5)
    design = parse_config(_config(["tenure"])).design
    with pytest.raises(causal.ConfigError, match="not in the data"):
        heterogeneity_analysis(df, design, ["nope"])
    with pytest.raises(causal.ConfigError, match="no columns"):
        heterogeneity_analysis(df, design, [])
    with pytest.raises(causal.ConfigError, match="heterogeneity"):
        parse_config({**_config(["tenure"]), "heterogeneity": 3})
