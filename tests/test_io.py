"""Atomic writes and strict JSON."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causal import ConfigError
from causal._io import atomic_write, json_safe, write_json_atomic, write_table


def test_json_safe_makes_strict_json(tmp_path):
    obj = {
        "a": float("nan"),
        "b": np.float64(np.inf),
        "c": np.int32(4),
        "d": (np.bool_(True),),
        "e": np.array([1.0, np.nan]),
    }
    path = write_json_atomic(obj, tmp_path / "x.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": None, "c": 4, "d": [True], "e": [1.0, None]}
    assert json_safe(1.5) == 1.5 and not isinstance(json_safe(np.float32(2)), np.floating)


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")

    def boom(tmp):
        Path(tmp).write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]


@pytest.mark.parametrize("name", ["t.parquet", "t.csv"])
def test_write_table_round_trip(tmp_path, name):
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, math.pi, -1.0]})
    path = write_table(df, tmp_path / name)
    back = pd.read_parquet(path) if name.endswith("parquet") else pd.read_csv(path)
    pd.testing.assert_frame_equal(back, df)


def test_write_table_bad_path(tmp_path):
    with pytest.raises(ConfigError, match=r"\.parquet or \.csv"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "d.csv")


def test_output_set_moves_files_together_and_replaces_the_old_set(tmp_path):
    from causal._io import output_set

    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").write_text("old a")
    (out / "unrelated.txt").write_text("mine")
    with output_set(out) as tmp:
        assert tmp.parent == out and tmp.name.startswith(".causal-tmp-")
        (tmp / "a.json").write_text("new a")
        assert (out / "a.json").read_text() == "old a"  # nothing moves before the block ends
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.html").write_text("new b")
    assert (out / "a.json").read_text() == "new a"
    assert (out / "sub" / "b.html").read_text() == "new b"
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "sub", "unrelated.txt"]


def test_output_set_failure_changes_nothing(tmp_path):
    from causal._io import output_set

    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").write_text("old a")
    with pytest.raises(RuntimeError), output_set(out) as tmp:
        (tmp / "a.json").write_text("new a")
        raise RuntimeError("the page failed")
    assert [p.name for p in out.iterdir()] == ["a.json"]
    assert (out / "a.json").read_text() == "old a"
    fresh = tmp_path / "deep" / "fresh"
    with pytest.raises(RuntimeError), output_set(fresh) as tmp:
        (tmp / "x").write_text("x")
        raise RuntimeError("boom")
    assert not fresh.exists()  # a folder this call created is removed again


def test_output_set_refuses_a_file(tmp_path):
    from causal._io import output_set

    f = tmp_path / "f.txt"
    f.write_text("keep")
    with pytest.raises(ConfigError, match="existing file"), output_set(f):
        pass
    assert f.read_text() == "keep"
