"""Benchmark: distributed effect scoring on Spark vs in-process pandas, and the accuracy cost of
fitting on a stratified sample.

``--scoring`` (default): one fitted model (LinearDML on 50k simulated pins, saves, the demo's
modifiers, intervals) scores N rows of a Parquet file (resampled ``simulate_content`` rows with
fresh ids) twice, each in a fresh worker process: (a) pandas in process — read the Parquet,
``effect`` + ``effect_interval``, write Parquet; (b) ``causal.spark.score_effects`` on Spark
local[2] — read, score (``mapInPandas``), write Parquet. We print wall time, CPU seconds of the
whole process tree (Spark: driver + JVM + Python workers), peak RSS, and the largest relative
difference between the two outputs joined on the id (must be <= 1e-12).

``--sample``: the accuracy cost of the large-fit strategy on ``simulate_content`` (N rows per
seed): the same estimator fitted on all rows vs on stratified samples of ``--sizes`` rows (by
treatment x format, :func:`causal.spark.fit_on_sample` on Spark local[2]); each (seed, arm) in
a fresh process, one at a time. Reports sqrt(PEHE) against the true CATE over all rows, the
doubly-robust ATE, its SE and whether its 95% interval covers the mean true CATE of the N rows
(full fit: ``est.ate_inference()``; sample fit: ``segment_effects`` over all rows, fitted rows
out of fold), fit CPU seconds (process tree) and the Python process's peak RSS during the fit.

Usage::

    nice .venv/bin/python bench/bench_spark_scoring.py --rows 10000000
    # or one engine per command: --engines pandas, then --engines spark (compares both)
    nice .venv/bin/python bench/bench_spark_scoring.py --sample --rows 200000 --sizes 25000,50000 \\
        --seeds 1,2,3 --estimator linear --results bench_sample.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
SAME = 1e-12
MODIFIERS = ["category", "format", "quality_score", "age_days", "creator_followers",
             "text_overlay", "shoppable"]  # fmt: skip
CONFOUNDERS = ["prior_impressions"]
OUTCOME = "saves"


def _session(driver_memory: str = "2g"):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _tree_usage() -> tuple[float, float]:
    """(CPU seconds, sum of peak RSS in MB) of this process and all its descendants."""
    import psutil

    me = psutil.Process()
    cpu, peak = 0.0, 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system + t.children_user + t.children_system
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1]) / 1024
        except (psutil.Error, OSError):
            continue
    return cpu, peak


# ---------------------------------------------------------------------------- scoring
def make_data(path: Path, model_path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import causal
    import estimators

    base = causal.simulate_content(n=200_000, seed=11)
    if not model_path.exists():  # one model for every size
        fit = base.sample(50_000, random_state=0)
        est = estimators.LinearDML(random_state=0).fit(
            fit[OUTCOME], fit["boosted"], X=fit[MODIFIERS], W=fit[CONFOUNDERS]
        )
        model_path.write_bytes(pickle.dumps(est))
    cols = base[MODIFIERS].copy()
    for c in ("category", "format"):
        cols[c] = cols[c].astype(str)
    rng = np.random.default_rng(0)
    writer = None
    chunk = 1_000_000
    for start in range(0, rows, chunk):
        m = min(chunk, rows - start)
        part = cols.iloc[rng.integers(0, len(cols), m)].reset_index(drop=True)
        part.insert(0, "pin_id", np.arange(start, start + m, dtype=np.int64))
        table = pa.Table.from_pandas(part, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def worker(engine: str, data: str, model_path: str, out: str) -> None:
    import numpy as np
    import pandas as pd

    est = pickle.loads(Path(model_path).read_bytes())
    res: dict = {"engine": engine}
    if engine == "pandas":
        t0 = time.perf_counter()
        df = pd.read_parquet(data)
        x = df[MODIFIERS]
        eff = np.asarray(est.effect(x), dtype=float)
        lo, hi = est.effect_interval(x, alpha=0.05)
        pd.DataFrame({"pin_id": df["pin_id"], "effect": eff,
                      "effect_ci_lower": np.asarray(lo, dtype=float),
                      "effect_ci_upper": np.asarray(hi, dtype=float)}).to_parquet(out)  # fmt: skip
        res["wall_s"] = time.perf_counter() - t0
        res["cpu_s"], _ = _tree_usage()
        res["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    else:
        from causal.spark import score_effects

        t0 = time.perf_counter()
        spark = _session()
        res["startup_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        score_effects(est, data, keep=["pin_id"], spark=spark).write.mode("overwrite").parquet(out)
        res["wall_s"] = time.perf_counter() - t0
        res["cpu_s"], res["peak_mb"] = _tree_usage()
        spark.stop()
    print(json.dumps(res))


def scoring(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    data = d / f"items_{args.rows}.parquet"
    model = d / "model.pkl"
    if not data.exists() or not model.exists():
        t0 = time.perf_counter()
        make_data(data, model, args.rows)
        print(f"model fitted and {args.rows:,} rows written in {time.perf_counter() - t0:.0f}s")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = {}
    for engine in ("pandas", "spark"):
        out = d / f"scored_{engine}_{args.rows}.parquet"
        saved = d / f"result_{engine}_{args.rows}.json"
        if engine in args.engines.split(","):
            cmd = [sys.executable, str(HERE), "--worker", engine, str(data), str(model), str(out)]
            print(f"load average before {engine}: {os.getloadavg()}")
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if proc.returncode:
                sys.exit(f"{engine} worker failed:\n{proc.stderr[-3000:]}")
            saved.write_text(proc.stdout.strip().splitlines()[-1])
            print(f"load average after {engine}: {os.getloadavg()}")
    for engine in ("pandas", "spark"):
        saved = d / f"result_{engine}_{args.rows}.json"
        if not saved.exists():
            print(f"{engine}: not run yet (--engines {engine})")
            return
        res[engine] = json.loads(saved.read_text())
    a = pd.read_parquet(d / f"scored_pandas_{args.rows}.parquet").sort_values("pin_id")
    b = pd.read_parquet(d / f"scored_spark_{args.rows}.parquet").sort_values("pin_id")
    assert (
        len(a) == len(b) == args.rows and (a["pin_id"].to_numpy() == b["pin_id"].to_numpy()).all()
    )
    worst = 0.0
    for c in ("effect", "effect_ci_lower", "effect_ci_upper"):
        x, y = a[c].to_numpy(), b[c].to_numpy()
        worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-300))))
    p, s = res["pandas"], res["spark"]
    print(f"\nrows={args.rows:,}  LinearDML (7 modifiers, intervals), read + score + write Parquet")
    print(f"pandas in process: wall {p['wall_s']:.1f}s, CPU {p['cpu_s']:.1f}s, peak RSS "
          f"{p['peak_mb']:.0f} MB")  # fmt: skip
    print(f"spark local[2]: session start {s['startup_s']:.1f}s, wall {s['wall_s']:.1f}s "
          f"(x{s['wall_s'] / p['wall_s']:.2f} pandas), CPU {s['cpu_s']:.1f}s (driver + JVM + "
          f"workers), peak RSS (sum over processes) {s['peak_mb']:.0f} MB")  # fmt: skip
    print(f"largest relative difference of effect/intervals: {worst:.2e} (bar {SAME:g})")
    if worst > SAME:
        sys.exit("outputs differ")


# ---------------------------------------------------------------------------- sample accuracy
def _rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS since the last reset) of this process, MB."""
    cur = peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cur, peak


def _reset_peak() -> None:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def _make_estimator(name: str, seed: int):
    import estimators

    if name == "linear":
        return estimators.LinearDML(random_state=seed)
    return estimators.AutoCate(random_state=seed)


def sample_worker(args: argparse.Namespace, arm: str) -> dict:
    """One arm in this (fresh) process: ``full`` (all rows) or a sample size. Fit CPU seconds
    are those of this process and its children (Spark's JVM included for a sample arm: the
    sampling job); peak RSS is this Python process's high-water mark from just before the fit
    (sampling + fit) to its end (Spark's JVM, a separate process, is reported apart)."""
    import numpy as np

    import causal

    seed = args.seed
    df = causal.simulate_content(n=args.rows, seed=seed)
    truth = df[f"true_cate_{OUTCOME}"].to_numpy()
    true_ate = float(truth.mean())
    X = df[MODIFIERS]
    res: dict = {"seed": seed, "rows": args.rows, "estimator": args.estimator, "arm": arm,
                 "true_ate": true_ate, "load_before": os.getloadavg()}  # fmt: skip
    if arm == "full":
        rss0, _ = _rss_mb()
        _reset_peak()
        cpu0, py0, t0 = _tree_usage()[0], time.process_time(), time.perf_counter()
        est = _make_estimator(args.estimator, seed).fit(
            df[OUTCOME], df["boosted"], X=X, W=df[CONFOUNDERS]
        )
        res["fit_wall_s"] = time.perf_counter() - t0
        res["fit_cpu_s"] = _tree_usage()[0] - cpu0
        res["fit_py_cpu_s"] = time.process_time() - py0
        res["rss_before_mb"], res["peak_rss_mb"] = rss0, _rss_mb()[1]
        res["n_fit"] = args.rows
        ate = est.ate_inference()
        model = est
    else:
        from causal.spark import fit_on_sample, segment_effects

        spark = _session()
        sdf = spark.createDataFrame(df[["pin_id", OUTCOME, "boosted", *MODIFIERS, *CONFOUNDERS]])
        sdf = sdf.cache()
        sdf.count()
        import psutil

        jvm = [p for p in psutil.Process().children(recursive=True) if "java" in p.name()]
        rss0, _ = _rss_mb()
        _reset_peak()
        cpu0, py0, t0 = _tree_usage()[0], time.process_time(), time.perf_counter()
        fit = fit_on_sample(sdf, outcome=OUTCOME, treatment="boosted", modifiers=MODIFIERS,
                            confounders=CONFOUNDERS, segments=["format"], row_id="pin_id",
                            max_rows=int(arm), seed=seed,
                            estimator=_make_estimator(args.estimator, seed),
                            spark=spark)  # fmt: skip
        res["fit_wall_s"] = time.perf_counter() - t0
        res["fit_cpu_s"] = _tree_usage()[0] - cpu0
        res["fit_py_cpu_s"] = time.process_time() - py0
        res["fit_only_wall_s"] = fit.fit_seconds
        res["rss_before_mb"], res["peak_rss_mb"] = rss0, _rss_mb()[1]
        res["jvm_peak_rss_mb"] = sum(
            int(line.split()[1]) / 1024
            for p in jvm
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines()
            if line.startswith("VmHWM:")
        )
        res["n_fit"] = fit.n_sample
        res["sample"] = {k: fit.summary[k] for k in ("n_rows", "n_sample", "seed", "max_rows")}
        t0 = time.perf_counter()
        ate = segment_effects(fit, sdf, treatment="boosted", outcome=OUTCOME, spark=spark).ate
        res["segment_effects_wall_s"] = time.perf_counter() - t0
        spark.stop()
        model = fit.model
    t0 = time.perf_counter()
    res["sqrt_pehe"] = float(np.sqrt(np.mean((np.asarray(model.effect(X)) - truth) ** 2)))
    res["effect_all_rows_wall_s"] = time.perf_counter() - t0
    res["selected"] = str(getattr(model, "selected_", type(model).__name__))
    res.update(ate=ate.effect, ate_se=ate.se, ate_lo=ate.effect_ci_lower,
               ate_hi=ate.effect_ci_upper, ate_error=ate.effect - true_ate,
               covers=bool(ate.effect_ci_lower <= true_ate <= ate.effect_ci_upper),
               load_after=os.getloadavg())  # fmt: skip
    return res


def sample_table(path: Path, estimator: str, rows: int) -> None:
    """Per seed and arm, then the mean over seeds relative to the full fit (markdown)."""
    import numpy as np
    import pandas as pd

    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    t = pd.DataFrame([r for r in recs if r["estimator"] == estimator and r["rows"] == rows])
    if t.empty:
        print(f"no results for {estimator} at {rows:,} rows in {path}")
        return
    t["n"] = t["n_fit"]
    t = t.sort_values(["seed", "n"], ascending=[True, False])
    print(f"\n{estimator}, {rows:,} rows ({path})")
    print(
        "| seed | fit rows | √PEHE | ATE (truth) | ATE SE | covers | fit CPU-s (Python) "
        "| fit wall s | peak RSS MB | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in t.itertuples():
        print(f"| {r.seed} | {r.n:,} | {r.sqrt_pehe:.3f} | {r.ate:.3f} ({r.true_ate:.3f}) | "
              f"{r.ate_se:.4f} | {'yes' if r.covers else 'no'} | {r.fit_cpu_s:.0f} "
              f"({r.fit_py_cpu_s:.0f}) | "
              f"{r.fit_wall_s:.0f} | {r.peak_rss_mb:.0f} | {r.load_before[0]:.1f} |")  # fmt: skip
    full = t[t["arm"] == "full"].set_index("seed")
    print(
        "\n| fit rows | seeds | √PEHE (× full) | mean abs ATE error | ATE SE (× full) | covers "
        "| fit CPU-s (× full) | peak RSS MB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n, g in t.groupby("n", sort=False):
        g = g.set_index("seed")
        both = g.index.intersection(full.index)

        def ratio(c, g=g, both=both):
            if both.empty:
                return "n/a"
            return f"{float(np.mean(g.loc[both, c] / full.loc[both, c])):.2f}"

        print(f"| {n:,} | {len(g)} | {g['sqrt_pehe'].mean():.3f} ({ratio('sqrt_pehe')}) | "
              f"{g['ate_error'].abs().mean():.3f} | {g['ate_se'].mean():.4f} ({ratio('ate_se')}) "
              f"| {int(g['covers'].sum())}/{len(g)} | {g['fit_cpu_s'].mean():.0f} "
              f"({ratio('fit_cpu_s')}) | {g['peak_rss_mb'].mean():.0f} |")  # fmt: skip


def sample_accuracy(args: argparse.Namespace) -> None:
    """Every (seed, arm) in a fresh process, one at a time; results appended to ``--results``
    (a (seed, arm) already there is not rerun), then the table."""
    path = Path(args.results)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done.add((r["estimator"], r["rows"], r["seed"], r["arm"]))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    arms = ["full", *[str(int(s)) for s in args.sizes.split(",") if s]]
    for seed in [int(s) for s in args.seeds.split(",")]:
        for arm in arms:
            if (args.estimator, args.rows, seed, arm) in done:
                continue
            cmd = [sys.executable, str(HERE), "--sample-worker", arm, "--rows", str(args.rows),
                   "--seed", str(seed), "--estimator", args.estimator]  # fmt: skip
            print(f"{args.estimator} seed {seed} arm {arm}: load {os.getloadavg()}", flush=True)
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if proc.returncode:
                sys.exit(f"worker failed:\n{proc.stderr[-3000:]}")
            line = proc.stdout.strip().splitlines()[-1]
            with path.open("a") as fh:
                fh.write(line + "\n")
            r = json.loads(line)
            print(f"  sqrt(PEHE) {r['sqrt_pehe']:.3f}, ATE {r['ate']:.3f} (truth "
                  f"{r['true_ate']:.3f}, SE {r['ate_se']:.4f}), fit CPU {r['fit_cpu_s']:.0f}s, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)  # fmt: skip
    sample_table(path, args.estimator, args.rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dir", default="/tmp/causal_bench_spark_scoring")
    ap.add_argument("--sample", action="store_true")
    ap.add_argument("--sizes", default="25000,50000", help="--sample: sample sizes (max_rows)")
    ap.add_argument("--seeds", default="1,2,3", help="--sample: simulation/sampling seeds")
    ap.add_argument(
        "--results",
        default="/tmp/causal_bench_sample/results.jsonl",
        help="--sample: JSON lines, one per (seed, arm); kept across runs",
    )
    ap.add_argument("--sample-worker", metavar="ARM", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--estimator", choices=["auto", "linear"], default="auto")
    ap.add_argument(
        "--engines",
        default="pandas,spark",
        help="run these (one per command "
        "on a loaded machine); the comparison uses saved results of both",
    )
    ap.add_argument("--worker", nargs=4, metavar=("ENGINE", "DATA", "MODEL", "OUT"))
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
    elif args.sample_worker:
        print(json.dumps(sample_worker(args, args.sample_worker)))
    elif args.sample:
        sample_accuracy(args)
    else:
        scoring(args)


if __name__ == "__main__":
    main()
