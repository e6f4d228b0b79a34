"""IHDP accuracy: √PEHE and |ATE error| of every estimator beside econml and published numbers.

Each of the 50 IHDP replications (NPCI setting A) is fit on its 672 standard training units;
"in" scores those units, "out" the 75 standard test units (the cfrnet ``1-100.test.npz`` split,
see /work/shared/data/ihdp/README.md). Truth is ``mu1 - mu0`` (noiseless). The baseline,
econml ``CausalForestDML`` with LightGBM nuisances, runs in the same process on the same data.

Usage::

    .venv/bin/python bench/bench_ihdp.py            # all 50 replications
    .venv/bin/python bench/bench_ihdp.py --quick    # replications 1-5
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np
from _common import (
    IHDP_PUBLISHED,
    IHDP_REPS,
    econml_cf_baseline,
    fmt_mean_se,
    ihdp_available,
    load_ihdp,
    machine_load,
    make_ours,
    markdown_table,
    mean_se,
    our_estimators,
    sqrt_pehe,
)

BASELINE = "econml CausalForestDML (LightGBM)"


def _as_1d(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=float).reshape(-1)


def fit_one(name: str, rep: Any, seed: int, n_jobs: int) -> dict[str, float]:
    """Fit estimator ``name`` on the training units of ``rep``; return the metrics."""
    tr, te = ~rep.test, rep.test
    x_tr, x_te = rep.x[tr], rep.x[te]
    start = time.perf_counter()
    out: dict[str, float] = {}
    if name == BASELINE:
        est = econml_cf_baseline(int(tr.sum()), random_state=seed, n_jobs=n_jobs)
        est.fit(rep.y[tr], rep.t[tr], X=x_tr.to_numpy())
        tau_in = _as_1d(est.effect(x_tr.to_numpy()))
        tau_out = _as_1d(est.effect(x_te.to_numpy()))
        inf = est.ate__inference()  # doubly-robust ATE on the training data (econml #479)
        ate = float(np.asarray(inf.point_estimate).reshape(-1)[0])
        lo, hi = (float(np.asarray(v).reshape(-1)[0]) for v in inf.conf_int(alpha=0.05))
    else:
        est = make_ours(name, random_state=seed, n_jobs=n_jobs)
        est.fit(rep.y[tr], rep.t[tr], X=x_tr)
        tau_in = _as_1d(est.effect(x_tr))
        tau_out = _as_1d(est.effect(x_te))
        ate = float(np.asarray(est.ate()).reshape(-1)[0])
        lo, hi = (float(np.asarray(v).reshape(-1)[0]) for v in est.ate_interval(alpha=0.05))
    out["fit_s"] = time.perf_counter() - start
    true_in, true_out = rep.tau[tr], rep.tau[te]
    out["pehe_in"] = sqrt_pehe(tau_in, true_in)
    out["pehe_out"] = sqrt_pehe(tau_out, true_out)
    # the published convention: the ATE is the mean of the predicted individual effects
    out["ate_in"] = abs(tau_in.mean() - true_in.mean())
    out["ate_out"] = abs(tau_out.mean() - true_out.mean())
    # the estimator's own (doubly-robust) ATE and whether its 95% interval covers the SATE
    out["dr_ate_in"] = abs(ate - true_in.mean())
    out["dr_cover_in"] = float(lo <= true_in.mean() <= hi)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="replications 1-5 only")
    parser.add_argument("--reps", type=int, default=None, help="number of replications (1-50)")
    parser.add_argument("--estimators", nargs="*", default=None, help="subset of our estimators")
    parser.add_argument("--no-baseline", action="store_true", help="skip econml")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not ihdp_available():
        raise SystemExit("IHDP data not found; set CAUSAL_IHDP_DIR to the ihdp directory.")
    n_reps = args.reps or (5 if args.quick else IHDP_REPS)
    names = list(args.estimators or our_estimators())
    if not args.no_baseline:
        names.append(BASELINE)
    print(f"# IHDP: {n_reps} replications; {machine_load()}", flush=True)

    results: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    errors: dict[str, str] = {}
    for r in range(1, n_reps + 1):
        rep = load_ihdp(r)
        line = [f"rep {r:2d}"]
        for name in names:
            if name in errors:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = fit_one(name, rep, args.seed, args.n_jobs)
            except Exception as exc:  # report, keep benchmarking the others
                errors[name] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            results[name].append(m)
            line.append(f"{name.split()[0]} {m['pehe_in']:.2f}/{m['pehe_out']:.2f}")
        print("  ".join(line), flush=True)

    header = ["estimator", "√PEHE in", "median in", "√PEHE out", "ε_ATE in", "ε_ATE out"]
    header += ["ε_ATE in (DR ate())", "95% ATE CI covers SATE", "fit s / rep", "reps"]
    rows = []
    for name in names:
        res = results[name]
        if not res:
            rows.append([name, *["—"] * 8, f"failed: {errors.get(name, '?')}"])
            continue
        col = {k: [m[k] for m in res] for k in res[0]}
        rows.append(
            [
                name,
                fmt_mean_se(col["pehe_in"]),
                f"{np.median(col['pehe_in']):.2f}",
                fmt_mean_se(col["pehe_out"]),
                fmt_mean_se(col["ate_in"]),
                fmt_mean_se(col["ate_out"]),
                fmt_mean_se(col["dr_ate_in"]),
                f"{np.mean(col['dr_cover_in']):.0%}",
                f"{np.mean(col['fit_s']):.1f}",
                str(len(res)) + (f" (stopped: {errors[name]})" if name in errors else ""),
            ]
        )
    for name, pub in IHDP_PUBLISHED.items():
        rows.append(
            [f"{name} (published, 1000 reps)", f"{pub['pehe_in']}", "—", f"{pub['pehe_out']}"]
            + [f"{pub['ate_in']}", f"{pub['ate_out']}", "—", "—", "—", "—"]
        )
    print()
    print(markdown_table(header, rows))

    if "AutoCate" in results and results["AutoCate"] and results.get(BASELINE):
        ours = mean_se([m["pehe_in"] for m in results["AutoCate"]])[0]
        base = mean_se([m["pehe_in"] for m in results[BASELINE]])[0]
        ours_o = mean_se([m["pehe_out"] for m in results["AutoCate"]])[0]
        base_o = mean_se([m["pehe_out"] for m in results[BASELINE]])[0]
        print(
            f"\nAutoCate √PEHE in {ours:.2f} vs econml {base:.2f}: ratio {ours / base:.2f}; "
            f"out {ours_o:.2f} vs {base_o:.2f}: ratio {ours_o / base_o:.2f} "
            f"(target: AutoCate √PEHE in ≤ 1.0 -> {'met' if ours <= 1.0 else 'NOT met'})"
        )
    singles = [k for k in names if k not in ("AutoCate", BASELINE) and results[k]]
    if results.get("AutoCate") and singles:
        auto = np.array([m["pehe_in"] for m in results["AutoCate"]])
        best = min(singles, key=lambda k: np.mean([m["pehe_in"] for m in results[k]]))
        k = min(len(auto), len(results[best]))
        diff = auto[:k] - np.array([m["pehe_in"] for m in results[best]])[:k]
        print(
            f"AutoCate vs the best single candidate by mean ({best}): √PEHE in difference "
            f"{diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(k):.3f} (paired over {k} reps)"
        )
    print(f"# done; {machine_load()}")


if __name__ == "__main__":
    main()
