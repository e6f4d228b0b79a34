"""Benchmark of causal.stats: statistics on aggregates vs the row-level reference, and
group-sequential boundaries by recursive integration vs a multivariate-normal solver.

Run ``.venv/bin/python bench/bench_stats.py`` (``--quick`` for a small run). Prints, for each
task, our time, the baseline's time measured in the same run, the ratio, and how far apart
the numbers are. Not part of the test suite.

1. CUPED readout of one metric: ``Moments`` (two centred numpy passes) + ``mean_effect`` vs
   statsmodels OLS ``y ~ T + x`` with HC2 on the same rows.
2. Delta-method ratio: ``Moments`` + ``ratio_effect`` vs statsmodels WLS with HC1.
3. Lan-DeMets O'Brien-Fleming boundaries: ``group_sequential_design`` vs solving each look's
   boundary with brentq on scipy's multivariate-normal rectangle probability (Genz QMC).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import statsmodels.api as sm
from scipy import optimize, stats

from causal.stats import Moments, group_sequential_design, mean_effect, ratio_effect


def _timed(fn, repeat=3):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _row(task, ours, base, detail):
    print(
        f"{task:<38} ours {ours:9.4f} s   baseline {base:9.4f} s   ratio {base / ours:8.1f}x   {detail}"
    )


def bench_cuped(n, rng):
    t = (rng.random(n) < 0.5).astype(float)
    x = rng.gamma(2.0, 1.0, n)
    y = 1 + 2 * x + 0.05 * t + rng.normal(size=n)
    z = np.c_[y, x]

    def ours():
        c = Moments.from_array(z[t == 0], ("y", "x"))
        tr = Moments.from_array(z[t == 1], ("y", "x"))
        return mean_effect(c, tr, column="y", covariates=["x"])

    def base():
        return sm.OLS(y, sm.add_constant(np.c_[t, x])).fit(cov_type="HC2")

    to, r = _timed(ours)
    tb, f = _timed(base)
    _row(
        f"CUPED mean, {n:,} rows",
        to,
        tb,
        f"|d effect| {abs(r.effect - f.params[1]):.1e}, se rel diff {abs(r.se / f.bse[1] - 1):.1e}",
    )


def bench_ratio(n, rng):
    t = (rng.random(n) < 0.5).astype(float)
    views = rng.poisson(5, n) + 1.0
    clicks = rng.binomial(views.astype(int), 0.1 + 0.01 * t).astype(float)
    z = np.c_[clicks, views]

    def ours():
        c = Moments.from_array(z[t == 0], ("c", "v"))
        tr = Moments.from_array(z[t == 1], ("c", "v"))
        return ratio_effect(c, tr, numerator="c", denominator="v")

    def base():
        return sm.WLS(clicks / views, sm.add_constant(t), weights=views).fit(cov_type="HC1")

    to, r = _timed(ours)
    tb, f = _timed(base)
    _row(
        f"ratio (delta method), {n:,} rows",
        to,
        tb,
        f"|d effect| {abs(r.effect - f.params[1]):.1e}, se rel diff {abs(r.se / f.bse[1] - 1):.1e}",
    )


def _mvn_boundaries(t, alpha=0.05):
    """Baseline: each boundary by brentq on the MVN rectangle probability (seeded QMC)."""
    spent = 4 * stats.norm.sf(stats.norm.ppf(1 - alpha / 4) / np.sqrt(t))
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    bounds: list[float] = []
    for k in range(1, t.size + 1):
        mvn = stats.multivariate_normal(np.zeros(k), cov[:k, :k], seed=np.random.default_rng(k))
        prev = np.array(bounds)

        def excess(c, prev=prev, mvn=mvn, k=k):
            b = np.r_[prev, c]
            return (1 - mvn.cdf(b, lower_limit=-b)) - spent[k - 1]

        bounds.append(optimize.brentq(excess, 0.5, 12.0, xtol=1e-6))
    return np.array(bounds)


def bench_gs(k):
    t = np.arange(1, k + 1) / k
    to, d = _timed(lambda: group_sequential_design(t), repeat=1)
    tb, b = _timed(lambda: _mvn_boundaries(t), repeat=1)
    _row(
        f"LD-OBF boundaries, {k} looks",
        to,
        tb,
        f"max |d boundary| {np.max(np.abs(d.boundaries - b)):.1e} (final {d.boundaries[-1]:.4f})",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = 200_000 if args.quick else 5_000_000
    bench_cuped(n, rng)
    bench_ratio(n, rng)
    for k in (3, 5) if args.quick else (5, 8):
        bench_gs(k)


if __name__ == "__main__":
    main()
