"""`causal demo`: every promised file, in the DESIGN.md shapes, from a small run."""

import json

import pandas as pd

from causal.cli import main


def test_demo_writes_reports(tmp_path):
    out = tmp_path / "demo"
    main(["demo", "--out", str(out), "--users", "4000", "--rows", "2000", "--quiet"])
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == [
        "content.parquet",
        "experiment.parquet",
        "readout.yaml",
        "readout/readout.html",
        "readout/readout.json",
        "whatworks/effects.html",
        "whatworks/effects.parquet",
        "whatworks/estimates.json",
    ]
    ro = json.loads((out / "readout" / "readout.json").read_text())
    assert {"srm", "metrics", "segments", "decision"} <= set(ro)
    assert {m["metric"] for m in ro["metrics"]} >= {"saves", "ctr", "conversion", "revenue"}
    effects = pd.read_parquet(out / "whatworks" / "effects.parquet")
    assert len(effects) == 2000 and effects.columns[0] == "pin_id"
    assert "cate_saves_ci_upper" in effects.columns
    est = json.loads((out / "whatworks" / "estimates.json").read_text())
    assert est["outcomes"]["saves"]["true_ate"] is not None
    # the readout config the demo used is rerunnable with `causal readout`
    main(
        [
            "readout",
            str(out / "experiment.parquet"),
            "--config",
            str(out / "readout.yaml"),
            "--out",
            str(tmp_path / "again"),
            "--quiet",
        ]
    )
    again = json.loads((tmp_path / "again" / "readout.json").read_text())
    assert again["metrics"] == ro["metrics"]
