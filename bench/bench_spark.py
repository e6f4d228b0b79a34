"""Benchmark: the experiment readout on DuckDB vs Spark local mode, same Parquet file, same plan.

A Parquet file of N rows (N/4 users, so every unit is rolled up; 2 arms; a mean with CUPED, a
proportion, a ratio; one segment column) is generated once with DuckDB SQL. Each engine then
runs ``causal.readout`` in a fresh worker process; we report the wall time of the readout call
(Spark: session start-up timed separately), the peak RSS of the worker (and of Spark's JVM,
read from /proc VmHWM), and the largest relative difference of effect and standard error
between the two engines (must be <= 1e-9).

Each engine's result is saved next to the Parquet file (``result_<engine>_<rows>.json``), so on a
loaded machine the engines can run one per command (``--engines duckdb``, then ``--engines
spark``); the comparison uses the saved results of both. CPU seconds are those of the worker's
process tree (Spark: driver + JVM), the figure that survives a shared machine's load; the load
average is printed before and after each engine.

Usage::

    nice .venv/bin/python bench/bench_spark.py --rows 10000000
    nice .venv/bin/python bench/bench_spark.py --rows 100000000 --engines duckdb   # then spark
    .venv/bin/python bench/bench_spark.py --quick        # 200k rows, a minute
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
PARITY = 1e-9


def _design():
    from causal.experiments import ExperimentDesign, Mean, Proportion, Ratio

    return ExperimentDesign(
        "arm",
        "control",
        [
            Mean("revenue", "revenue", covariate="revenue_pre"),
            Ratio("ctr", "clicks", "views"),
            Proportion("converted", "converted"),
        ],
        unit="user",
        segments=["platform"],
    )


def generate(path: Path, rows: int) -> None:
    import duckdb

    users = max(rows // 4, 1)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(
        f"""
        COPY (
          SELECT user,
                 CASE WHEN hash(user) % 2 = 0 THEN 'control' ELSE 'treatment' END AS arm,
                 CASE WHEN hash(user * 7) % 3 = 0 THEN 'ios' ELSE 'web' END AS platform,
                 random() * 10 + CASE WHEN hash(user) % 2 = 1 THEN 0.05 ELSE 0 END AS revenue,
                 random() * 10 AS revenue_pre,
                 CAST(floor(random() * 5) AS INTEGER) AS clicks,
                 CAST(floor(random() * 40) + 1 AS INTEGER) AS views,
                 CAST(random() < 0.1 AS INTEGER) AS converted
          FROM (SELECT CAST(floor(random() * {users}) AS BIGINT) AS user
                FROM range({rows}))
        ) TO '{path}' (FORMAT PARQUET)
        """
    )
    con.close()


def _jvm_peak_mb() -> float:
    """Peak RSS (VmHWM) of the Java children of this process, in MB."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            if "java" not in child.name():
                continue
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except (psutil.Error, OSError):
            continue
    return total


def _tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process and its descendants (Spark: the JVM)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            continue
    return total


def worker(engine: str, path: str, driver_memory: str) -> None:
    from causal.experiments import readout

    out: dict = {"engine": engine}
    conn = None
    if engine == "spark":
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        t0 = time.perf_counter()
        conn = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", driver_memory)
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate()
        )
        conn.sparkContext.setLogLevel("ERROR")
        out["startup_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ro = readout(path, _design(), engine=engine, connection=conn)
    out["readout_s"] = time.perf_counter() - t0
    out["rows"] = [[r.metric, r.segment_value, r.effect, r.se] for r in ro.metrics + ro.segments]
    out["python_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["cpu_s"] = _tree_cpu_s()
    if conn is not None:
        out["jvm_peak_mb"] = _jvm_peak_mb()
        conn.stop()
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", default="/tmp/causal_bench_spark")
    ap.add_argument("--driver-memory", default="2g")
    ap.add_argument(
        "--engines",
        default="duckdb,spark",
        help="run these (one per command on a loaded machine); the comparison uses the saved "
        "results of both",
    )
    ap.add_argument("--worker", nargs=2, metavar=("ENGINE", "PATH"))
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.driver_memory)
        return
    rows = 200_000 if args.quick else args.rows
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    path = Path(args.dir) / f"exp_{rows}.parquet"
    if not path.exists():
        t0 = time.perf_counter()
        generate(path, rows)
        print(f"generated {rows:,} rows in {time.perf_counter() - t0:.1f}s -> {path}")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = {}
    for engine in ("duckdb", "spark"):
        saved = Path(args.dir) / f"result_{engine}_{rows}.json"
        if engine in args.engines.split(","):
            cmd = [sys.executable, str(HERE), "--worker", engine, str(path),
                   "--driver-memory", args.driver_memory]  # fmt: skip
            print(f"load average before {engine}: {os.getloadavg()}", flush=True)
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if proc.returncode:
                sys.exit(f"{engine} worker failed:\n{proc.stderr[-3000:]}")
            saved.write_text(proc.stdout.strip().splitlines()[-1])
            print(f"load average after {engine}: {os.getloadavg()}", flush=True)
    for engine in ("duckdb", "spark"):
        saved = Path(args.dir) / f"result_{engine}_{rows}.json"
        if not saved.exists():
            print(f"{engine}: not run yet (--engines {engine})")
            return
        res[engine] = json.loads(saved.read_text())
    d, s = res["duckdb"], res["spark"]
    worst = 0.0
    for a, b in zip(d["rows"], s["rows"], strict=True):
        assert a[:2] == b[:2], (a, b)
        for x, y in zip(a[2:], b[2:], strict=True):
            worst = max(worst, abs(x - y) / max(abs(x), 1e-300))
    print(f"\nrows={rows:,}  users~{rows // 4:,}  (unit roll-up, 3 metrics, 1 segment column)")
    print(
        f"duckdb: readout {d['readout_s']:.1f}s, CPU {d['cpu_s']:.1f}s, peak RSS "
        f"{d['python_peak_mb']:.0f} MB"
    )
    print(
        f"spark local[2]: session start {s['startup_s']:.1f}s, readout {s['readout_s']:.1f}s "
        f"(x{s['readout_s'] / d['readout_s']:.1f} DuckDB), CPU {s['cpu_s']:.1f}s (incl. start-up "
        f"and JVM), peak RSS python "
        f"{s['python_peak_mb']:.0f} MB + JVM {s['jvm_peak_mb']:.0f} MB"
    )
    print(f"largest relative difference of effect/se: {worst:.2e} (bar {PARITY:g})")
    if worst > PARITY:
        sys.exit("engines disagree")


if __name__ == "__main__":
    main()
