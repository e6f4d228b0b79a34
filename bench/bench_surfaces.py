"""Accuracy beyond IHDP's linear / log-linear surfaces: thresholds, interactions, saturation, Twins.

IHDP's response surfaces are linear (``mu_1``) and exp-linear (``mu_0``), exactly the two
parametric members of our outcome library, so IHDP flatters it. Here the surfaces are outside
those families:

- ``threshold``: ``mu_0 = 2 [x0 > 0] + [x1 > 1] - [x2 < -0.5]``,
  ``tau = 1 + 2 [x0 > 0.5] - [x1 < -1]``;
- ``interaction``: ``mu_0 = x0 x1 + x2 x3``, ``tau = 1 + x0 x2``;
- ``saturation``: ``mu_0 = 3 tanh(x1) + x2``, ``tau = 2 / (1 + exp(-3 x0)) - 0.5``;
- ``twins``: ../shared/data/twins (11,400 twin pairs, both potential outcomes observed;
  mortality within one year; t=1 the heavier twin). Treatment assignment is simulated as in
  GANITE / CATENets, ``t ~ Bernoulli(sigmoid(x . w))``, ``w ~ U(-0.01, 0.01)`` from the seed.
  Truth: the pair's ITE ``y_1 - y_0``.

The simulated designs have 6 normal modifiers, confounded treatment
(``sigmoid(0.7 x0 - 0.5 x2)``) and outcome noise SD 1. Every estimator sees the same X; the
baseline in the same run is econml ``CausalForestDML`` with LightGBM nuisances (100 trees).

Usage::

    nice .venv/bin/python bench/bench_surfaces.py                 # 3 seeds x 5,000 + twins
    nice .venv/bin/python bench/bench_surfaces.py --designs twins --seeds 2
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import econml_cf_baseline, machine_load, make_ours, markdown_table, sqrt_pehe

BASELINE = "econml CausalForestDML"
TWINS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "twins" / "Twin_data.csv"


def simulated(kind: str, n: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    x0, x1, x2, x3 = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
    if kind == "threshold":
        mu0 = 2.0 * (x0 > 0) + (x1 > 1) - (x2 < -0.5)
        tau = 1.0 + 2.0 * (x0 > 0.5) - (x1 < -1)
    elif kind == "interaction":
        mu0 = x0 * x1 + x2 * x3
        tau = 1.0 + x0 * x2
    else:  # saturation
        mu0 = 3.0 * np.tanh(x1) + x2
        tau = 2.0 / (1.0 + np.exp(-3.0 * x0)) - 0.5
    t = (rng.random(n) < 1 / (1 + np.exp(-(0.7 * x0 - 0.5 * x2)))).astype(float)
    y = mu0 + t * tau + rng.normal(size=n)
    X = pd.DataFrame(x, columns=[f"x{j}" for j in range(6)])
    return {"y": y, "t": t, "X": X, "tau": tau.astype(float)}


def twins(seed: int) -> dict[str, Any]:
    df = pd.read_csv(TWINS)
    df.columns = [c.strip().strip("'").strip("\u2019") for c in df.columns]
    y0 = (df["outcome(t=0)"].to_numpy() < 9999).astype(float)
    y1 = (df["outcome(t=1)"].to_numpy() < 9999).astype(float)
    X = df.drop(columns=["outcome(t=0)", "outcome(t=1)"]).astype(float)
    rng = np.random.default_rng(seed)
    w = rng.uniform(-0.01, 0.01, size=X.shape[1])
    z = X.to_numpy() @ w
    t = (rng.random(len(X)) < 1 / (1 + np.exp(-z))).astype(float)
    y = np.where(t == 1, y1, y0)
    return {"y": y, "t": t, "X": X, "tau": y1 - y0}


def run(name: str, d: dict[str, Any], seed: int, n_jobs: int) -> dict[str, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == BASELINE:
            est = econml_cf_baseline(len(d["y"]), random_state=seed, n_jobs=n_jobs, n_trees=100)
            est.fit(d["y"], d["t"], X=d["X"].to_numpy())
            tau_hat = np.asarray(est.effect(d["X"].to_numpy()), dtype=float).reshape(-1)
            ate = float(np.asarray(est.ate__inference().point_estimate).reshape(-1)[0])
        else:
            est = make_ours(name, random_state=seed, n_jobs=n_jobs).fit(d["y"], d["t"], X=d["X"])
            tau_hat = np.asarray(est.effect(d["X"]), dtype=float).reshape(-1)
            ate = float(np.asarray(est.ate()).reshape(-1)[0])
    return {
        "pehe": sqrt_pehe(tau_hat, d["tau"]),
        "ate_err": abs(ate - float(np.mean(d["tau"]))),
        "s": time.perf_counter() - start,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--designs", nargs="*", default=["threshold", "interaction", "saturation", "twins"]
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--estimators", nargs="*", default=["AutoCate"])
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    names = [*args.estimators, BASELINE]
    print(
        f"# surfaces: {args.seeds} seeds x {args.n:,} rows (twins 11,400); {machine_load()}",
        flush=True,
    )
    res: dict[tuple[str, str], list[dict[str, float]]] = {}
    for design in args.designs:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            d = twins(seed) if design == "twins" else simulated(design, args.n, seed)
            for name in names:
                m = run(name, d, seed, args.n_jobs)
                res.setdefault((design, name), []).append(m)
                print(
                    f"{design} seed {seed} {name:>24}: √PEHE {m['pehe']:.3f} ATE err "
                    f"{m['ate_err']:.3f} {m['s']:.0f}s; {machine_load()}",
                    flush=True,
                )
    rows = []
    for design in args.designs:
        base = np.array([m["pehe"] for m in res[(design, BASELINE)]])
        for name in names:
            v = np.array([m["pehe"] for m in res[(design, name)]])
            a = np.array([m["ate_err"] for m in res[(design, name)]])
            se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
            ratio = (
                "—"
                if name == BASELINE
                else f"{v.mean() / base.mean():.2f} ({int((v < base).sum())}/{len(v)} better)"
            )
            rows.append(
                [
                    design,
                    name,
                    f"{v.mean():.3f} ± {se:.3f}",
                    f"{a.mean():.3f}",
                    ratio,
                    f"{np.mean([m['s'] for m in res[(design, name)]]):.0f}",
                ]
            )
    print()
    print(
        markdown_table(["design", "estimator", "√PEHE", "|ATE err|", "ratio to econml", "s"], rows)
    )
    print(f"# done; {machine_load()}")


if __name__ == "__main__":
    main()
