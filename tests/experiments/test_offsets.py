"""Moments exact at any offset: both engines against exact rational arithmetic on the stored values.

The reference is computed with :class:`fractions.Fraction` on the float64 values actually
stored (every float is a rational, so sums, means and cross-products are exact); it is the
"math.fsum of the stored values" of the issue, without rounding the mean back to float64 (at
1e12 a float64 cannot hold a mean to better than 1.2e-4, far coarser than the effects here).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from causal.experiments import ExperimentDesign, Mean, Ratio, readout

# The issue's bar: the effect within 1% of its standard error of the exact answer.
EFFECT_TOL_SE = 0.01
# Standard errors (a relative quantity, unaffected by the offset once centred) to 1%.
SE_RTOL = 0.01
# A (offset, sd) pair is in the sweep when the stored values resolve the sd: at least this many
# float64 spacings of the offset per standard deviation.
RESOLVE_ULPS = 8
ENGINES = ("duckdb", "pandas")
OFFSETS = (1e6, 1e9, 1e12, 1e15)
SDS = (1.0, 1e-2, 1e-4, 1e-6)
SWEEP = [(off, sd) for off in OFFSETS for sd in SDS if sd >= RESOLVE_ULPS * np.spacing(off)]


def _exact_mean(x: np.ndarray) -> Fraction:
    return sum((Fraction(float(v)) for v in x), Fraction(0)) / len(x)


def _exact_com(x: np.ndarray, y: np.ndarray) -> Fraction:
    mx, my = _exact_mean(x), _exact_mean(y)
    return sum(
        ((Fraction(float(a)) - mx) * (Fraction(float(b)) - my) for a, b in zip(x, y, strict=True)),
        Fraction(0),
    )


def _exact_welch(yc: np.ndarray, yt: np.ndarray) -> tuple[float, float]:
    """Exact difference in means and its (unpooled) standard error."""
    eff = _exact_mean(yt) - _exact_mean(yc)
    var = _exact_com(yt, yt) / ((len(yt) - 1) * len(yt))
    var += _exact_com(yc, yc) / ((len(yc) - 1) * len(yc))
    return float(eff), math.sqrt(float(var))


def _exact_cuped(yc, xc, yt, xt) -> float:
    """Exact ANCOVA effect: Δȳ - θ Δx̄ with the pooled within-arm slope θ."""
    theta = (_exact_com(yt, xt) + _exact_com(yc, xc)) / (_exact_com(xt, xt) + _exact_com(xc, xc))
    dy = _exact_mean(yt) - _exact_mean(yc)
    dx = _exact_mean(xt) - _exact_mean(xc)
    return float(dy - theta * dx)


def _frame(off: float, sd: float, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treated = np.arange(n) % 2 == 1
    pre = rng.normal(0.0, sd, n)
    y = off + 0.6 * pre + rng.normal(0.0, 0.8 * sd, n) + sd * treated
    return pd.DataFrame(
        {
            "arm": np.where(treated, "t", "c"),
            "y": y,
            "x": off + pre,
            "one": np.ones(n),
        }
    )


def _row(df: pd.DataFrame, metric, engine: str, **kw):
    design = ExperimentDesign("arm", "c", [metric], **kw)
    return readout(df, design, engine=engine).metrics[0]


@pytest.mark.parametrize(("off", "sd"), SWEEP, ids=[f"{o:.0e}-sd{s:.0e}" for o, s in SWEEP])
@pytest.mark.parametrize("engine", ENGINES)
def test_mean_exact_at_any_offset(engine, off, sd):
    df = _frame(off, sd, 1000, seed=int(math.log10(off) * 10 - math.log10(sd)))
    yc, yt = df.loc[df.arm == "c", "y"].to_numpy(), df.loc[df.arm == "t", "y"].to_numpy()
    eff, se = _exact_welch(yc, yt)
    r = _row(df, Mean("y", "y"), engine)
    assert abs(r.effect - eff) <= EFFECT_TOL_SE * se, (r.effect, eff, se)
    assert r.se == pytest.approx(se, rel=SE_RTOL)


@pytest.mark.parametrize(("off", "sd"), [(1e12, 1e-3), (1e15, 1.0), (1e9, 1e-6)])
@pytest.mark.parametrize("engine", ENGINES)
def test_cuped_and_ratio_exact_at_offset(engine, off, sd):
    df = _frame(off, sd, 1000, seed=7)
    c, t = df[df.arm == "c"], df[df.arm == "t"]
    _, se = _exact_welch(c["y"].to_numpy(), t["y"].to_numpy())
    ref = _exact_cuped(*(a[k].to_numpy() for a in (c, t) for k in ("y", "x")))
    r = _row(df, Mean("y", "y", covariate="x"), engine)
    assert abs(r.effect - ref) <= EFFECT_TOL_SE * se, (r.effect, ref, se)
    assert r.variance_reduction > 0.3  # the covariate explains ~36% of the variance
    # a ratio whose denominator is 1 per unit is the mean: same exact answer
    eff, se = _exact_welch(c["y"].to_numpy(), t["y"].to_numpy())
    r = _row(df, Ratio("r", "y", "one"), engine)
    assert abs(r.effect - eff) <= EFFECT_TOL_SE * se, (r.effect, eff, se)


@pytest.mark.parametrize("engine", ENGINES)
def test_unit_rollup_exact_at_offset(engine):
    """Three rows per user at 1e12: per-user sums (3e12 + small) keep their small part."""
    base = _frame(1e12, 1e-3, 3000, seed=3)
    base["user"] = np.arange(len(base)) // 3
    base["arm"] = np.where(base["user"] % 2 == 1, "t", "c")
    per = [Fraction(0)] * (len(base) // 3)
    for u, v in zip(base["user"], base["y"], strict=True):
        per[u] += Fraction(float(v))
    arm = np.arange(len(per)) % 2 == 1
    mean = {a: sum((p for p, t in zip(per, arm, strict=True) if t == a), Fraction(0)) / (len(per) // 2)
            for a in (False, True)}  # fmt: skip
    com = {
        a: sum(((p - mean[a]) ** 2 for p, t in zip(per, arm, strict=True) if t == a), Fraction(0))
        for a in (False, True)
    }
    nh = len(per) // 2
    eff = float(mean[True] - mean[False])
    se = math.sqrt(float((com[True] + com[False]) / ((nh - 1) * nh)))
    r = _row(base, Mean("y", "y"), engine, unit="user")
    assert abs(r.effect - eff) <= EFFECT_TOL_SE * se, (r.effect, eff, se)
    assert r.se == pytest.approx(se, rel=SE_RTOL)


@pytest.mark.parametrize("engine", ENGINES)
def test_issue_cases(engine):
    """The issue's failing cases: 1e12 + N(0, 1e-3) + 1e-3·treated (4,000 users, also through
    CUPED), and 1e15 ± 1 with a true effect of 1 (DuckDB used to report 0 and 0.125)."""
    rng = np.random.default_rng(2026)
    n = 4000
    treated = rng.random(n) < 0.5
    y = 1e12 + rng.normal(0, 1e-3, n) + 1e-3 * treated
    df = pd.DataFrame({"arm": np.where(treated, "t", "c"), "y": y,
                       "x": 1e12 + rng.normal(0, 1e-3, n)})  # fmt: skip
    eff, se = _exact_welch(y[~treated], y[treated])
    assert eff > 5 * se  # the truth is far from 0: reporting 0 is ~30 SE off
    for metric in (Mean("y", "y"), Mean("y", "y", covariate="x")):
        r = _row(df, metric, engine)
        assert abs(r.effect - eff) <= 0.1 * se, (metric, r.effect, eff)  # x is noise: ~same
        assert r.effect_ci_lower < eff < r.effect_ci_upper
    y2 = 1e15 + rng.normal(0, 1.0, n) + 1.0 * treated
    df2 = pd.DataFrame({"arm": np.where(treated, "t", "c"), "y": y2})
    eff2, se2 = _exact_welch(y2[~treated], y2[treated])
    r = _row(df2, Mean("y", "y"), engine)
    assert abs(r.effect - eff2) <= EFFECT_TOL_SE * se2, (r.effect, eff2)
    assert r.se == pytest.approx(se2, rel=SE_RTOL)
