"""`unit` at scale: a one-row-per-unit table skips the roll-up (exactly the same numbers), a
roll-up spills under a memory limit (the same numbers), group keys keep their own type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal.experiments import (
    AggregateRequest,
    DuckDBEngine,
    GroupKey,
    Mean,
    PandasEngine,
    Proportion,
    Ratio,
)
from causal.experiments._engines import _units_unique

RTOL = 1e-9  # same numbers by a different route (float64 rounding only)

METRICS = (
    Mean("revenue", "revenue", covariate="revenue_pre"),
    Proportion("conv", "converted"),
    Ratio("ctr", "clicks", "views"),
)


def _users(n: int = 5000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": rng.permutation(n) + 1_000,  # unique integer ids, shuffled
            "arm": rng.integers(0, 2, n),  # integer variant labels
            "revenue": rng.lognormal(0, 1, n),
            "revenue_pre": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(0, 1, n)),
            "converted": rng.random(n) < 0.2,
            "clicks": rng.poisson(2, n),
            "views": rng.poisson(10, n) + 1,
            "country": rng.choice([9, 10, 11], n),  # numeric segment: native order != text
        }
    )


def _same(a, b) -> None:
    assert set(a.moments) == set(b.moments)
    for key, group in a.moments.items():
        for name, m in group.items():
            o = b.moments[key][name]
            assert m.n == o.n
            np.testing.assert_allclose(m.mean, o.mean, rtol=RTOL)
            np.testing.assert_allclose(m.comoment, o.comoment, rtol=RTOL, atol=1e-9)


@pytest.mark.parametrize("engine", [DuckDBEngine(), PandasEngine()], ids=lambda e: e.name)
@pytest.mark.parametrize("covariate_nulls", [True, False])
def test_one_row_per_unit_skips_the_rollup_with_the_same_numbers(engine, covariate_nulls):
    df = _users()
    if not covariate_nulls:  # no indicator aggregates at all: still the same numbers
        df = df.assign(revenue_pre=df["revenue_pre"].fillna(1.0))
    with_unit = engine.aggregate(df, AggregateRequest("arm", METRICS, unit="user_id"))
    without = engine.aggregate(df, AggregateRequest("arm", METRICS))
    _same(with_unit, without)
    # text ids are not checked: they take the roll-up, with the same numbers
    text = df.assign(user_id=df["user_id"].astype(str))
    _same(engine.aggregate(text, AggregateRequest("arm", METRICS, unit="user_id")), without)


def test_unique_check_is_exact():
    import duckdb

    con = duckdb.connect()
    df = _users(3000)
    con.register("t", df)
    assert _units_unique(con, "t", [], "user_id", "BIGINT", len(df))
    dup = df.assign(user_id=df["user_id"].where(df.index != 7, df["user_id"].iloc[8]))
    con.register("d", dup)
    assert not _units_unique(con, "d", [], "user_id", "BIGINT", len(df))
    sparse = df.assign(user_id=df["user_id"] * 10**9)  # a bitmap would be too big: roll up
    con.register("s", sparse)
    assert not _units_unique(con, "s", [], "user_id", "BIGINT", len(df))
    assert not _units_unique(con, "t", [], "country", "VARCHAR", len(df))
    # min, max and count (free from Parquet statistics) cannot prove uniqueness: [0, 0, 2] and
    # [0, 1, 2] share all three, so the exact check must read the ids
    con.register("same_stats_dup", pd.DataFrame({"u": [0, 0, 2]}))
    con.register("same_stats_ok", pd.DataFrame({"u": [0, 1, 2]}))
    assert not _units_unique(con, "same_stats_dup", [], "u", "BIGINT", 3)
    assert _units_unique(con, "same_stats_ok", [], "u", "BIGINT", 3)


def test_rollup_spills_under_a_memory_limit_with_the_same_numbers(tmp_path):
    df = _users(40_000, seed=1)
    events = pd.concat([df, df.assign(revenue=df["revenue"] * 0.5)], ignore_index=True)
    req = AggregateRequest("arm", METRICS, unit="user_id", segments=("country",))
    small = DuckDBEngine(memory_limit="32MB", temp_directory=tmp_path).aggregate(events, req)
    free = DuckDBEngine(memory_limit=None).aggregate(events, req)
    _same(small, free)
    _same(small, PandasEngine().aggregate(events, req))


def test_units_segment_is_its_smallest_value_in_the_columns_own_order():
    """9 < 10 as numbers (not as text): both engines give the unit the segment 9."""
    df = pd.DataFrame(
        {
            "u": [1, 1, 2, 2, 3, 4],
            "arm": ["a", "a", "a", "a", "b", "b"],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "seg": [10, 9, 10, 10, 9, 10],
        }
    )
    req = AggregateRequest("arm", (Mean("y", "y"),), unit="u", segments=("seg",))
    for eng in (DuckDBEngine(), PandasEngine()):
        m = eng.aggregate(df, req).moments
        assert m[GroupKey("a", "seg", "9")]["y"].n == 1  # unit 1: rows 10 and 9 -> 9
        assert m[GroupKey("a", "seg", "10")]["y"].n == 1
