"""Benchmark: where the clustered ATE interval loses coverage — nuisances, inference or noise.

On the clustered simulator of ``tests/estimators/test_calibration.py`` (equal-size creators,
creator shifts in the baseline and the effect, creator tier in the propensity; population ATE
1.25), for each number of creators G and rows n, the same seeded datasets are scored three ways
with the same cluster-robust inference (CR2 + Student-t on Bell–McCaffrey degrees of freedom,
which is CR1 + t(G-1) for these equal creators):

- ``fitted``: the estimators' AIPW ATE (``LinearDML(...).fit(..., groups=).ate_inference()``);
- ``true mu``: fitted propensity (public ``propensity_``), true outcome means;
- ``oracle``: true propensity and true outcome means (no fit involved).

- with ``--splits S``, ``median S``: the DML median rule over ``S`` fits that differ only in the
  random fold split (:func:`estimators.median_over_splits`; the first split is ``fitted``).

``fitted`` vs ``oracle`` is what nuisance estimation costs; ``oracle`` vs 95% is the inference
(variance estimator, critical values) plus the noise of a coverage count over these datasets.
Baseline, same run and data: the naive unit-level interval of the fitted AIPW (``groups``
omitted in the variance only) — printed as ``naive cover``.

Run: ``nice .venv/bin/python bench/bench_coverage_clusters.py`` (200 datasets for G in 20, 40,
80 at 1,000 rows and G = 20 at 2,000 rows; ``--quick``: 20 datasets, G = 20, 1,000 rows).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' simulator

import estimators
from tests.estimators.test_calibration import simulate

ALPHA = 0.05
SEED0 = 40_000  # the slow clustered study's datasets (test_cluster_robust_coverage_200_datasets)
VARIANTS = ("fitted", "true mu", "oracle")


def one(args: tuple[int, int, int, int]) -> dict[str, tuple[float, float, bool]]:
    """Per variant: (error vs the population ATE, SE, covers); plus the naive interval."""
    n, n_clusters, seed, splits = args
    d = simulate(n, seed=seed, n_clusters=n_clusters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = estimators.LinearDML(random_state=seed, n_jobs=1).fit(
            d.y, d.t, X=d.x, groups=d.groups
        )
    is_t = d.t.astype(bool)
    e_hat = est.propensity_[:, 1]
    results = {"fitted": est.ate_inference(alpha=ALPHA)}
    for name, e in (("true mu", e_hat), ("oracle", d.e)):
        s = estimators.aipw_scores(d.y, is_t, ~is_t, d.mu1, d.mu0, e, 1.0 - e, clip=est.clip)
        results[name] = estimators.mean_effect_from_scores(s, groups=d.groups, alpha=ALPHA)
    if splits > 1:
        fits = [results["fitted"]]
        for k in range(1, splits):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                other = estimators.LinearDML(random_state=seed + 1_000_003 * k, n_jobs=1)
                fits.append(other.fit(d.y, d.t, X=d.x, groups=d.groups).ate_inference(alpha=ALPHA))
        results[f"median {splits}"] = estimators.median_over_splits(fits)
    out = {
        k: (r.effect - d.pate, r.se, r.effect_ci_lower <= d.pate <= r.effect_ci_upper)
        for k, r in results.items()
    }
    # naive: the same fitted scores (private Context: bench only), unit-level variance
    naive = estimators.mean_effect_from_scores(est._ctx.dr[:, 0, 0], alpha=ALPHA)
    out["naive"] = (
        naive.effect - d.pate,
        naive.se,
        naive.effect_ci_lower <= d.pate <= naive.effect_ci_upper,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 datasets, G = 20, 1,000 rows")
    ap.add_argument("--datasets", type=int, default=200)
    ap.add_argument("--configs", nargs="*", default=["1000x20", "1000x40", "1000x80", "2000x20"])
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--splits", type=int, default=1, help="also the median rule over S splits")
    args = ap.parse_args()
    reps = 20 if args.quick else args.datasets
    configs = ["1000x20"] if args.quick else args.configs
    print(f"load average at start: {os.getloadavg()[0]:.1f}; {reps} datasets per config")
    print(
        f"{'rows x G':>9} {'variant':<8} {'cover':>6} {'bias/SD':>8} {'SE/SD':>6} "
        f"{'mean z':>7} {'SD z':>5} {'SD':>7}"
    )
    t0 = time.perf_counter()
    for cfg in configs:
        n, g = (int(v) for v in cfg.split("x"))
        with Pool(args.jobs) as pool:
            tasks = [(n, g, SEED0 + r, args.splits) for r in range(reps)]
            res = pool.map(one, tasks, chunksize=4)
        extra = (f"median {args.splits}",) if args.splits > 1 else ()
        for name in (*VARIANTS, *extra, "naive"):
            err = np.array([r[name][0] for r in res])
            se = np.array([r[name][1] for r in res])
            cover = np.mean([r[name][2] for r in res])
            sd = float(err.std(ddof=1))
            z = err / se
            print(
                f"{cfg:>9} {name:<8} {cover:>6.3f} {err.mean() / sd:>+8.2f} {se.mean() / sd:>6.2f} "
                f"{z.mean():>+7.2f} {z.std(ddof=1):>5.2f} {sd:>7.4f}"
            )
        print(
            f"  ({time.perf_counter() - t0:.0f} s so far; binomial SE {np.sqrt(0.0475 / reps):.3f})"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
