"""Simulator speed: vectorised ``simulate_content`` / ``simulate_experiment`` beside a naive loop.

Ours: ``causal.simulate_content(n)`` and ``causal.simulate_experiment(n)``, best of
``--repeat`` runs. Baseline: the same content model written the naive way — one Python loop
iteration per pin drawing scalars from the same kind of Generator and collecting a list of row
dicts into a DataFrame (how a first simulator is often written). The baseline runs on fewer
rows (it is slow); both are reported as rows per second, and the ratio compares throughput.
Run with ``nice``; other work on the machine inflates the times.

Usage::

    nice .venv/bin/python bench/bench_simulate.py           # 1M rows ours, 50k baseline
    .venv/bin/python bench/bench_simulate.py --quick        # 100k rows ours, 10k baseline
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import pandas as pd

import causal

CATEGORIES = ("home_decor", "fashion", "food", "travel", "beauty", "diy", "art", "fitness")
CAT_P = (0.20, 0.18, 0.16, 0.10, 0.12, 0.10, 0.07, 0.07)
CAT_SHOP = (0.45, 0.60, 0.10, 0.05, 0.50, 0.25, 0.15, 0.20)
CAT_SAVE = (1.4, 1.0, 1.3, 0.8, 0.9, 1.2, 0.7, 0.6)
FORMATS = ("image", "video", "carousel")


def _sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def naive_content(n: int, seed: int) -> pd.DataFrame:
    """The content model, one row at a time (same structure as simulate_content)."""
    rng = np.random.default_rng(seed)
    n_creators = max(1, n // 20)
    creators = [
        (
            min(max(rng.normal(3.6, 0.8), 1.0), 7.5),
            rng.normal(0.0, 1.0),
            rng.normal(-0.125, 0.5),
        )
        for _ in range(n_creators)
    ]
    rows = []
    for i in range(n):
        c = int(rng.integers(0, n_creators))
        log_f, skill, eff = creators[c]
        cat = int(rng.choice(len(CATEGORIES), p=CAT_P))
        fmt = int(rng.choice(3, p=(0.6, 0.25, 0.15)))
        q = _sig(0.4 + 0.6 * skill + 0.9 * rng.standard_normal())
        age = rng.exponential(30.0)
        fresh = math.exp(-age / 14.0)
        overlay = int(rng.random() < (0.15 if fmt == 1 else 0.45))
        shop = int(rng.random() < CAT_SHOP[cat])
        prior_mu = math.exp(3.0 + 0.6 * (log_f - 3.6) + 1.2 * q + 0.2 * (fmt == 1))
        prior = int(rng.poisson(prior_mu * (min(age, 60.0) / 30.0 + 0.1) * rng.gamma(2.0, 0.5)))
        p = 0.02 + 0.96 * _sig(-1.0 + 1.2 * (q - 0.6) / 0.2 + 0.8 * (log_f - 3.6) / 0.8)
        t = int(rng.random() < p)
        reach = math.exp(5.0 + 0.5 * (log_f - 4.0) + q)
        good = _sig(10.0 * (q - 0.55))
        tau_saves = (
            3.0 * good * (1 + 0.8 * (fmt == 1) + 0.4 * (fmt == 2)) * (0.5 + fresh) * CAT_SAVE[cat]
        )
        tau_clicks = 2.0 * good * (1 + 1.5 * shop) * (1 - 0.5 * overlay) * (0.6 + 0.4 * fresh)
        tau_hides = 1.5 * (1 - q) ** 2 * (1 + 0.5 * overlay)
        tau_imp = reach * (0.3 + 0.6 * q + 0.4 * fresh)
        u = math.exp(eff)
        rows.append(
            {
                "pin_id": i,
                "creator_id": c,
                "category": CATEGORIES[cat],
                "format": FORMATS[fmt],
                "quality_score": q,
                "age_days": age,
                "creator_followers": round(10.0**log_f),
                "text_overlay": overlay,
                "shoppable": shop,
                "prior_impressions": prior,
                "boosted": t,
                "impressions": int(
                    rng.poisson((reach * (0.6 + 0.8 * fresh) * u + t * tau_imp) * rng.gamma(2, 0.5))
                ),
                "saves": int(
                    rng.poisson((0.012 * reach * (0.5 + q) * u + t * tau_saves) * rng.gamma(2, 0.5))
                ),
                "outbound_clicks": int(
                    rng.poisson(
                        (0.006 * reach * (0.4 + q) * (1 + 1.5 * shop) * u + t * tau_clicks)
                        * rng.gamma(2, 0.5)
                    )
                ),
                "hides": int(
                    rng.poisson((0.004 * reach * (1.2 - q) * u + t * tau_hides) * rng.gamma(2, 0.5))
                ),
                "revenue": 35.0 * rng.poisson(0.1 * shop * (u + t)) * rng.lognormal(-0.32, 0.8),
                "true_propensity": p,
                "true_cate_saves": tau_saves,
                "true_cate_outbound_clicks": tau_clicks,
                "true_cate_hides": tau_hides,
                "true_cate_impressions": tau_imp,
            }
        )
    return pd.DataFrame(rows)


def best_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small run (100k / 10k rows)")
    ap.add_argument("--rows", type=int, default=None, help="rows for our simulators")
    ap.add_argument("--baseline-rows", type=int, default=None, help="rows for the naive loop")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs (ours)")
    args = ap.parse_args()
    n = args.rows or (100_000 if args.quick else 1_000_000)
    n_base = args.baseline_rows or (10_000 if args.quick else 50_000)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# simulator speed (load average {load:.2f}; 2-core machine shared with others)")

    causal.simulate_content(n=1_000, seed=0)  # warm imports
    ours = best_time(lambda: causal.simulate_content(n=n, seed=1), args.repeat)
    ours_exp = best_time(lambda: causal.simulate_experiment(n_users=n, seed=1), args.repeat)
    base = best_time(lambda: naive_content(n_base, seed=1), 1)

    ours_rate, base_rate = n / ours, n_base / base
    print(f"simulate_content     ours: {n:>9,} rows in {ours:6.2f} s = {ours_rate:>12,.0f} rows/s")
    print(
        f"simulate_content baseline: {n_base:>9,} rows in {base:6.2f} s = {base_rate:>12,.0f} "
        "rows/s (per-row Python loop)"
    )
    print(f"ratio (ours / baseline throughput): {ours_rate / base_rate:,.0f}x")
    print(
        f"simulate_experiment  ours: {n:>9,} users in {ours_exp:6.2f} s = "
        f"{n / ours_exp:>12,.0f} rows/s"
    )
    print(f"1M-row target ('a few seconds'): content {1e6 / ours_rate:.2f} s, "
          f"experiment {1e6 * ours_exp / n:.2f} s (extrapolated when --rows < 1M)")  # fmt: skip


if __name__ == "__main__":
    main()
