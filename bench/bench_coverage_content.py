"""Benchmark: coverage of the doubly-robust ATE interval on the project simulator.

Over seeded ``causal.simulate_content`` datasets (confounded boost, creator clusters, heavy
tails), the 95% interval of the estimators' AIPW ATE (``groups=creator_id``) is checked against
the simulation's sample ATE (mean of ``true_cate_<outcome>``), per outcome. Baseline, same run and
data: the naive difference-in-means Welch interval, which ignores the targeting rule.

Run: ``.venv/bin/python bench/bench_coverage_content.py`` (100 datasets × 3,000 pins;
``--quick``: 10 datasets). Prints coverage, mean and SD of the z-scores, and the ratio of
miss rates (naive / ours).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import stats

import causal
import estimators

OUTCOMES = ["saves", "outbound_clicks", "hides", "revenue"]
MODIFIERS = ["quality_score", "format", "category", "shoppable", "text_overlay"]
CONFOUNDERS = ["creator_followers", "prior_impressions", "age_days"]
Z95 = float(stats.norm.ppf(0.975))


def one(seed: int, n: int) -> dict[str, tuple[float, bool, bool]]:
    """Per outcome: (z of ours vs truth, ours covers, naive covers)."""
    df = causal.simulate_content(n=n, seed=seed)
    t = df["boosted"].to_numpy()
    est = estimators.LinearDML(random_state=seed).fit(
        df[OUTCOMES], t, X=df[MODIFIERS], W=df[CONFOUNDERS], groups=df["creator_id"].to_numpy()
    )
    out = {}
    for o in OUTCOMES:
        truth = float(df[f"true_cate_{o}"].mean())
        a = est.ate_inference(outcome=o)
        y = df[o].to_numpy(dtype=float)
        y1, y0 = y[t == 1], y[t == 0]
        naive = y1.mean() - y0.mean()
        se_naive = np.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0))
        out[o] = (
            (a.effect - truth) / a.se,
            a.effect_ci_lower <= truth <= a.effect_ci_upper,
            abs(naive - truth) <= Z95 * se_naive,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 datasets")
    ap.add_argument("--datasets", type=int, default=100)
    ap.add_argument("--rows", type=int, default=3000)
    args = ap.parse_args()
    reps = 10 if args.quick else args.datasets
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    res: dict[str, list[tuple[float, bool, bool]]] = {o: [] for o in OUTCOMES}
    for r in range(reps):
        for o, v in one(50_000 + r, args.rows).items():
            res[o].append(v)
        if (r + 1) % 10 == 0:
            print(f"  {r + 1}/{reps} datasets, {time.perf_counter() - t0:.0f} s", flush=True)
    se = np.sqrt(0.95 * 0.05 / reps)
    print(
        f"\n# AIPW ATE coverage on simulate_content: {reps} datasets x {args.rows} pins "
        f"(binomial SE of a 95% coverage: {se:.3f})"
    )
    print(
        f"{'outcome':<16} {'ours cover':>10} {'mean z':>7} {'sd z':>6} "
        f"{'naive cover':>11} {'miss ratio naive/ours':>22}"
    )
    for o, rows in res.items():
        z = np.array([v[0] for v in rows])
        ours = np.mean([v[1] for v in rows])
        naive = np.mean([v[2] for v in rows])
        ratio = (1 - naive) / max(1 - ours, 1 / reps)
        print(
            f"{o:<16} {ours:>10.3f} {z.mean():>+7.2f} {z.std(ddof=1):>6.2f} "
            f"{naive:>11.3f} {ratio:>21.1f}x"
        )
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
