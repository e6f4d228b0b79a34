"""causal.spark.fit_on_sample: the large-fit threshold, and the sample's size, seed and strata
recorded in the results (``to_dict``, JSON-ready) and shown, escaped, in their HTML.

The sampling itself (exact size, proportional allocation, independence of the partitioning)
and the GATE parity are tested in test_segments.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import estimators
from causal import ConfigError
from causal.spark import fit_on_sample, segment_effects, stratified_sample

SEG = "re<gion>"  # a column name and values that must be escaped in HTML
N, MAX_ROWS, SEED = 1200, 400, 7


def _data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n)
    a = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-0.5 * w))).astype(int)
    y = a + w + t * (1.0 + 0.5 * a) + rng.normal(size=n)
    region = rng.choice(["<b>eu</b>", "us & ca"], n, p=[0.6, 0.4])
    return pd.DataFrame({"id": np.arange(n) * 3 + 1, "a": a, "w": w, "t": t, "y": y, SEG: region})


@pytest.fixture(scope="module")
def table(spark):
    df = _data(N, 4)
    return df, spark.createDataFrame(df)


def _fit(sdf, spark, max_rows: int):
    return fit_on_sample(sdf, outcome="y", treatment="t", modifiers=["a"], confounders=["w"],
                         segments=[SEG], row_id="id", max_rows=max_rows, seed=SEED,
                         estimator=estimators.LinearDML(random_state=0), spark=spark)  # fmt: skip


def test_above_the_threshold_size_seed_strata_recorded_and_shown_escaped(spark, table):
    df, sdf = table
    fit = _fit(sdf, spark, MAX_ROWS)
    rec = json.loads(json.dumps(fit.to_dict()))  # JSON-ready
    assert rec["sampled"] and rec["n_rows"] == N and rec["n_sample"] == MAX_ROWS
    assert rec["max_rows"] == MAX_ROWS and rec["seed"] == SEED
    assert rec["strata_columns"] == ["t", SEG] and rec["estimator"] == "LinearDML"
    # every (treatment, segment) stratum: its rows in the table and in the sample
    want = df.groupby(["t", SEG]).size()
    got = {(s["t"], s[SEG]): (s["n"], s["n_sample"]) for s in rec["strata"]}
    assert {k: v[0] for k, v in got.items()} == want.to_dict()
    assert sum(v[1] for v in got.values()) == MAX_ROWS
    assert len(fit.row_ids) == MAX_ROWS and fit.model.effect(df[["a"]]).shape == (N,)

    page = fit._repr_html_()
    assert f"sample of {MAX_ROWS:,} of {N:,} rows" in page and f"seed {SEED}" in page
    assert f"max_rows = {MAX_ROWS:,}" in page and "t x re&lt;gion&gt;" in page
    assert "&lt;b&gt;eu&lt;/b&gt;" in page and "us &amp; ca" in page
    assert "<b>" not in page and SEG not in page

    ge = segment_effects(fit, sdf, treatment="t", outcome="y", segments=[SEG], spark=spark)
    out = json.loads(json.dumps(ge.to_dict()))
    assert out["n"] == N and out["sample"]["n_sample"] == MAX_ROWS
    assert out["sample"]["seed"] == SEED and out["sample"]["max_rows"] == MAX_ROWS
    assert out["sample"]["note"] == fit.summary["note"]
    page = ge._repr_html_()
    assert f"sample of {MAX_ROWS:,} of {N:,} rows" in page and f"seed {SEED}" in page
    assert "<b>" not in page and SEG not in page and "&lt;b&gt;eu&lt;/b&gt;" in page


def test_at_or_below_the_threshold_every_row_is_fitted(spark, table):
    df, sdf = table
    fit = _fit(sdf, spark, N)  # a table of exactly max_rows rows is taken whole
    assert not fit.summary["sampled"] and fit.n_sample == N
    assert sorted(fit.row_ids) == sorted(df["id"])
    assert f"Fitted on all {N:,} rows" in fit._repr_html_()
    ge = segment_effects(fit, sdf, treatment="t", outcome="y", spark=spark)
    assert ge.n_fit_rows == N and ge.sample["sampled"] is False
    assert abs(ge.ate.effect - 1.0) < 4 * ge.ate.se  # true ATE: 1 + 0.5 E[a] = 1


def test_bad_threshold_and_seed_name_the_parameter(spark, table):
    _, sdf = table
    for bad in (0, -5, 2.5, True, "1000"):
        with pytest.raises(ConfigError, match="'max_rows' parameter must be a positive int"):
            stratified_sample(sdf, strata=["t"], row_id="id", max_rows=bad, spark=spark)
    for bad in (-1, 1.0, False):
        with pytest.raises(ConfigError, match="'seed' parameter must be a non-negative int"):
            stratified_sample(sdf, strata=["t"], row_id="id", seed=bad, spark=spark)
