"""The command line as people type it: one paragraph and exit 2 for bad input, never a
traceback (unless ``--debug``, before or after the command); outputs written as a set."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

import causal
from causal.cli import describe_error, main

CONFIG = "variant: arm\ncontrol: c\nmetrics:\n  - {name: y, type: mean, column: y}\n"


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"arm": np.repeat(["c", "t"], 50), "y": rng.normal(size=100)})
    good = tmp_path / "good.parquet"
    df.to_parquet(good)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    return tmp_path, good, cfg


def _run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _assert_one_paragraph(err: str, *needles: str) -> None:
    assert err.startswith("error: "), err
    assert "Traceback" not in err and "LINE 1" not in err and "SELECT" not in err, err
    assert err.strip().count("\n") == 0, f"more than one paragraph:\n{err}"
    for n in needles:
        assert n in err, (n, err)


def _bad_data(tmp_path, kind: str) -> str:
    if kind == "corrupt_parquet":
        p = tmp_path / "bad.parquet"
        p.write_bytes(b"PAR1 this is not really parquet")
    elif kind == "truncated_parquet":
        p = tmp_path / "trunc.parquet"
        pd.DataFrame({"arm": ["c", "t"] * 100, "y": 1.0}).to_parquet(p)
        p.write_bytes(p.read_bytes()[:-40])
    elif kind == "empty_parquet":
        p = tmp_path / "empty.parquet"
        p.write_bytes(b"")
    elif kind == "empty_csv":
        p = tmp_path / "empty.csv"
        p.write_text("")
    elif kind == "directory":
        p = tmp_path / "folder"
        p.mkdir()
        pd.DataFrame({"arm": ["c", "t"], "y": 1.0}).to_parquet(p / "a.parquet")
    elif kind == "glob_differing_parquet":
        d = tmp_path / "parts"
        d.mkdir()
        pd.DataFrame({"arm": ["c", "t"] * 5, "y": 1.0}).to_parquet(d / "a.parquet")
        pd.DataFrame({"arm": ["c", "t"] * 5, "z": 1.0}).to_parquet(d / "b.parquet")
        return str(d / "*.parquet")
    elif kind == "glob_differing_csv":
        d = tmp_path / "csvs"
        d.mkdir()
        (d / "a.csv").write_text("arm,y\nc,1\nt,2\n")
        (d / "b.csv").write_text("arm,y,extra\nc,1,0\nt,2,0\n")
        return str(d / "*.csv")
    elif kind == "glob_nothing":
        return str(tmp_path / "none*.parquet")
    elif kind == "missing_file":
        return str(tmp_path / "missing.parquet")
    else:  # pragma: no cover
        raise AssertionError(kind)
    return str(p)


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("corrupt_parquet", "not a readable Parquet file"),
        ("truncated_parquet", "not a readable Parquet file"),
        ("empty_parquet", "is empty"),
        ("empty_csv", "is empty"),
        ("directory", "is a folder"),
        ("glob_differing_parquet", "have different columns"),
        ("glob_differing_csv", "have different columns"),
        ("glob_nothing", "matches no files"),
        ("missing_file", "does not exist"),
    ],
)
def test_bad_data_exits_2_with_one_paragraph(files, capsys, kind, needle):
    tmp_path, _, cfg = files
    data = _bad_data(tmp_path, kind)
    out = tmp_path / "out"
    code, _, err = _run(capsys, "readout", data, "--config", str(cfg), "--out", str(out))
    assert code == 2
    _assert_one_paragraph(err, needle)
    assert not out.exists()  # no output folder, no temp folder left behind


def test_glob_of_same_columns_reads_all_files(files, capsys):
    tmp_path, _, cfg = files
    d = tmp_path / "parts"
    d.mkdir()
    for i in range(2):
        pd.DataFrame({"arm": ["c", "t"] * 10, "y": np.arange(20.0) + i}).to_parquet(
            d / f"p{i}.parquet"
        )
    code, _, err = _run(capsys, "readout", str(d / "*.parquet"), "-c", str(cfg), "-o",
                        str(tmp_path / "o"), "-q")  # fmt: skip
    assert code == 0, err
    doc = json.loads((tmp_path / "o" / "readout.json").read_text())
    assert doc["srm"]["observed"] == {"c": 20, "t": 20}


@pytest.mark.parametrize("kind", ["parquet", "csv", "text", "folder", "missing"])
def test_database_that_is_not_a_duckdb_file(files, capsys, kind):
    tmp_path, good, cfg = files
    db = {
        "parquet": good,
        "csv": tmp_path / "x.csv",
        "text": tmp_path / "x.db",
        "folder": tmp_path,
        "missing": tmp_path / "nope.duckdb",
    }[kind]
    if kind in ("csv", "text"):
        db.write_text("arm,y\nc,1\n")
    code, _, err = _run(capsys, "readout", "experiment", "-c", str(cfg), "-o",
                        str(tmp_path / "o"), "--database", str(db))  # fmt: skip
    assert code == 2
    _assert_one_paragraph(err, str(db))


def test_database_with_missing_table_names_it(files, capsys):
    tmp_path, _, cfg = files
    db = tmp_path / "e.duckdb"
    duckdb.connect(str(db)).close()
    code, _, err = _run(capsys, "readout", "nosuchtable", "-c", str(cfg), "-o",
                        str(tmp_path / "o"), "--database", str(db))  # fmt: skip
    assert code == 2
    _assert_one_paragraph(err, "nosuchtable")


def test_out_naming_an_existing_file(files, capsys):
    tmp_path, good, cfg = files
    out = tmp_path / "taken.txt"
    out.write_text("keep me")
    code, _, err = _run(capsys, "readout", str(good), "-c", str(cfg), "-o", str(out))
    assert code == 2
    _assert_one_paragraph(err, "existing file")
    assert out.read_text() == "keep me"


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_before_or_after_the_command(files, where):
    tmp_path, _, cfg = files
    args = ["readout", str(tmp_path / "missing.parquet"), "-c", str(cfg), "-o",
            str(tmp_path / "o")]  # fmt: skip
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    with pytest.raises(causal.ConfigError, match="does not exist"):
        main(args)


def test_library_errors_become_one_paragraph_exit_2():
    con = duckdb.connect()
    with pytest.raises(duckdb.Error) as info:
        con.execute("SELECT * FROM read_parquet('/nonexistent/x.parquet')")
    message, code = describe_error(info.value)
    assert code == 2 and message.startswith("error: could not read the data")
    assert "\n" not in message and "LINE 1" not in message
    message, code = describe_error(PermissionError(13, "Permission denied", "/root/x"))
    assert code == 2 and "'/root/x'" in message


def test_unexpected_errors_say_bug_and_exit_1(files, capsys, monkeypatch):
    tmp_path, good, cfg = files
    import causal.experiments as ex

    def boom(*a, **k):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(ex, "readout", boom)
    code, _, err = _run(capsys, "readout", str(good), "-c", str(cfg), "-o", str(tmp_path / "o"))
    assert code == 1
    _assert_one_paragraph(err, "ZeroDivisionError", "--debug")


def test_failed_html_leaves_the_previous_set_and_no_partial_output(files, capsys, monkeypatch):
    tmp_path, good, cfg = files
    out = tmp_path / "o"
    assert _run(capsys, "readout", str(good), "-c", str(cfg), "-o", str(out), "-q")[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["readout.html", "readout.json"]
    # a rerun on other data whose page fails: neither file changes, no temp folder remains
    other = tmp_path / "other.parquet"
    pd.DataFrame({"arm": ["c", "t"] * 30, "y": np.arange(60.0)}).to_parquet(other)
    import causal.report as report

    def fail(*a, **k):
        raise OSError(28, "No space left on device", str(out / "readout.html"))

    monkeypatch.setattr(report, "write_readout_page", fail)
    code, _, err = _run(capsys, "readout", str(other), "-c", str(cfg), "-o", str(out))
    assert code == 2
    _assert_one_paragraph(err, "No space left on device")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    ("flag", "printed"),
    [
        ([], True),
        (["--quiet"], False),
        (["-q"], False),
        (["--quiet=true"], False),
        (["--quiet", "true"], False),
        (["--quiet=False"], True),
        (["--quiet", "false"], True),
        (["--quiet", "no"], True),
    ],
)
def test_boolean_flags_accept_true_and_false(files, capsys, flag, printed):
    tmp_path, good, cfg = files
    code, out, err = _run(capsys, "readout", str(good), "-c", str(cfg), "-o",
                          str(tmp_path / "o"), *flag)  # fmt: skip
    assert code == 0, err
    assert ("Decision" in out) is printed


def test_boolean_flag_with_a_bad_value(files, capsys):
    tmp_path, good, cfg = files
    code, _, err = _run(capsys, "readout", str(good), "-c", str(cfg), "-o",
                        str(tmp_path / "o"), "--quiet=maybe")  # fmt: skip
    assert code == 2 and "true or false" in err and "Traceback" not in err


def test_simulate_boolean_flags_take_values(tmp_path, capsys):
    out = tmp_path / "c.parquet"
    code, _, err = _run(capsys, "simulate", "content", "--rows", "300", "--out", str(out),
                        "--randomized=true", "--intensity", "false")  # fmt: skip
    assert code == 0, err
    df = pd.read_parquet(out)
    assert "boost_intensity" not in df.columns


def test_engine_is_a_choice_list(files, capsys):
    tmp_path, good, cfg = files
    code, _, err = _run(capsys, "readout", str(good), "-c", str(cfg), "-o", str(tmp_path / "o"),
                        "--engine", "spark")  # fmt: skip
    assert code == 2 and "duckdb" in err and "pandas" in err and "Traceback" not in err
    assert "<duckdb|pandas>" in _run(capsys, "readout", "--help")[1]


def test_version(capsys):
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.strip() == f"causal {causal.__version__}"


def test_readout_help_describes_the_config(capsys):
    code, out, _ = _run(capsys, "readout", "--help")
    assert code == 0
    text = " ".join(out.split())
    for key in ("variant", "control", "metrics", "mean|proportion|ratio", "guardrails",
                "expected_split", "alpha", "correction", "srm_alpha", "segments", "cluster",
                "[numerator_pre, denominator_pre]"):  # fmt: skip
        assert key in text, key
    quiet = next(line for line in out.splitlines() if "--quiet" in line)
    assert "[=true|false]" in quiet and "<bool>" not in out


def test_simulate_experiment_writes_table_and_truth_together(tmp_path, capsys):
    out = tmp_path / "new" / "e.csv"
    code, _, err = _run(capsys, "simulate", "experiment", "--users", "500", "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.parent.iterdir()) == ["e.csv", "e.csv.truth.json"]


def test_config_is_validated_before_the_data(files, capsys):
    tmp_path, _, _ = files
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(CONFIG + "srm_alpha: 2\nexpected_split: {c: 0.5, t: 0.6}\n")
    data = _bad_data(tmp_path, "corrupt_parquet")
    code, _, err = _run(capsys, "readout", data, "-c", str(cfg), "-o", str(tmp_path / "o"))
    assert code == 2
    _assert_one_paragraph(err, "'srm_alpha'", "shares sum to 1.1")
    assert "Parquet" not in err


def test_remote_paths_are_left_to_the_engine():
    from causal.cli._inputs import check_data_path

    check_data_path("s3://bucket/experiment/*.parquet")  # no local checks on remote paths


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_corrupt_csv_exits_2_without_engine_advice(files, capsys, engine):
    tmp_path, _, cfg = files
    bad = tmp_path / "binary.csv"
    bad.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8)))
    code, _, err = _run(capsys, "readout", str(bad), "-c", str(cfg), "-o", str(tmp_path / "o"),
                        "--engine", engine)  # fmt: skip
    assert code == 2
    _assert_one_paragraph(err)
    assert "Possible fixes" not in err and "search space" not in err
