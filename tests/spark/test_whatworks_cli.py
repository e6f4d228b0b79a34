"""`causal whatworks DATA --engine spark`: the same files and numbers as DuckDB; clear errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

import causal
from causal.cli import main

#: summary.json numbers of the Spark and DuckDB engines on the same rows (same fit, same order).
ENGINE_RTOL = 1e-9

CONFIG = {
    "unit": "pin_id",
    "treatment": "boosted",
    "outcomes": ["saves"],
    "modifiers": ["quality_score", "creator_followers", "format"],
    "confounders": ["prior_impressions", "age_days"],
    "segments": ["format"],
    "estimator": "LinearDML",
    "seed": 1,
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wwspark")
    path = tmp / "content.parquet"
    # rows in unit order: the Spark engine orders by unit, so both engines fit the same rows
    causal.simulate_content(n=1_000, seed=5).to_parquet(path)
    cfg = tmp / "ww.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    return tmp, path, cfg


def _run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _numbers(doc: dict) -> list[float]:
    o = doc["outcomes"]["saves"]
    vals = [o["ate"][k] for k in ("effect", "effect_ci_lower", "effect_ci_upper", "se", "pvalue")]
    for s in o["segments"]:
        vals += [s["n"], s["effect"], s["effect_ci_lower"], s["effect_ci_upper"]]
    return vals


def test_spark_table_and_file_equal_duckdb(spark, files, capsys):
    tmp, path, cfg = files
    # the table in shuffled row order: the engine orders by unit, not by the table's order
    shuffled = pd.read_parquet(path).sample(frac=1.0, random_state=0)
    spark.createDataFrame(shuffled).repartition(3).createOrReplaceTempView("ww_cli_table")
    runs = {}
    for name, data, engine in (
        ("duckdb", str(path), "duckdb"),
        ("table", "ww_cli_table", "spark"),
        ("file", str(path), "spark"),
    ):
        out = tmp / f"out_{name}"
        code, _, err = _run(capsys, "whatworks", data, "-c", str(cfg), "-o", str(out),
                            "--engine", engine, "-q")  # fmt: skip
        assert code == 0, err
        runs[name] = (json.loads((out / "summary.json").read_text()),
                      pd.read_parquet(out / "effects.parquet"), (out / "report.html").read_text())  # fmt: skip
    want, want_fx, _ = runs["duckdb"]
    assert want["methods"]["engine"] == "duckdb"
    assert len(want["outcomes"]["saves"]["segments"]) == 3
    for name in ("table", "file"):
        got, fx, html = runs[name]
        assert got["n"] == want["n"] == 1_000
        assert got["design"] == want["design"]
        assert got["methods"]["engine"] == "spark" and got["methods"]["max_rows"] == 1_000_000
        assert "(read with Spark)" in got["methods"]["source"]
        np.testing.assert_allclose(_numbers(got), _numbers(want), rtol=ENGINE_RTOL, atol=1e-12)
        assert list(fx.columns) == list(want_fx.columns)
        assert fx["pin_id"].is_monotonic_increasing  # ordered by unit
        pd.testing.assert_frame_equal(fx, want_fx, rtol=ENGINE_RTOL, check_dtype=False)
        assert "read with Spark" in html


def test_above_max_rows_fits_a_stratified_sample_and_scores_every_row(spark, files, capsys):
    from causal.spark import stratified_sample
    from causal.workflows import parse_whatworks_config
    from causal.workflows._whatworks import _frames

    tmp, path, _ = files
    raw = {**CONFIG, "outcomes": ["saves", "hides"], "max_rows": 400}
    cfg = tmp / "sample.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    out = tmp / "out_sample"
    code, _, err = _run(capsys, "whatworks", str(path), "-c", str(cfg), "-o", str(out),
                        "--engine", "spark", "-q")  # fmt: skip
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    rec = summary["methods"]["sample"]
    assert summary["n"] == rec["n_sample"] == 400 and rec["n_rows"] == 1_000
    assert rec["sampled"] is True and rec["seed"] == 1 and rec["max_rows"] == 400
    assert rec["strata_columns"] == ["boosted", "format"] and len(rec["strata"]) == 6
    assert sum(s["n_sample"] for s in rec["strata"]) == 400
    assert "stratified random sample of 400 of 1,000 rows" in (out / "report.html").read_text()
    fx = pd.read_parquet(out / "effects.parquet")
    assert list(fx.columns) == ["pin_id"] + [
        f"cate_{o}{s}" for o in ("saves", "hides") for s in ("", "_ci_lower", "_ci_upper")
    ]
    assert fx["pin_id"].tolist() == list(range(1_000))  # every row, ordered by unit
    # reference: the same sample and fit in process, its model applied to every row in pandas
    parsed = parse_whatworks_config(raw)
    sample, _ = stratified_sample(str(path), strata=["boosted", "format"], row_id="pin_id",
                                  max_rows=400, seed=1, spark=spark)  # fmt: skip
    sample = sample.sort_values("pin_id", kind="stable").reset_index(drop=True)
    ref = causal.what_works(sample, parsed.design, progress=False, **parsed.options)
    for o in ("saves", "hides"):
        got = summary["outcomes"][o]["ate"]
        want = ref[o]
        np.testing.assert_allclose([got["effect"], got["se"]], [want.effect, want.se],
                                   rtol=ENGINE_RTOL)  # fmt: skip
    X, _ = _frames(pd.read_parquet(path), parsed.design)
    eff = np.asarray(ref.model.effect(X), dtype=float)
    lo, hi = (np.asarray(b, dtype=float) for b in ref.model.effect_interval(X, alpha=0.05))
    for j, o in enumerate(("saves", "hides")):
        np.testing.assert_allclose(fx[f"cate_{o}"], eff[:, j], rtol=ENGINE_RTOL, atol=1e-12)
        np.testing.assert_allclose(fx[f"cate_{o}_ci_lower"], lo[:, j], rtol=ENGINE_RTOL,
                                   atol=1e-12)  # fmt: skip
        np.testing.assert_allclose(fx[f"cate_{o}_ci_upper"], hi[:, j], rtol=ENGINE_RTOL,
                                   atol=1e-12)  # fmt: skip
    # the sampled rows' effects are those what_works reported on the sample
    on_sample = fx.set_index("pin_id").loc[ref.effects["pin_id"], "cate_saves"].to_numpy()
    np.testing.assert_allclose(on_sample, ref.effects["cate_saves"], rtol=ENGINE_RTOL)


def test_above_max_rows_without_modifiers_is_a_clear_error(spark, files, capsys):
    tmp, path, _ = files
    cfg = tmp / "small.yaml"
    cfg.write_text(yaml.safe_dump({**CONFIG, "modifiers": [], "max_rows": 500}))
    code, _, err = _run(capsys, "whatworks", str(path), "-c", str(cfg), "-o", str(tmp / "o"),
                        "--engine", "spark", "-q")  # fmt: skip
    assert code == 2 and "Traceback" not in err
    for needle in ("1,000 rows", "max_rows = 500", "needs modifiers",
                   "causal.spark.fit_on_sample", "causal.spark.score_effects"):  # fmt: skip
        assert needle in err, (needle, err)
    assert not (tmp / "o").exists()


@pytest.mark.parametrize("bad", [0, -3, "many", True, 1.5])
def test_max_rows_is_validated(files, capsys, bad):
    tmp, path, _ = files
    cfg = tmp / "bad.yaml"
    cfg.write_text(yaml.safe_dump({**CONFIG, "max_rows": bad}))
    code, _, err = _run(capsys, "whatworks", str(path), "-c", str(cfg), "-o", str(tmp / "o"))
    assert code == 2 and "'max_rows' must be a whole number >= 1" in err and "Traceback" not in err


def test_missing_table_and_database_with_spark_are_clear_errors(spark, files, capsys):
    tmp, path, cfg = files
    code, _, err = _run(capsys, "whatworks", "no_such_ww_table", "-c", str(cfg), "-o",
                        str(tmp / "o"), "--engine", "spark")  # fmt: skip
    assert code == 2 and "No table or view named 'no_such_ww_table'" in err
    assert "Traceback" not in err
    db = tmp / "x.duckdb"
    code, _, err = _run(capsys, "whatworks", "t", "-c", str(cfg), "-o", str(tmp / "o"),
                        "--engine", "spark", "--database", str(db))  # fmt: skip
    assert code == 2 and "The '--database' option needs '--engine duckdb'." in err
    code, _, err = _run(capsys, "whatworks", str(tmp / "absent.parquet"), "-c", str(cfg), "-o",
                        str(tmp / "o"), "--engine", "spark")  # fmt: skip
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    code, _, err = _run(capsys, "whatworks", str(path), "-c", str(cfg), "-o", str(tmp / "o"),
                        "--engine", "sparkk")  # fmt: skip
    assert code == 2 and "duckdb" in err and "spark" in err and "Traceback" not in err


def test_without_pyspark_the_error_names_the_extra(files, capsys, monkeypatch):
    tmp, path, cfg = files
    for mod in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    code, _, err = _run(capsys, "whatworks", str(path), "-c", str(cfg), "-o", str(tmp / "o"),
                        "--engine", "spark")  # fmt: skip
    assert code == 2 and "content-causal[spark]" in err and "Traceback" not in err


def test_help_lists_the_engine(capsys):
    code, out, _ = _run(capsys, "whatworks", "--help")
    assert code == 0 and "--engine" in out and "<duckdb|spark>" in out and "max_rows" in out


def test_score_effects_outcome_picks_one_of_several(spark):
    import estimators
    from causal._errors import ConfigError
    from causal.spark import score_effects

    df = causal.simulate_content(n=400, seed=3)
    X = df[["quality_score", "age_days"]]
    est = estimators.LinearDML(random_state=0).fit(df[["saves", "hides"]], df["boosted"], X=X)
    with pytest.raises(ConfigError, match="scores one outcome; the model has 2"):
        score_effects(est, df, keep=["pin_id"])
    with pytest.raises(ConfigError, match=r"'outcome' parameter must be one of .*'nope'"):
        score_effects(est, df, keep=["pin_id"], outcome="nope")
    got = score_effects(est, df, keep=["pin_id"], outcome="hides").toPandas()
    got = got.sort_values("pin_id").reset_index(drop=True)
    want = np.asarray(est.effect(X), dtype=float)[:, 1]
    lo, hi = (np.asarray(b, dtype=float)[:, 1] for b in est.effect_interval(X))
    np.testing.assert_allclose(got["effect"], want, rtol=ENGINE_RTOL, atol=1e-12)
    np.testing.assert_allclose(got["effect_ci_lower"], lo, rtol=ENGINE_RTOL, atol=1e-12)
    np.testing.assert_allclose(got["effect_ci_upper"], hi, rtol=ENGINE_RTOL, atol=1e-12)
