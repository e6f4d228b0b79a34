"""Accuracy on the project simulator: √PEHE, |ATE error| and ATE-interval coverage per estimator.

Data: ``causal.simulate_content`` (confounded boost targeting, nonlinear heterogeneous effects,
creator clusters), several seeds. Every estimator gets the same modifiers (categoricals as
pandas categoricals for ours; one-hot columns for econml, which cannot take them, econml #907)
and ``groups=creator_id`` (cluster-aware cross-fitting and, for ours, cluster-robust ATE
intervals). Truth: the ``true_cate_<outcome>`` columns; the ATE truth is their sample mean.
Baseline in the same run: econml ``CausalForestDML`` with LightGBM nuisances.

Usage::

    .venv/bin/python bench/bench_accuracy.py            # 3 seeds x 10,000 pins
    .venv/bin/python bench/bench_accuracy.py --quick    # 2 seeds x 3,000 pins
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from _common import (
    econml_cf_baseline,
    fmt_mean_se,
    machine_load,
    make_ours,
    markdown_table,
    mean_se,
    our_estimators,
    sqrt_pehe,
)

BASELINE = "econml CausalForestDML (LightGBM)"
MODIFIERS = [
    "category",
    "format",
    "quality_score",
    "age_days",
    "creator_followers",
    "text_overlay",
    "shoppable",
    "prior_impressions",
]


def _scalar(v: Any) -> float:
    return float(np.asarray(v, dtype=float).reshape(-1)[0])


def fit_one(name: str, df: pd.DataFrame, outcome: str, seed: int, n_jobs: int) -> dict[str, float]:
    """Fit ``name`` on one simulated table for one outcome; return the metrics."""
    y = df[outcome].to_numpy(dtype=float)
    t = df["boosted"].to_numpy(dtype=float)
    x = df[MODIFIERS]
    groups = df["creator_id"].to_numpy()
    tau = df[f"true_cate_{outcome}"].to_numpy(dtype=float)
    start = time.perf_counter()
    if name == BASELINE:
        xn = pd.get_dummies(x, columns=["category", "format"], dtype=float).to_numpy()
        est = econml_cf_baseline(len(df), random_state=seed, n_jobs=n_jobs)
        est.fit(y, t, X=xn, groups=groups)
        tau_hat = np.asarray(est.effect(xn), dtype=float).reshape(-1)
        inf = est.ate__inference()
        ate = _scalar(inf.point_estimate)
        lo, hi = (_scalar(v) for v in inf.conf_int(alpha=0.05))
    else:
        est = make_ours(name, random_state=seed, n_jobs=n_jobs)
        est.fit(y, t, X=x, groups=groups)
        tau_hat = np.asarray(est.effect(x), dtype=float).reshape(-1)
        ate = _scalar(est.ate())
        lo, hi = (_scalar(v) for v in est.ate_interval(alpha=0.05))
    fit_s = time.perf_counter() - start
    sate = float(tau.mean())
    return {
        "pehe": sqrt_pehe(tau_hat, tau),
        "rel_pehe": sqrt_pehe(tau_hat, tau) / float(tau.std()),
        "ate_err": abs(ate - sate),
        "covered": float(lo <= sate <= hi),
        "ci_width": hi - lo,
        "corr": float(np.corrcoef(tau_hat, tau)[0, 1]) if tau_hat.std() > 0 else 0.0,
        "fit_s": fit_s,
    }


def main(argv: list[str] | None = None) -> None:
    import causal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds x 3,000 pins")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--outcomes", nargs="*", default=["saves"])
    parser.add_argument("--estimators", nargs="*", default=None)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    n_seeds = args.seeds or (2 if args.quick else 3)
    n = args.n or (3_000 if args.quick else 10_000)
    names = list(args.estimators or our_estimators())
    if not args.no_baseline:
        names.append(BASELINE)
    print(f"# simulate_content: {n_seeds} seeds x {n:,} pins; {machine_load()}", flush=True)

    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    errors: dict[tuple[str, str], str] = {}
    for seed in range(1, n_seeds + 1):
        df = causal.simulate_content(n=n, seed=seed)
        for outcome in args.outcomes:
            for name in names:
                key = (outcome, name)
                if key in errors:
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        m = fit_one(name, df, outcome, seed, args.n_jobs)
                except Exception as exc:  # report it, keep benchmarking the others
                    errors[key] = f"{type(exc).__name__}: {exc}"[:200]
                    print(f"seed {seed} {outcome} {name}: FAILED {errors[key]}", flush=True)
                    continue
                results.setdefault(key, []).append(m)
                print(
                    f"seed {seed} {outcome:>16} {name:>34}: √PEHE {m['pehe']:.3f} "
                    f"ATE err {m['ate_err']:.3f} covered {m['covered']:.0f} {m['fit_s']:.1f}s",
                    flush=True,
                )

    for outcome in args.outcomes:
        header = ["estimator", "√PEHE", "√PEHE / SD(τ)", "corr(τ̂, τ)", "ATE abs err"]
        header += ["95% ATE CI covers", "CI width", "fit s"]
        rows = []
        for name in names:
            res = results.get((outcome, name), [])
            if not res:
                rows.append([name, f"failed: {errors.get((outcome, name), '?')}"] + ["—"] * 6)
                continue
            col = {k: [m[k] for m in res] for k in res[0]}
            rows.append(
                [
                    name,
                    fmt_mean_se(col["pehe"], 3),
                    fmt_mean_se(col["rel_pehe"], 3),
                    fmt_mean_se(col["corr"], 3),
                    fmt_mean_se(col["ate_err"], 3),
                    f"{int(sum(col['covered']))}/{len(res)}",
                    f"{np.mean(col['ci_width']):.3f}",
                    f"{np.mean(col['fit_s']):.1f}",
                ]
            )
        print(f"\n## outcome: {outcome}\n")
        print(markdown_table(header, rows))
        ours = results.get((outcome, "AutoCate"))
        base = results.get((outcome, BASELINE))
        if ours and base:
            o = mean_se([m["pehe"] for m in ours])[0]
            b = mean_se([m["pehe"] for m in base])[0]
            print(f"\nAutoCate √PEHE {o:.3f} vs econml {b:.3f}: ratio {o / b:.2f}")
    print(f"# done; {machine_load()}")


if __name__ == "__main__":
    main()
