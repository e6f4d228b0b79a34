"""Cluster-randomized readouts: the engines keep per-cluster sums, the readout reports CR2 with
Bell–McCaffrey degrees of freedom (the statistics are checked against full-matrix CR2 in
tests/stats/test_cluster_cr2.py); both engines give the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal.experiments import (
    AggregateRequest,
    DuckDBEngine,
    ExperimentDesign,
    GroupKey,
    Mean,
    PandasEngine,
    Ratio,
    readout,
)
from causal.stats import Moments, ratio_effect

EXACT = 1e-9  # the same float64 numbers by two routes
ENGINES = ("duckdb", "pandas")


def _data(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_clusters = 20
    share = 1.0 / np.arange(1, n_clusters + 1)
    sizes = np.round(share / share.sum() * 800).astype(int)
    g = np.repeat(np.arange(n_clusters), sizes)
    arm = np.arange(n_clusters) % 2 == 1
    n = g.size
    return pd.DataFrame(
        {
            "creator": g,
            "user": np.arange(n) // 2,  # two rows per user
            "arm": np.where(arm[g], "treatment", "control"),
            "y": rng.normal(0, 1.5, n_clusters)[g] + rng.normal(0, 3.0, n) + 0.4 * arm[g],
            "y_pre": rng.normal(0, 1.0, n),
            "clicks": rng.poisson(2, n),
            "views": rng.poisson(10, n) + 1,
            "platform": rng.choice(["ios", "web"], n),
        }
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_readout_reports_cr2_from_cluster_sums(engine):
    df = _data()
    d = ExperimentDesign("arm", "control", [Mean("y", "y")], cluster="creator")
    row = readout(df, d, engine=engine).metrics[0]
    per = df.groupby("creator").agg(arm=("arm", "first"), y=("y", "sum"), n=("y", "size"))
    z = per[["y", "n"]].to_numpy(float)
    c = Moments.from_array(z[per["arm"] == "control"], ("y", "n"), keep_rows=True)
    t = Moments.from_array(z[per["arm"] == "treatment"], ("y", "n"), keep_rows=True)
    ref = ratio_effect(c, t, numerator="y", denominator="n", clustered=True)
    np.testing.assert_allclose(row.effect, ref.effect, rtol=EXACT)
    np.testing.assert_allclose(row.se, ref.se, rtol=EXACT)
    np.testing.assert_allclose(row.effect_ci_upper, ref.effect_ci_upper, rtol=EXACT)
    assert ref.df < 18  # Bell–McCaffrey, not G - 1 = 19
    notes = readout(df, d, engine=engine).notes
    assert any("CR2" in n for n in notes)


def test_engines_agree_on_clustered_readouts_with_cuped_ratio_and_segments():
    df = _data(1)
    d = ExperimentDesign(
        "arm",
        "control",
        [Mean("y", "y", covariate="y_pre"), Ratio("ctr", "clicks", "views")],
        cluster="creator",
        unit="user",
        segments=["platform"],
    )
    a, b = readout(df, d, engine="duckdb"), readout(df, d, engine="pandas")
    for ra, rb in zip(a.metrics + a.segments, b.metrics + b.segments, strict=True):
        assert (ra.metric, ra.segment_value) == (rb.metric, rb.segment_value)
        np.testing.assert_allclose(
            [ra.effect, ra.se, ra.effect_ci_lower], [rb.effect, rb.se, rb.effect_ci_lower],
            rtol=EXACT,
        )  # fmt: skip
    # the engines keep each group's cluster rows, consistent with its moments
    req = AggregateRequest.from_design(d)
    for eng in (DuckDBEngine(), PandasEngine()):
        m = eng.aggregate(df, req).moments[GroupKey("treatment")]["ctr"]
        assert m.rows is not None and m.rows.shape == (m.n, 2)
        np.testing.assert_allclose(m.rows.mean(axis=0), m.dmean, rtol=EXACT, atol=1e-12)
