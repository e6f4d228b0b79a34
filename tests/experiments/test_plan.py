"""The aggregate plan without a database: its decisions, and Moments rebuilt from aggregates.

A minimal executor written here in plain numpy (one group, no roll-up) evaluates the plan's
aggregates by their documented meaning; the rebuilt Moments must equal numpy's two-pass moments
of the per-unit matrix. This pins the plan's contract independently of DuckDB and pandas.
"""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from causal.experiments import AggregateRequest, Mean, Proportion, Ratio
from causal.experiments._plan import ColumnStats, build_plan, column_shift
from causal.stats import Moments

RTOL = 1e-12  # both sides are float64 two-pass computations over the same values


def _stats(df: dict[str, np.ndarray]) -> dict[str, ColumnStats]:
    out = {}
    for c, x in df.items():
        ok = ~np.isnan(x.astype(float))
        integer = x.dtype.kind in "ib"
        lo, hi = (x[ok].min(), x[ok].max()) if ok.any() else (None, None)
        conv = int if integer else float
        out[c] = ColumnStats(int((~ok).sum()), conv(lo), conv(hi), integer)
    return out


def _execute(plan, data: dict[str, np.ndarray]) -> dict[str, object]:
    """Evaluate every aggregate of ``plan`` over one group (no roll-up), by definition."""
    l1 = {}
    for u in plan.columns:
        x = data[u.column]
        l1[u.alias] = x.astype(np.int64) if u.integer else x.astype(float) - u.shift
    ex = {}
    for e in plan.exprs:
        src = l1[e.source]
        if e.kind == "fill":
            src = np.where(np.isnan(src.astype(float)), e.fill, src)
        ex[e.alias] = src.astype(np.int64) if e.integer else src.astype(float)
    nulls = {u.alias: np.isnan(data[u.column].astype(float)) for u in plan.columns}
    row: dict[str, object] = {}
    for a in plan.aggregates:
        x = [ex.get(v) for v in a.args]
        if a.op == "count":
            row[a.alias] = len(next(iter(data.values())))
        elif a.op == "miss":
            row[a.alias] = int(nulls[a.args[0]].sum())
        elif a.op == "avg":
            row[a.alias] = float(x[0].mean())
        elif a.op == "isum":
            row[a.alias] = int(x[0].sum())
        elif a.op == "covar":
            row[a.alias] = float(np.cov(x[0], x[1], ddof=1)[0, 1])
        elif a.op == "iprod":
            row[a.alias] = int((x[0] * x[1]).sum())
        elif a.op == "favg":
            row[a.alias] = float(x[0][nulls[a.args[1]]].mean())
        elif a.op == "fsum":
            row[a.alias] = int(x[0][nulls[a.args[1]]].sum())
        elif a.op == "both":
            row[a.alias] = int((nulls[a.args[0]] & nulls[a.args[1]]).sum())
        else:
            raise AssertionError(a.op)
    return row


def _data(n: int = 500) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    pre = rng.normal(5.0, 2.0, n)
    pre[rng.random(n) < 0.2] = np.nan
    return {
        "y": 1e9 + rng.normal(0, 1e-3, n),  # at an offset: shifted
        "pre": pre,  # missing values: zero-filled with an indicator
        "clicks": rng.poisson(3, n),  # integers: exact integer path
        "views": rng.poisson(20, n) + 1,
        "conv": rng.random(n) < 0.3,  # 0/1: its square is its sum
    }


METRICS = (
    Mean("y", "y", covariate="pre"),
    Mean("y2", "y"),  # shares every aggregate of 'y'
    Ratio("ctr", "clicks", "views"),
    Proportion("conv", "conv", covariate="pre"),
)


def test_plan_decisions():
    data = _data()
    req = AggregateRequest("arm", METRICS)
    plan = build_plan(req, _stats(data), n_rows=500)
    by_col = {u.column: u for u in plan.columns}
    assert by_col["y"].shift == pytest.approx(1e9, rel=1e-9) and not by_col["y"].integer
    assert by_col["clicks"].integer and by_col["clicks"].shift == 0.0
    assert by_col["conv"].binary and by_col["pre"].has_null
    ops = [(a.op, a.args) for a in plan.aggregates]
    assert len(ops) == len(set(ops))  # nothing computed twice across metrics
    conv = plan.expr(plan.slots["conv"][0].terms[0][0])
    assert ("isum", (conv.alias,)) in ops and ("iprod", (conv.alias, conv.alias)) not in ops
    assert plan.slots["y"][0] == plan.slots["y2"][0]
    assert plan.slots["y"][2].indicator == by_col["pre"].alias


def test_rebuild_matches_numpy_two_pass():
    data = _data()
    plan = build_plan(AggregateRequest("arm", METRICS), _stats(data), n_rows=500)
    got = plan.rebuild(_execute(plan, data))
    pre = data["pre"]
    mats = {
        "y": np.c_[data["y"], np.nan_to_num(pre), np.isnan(pre)],
        "ctr": np.c_[data["clicks"], data["views"]].astype(float),
        "conv": np.c_[data["conv"], np.nan_to_num(pre), np.isnan(pre)].astype(float),
    }
    for name, z in mats.items():
        ref = Moments.from_array(z, got[name].names)
        np.testing.assert_allclose(got[name].mean, ref.mean, rtol=RTOL)
        np.testing.assert_allclose(got[name].comoment, ref.comoment, rtol=1e-9, atol=1e-9)
    # the offset column's mean is exact in its shifted part
    y = got["y"]
    np.testing.assert_allclose(y.dmean[0], np.mean(data["y"] - y.shift[0]), rtol=1e-12)


def test_null_free_covariate_needs_no_indicator_aggregates():
    """A covariate the pre-pass shows without nulls has an identically-0 missing indicator:
    the plan computes nothing for it, and the Moments still carry it (as exact zeros)."""
    data = _data()
    data["pre"] = np.nan_to_num(data["pre"], nan=4.0)
    plan = build_plan(AggregateRequest("arm", METRICS), _stats(data), n_rows=500)
    pre = plan.column("pre").alias
    assert not plan.column("pre").has_null
    assert all(pre not in a.args or a.op in ("avg", "covar") for a in plan.aggregates)
    assert not [a for a in plan.aggregates if a.op in ("miss", "favg", "fsum", "both")]
    got = plan.rebuild(_execute(plan, data))
    z = np.c_[data["y"], data["pre"], np.zeros(500)]
    ref = Moments.from_array(z, got["y"].names)
    assert got["y"].names[-1] == "pre__missing"
    np.testing.assert_allclose(got["y"].mean, ref.mean, rtol=RTOL)
    np.testing.assert_allclose(got["y"].comoment, ref.comoment, rtol=1e-9, atol=1e-9)
    assert not np.any(got["y"].comoment[-1]) and got["y"].mean[-1] == 0.0


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_days_with_and_without_missing_covariates_merge_exactly(engine):
    """Day 1 has no missing covariate (no indicator aggregates), day 2 has some: merged, they
    equal the readout of both days at once."""
    import pandas as pd

    from causal.experiments import merge_aggregates
    from causal.experiments._engines import get_engine

    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame(
        {
            "arm": rng.integers(0, 2, 2 * n),
            "y": rng.normal(10, 2, 2 * n),
            "pre": rng.normal(5, 1, 2 * n),
        }
    )
    frame.loc[n + rng.choice(n, 40, replace=False), "pre"] = np.nan  # day 2 only
    req = AggregateRequest("arm", (Mean("y", "y", covariate="pre"),))
    eng = get_engine(engine)
    merged = merge_aggregates(
        eng.aggregate(frame.iloc[:n], req), eng.aggregate(frame.iloc[n:], req)
    )
    whole = eng.aggregate(frame, req)
    for key, group in whole.moments.items():
        a, b = group["y"], merged.moments[key]["y"]
        assert a.n == b.n
        np.testing.assert_allclose(b.mean, a.mean, rtol=RTOL)
        np.testing.assert_allclose(b.comoment, a.comoment, rtol=1e-9, atol=1e-9)


def test_column_shift_only_when_the_offset_dominates():
    assert column_shift(ColumnStats(0, 10.0, 30.0, False)) == 0.0
    assert column_shift(ColumnStats(0, 20.0, 30.0, False)) == 20.0
    assert column_shift(ColumnStats(0, -30.0, -20.0, False)) == -20.0
    assert column_shift(ColumnStats(0, 1.0, np.inf, False)) == 0.0
    assert column_shift(ColumnStats(5, None, None, False)) == 0.0


@pytest.mark.parametrize(
    "name", ["causal.experiments._plan", "causal.experiments._engines", "causal.data._rules"]
)
def test_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
