"""`causal demo`: every promised file, in the DESIGN.md shapes, from a small run."""

import json

import pandas as pd

from causal.cli import main


def test_demo_writes_reports(tmp_path, capsys):
    out = tmp_path / "demo"
    main(["demo", "--out", str(out), "--users", "4000", "--rows", "1500", "--quiet"])
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == [
        "data/content.parquet",
        "data/experiment.parquet",
        "data/readout.yaml",
        "data/whatworks.yaml",
        "effects.parquet",
        "readout.html",
        "readout.json",
        "report.html",
        "summary.json",
    ]
    # the five report files' paths are printed, one a line
    printed = capsys.readouterr().out.split()
    assert sorted(printed) == sorted(
        str(out / n)
        for n in ("report.html", "summary.json", "effects.parquet", "readout.html", "readout.json")
    )
    ro = json.loads((out / "readout.json").read_text())
    assert {"srm", "metrics", "segments", "decision"} <= set(ro)
    assert {m["metric"] for m in ro["metrics"]} >= {"saves", "ctr", "conversion", "revenue"}
    effects = pd.read_parquet(out / "effects.parquet")
    assert len(effects) == 1500 and effects.columns[0] == "pin_id"
    assert "cate_saves_ci_upper" in effects.columns
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["outcomes"]) == {"saves", "outbound_clicks", "hides", "revenue"}
    assert summary["outcomes"]["saves"]["truth"]["effect"] is not None
    # both configs the demo used rerun with the CLI
    main(
        [
            "readout",
            str(out / "data" / "experiment.parquet"),
            "--config",
            str(out / "data" / "readout.yaml"),
            "--out",
            str(tmp_path / "again"),
            "--quiet",
        ]
    )
    again = json.loads((tmp_path / "again" / "readout.json").read_text())
    assert again["metrics"] == ro["metrics"]
