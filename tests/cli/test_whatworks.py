"""`causal whatworks` end to end on small data, and bad configs (one paragraph, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

import causal
from causal.cli import main

CONFIG = {
    "unit": "pin_id",
    "treatment": "boosted",
    "outcomes": ["saves"],
    "modifiers": ["quality_score", "format"],
    "confounders": ["creator_followers", "prior_impressions", "age_days"],
    "estimator": "LinearDML",
    "seed": 1,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("ww") / "content.parquet"
    causal.simulate_content(n=1_200, seed=5).to_parquet(path)
    return path


def _config(tmp_path, **changes):
    cfg = {**CONFIG, **changes}
    cfg = {k: v for k, v in cfg.items() if v is not None}
    path = tmp_path / "ww.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_whatworks_writes_the_three_files(data, tmp_path):
    out = tmp_path / "new" / "dir"  # created if needed
    main(["whatworks", str(data), "--config", str(_config(tmp_path)), "--out", str(out), "-q"])
    assert sorted(p.name for p in out.iterdir()) == [
        "effects.parquet",
        "report.html",
        "summary.json",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 1_200 and summary["outcomes"]["saves"]["estimator"] == "LinearDML"
    effects = pd.read_parquet(out / "effects.parquet")
    assert list(effects.columns) == [
        "pin_id",
        "cate_saves",
        "cate_saves_ci_lower",
        "cate_saves_ci_upper",
    ]
    assert "<h2>Key findings</h2>" in (out / "report.html").read_text()


BAD = [
    ({"modifers": ["format"]}, "Unknown config key 'modifers'. Did you mean 'modifiers'?"),
    ({"seed": "one"}, "'seed' must be a whole number"),
    ({"outcomes": {"a": 1}}, "'outcomes' must be a list of column names"),
    ({"guardrails": ["hides"]}, "'guardrails' must map outcomes to margins"),
    ({"treatment": "boostd"}, "treatment column 'boostd' is not in the data. Did you mean"),
    ({"outcomes": ["category"]}, "outcome column 'category' must be numeric"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_config_exits_2_with_one_paragraph(data, tmp_path, change, message):
    out = tmp_path / "out"
    cfg = _config(tmp_path, **change)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "causal.cli",
            "whatworks",
            str(data),
            "--config",
            str(cfg),
            "--out",
            str(out),
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()  # no partial output


def test_constant_treatment_exits_2(tmp_path):
    df = causal.simulate_content(n=300, seed=1).assign(boosted=0)
    path = tmp_path / "c.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["whatworks", str(path), "--config", str(_config(tmp_path)), "--out", str(out)])
    assert exc.value.code == 2
    assert not out.exists()


def test_graph_file_must_exist(data, tmp_path):
    cfg = _config(tmp_path, graph="missing.dot")
    with pytest.raises(SystemExit) as exc:
        main(["whatworks", str(data), "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
