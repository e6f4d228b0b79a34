"""`causal whatworks` with a multi-valued boost (config key `control`) and a weight."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from causal.cli import main
from tests.workflows.test_whatworks_levels import simulate_tiers

CONFIG = {
    "unit": "id",
    "treatment": "tier",
    "control": "none",
    "outcomes": ["y"],
    "modifiers": ["x"],
    "confounders": ["w"],
    "segments": ["seg"],
    "estimator": "LinearDML",
    "seed": 1,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiers") / "tiers.parquet"
    df = simulate_tiers(n=1_500, seed=2)
    df["wt"] = 1.0 + (df["seg"] == "hi")
    df.to_parquet(path)
    return path


def _config(tmp_path, **changes):
    cfg = {k: v for k, v in {**CONFIG, **changes}.items() if v is not None}
    path = tmp_path / "ww.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_levels_through_the_cli(data, tmp_path):
    out = tmp_path / "out"
    main(["whatworks", str(data), "--config", str(_config(tmp_path, weight="wt")), "--out",
          str(out), "-q"])  # fmt: skip
    s = json.loads((out / "summary.json").read_text())
    assert s["control"] == "none" and s["levels"] == ["large", "small"]
    assert [c["contrast"] for c in s["outcomes"]["y"]["contrasts"]] == [
        "large vs none",
        "small vs none",
    ]
    assert s["methods"]["weighted"] is True
    e = pd.read_parquet(out / "effects.parquet")
    assert list(e.columns) == [
        "id",
        "cate_y[large]",
        "cate_y[large]_ci_lower",
        "cate_y[large]_ci_upper",
        "cate_y[small]",
        "cate_y[small]_ci_lower",
        "cate_y[small]_ci_upper",
        "best_level_y",
    ]
    assert set(e["best_level_y"]) <= {"none", "small", "large"}
    assert "y: small vs none" in (out / "report.html").read_text()


BAD = [
    ({"control": ["none"]}, "'control' must be one level of the treatment column"),
    ({"control": "nothing"}, "The control level 'nothing' is not a value of the treatment"),
    ({"control": None}, "say which is the control with control=<level>"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_control_exits_2(data, tmp_path, change, message):
    df = pd.read_parquet(data)
    path = tmp_path / "t.parquet"
    df.assign(tier=df["tier"].replace({"none": "off"}) if change == {"control": None} else
              df["tier"]).to_parquet(path)  # fmt: skip
    out = tmp_path / "out"
    res = subprocess.run(
        [sys.executable, "-m", "causal.cli", "whatworks", str(path), "--config",
         str(_config(tmp_path, **change)), "--out", str(out), "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()
