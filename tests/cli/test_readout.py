"""``causal readout DATA --config CONFIG.yaml --out DIR``: the file contract of DESIGN.md."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from causal.cli import main
from causal.experiments import ExperimentDesign, Mean, Proportion, Ratio, readout

EXACT = 1e-9  # the CLI calls the same readout; JSON keeps float64 round-trip precision

CONFIG = """
variant: arm
control: control
metrics:
  - {name: revenue, type: mean, column: revenue, covariate: revenue_pre}
  - {name: ctr, type: ratio, numerator: clicks, denominator: views}
  - {name: conversion, type: proportion, column: converted}
guardrails:
  - {name: hides, type: mean, column: hides, margin: 0.5, direction: decrease}
segments: [platform]
expected_split: {control: 0.5, treatment: 0.5}
alpha: 0.05
correction: holm
"""


def _strict(text: str):
    def bad(token: str):
        raise AssertionError(f"non-JSON token {token} in readout.json")

    return json.loads(text, parse_constant=bad)


@pytest.fixture(scope="module")
def exp_csv(tmp_path_factory) -> tuple:
    rng = np.random.default_rng(0)
    n = 3000
    arm = rng.choice(["control", "treatment"], n)
    t = arm == "treatment"
    df = pd.DataFrame(
        {
            "arm": arm,
            "revenue": rng.gamma(2, 1, n) + 0.2 * t,
            "revenue_pre": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2, 1, n)),
            "clicks": rng.poisson(3, n),
            "views": rng.poisson(30, n) + 1,
            "converted": (rng.random(n) < 0.1).astype(int),
            "hides": rng.poisson(0.2, n),
            "platform": rng.choice(["ios", "web"], n),
        }
    )
    d = tmp_path_factory.mktemp("exp")
    path = d / "exp.csv"
    df.to_csv(path, index=False)
    cfg = d / "readout.yaml"
    cfg.write_text(CONFIG)
    return df, path, cfg


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_readout_json_contract(exp_csv, tmp_path, engine, capsys):
    df, path, cfg = exp_csv
    out = tmp_path / "out"
    main(["readout", str(path), "--config", str(cfg), "--out", str(out), "--engine", engine])
    assert "Decision" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["readout.html", "readout.json"]  # no temps
    doc = _strict((out / "readout.json").read_text())
    assert set(doc) >= {"srm", "metrics", "segments", "decision"}
    assert set(doc["srm"]) >= {"pvalue", "observed", "expected_share", "ok"}
    assert doc["srm"]["expected_share"] == {"control": 0.5, "treatment": 0.5}
    keys = [
        "metric", "variant", "control_mean", "treatment_mean", "effect", "effect_ci_lower",
        "effect_ci_upper", "rel_effect", "rel_effect_ci_lower", "rel_effect_ci_upper", "se",
        "pvalue", "pvalue_adjusted", "variance_reduction",
    ]  # fmt: skip
    assert [list(m)[: len(keys)] for m in doc["metrics"]] == [keys] * 4
    assert [m["metric"] for m in doc["metrics"]] == ["revenue", "ctr", "conversion", "hides"]
    assert len(doc["segments"]) == 2 * 4
    assert doc["decision"]["decision"] in ("ship", "no_ship", "untrustworthy")
    # same numbers as the Python API
    design = ExperimentDesign(
        "arm", "control",
        [Mean("revenue", "revenue", covariate="revenue_pre"), Ratio("ctr", "clicks", "views"),
         Proportion("conversion", "converted")],
        guardrails=[Mean("hides", "hides")], segments=["platform"],
        expected_split={"control": 0.5, "treatment": 0.5},
    )  # fmt: skip
    ro = readout(df, design, margins={"hides": 0.5}, decrease_is_good=["hides"])
    for got, want in zip(doc["metrics"], ro.metrics, strict=True):
        np.testing.assert_allclose(
            [got["effect"], got["se"], got["pvalue_adjusted"]],
            [want.effect, want.se, want.pvalue_adjusted],
            rtol=EXACT,
        )
    assert doc["decision"]["guardrails"][0]["direction"] == "decrease"


def test_undefined_numbers_are_null(tmp_path):
    df = pd.DataFrame({"arm": ["c", "t"] * 20, "clicks": 1, "views": 0})
    path = tmp_path / "x.parquet"
    df.to_parquet(path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "variant: arm\ncontrol: c\nmetrics:\n"
        "  - {name: ctr, type: ratio, numerator: clicks, denominator: views}\n"
    )
    main(["readout", str(path), "--config", str(cfg), "--out", str(tmp_path / "o"), "-q"])
    doc = _strict((tmp_path / "o" / "readout.json").read_text())
    assert doc["metrics"][0]["effect"] is None
    assert "sums to 0" in doc["metrics"][0]["notes"][0]


def test_table_in_duckdb_database(exp_csv, tmp_path):
    df, _, cfg = exp_csv
    db = tmp_path / "exp.duckdb"
    con = duckdb.connect(str(db))
    con.register("frame", df)
    con.execute("CREATE TABLE experiment AS SELECT * FROM frame")
    con.close()
    out = tmp_path / "out"
    main(["readout", "experiment", "--config", str(cfg), "--out", str(out), "--database",
          str(db), "-q"])  # fmt: skip
    assert _strict((out / "readout.json").read_text())["srm"]["observed"]["control"] > 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("variant: arm\ncontrol: control\nmetrics: []\nbogus: 1\n", "Unknown config key"),
        (
            "variant: arm\ncontrol: nope\nmetrics:\n  - {name: r, type: mean, column: revenue}\n",
            "'nope' does not occur",
        ),
        (
            "variant: arm\ncontrol: control\nmetrics:\n  - {name: r, type: mean, column: revnue}\n",
            "Did you mean 'revenue'",
        ),
        (
            "variant: arm\ncontrol: control\nmetrics:\n  - {name: r, type: median, column: x}\n",
            "'metrics[0].type' ('r') must be one of mean, proportion, ratio",
        ),
        (
            "variant: arm\ncontrol: control\nmetrics:\n  - {name: r, type: mean, column: revenue}\n"
            "guardrails:\n  - {name: h, type: mean, column: hides}\n",
            "positive 'margin'",
        ),
    ],
)
def test_bad_input_exits_2_with_one_paragraph(exp_csv, tmp_path, capsys, config, message):
    _, path, _ = exp_csv
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(config)
    with pytest.raises(SystemExit) as exc:
        main(["readout", str(path), "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "o" / "readout.json").exists()


def test_sequential_config_end_to_end(exp_csv, tmp_path):
    _, path, cfg = exp_csv
    seq = tmp_path / "seq.yaml"
    seq.write_text(cfg.read_text() + "sequential: {method: always_valid, planned_units: 6000}\n")
    out = tmp_path / "out"
    main(["readout", str(path), "--config", str(seq), "--out", str(out), "-q"])
    doc = _strict((out / "readout.json").read_text())
    assert doc["sequential"]["information_fraction"] == pytest.approx(0.5)
    assert doc["decision"]["basis"] == "always_valid"
    assert all("pvalue" in m["sequential"] for m in doc["metrics"])
    assert "always-valid" in (out / "readout.html").read_text()
