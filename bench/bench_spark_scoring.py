"""Benchmark: distributed effect scoring on Spark vs in-process pandas, and the accuracy cost of
fitting on a stratified sample.

``--scoring`` (default): one fitted model (LinearDML on 50k simulated pins, saves, the demo's
modifiers, intervals) scores N rows of a Parquet file (resampled ``simulate_content`` rows with
fresh ids) twice, each in a fresh worker process: (a) pandas in process — read the Parquet,
``effect`` + ``effect_interval``, write Parquet; (b) ``causal.spark.score_effects`` on Spark
local[2] — read, score (``mapInPandas``), write Parquet. We print wall time, CPU seconds of the
whole process tree (Spark: driver + JVM + Python workers), peak RSS, and the largest relative
difference between the two outputs joined on the id (must be <= 1e-12).

``--sample``: the accuracy cost of the large-fit strategy on ``simulate_content`` (N rows, one
seed): the same estimator fitted on all rows vs on a stratified sample of ``--max-rows`` (by
treatment x format, :func:`causal.spark.fit_on_sample`); both score every row. Reports
sqrt(PEHE) against the true CATE and the error of the doubly-robust ATE (full fit:
``est.ate()``; sample fit: ``segment_effects`` over all rows, fitted rows out of fold).

Usage::

    nice .venv/bin/python bench/bench_spark_scoring.py --rows 10000000
    # or one engine per command: --engines pandas, then --engines spark (compares both)
    nice .venv/bin/python bench/bench_spark_scoring.py --sample --rows 200000 --max-rows 50000 --seed 1
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
def sample_accuracy(args: argparse.Namespace) -> None:
    import numpy as np

    import causal
    import estimators
    from causal.spark import fit_on_sample, segment_effects

    def make():
        if args.estimator == "linear":
            return estimators.LinearDML(random_state=args.seed)
        return estimators.AutoCate(random_state=args.seed)

    df = causal.simulate_content(n=args.rows, seed=args.seed)
    truth = df[f"true_cate_{OUTCOME}"].to_numpy()
    true_ate = float(truth.mean())
    X = df[MODIFIERS]
    print(f"load average {os.getloadavg()}")
    t0 = time.perf_counter()
    full = make().fit(df[OUTCOME], df["boosted"], X=X, W=df[CONFOUNDERS])
    t_full = time.perf_counter() - t0
    pehe_full = float(np.sqrt(np.mean((np.asarray(full.effect(X)) - truth) ** 2)))
    ate_full = full.ate_inference()

    spark = _session()
    sdf = spark.createDataFrame(df[["pin_id", OUTCOME, "boosted", *MODIFIERS, *CONFOUNDERS]])
    t0 = time.perf_counter()
    fit = fit_on_sample(sdf, outcome=OUTCOME, treatment="boosted", modifiers=MODIFIERS,
                        confounders=CONFOUNDERS, segments=["format"], row_id="pin_id",
                        max_rows=args.max_rows, seed=args.seed, estimator=make(),
                        spark=spark)  # fmt: skip
    t_sample = time.perf_counter() - t0
    pehe_s = float(np.sqrt(np.mean((np.asarray(fit.model.effect(X)) - truth) ** 2)))
    ge = segment_effects(fit, sdf, treatment="boosted", outcome=OUTCOME, spark=spark)
    spark.stop()
    print(f"load average {os.getloadavg()}")
    out = {
        "seed": args.seed, "rows": args.rows, "max_rows": args.max_rows,
        "estimator": args.estimator, "true_ate": true_ate,
        "full": {"sqrt_pehe": pehe_full, "ate": ate_full.effect,
                 "ate_error": ate_full.effect - true_ate, "ate_se": ate_full.se, "fit_s": t_full},
        "sample": {"n_sample": fit.n_sample, "sqrt_pehe": pehe_s, "ate": ge.ate.effect,
                   "ate_error": ge.ate.effect - true_ate, "ate_se": ge.ate.se,
                   "fit_s": fit.fit_seconds, "total_s": t_sample},
    }  # fmt: skip
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dir", default="/tmp/causal_bench_spark_scoring")
    ap.add_argument("--sample", action="store_true")
    ap.add_argument("--max-rows", type=int, default=50_000)
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
    elif args.sample:
        sample_accuracy(args)
    else:
        scoring(args)


if __name__ == "__main__":
    main()
