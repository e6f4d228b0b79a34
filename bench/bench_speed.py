"""Fit time and peak memory: fit + effects on n rows x 20 modifiers, ours beside econml.

Each (estimator, n) runs in a fresh worker process (so the lifetime peak RSS from
``getrusage`` belongs to that run alone) with a wall-clock budget; a run over budget is killed
and reported as "> budget" with the CPU seconds it had spent. Data generation is not timed (its
RSS is reported separately as ``data MB``). Timed: ``fit`` + ``effect(X)`` on all n rows + the
ATE interval. ``cpu s`` is the worker's CPU time over the same span from
``resource.getrusage`` (user + system, every thread of the worker plus any child process it
reaped); ``proc cpu s`` is the whole worker process as reaped by the driver (``os.wait4``:
imports and data generation included). Unlike wall time, CPU time barely moves with the
machine's load, and ``cpu s / cores`` bounds the wall time on an idle machine. The load
average (1 min) is printed at the start and end of every run.
Baseline: econml ``CausalForestDML`` with LightGBM nuisances (econml's default 100 trees),
``n_jobs=2`` for both, at every size up to ``--baseline-max-n``. Run with ``nice``; other work
on the machine inflates the wall times.

Each run is appended to ``--out`` (JSON lines), so sizes can run as separate commands and one
table be rendered from all of them with ``--report``.

Usage::

    nice .venv/bin/python bench/bench_speed.py                       # 5k, 20k, 100k, 1M rows
    nice .venv/bin/python bench/bench_speed.py --sizes 5000 20000 --out runs.jsonl
    .venv/bin/python bench/bench_speed.py --report runs.jsonl          # table from the runs
    .venv/bin/python bench/bench_speed.py --worker AutoCate --n 10000  # one run, JSON line
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    econml_cf_baseline,
    machine_load,
    make_ours,
    markdown_table,
    simulate_speed_data,
)

BASELINE = "econml"
MB = 1024.0**2
DEFAULT_SIZES = [5_000, 20_000, 100_000, 1_000_000]


def _cpu(who: int) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


def _load1() -> float:
    return os.getloadavg()[0]


def worker(name: str, n: int, p: int, n_jobs: int, seed: int) -> dict[str, float | str]:
    """Time one estimator on one dataset in this process; return a JSON-able record."""
    y, t, x = simulate_speed_data(n, p, seed)
    data_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    load0 = _load1()
    cpu0 = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
    # the driver reads this line if the run is killed at its budget (CPU before the timed span)
    print(json.dumps({"phase": "start", "cpu0": cpu0, "load0": load0}), flush=True)
    start = time.perf_counter()
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
    cpu_s = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN) - cpu0
    true_tau = 1.0 + x["x0"].to_numpy() - 0.5 * x["x1"].to_numpy() ** 2
    return {
        "name": name,
        "n": n,
        "fit_s": fit_s,
        "total_s": total_s,
        "cpu_s": cpu_s,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB,
        "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / MB,
        "data_mb": data_rss / MB,
        "load_start": load0,
        "load_end": _load1(),
        "sqrt_pehe": float(np.sqrt(np.mean((tau - true_tau) ** 2))),
        "ate_err": abs(ate - float(true_tau.mean())),
    }


def run_measured(args: list[str], timeout: float) -> dict[str, object]:
    """Run ``python <args>`` (a worker), cap its wall time, and add its reaped rusage.

    Returns the worker's JSON record plus ``proc_cpu_s`` (the whole process, from
    ``os.wait4``), or, when it is killed at ``timeout`` seconds (a process we started),
    ``{"timeout": True, "budget_s": ..., "cpu_s": CPU spent in the timed span}``.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=err, text=True)
        t0 = time.perf_counter()
        killed = False
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.perf_counter() - t0 > timeout and not killed:
                proc.kill()
                killed = True
            time.sleep(0.5)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        wall = time.perf_counter() - t0
        proc_cpu = ru.ru_utime + ru.ru_stime
        out.seek(0)
        err.seek(0)
        lines = [json.loads(ln) for ln in out.read().splitlines() if ln.startswith("{")]
        stderr = err.read().strip()
    start = next((ln for ln in lines if ln.get("phase") == "start"), None)
    if killed:
        rec: dict[str, object] = {"timeout": True, "budget_s": timeout, "proc_cpu_s": proc_cpu}
        if start is not None:
            rec["cpu_s"] = proc_cpu - float(start["cpu0"])
            rec["load_start"] = start["load0"]
        rec["load_end"] = _load1()
        return rec
    done = [ln for ln in lines if "total_s" in ln]
    if proc.returncode != 0 or not done:
        last = stderr.splitlines()[-1] if stderr else f"rc={proc.returncode}"
        return {"error": last, "proc_cpu_s": proc_cpu, "proc_wall_s": wall}
    return {**done[-1], "proc_cpu_s": proc_cpu, "proc_wall_s": wall}


def render(records: dict[tuple[str, int], dict], names: list[str], sizes: list[int]) -> str:
    """The markdown table: per size, each estimator's wall/CPU and ours/econml ratios."""

    def cell(rec: dict, key: str, fmt: str) -> str:
        if not rec:
            return "not run"
        if rec.get("timeout"):
            if key == "total_s":
                return f"> {rec['budget_s']:.0f} (killed)"
            if key == "cpu_s" and "cpu_s" in rec:
                return f"> {rec['cpu_s']:.0f} (spent)"
            return ""
        if "error" in rec:
            return f"error: {rec['error'][:60]}" if key == "total_s" else ""
        return format(rec[key], fmt) if key in rec else ""

    def load(rec: dict) -> str:
        if "load_start" not in rec:
            return ""
        return f"{rec['load_start']:.1f}–{rec.get('load_end', float('nan')):.1f}"

    header = ["rows", "estimator", "wall s", "cpu s", "proc cpu s", "fit s", "peak RSS MB"]
    header += ["√PEHE", "ATE abs err", "ratio ours/econml wall", "ratio cpu", "load 1-min"]
    rows = []
    for n in sizes:
        base = records.get((BASELINE, n), {})
        for name in names:
            rec = records.get((name, n), {})
            r_wall = r_cpu = "—"
            if name != BASELINE and "total_s" in rec:
                if "total_s" in base:
                    r_wall = f"{rec['total_s'] / base['total_s']:.2f}"
                    r_cpu = f"{rec['cpu_s'] / base['cpu_s']:.2f}"
                elif base.get("timeout"):
                    r_wall = f"< {rec['total_s'] / base['budget_s']:.2f}"
                    if "cpu_s" in base:
                        r_cpu = f"< {rec['cpu_s'] / base['cpu_s']:.2f}"
            rows.append(
                [
                    f"{n:,}",
                    name,
                    cell(rec, "total_s", ".1f"),
                    cell(rec, "cpu_s", ".1f"),
                    cell(rec, "proc_cpu_s", ".1f") if rec else "",
                    cell(rec, "fit_s", ".1f"),
                    cell(rec, "peak_mb", ".0f"),
                    cell(rec, "sqrt_pehe", ".3f"),
                    cell(rec, "ate_err", ".3f"),
                    r_wall,
                    r_cpu,
                    load(rec),
                ]
            )
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5k and 20k rows only")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--p", type=int, default=20, help="number of modifiers")
    parser.add_argument("--estimators", nargs="*", default=["AutoCate"])
    parser.add_argument("--budget", type=float, default=900.0, help="wall seconds per run")
    parser.add_argument("--baseline-budget", type=float, default=1500.0, help="wall s per run")
    parser.add_argument("--no-baseline", action="store_true", help="skip econml")
    parser.add_argument("--baseline-only", action="store_true", help="only econml")
    parser.add_argument(
        "--baseline-max-n", type=int, default=1_000_000, help="largest n for the econml baseline"
    )
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="append every run's record (JSON lines)")
    parser.add_argument("--report", default=None, help="render the table from a --out file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.p, args.n_jobs, args.seed)))
        return
    if args.report:
        recs = [json.loads(ln) for ln in Path(args.report).read_text().splitlines() if ln]
        table = {(r["name"], int(r["n"])): r for r in recs}  # the latest run of each wins
        names = list(dict.fromkeys(r["name"] for r in recs if r["name"] != BASELINE))
        names += [BASELINE] if any(r["name"] == BASELINE for r in recs) else []
        print(render(table, names, sorted({int(r["n"]) for r in recs})))
        return

    sizes = args.sizes or ([5_000, 20_000] if args.quick else DEFAULT_SIZES)
    names = [] if args.baseline_only else [*args.estimators]
    names += [] if args.no_baseline else [BASELINE]
    script = str(Path(__file__).resolve())
    print(f"# speed: p={args.p}, n_jobs={args.n_jobs}; {machine_load()}", flush=True)
    records: dict[tuple[str, int], dict] = {}
    for n in sizes:
        for name in names:
            budget = args.baseline_budget if name == BASELINE else args.budget
            if name == BASELINE and n > args.baseline_max_n:
                continue
            cmd = [script, "--worker", name, "--n", str(n), "--p", str(args.p)]
            cmd += ["--n-jobs", str(args.n_jobs), "--seed", str(args.seed)]
            rec = {"name": name, "n": n, **run_measured(cmd, timeout=budget)}
            rec["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            records[(name, n)] = rec
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
            print(f"n={n:>9,} {name:>12}: {rec}  [{machine_load()}]", flush=True)
    print()
    print(render(records, names, sizes))
    print(f"# done; {machine_load()}")


if __name__ == "__main__":
    main()
