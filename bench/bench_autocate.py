"""AutoCate against each of its candidates, on the same cross-fitted nuisances.

For every dataset, ``AutoCate()`` (the default: blend) is fitted once; then each candidate's
final stage is refitted on all rows from AutoCate's own fitted context (the shared nuisances),
so every row of the table differs only in the final stage and the comparison is paired.
Reports √PEHE (mean ± s.e. over datasets), the paired difference AutoCate − best single
candidate with its s.e., and how often AutoCate was at least as good. Uses two private hooks
(``_ctx``, ``_final_fit``/``_final_predict``), as a benchmark may.

Datasets: IHDP (the 672 training units of each replication, in-sample) and
``causal.simulate_content`` (outcome ``saves``, confounded boost, ``groups=creator_id``).

Usage::

    nice .venv/bin/python bench/bench_autocate.py                 # IHDP 50 reps, simulator 6 seeds
    .venv/bin/python bench/bench_autocate.py --quick              # IHDP 5 reps, simulator 2 seeds
    .venv/bin/python bench/bench_autocate.py --only sim --seeds 6 --n 5000
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from _common import ihdp_available, load_ihdp, machine_load, markdown_table, sqrt_pehe
from bench_accuracy import MODIFIERS

from estimators import AutoCate
from estimators._auto import _REGISTRY


def compare(
    y: np.ndarray, t: np.ndarray, X: pd.DataFrame, tau: np.ndarray, seed: int, groups: Any
) -> dict[str, Any]:
    """√PEHE of AutoCate and of each candidate refitted on AutoCate's nuisances."""
    auto = AutoCate(random_state=seed, n_jobs=1).fit(y, t, X=X, groups=groups)
    out: dict[str, Any] = {"AutoCate": sqrt_pehe(np.asarray(auto.effect(X), dtype=float), tau)}
    ctx = auto._ctx
    rows = np.arange(ctx.data.n)
    Xf = ctx.data.X.reset_index(drop=True)
    for name, cls in _REGISTRY.items():  # every estimator, XLearner too (not a default candidate)
        cand = cls()
        state = cand._final_fit(ctx, rows)
        out[name] = sqrt_pehe(cand._final_predict(state, ctx, Xf, with_var=False)[0][:, 0, 0], tau)
    out["weights"] = {k: round(float(v), 2) for k, v in auto.weights_.items() if v > 0}
    return out


def datasets(
    which: str, reps: int, seeds: int, n: int, first_seed: int = 1
) -> list[tuple[str, tuple[Any, ...]]]:
    out: list[tuple[str, tuple[Any, ...]]] = []
    if which in ("all", "ihdp") and ihdp_available():
        for r in range(1, reps + 1):
            rep = load_ihdp(r)
            tr = ~rep.test
            x = rep.x[tr].reset_index(drop=True)
            out.append((f"IHDP rep {r}", (rep.y[tr], rep.t[tr], x, rep.tau[tr], r, None)))
    if which in ("all", "sim"):
        from causal.data import simulate_content

        for s in range(first_seed, first_seed + seeds):
            df = simulate_content(n=n, seed=s)
            args = (
                df["saves"].to_numpy(dtype=float),
                df["boosted"].to_numpy(),
                df[MODIFIERS].copy(),
                df["true_cate_saves"].to_numpy(),
                s,
                df["creator_id"].to_numpy(),
            )
            out.append((f"simulate_content seed {s}", args))
    return out


def summarise(label: str, results: list[dict[str, Any]]) -> str:
    names = ["AutoCate", *_REGISTRY]
    means = {k: float(np.mean([r[k] for r in results])) for k in names}
    best = min(_REGISTRY, key=lambda k: means[k])
    diff = np.array([r["AutoCate"] - r[best] for r in results])
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    rows = []
    for k in names:
        v = np.array([r[k] for r in results])
        s = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
        rows.append([k, f"{v.mean():.3f} ± {s:.3f}", f"{np.median(v):.3f}", f"{v.max():.2f}"])
    table = markdown_table(["estimator", "√PEHE mean ± s.e.", "median", "max"], rows)
    return (
        f"\n### {label} ({len(results)} datasets)\n\n{table}\n\n"
        f"- best single candidate: {best} ({means[best]:.3f}); AutoCate / best = "
        f"{means['AutoCate'] / means[best]:.3f}\n"
        f"- paired AutoCate − {best}: {diff.mean():+.3f} ± {se:.3f} (s.e.); AutoCate at least "
        f"as good on {(diff <= 0).sum()}/{len(diff)} datasets\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="IHDP 5 reps, simulator 2 seeds")
    parser.add_argument("--only", choices=["all", "ihdp", "sim"], default="all")
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--n", type=int, default=5000, help="rows per simulated dataset")
    parser.add_argument("--first-seed", type=int, default=1, help="first simulator seed")
    args = parser.parse_args(argv)
    reps, seeds = (5, 2) if args.quick else (args.reps, args.seeds)
    print(f"# AutoCate vs its candidates (same nuisances); load {machine_load()}")
    groups: dict[str, list[dict[str, Any]]] = {}
    for label, data in datasets(args.only, reps, seeds, args.n, args.first_seed):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = compare(*data)
        kind = label.rsplit(" ", 1)[0].replace(" rep", "").replace(" seed", "")
        groups.setdefault(kind, []).append(res)
        shown = {k: round(v, 3) for k, v in res.items() if k != "weights"}
        print(f"{label}: {shown} weights {res['weights']} ({time.perf_counter() - start:.0f} s)")
    for kind, results in groups.items():
        print(summarise(kind, results))
    print(f"load at the end: {machine_load()}")


if __name__ == "__main__":
    main()
