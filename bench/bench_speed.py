"""Fit time and peak memory: fit + effects on n rows x 20 modifiers, ours beside econml.

Each (estimator, n) runs in a fresh worker process (so the lifetime peak RSS from
``getrusage`` belongs to that run alone) with a wall-clock budget; a run over budget is killed
and reported as "did not finish in N s". Data generation is not timed (its RSS is reported
separately as ``data MB``). Timed: ``fit`` + ``effect(X)`` on all n rows + the ATE interval.
``cpu s`` is the worker's CPU time over the same span (all threads): unlike wall time it barely
moves with the machine's load, and ``cpu s / cores`` bounds the wall time on an idle machine.
Baseline: econml ``CausalForestDML`` with LightGBM nuisances (econml's default 100 trees),
``n_jobs=2`` for both, run up to ``--baseline-max-n`` rows (default 100,000: at 1M it did not
finish in 15 minutes). Run with ``nice``; other work on the machine inflates the wall times.

Usage::

    nice .venv/bin/python bench/bench_speed.py            # 10k, 100k, 1M rows
    .venv/bin/python bench/bench_speed.py --quick         # 10k, 50k rows
    .venv/bin/python bench/bench_speed.py --worker AutoCate --n 10000   # one run, JSON line
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    econml_cf_baseline,
    lifetime_peak_rss,
    machine_load,
    make_ours,
    markdown_table,
    run_worker,
    simulate_speed_data,
)

BASELINE = "econml"
MB = 1024.0**2


def worker(name: str, n: int, p: int, n_jobs: int, seed: int) -> dict[str, float | str]:
    """Time one estimator on one dataset in this process; return a JSON-able record."""
    y, t, x = simulate_speed_data(n, p, seed)
    data_rss = lifetime_peak_rss()
    start = time.perf_counter()
    cpu0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == BASELINE:
            est = econml_cf_baseline(n, random_state=seed, n_jobs=n_jobs, n_trees=100)
            est.fit(y, t, X=x.to_numpy())
            fit_s = time.perf_counter() - start
            tau = np.asarray(est.effect(x.to_numpy())).reshape(-1)
            inf = est.ate__inference()
            ate = float(np.asarray(inf.point_estimate).reshape(-1)[0])
        else:
            est = make_ours(name, random_state=seed, n_jobs=n_jobs)
            est.fit(y, t, X=x)
            fit_s = time.perf_counter() - start
            tau = np.asarray(est.effect(x)).reshape(-1)
            ate = float(np.asarray(est.ate()).reshape(-1)[0])
            est.ate_interval(alpha=0.05)
    total_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu0
    true_tau = 1.0 + x["x0"].to_numpy() - 0.5 * x["x1"].to_numpy() ** 2
    return {
        "name": name,
        "n": n,
        "fit_s": fit_s,
        "total_s": total_s,
        "cpu_s": cpu_s,
        "peak_mb": lifetime_peak_rss() / MB,
        "data_mb": data_rss / MB,
        "sqrt_pehe": float(np.sqrt(np.mean((tau - true_tau) ** 2))),
        "ate_err": abs(ate - float(true_tau.mean())),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 50k rows only")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--p", type=int, default=20, help="number of modifiers")
    parser.add_argument("--estimators", nargs="*", default=["AutoCate"])
    parser.add_argument("--budget", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--baseline-budget", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--no-baseline", action="store_true", help="skip econml")
    parser.add_argument(
        "--baseline-max-n", type=int, default=100_000, help="largest n for the econml baseline"
    )
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.p, args.n_jobs, args.seed)))
        return

    sizes = args.sizes or ([10_000, 50_000] if args.quick else [10_000, 100_000, 1_000_000])
    names = [*args.estimators] + ([] if args.no_baseline else [BASELINE])
    script = str(Path(__file__).resolve())
    print(f"# speed: p={args.p}, n_jobs={args.n_jobs}; {machine_load()}", flush=True)
    records: dict[tuple[str, int], dict] = {}
    timed_out: set[str] = set()
    for n in sizes:
        for name in names:
            budget = args.baseline_budget if name == BASELINE else args.budget
            if name == BASELINE and n > args.baseline_max_n:
                records[(name, n)] = {"not_run": True}
                continue
            if name in timed_out:
                # it already ran out of time on fewer rows; it cannot finish on more
                records[(name, n)] = {"timeout": True, "budget_s": budget, "skipped": True}
                continue
            cmd = [script, "--worker", name, "--n", str(n), "--p", str(args.p)]
            cmd += ["--n-jobs", str(args.n_jobs), "--seed", str(args.seed)]
            rec = run_worker(cmd, timeout=budget)
            records[(name, n)] = rec
            if rec.get("timeout"):
                timed_out.add(name)
            print(f"n={n:>9,} {name:>12}: {rec}  [{machine_load()}]", flush=True)

    def cell(rec: dict, key: str, fmt: str) -> str:
        if rec.get("not_run"):
            return f"not run (n > {args.baseline_max_n:,})" if key == "total_s" else ""
        if rec.get("timeout"):
            extra = ", not run" if rec.get("skipped") else ""
            return f"did not finish in {rec['budget_s']:.0f} s{extra}"
        if "error" in rec:
            return f"error: {rec['error'][:80]}"
        return format(rec[key], fmt)

    header = ["rows", "estimator", "fit + effects s", "cpu s", "fit s", "peak RSS MB", "data MB"]
    header += ["√PEHE", "ATE abs err", "time ratio ours/econml"]
    rows = []
    for n in sizes:
        base = records.get((BASELINE, n), {})
        for name in names:
            rec = records[(name, n)]
            ratio = "—"
            if name != BASELINE and "total_s" in rec:
                if "total_s" in base:
                    ratio = f"{rec['total_s'] / base['total_s']:.2f}"
                elif base.get("timeout"):
                    ratio = f"< {rec['total_s'] / base['budget_s']:.2f}"
            rows.append(
                [
                    f"{n:,}",
                    name,
                    cell(rec, "total_s", ".1f"),
                    cell(rec, "cpu_s", ".1f"),
                    cell(rec, "fit_s", ".1f"),
                    cell(rec, "peak_mb", ".0f"),
                    cell(rec, "data_mb", ".0f"),
                    cell(rec, "sqrt_pehe", ".3f"),
                    cell(rec, "ate_err", ".3f"),
                    ratio,
                ]
            )
    print()
    print(markdown_table(header, rows))
    for name in args.estimators:
        times = [(n, records[(name, n)].get("total_s")) for n in sizes]
        times = [(n, s) for n, s in times if s is not None]
        if len(times) >= 2:
            (n0, s0), (n1, s1) = times[0], times[-1]
            slope = np.log(s1 / s0) / np.log(n1 / n0)
            cpu = [records[(name, n)]["cpu_s"] for n in (n0, n1)]
            cpu_slope = np.log(cpu[1] / cpu[0]) / np.log(n1 / n0)
            print(
                f"{name}: wall time grows as n^{slope:.2f} (x{s1 / s0:.1f}), CPU time as "
                f"n^{cpu_slope:.2f} (x{cpu[1] / cpu[0]:.1f}) from {n0:,} to {n1:,} rows"
            )
    print(f"# done; {machine_load()}")


if __name__ == "__main__":
    main()
