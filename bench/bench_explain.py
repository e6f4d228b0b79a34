"""SHAP of the CATE for 100k rows x 20 modifiers: ours beside econml's ``shap_values``.

Ours: ``causal.explain.explain(est, X)`` on all rows — the effect model's ``effect(X)``, the
surrogate fit (chosen by fidelity per unit of cost) and exact TreeSHAP — timed end to end, with
the surrogate's held-out fidelity. Two effect functions:

- ``smooth20``: a known smooth effect that depends on all 20 modifiers (the hard case for a
  surrogate: issue 14's "smooth 20-feature effect"), explained as an oracle model;
- ``AutoCate``: the default ``estimators.AutoCate`` blend fitted on ``--fit-rows`` rows of the
  same data (an outcome, a confounded binary treatment), explained on all rows.

Also the exact-algorithm gain: our lookup-table TreeSHAP vs LightGBM's ``pred_contrib`` on the
same surrogate (``pred_contrib`` timed on ``--contrib-rows`` rows and scaled).

Baseline: econml ``CausalForestDML`` (LightGBM nuisances, econml's default 100 trees) fitted on
``--fit-rows`` rows; ``shap_values`` timed on ``--econml-rows`` rows: per-row time and the time
for all rows at that rate (the ratio at equal rows). Run with ``nice``; the load average is
printed beside the times (this machine is shared: wall times are upper bounds).

Usage::

    nice .venv/bin/python bench/bench_explain.py                 # 100k rows x 20 modifiers
    nice .venv/bin/python bench/bench_explain.py --rows 20000 --econml-rows 5   # quick
    nice .venv/bin/python bench/bench_explain.py --permutation    # the permutation fallback

``--permutation``: the fallback of the what-works drivers (the surrogate is not faithful
enough), on the demo's effect model — ``estimators.AutoCate`` fitted on
``simulate_content(n=--perm-fit-rows, seed=1)`` with the demo's modifiers, outcome revenue.
Ours (``causal.explain._permutation.permutation_shap``: shap's algorithm, model calls batched)
beside the old path (shap's ``PermutationExplainer``, one model call per permutation per row)
on the same rows, background (100 rows) and seed: CPU seconds, model calls, and the largest
difference between the two sets of values. The old path runs on ``--perm-old-rows`` rows (it
is slow); ours on those and on ``--perm-rows``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from _common import econml_cf_baseline, machine_load


def smooth_effect(X: np.ndarray) -> np.ndarray:
    """A smooth effect of all p modifiers with decaying weights and two interactions."""
    p = X.shape[1]
    w = 1.0 / (1.0 + np.arange(p))
    tau = 1.0 + np.tanh(X) @ w
    tau += 0.5 * X[:, 0] * X[:, 1] + 0.3 * np.sin(X[:, 2] * X[:, 3])
    return tau


def make_data(n: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p))
    tau = smooth_effect(x)
    logit = 0.8 * x[:, 0] - 0.5 * x[:, 2]
    t = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    y = np.sin(x[:, 2]) + 0.5 * x[:, 3] + 1.5 * x[:, 5] + t * tau + rng.standard_normal(n)
    return y, t, pd.DataFrame(x, columns=[f"x{j}" for j in range(p)]), tau


class Oracle:
    """The known effect function as an effect model (``effect``, ``feature_names_in_``)."""

    def __init__(self, p: int) -> None:
        self.feature_names_in_ = [f"x{j}" for j in range(p)]

    def effect(self, X: pd.DataFrame) -> np.ndarray:
        return smooth_effect(np.asarray(X, dtype=float))


def time_ours(name: str, est: object, X: pd.DataFrame, contrib_rows: int) -> dict[str, object]:
    from causal.explain import explain

    t0, c0 = time.perf_counter(), time.process_time()
    ex = explain(est, X)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    row = {
        "model": name,
        "rows": len(X),
        "total_s": total,
        "cpu_s": cpu,
        **{f"{k}_s": v for k, v in ex.seconds.items()},
        "fidelity": ex.fidelity,
        "surrogate": f"{ex.surrogate.get('candidate')} x {ex.surrogate.get('n_trees')} trees",
        "load": os.getloadavg()[0],
    }
    # exact-algorithm gain on the same surrogate: LightGBM's own TreeSHAP on a subsample
    from causal.explain._frame import encode

    enc = encode(X)
    tau = np.asarray(est.effect(X), dtype=float)  # type: ignore[attr-defined]
    from causal.explain._surrogate import fit_surrogate as fit

    sur = fit(enc.matrix, tau, enc.categorical_index, target=0.95, seed=0)
    sub = enc.matrix[:contrib_rows]
    t1, c1 = time.perf_counter(), time.process_time()
    sur.booster.predict(sub, num_iteration=sur.n_trees, pred_contrib=True)
    per_row = (time.perf_counter() - t1) / len(sub)
    row["pred_contrib_all_rows_cpu_s"] = (time.process_time() - c1) / len(sub) * len(X)
    row["pred_contrib_all_rows_s"] = per_row * len(X)
    row["shap_speedup_vs_pred_contrib"] = per_row * len(X) / max(ex.seconds.get("shap", 0), 1e-9)
    return row


def time_econml(y: np.ndarray, t: np.ndarray, X: pd.DataFrame, fit_rows: int, rows: int,
                total_rows: int) -> dict[str, object]:  # fmt: skip
    est = econml_cf_baseline(fit_rows, random_state=0, n_jobs=2, n_trees=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(y[:fit_rows], t[:fit_rows], X=X.iloc[:fit_rows].to_numpy())
        t0, c0 = time.perf_counter(), time.process_time()
        est.shap_values(X.iloc[:rows].to_numpy())
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "model": "econml CausalForestDML.shap_values",
        "rows_timed": rows,
        "per_row_s": dt / rows,
        "per_row_cpu_s": cpu / rows,
        "all_rows_s_at_that_rate": dt / rows * total_rows,
        "load": os.getloadavg()[0],
    }


def _demo_modifiers() -> list[str]:
    """The demo's modifiers (``causal demo``'s what-works config)."""
    from causal.cli._demo import DEMO_WHATWORKS_CONFIG

    return list(DEMO_WHATWORKS_CONFIG["modifiers"])


def bench_permutation(fit_rows: int, old_rows: int, new_rows: list[int]) -> None:
    """Ours vs shap's PermutationExplainer on the demo's revenue effect model (same run)."""
    import shap

    import causal
    import estimators
    from causal.explain._frame import encode
    from causal.explain._permutation import default_max_evals, permutation_shap

    df = causal.simulate_content(n=fit_rows, seed=1)
    X = df[_demo_modifiers()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = estimators.AutoCate(random_state=1).fit(
            df[["revenue"]], df["boosted"].to_numpy(), X=X, W=df[["prior_impressions"]],
            groups=df["creator_id"].to_numpy(),
        )  # fmt: skip
    enc = encode(X)
    rng = np.random.default_rng(1)
    bg = enc.matrix[rng.choice(len(X), size=100, replace=False)]
    calls = {"n": 0, "rows": 0}

    def f(M: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        calls["rows"] += len(M)
        return np.asarray(est.effect(enc.decode(M)), dtype=float).reshape(-1)

    def run(name: str, rows: np.ndarray, fn: object) -> tuple[np.ndarray, dict[str, object]]:
        calls.update(n=0, rows=0)
        t0, c0 = time.perf_counter(), time.process_time()
        vals, base = fn(rows)  # type: ignore[operator]
        rec = {
            "path": name, "rows": len(rows), "cpu_s": time.process_time() - c0,
            "wall_s": time.perf_counter() - t0, "model_calls": calls["n"],
            "model_rows": calls["rows"],
            "additivity_gap": float(np.abs(base + vals.sum(1) - f(enc.matrix[rows])).max()),
            "load": os.getloadavg()[0],
        }  # fmt: skip
        print(rec, flush=True)
        return vals, rec

    def old(rows: np.ndarray) -> tuple[np.ndarray, float]:
        masker = shap.maskers.Independent(bg, max_samples=bg.shape[0])
        ex = shap.PermutationExplainer(f, masker, seed=1)
        res = ex(enc.matrix[rows], max_evals=default_max_evals(X.shape[1]), silent=True)
        return np.asarray(res.values, dtype=float), float(np.ravel(res.base_values)[0])

    def ours(rows: np.ndarray) -> tuple[np.ndarray, float]:
        return permutation_shap(f, enc.matrix[rows], bg, seed=1)

    recs = []
    for n in sorted({old_rows, *new_rows}):
        rows = np.sort(np.random.default_rng(2).choice(len(X), size=n, replace=False))
        v_new, r_new = run("ours (batched)", rows, ours)
        recs.append(r_new)
        if n == old_rows:
            v_old, r_old = run("shap PermutationExplainer (old path)", rows, old)
            r_old["max_abs_diff_vs_ours"] = float(np.abs(v_old - v_new).max())
            r_old["values_scale"] = float(np.abs(v_old).max())
            recs.append(r_old)
    print()
    print("| path | rows | CPU s | wall s | model calls | model rows | max abs diff vs ours | "
          "additivity gap | load |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in recs:
        diff = r.get("max_abs_diff_vs_ours")
        dtxt = "" if diff is None else f"{diff:.1e} (values up to {r['values_scale']:.3g})"
        print(
            f"| {r['path']} | {r['rows']} | {r['cpu_s']:.1f} | {r['wall_s']:.1f} | "
            f"{r['model_calls']} | {r['model_rows']:,} | "
            f"{dtxt} | "
            f"{r['additivity_gap']:.1e} | {r['load']:.1f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--p", type=int, default=20)
    ap.add_argument("--fit-rows", type=int, default=20_000)
    ap.add_argument("--econml-rows", type=int, default=20)
    ap.add_argument("--contrib-rows", type=int, default=10_000)
    ap.add_argument("--skip-autocate", action="store_true")
    ap.add_argument("--permutation", action="store_true", help="only the permutation fallback")
    ap.add_argument("--perm-fit-rows", type=int, default=1_500)
    ap.add_argument("--perm-old-rows", type=int, default=20)
    ap.add_argument("--perm-rows", default="50,200")
    args = ap.parse_args()

    print(machine_load())
    if args.permutation:
        new_rows = [int(v) for v in args.perm_rows.split(",") if v]
        bench_permutation(args.perm_fit_rows, args.perm_old_rows, new_rows)
        print(machine_load())
        return
    y, t, X, _tau = make_data(args.rows, args.p, seed=0)
    rows = [time_ours("smooth20 (oracle)", Oracle(args.p), X, args.contrib_rows)]
    print(rows[-1], flush=True)
    if not args.skip_autocate:
        import estimators

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = estimators.AutoCate(random_state=0).fit(
                y[: args.fit_rows], t[: args.fit_rows], X=X.iloc[: args.fit_rows]
            )
        print(f"AutoCate fit on {args.fit_rows} rows: {time.perf_counter() - t0:.1f} s")
        rows.append(time_ours("AutoCate (default blend)", est, X, args.contrib_rows))
        print(rows[-1], flush=True)
    base = time_econml(y, t, X, args.fit_rows, args.econml_rows, args.rows)
    print(base, flush=True)
    print()
    print("| model | rows | explain wall s | CPU s | effect s | surrogate s | SHAP s | fidelity | "
          "surrogate | pred_contrib wall s (same surrogate) | econml wall s at equal rows "
          "| ratio (wall) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = float(base["all_rows_s_at_that_rate"]) / float(r["total_s"])  # type: ignore[arg-type]
        print(
            f"| {r['model']} | {r['rows']:,} | {r['total_s']:.1f} | {r['cpu_s']:.1f} | "
            f"{r.get('effect_s', 0):.1f} | "
            f"{r.get('surrogate_s', 0):.1f} | {r.get('shap_s', 0):.2f} | {r['fidelity']:.3f} | "
            f"{r['surrogate']} | {r['pred_contrib_all_rows_s']:.1f} | "
            f"{base['all_rows_s_at_that_rate']:.0f} | {ratio:.0f}x |"
        )
    print(
        f"\neconml shap_values: {base['per_row_s']:.3f} s per row (CPU {base['per_row_cpu_s']:.3f}"
        f" s) on {base['rows_timed']} rows"
    )
    print(machine_load())


if __name__ == "__main__":
    main()
