"""`causal simulate`: round trip to parquet/csv, truth sidecar, exit codes, atomic writes."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from causal.cli import main
from causal.data import experiment_truth, simulate_content, simulate_experiment

# JSON stores floats with repr precision: the sidecar equals the dict exactly up to rounding.
JSON_RTOL = 1e-12


def _run(args, capsys):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_simulate_content_parquet_round_trip(tmp_path, capsys):
    out = tmp_path / "c.parquet"
    code, stdout, _ = _run(
        ["simulate", "content", "--rows", 3000, "--seed", 4, "--out", out], capsys
    )
    assert code == 0 and "3,000 rows" in stdout
    back = pd.read_parquet(out)
    expected = simulate_content(n=3000, seed=4)
    pd.testing.assert_frame_equal(back, expected, check_exact=True)
    assert [p.name for p in tmp_path.iterdir()] == ["c.parquet"]  # no temp file left behind


def test_simulate_content_options_reach_the_simulator(tmp_path, capsys):
    out = tmp_path / "r.csv"
    code, _, _ = _run(
        ["simulate", "content", "--rows", 500, "--seed", 1, "--randomized", "--intensity",
         "--out", out],
        capsys,
    )  # fmt: skip
    assert code == 0
    back = pd.read_csv(out)
    assert back["true_propensity"].nunique() == 1
    assert "boost_intensity" in back.columns


def test_simulate_experiment_csv_and_truth_sidecar(tmp_path, capsys):
    out = tmp_path / "sub" / "e.csv"  # the parent directory is created
    code, _, _ = _run(
        ["simulate", "experiment", "--users", 2000, "--seed", 2, "--variants", "c,a,b",
         "--srm", 0.1, "--out", out],
        capsys,
    )  # fmt: skip
    assert code == 0
    back = pd.read_csv(out)
    expected = simulate_experiment(n_users=2000, seed=2, variants=["c", "a", "b"], srm=0.1)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    side = json.loads((out.parent / "e.csv.truth.json").read_text())
    truth = experiment_truth(["c", "a", "b"])
    got = side["true_lifts"]["metrics"]["saves"]["b"]["rel_effect"]
    assert got == pytest.approx(truth["metrics"]["saves"]["b"]["rel_effect"], rel=JSON_RTOL)
    assert side["simulation"]["srm"] == 0.1


@pytest.mark.parametrize(
    ("args", "status", "needle"),
    [
        (["simulate", "content", "--rows", 10, "--out", "x.txt"], 2, "must end in .parquet"),
        (["simulate", "content", "--rows", 10], 2, "Missing option '--out'"),
        (["simulate", "content", "--rows", "ten", "--out", "x.csv"], 2, "'--rows'"),
        (["simulate", "content", "--rows", 0, "--out", "x.csv"], 2, "'--rows'"),
        (["simulate", "experiment", "--variants", "a", "--out", "x.csv"], 2, "'variants'"),
        (["simulate", "nope"], 2, "No such command"),
    ],
)
def test_simulate_bad_input_exits_2_with_a_message(tmp_path, capsys, args, status, needle):
    args = [tmp_path / a if str(a).startswith("x.") else a for a in args]
    code, _, err = _run(args, capsys)
    assert code == status
    assert needle in err
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_causal_error_is_one_line(tmp_path, capsys):
    code, _, err = _run(["simulate", "content", "--out", tmp_path / "x.json"], capsys)
    assert code == 2
    assert err.startswith("error: ") and err.strip().count("\n") == 0


def test_help_exits_zero(capsys):
    code, stdout, _ = _run(["simulate", "content", "--help"], capsys)
    assert code == 0 and "--rows" in stdout


def test_out_is_a_directory(tmp_path, capsys):
    target = tmp_path / "d.parquet"
    target.mkdir()
    code, _, err = _run(["simulate", "content", "--rows", 10, "--out", target], capsys)
    assert code == 2 and "directory" in err
    assert [p.name for p in tmp_path.iterdir()] == ["d.parquet"]


def test_done_criterion_subprocess(tmp_path):
    # The acceptance command, through the real entry point.
    out = tmp_path / "x.parquet"
    proc = subprocess.run(
        [sys.executable, "-m", "causal.cli", "simulate", "content", "--rows", "100000",
         "--seed", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    back = pd.read_parquet(out)
    assert len(back) == 100_000
    assert {"pin_id", "creator_id", "boosted", "saves", "true_propensity",
            "true_cate_saves", "true_cate_revenue"} <= set(back.columns)  # fmt: skip
