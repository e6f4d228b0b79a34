"""Pointwise CATE-interval coverage: AutoCate's default intervals beside econml's, same run.

For each dataset, every estimator's 95% ``effect_interval`` is evaluated at every training row
and the share of rows whose true CATE it covers is recorded (pointwise coverage averaged over
units), with the mean width and sqrt(PEHE) of the interval's centre and of ``effect()``.

Designs:

- ``smooth``: ``bench/_common.simulate_speed_data`` with 5 modifiers (confounded binary
  treatment, ``tau = 1 + x0 - 0.5 x1^2``, outcome noise SD 1).
- ``content``: ``causal.simulate_content`` saves (category / format / quality effects,
  creator clusters passed as ``groups``: our interval is then cluster-robust; econml's is not).

Baseline in the same run: econml ``CausalForestDML`` with LightGBM nuisances (100 trees, as
in bench_speed; ``--econml-trees`` to change), ``effect_interval`` from its honest forest.

Usage::

    nice .venv/bin/python bench/bench_cate_coverage.py                 # 2 seeds x 20k, both designs
    nice .venv/bin/python bench/bench_cate_coverage.py --n 5000 --seeds 1   # quick look
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from _common import econml_cf_baseline, machine_load, make_ours, markdown_table, simulate_speed_data

BASELINE = "econml CausalForestDML"
CONTENT_MODIFIERS = [
    "category",
    "format",
    "quality_score",
    "age_days",
    "creator_followers",
    "text_overlay",
    "shoppable",
    "prior_impressions",
]


def design(name: str, n: int, seed: int) -> dict[str, Any]:
    """(y, t, X frame, X numeric for econml, groups or None, true tau)."""
    if name == "smooth":
        y, t, x = simulate_speed_data(n, 5, seed)
        x = x.astype(float)
        tau = 1.0 + x["x0"].to_numpy() - 0.5 * x["x1"].to_numpy() ** 2
        return {"y": y, "t": t, "x": x, "xn": x.to_numpy(), "groups": None, "tau": tau}
    import causal

    df = causal.simulate_content(n=n, seed=seed)
    x = df[CONTENT_MODIFIERS]
    xn = pd.get_dummies(x, columns=["category", "format"], dtype=float).to_numpy()
    return {
        "y": df["saves"].to_numpy(dtype=float),
        "t": df["boosted"].to_numpy(dtype=float),
        "x": x,
        "xn": xn,
        "groups": df["creator_id"].to_numpy(),
        "tau": df["true_cate_saves"].to_numpy(dtype=float),
    }


def run_one(
    name: str, d: dict[str, Any], seed: int, n_jobs: int, econml_trees: int
) -> dict[str, Any]:
    """Fit one estimator and evaluate its 95% CATE intervals at every row."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == BASELINE:
            est = econml_cf_baseline(
                len(d["y"]), random_state=seed, n_jobs=n_jobs, n_trees=econml_trees
            )
            est.fit(d["y"], d["t"], X=d["xn"], groups=d["groups"])
            eff = np.asarray(est.effect(d["xn"]), dtype=float).reshape(-1)
            lo, hi = (
                np.asarray(v, dtype=float).reshape(-1)
                for v in est.effect_interval(d["xn"], alpha=0.05)
            )
            label = ""
        else:
            est = make_ours(name, random_state=seed, n_jobs=n_jobs)
            est.fit(d["y"], d["t"], X=d["x"], groups=d["groups"])
            eff = np.asarray(est.effect(d["x"]), dtype=float).reshape(-1)
            lo, hi = (
                np.asarray(v, dtype=float).reshape(-1)
                for v in est.effect_interval(d["x"], alpha=0.05)
            )
            label = str(getattr(est, "selected_", ""))
    seconds = time.perf_counter() - start
    tau = d["tau"]
    mid = (lo + hi) / 2
    return {
        "covered": float(np.mean((lo <= tau) & (tau <= hi))),
        "width": float(np.mean(hi - lo)),
        "pehe": float(np.sqrt(np.mean((eff - tau) ** 2))),
        "pehe_mid": float(np.sqrt(np.mean((mid - tau) ** 2))),
        "eff_inside": float(np.mean((lo <= eff) & (eff <= hi))),
        "seconds": seconds,
        "label": label,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--designs", nargs="*", default=["smooth", "content"])
    parser.add_argument("--estimators", nargs="*", default=["AutoCate"])
    parser.add_argument("--econml-trees", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    names = [*args.estimators, BASELINE]
    print(
        f"# CATE-interval coverage, {args.seeds} seeds x {args.n:,} rows; {machine_load()}",
        flush=True,
    )
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for dname in args.designs:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            d = design(dname, args.n, seed)
            for name in names:
                m = run_one(name, d, seed, args.n_jobs, args.econml_trees)
                results.setdefault((dname, name), []).append(m)
                print(
                    f"{dname} seed {seed} {name:>24} {m['label']:>12}: covers {m['covered']:.3f} "
                    f"width {m['width']:.3f} √PEHE {m['pehe']:.3f} (centre {m['pehe_mid']:.3f}) "
                    f"{m['seconds']:.0f}s; {machine_load()}",
                    flush=True,
                )
    header = ["design", "estimator", "pointwise coverage (95%)", "per seed", "mean width"]
    header += ["√PEHE effect()", "√PEHE centre", "effect() inside", "s"]
    rows = []
    for (dname, name), res in results.items():
        cov = [m["covered"] for m in res]
        rows.append(
            [
                dname,
                name,
                f"{np.mean(cov):.1%}",
                " ".join(f"{c:.2f}" for c in cov),
                f"{np.mean([m['width'] for m in res]):.3f}",
                f"{np.mean([m['pehe'] for m in res]):.3f}",
                f"{np.mean([m['pehe_mid'] for m in res]):.3f}",
                f"{np.mean([m['eff_inside'] for m in res]):.1%}",
                f"{np.mean([m['seconds'] for m in res]):.0f}",
            ]
        )
    print()
    print(markdown_table(header, rows))
    print(f"# done; {machine_load()}")


if __name__ == "__main__":
    main()
