"""Benchmark: coverage of the doubly-robust ATE interval on the project simulator.

Over seeded ``causal.simulate_content`` datasets (confounded boost, creator clusters, heavy
tails), the 95% interval of the estimators' AIPW ATE (``groups=creator_id``) is checked against
the simulation's sample ATE (mean of ``true_cate_<outcome>``), per outcome. Baseline, same run and
data: the naive difference-in-means Welch interval, which ignores the targeting rule.

Run: ``nice .venv/bin/python bench/bench_coverage_content.py`` (100 datasets × 3,000 pins;
``--quick``: 10 datasets; ``--cv`` and ``--nuisance-params '{"n_estimators": 200}'`` pass the
estimators' public arguments, to measure a nuisance setting). Prints coverage with its binomial
s.e., the bias in units of the SD of the estimates, mean SE / SD, mean and SD of the z-scores
(mean z with its s.e.: a mean z several s.e. from 0 is bias, not noise), the ratio of miss
rates (naive / ours) and the machine load. ``--oracle-only 400``: no fit — the same AIPW
and interval with the simulator's TRUE propensity and outcome means over 400 datasets (a few
seconds), which separates nuisance error from the interval itself. ``--paired N``: on each
of N datasets, the same AIPW with four sets of nuisances — fitted (what the estimators report),
true propensity + fitted outcome means, fitted propensity + true outcome means, and both true
(the oracle) — and the paired difference fitted − oracle in units of the SE: the error the
fitted nuisances add, with the data's own noise (shared by all four) cancelled, so a few
datasets measure it where coverage would need hundreds. ``--seeds 1,2``: those simulator seeds
instead of 50,000 + r (seed 1 at 20,000 pins is ``make demo``'s data). The demo's columns:
``--rows 20000 --paired 10 --demo-columns``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import causal
import estimators
from causal.cli._demo import DEMO_WHATWORKS_CONFIG

OUTCOMES = ["saves", "outbound_clicks", "hides", "revenue"]
MODIFIERS = ["quality_score", "format", "category", "shoppable", "text_overlay"]
CONFOUNDERS = ["creator_followers", "prior_impressions", "age_days"]
Z95 = float(stats.norm.ppf(0.975))


def true_outcome_means(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """E[Y | attributes, not boosted] per outcome: the baseline means of ``simulate_content``.

    Mirrors ``causal/data/_simulate_content.py`` (``base`` and ``rev_mu``; the creator effect
    ``exp(u)`` has mean one); ``log10(creator_followers)`` recovers the creator's log-followers
    up to the rounding of the follower count. Bench-only diagnostics: keep in step with it.
    """
    q = df["quality_score"].to_numpy()
    log_f = np.log10(df["creator_followers"].to_numpy(dtype=float))
    video = (df["format"] == "video").to_numpy(dtype=float)
    shop = df["shoppable"].to_numpy(dtype=float)
    text = df["text_overlay"].to_numpy(dtype=float)
    reach = np.exp(5.0 + 0.5 * (log_f - 4.0) + q)
    return {
        "saves": 0.012 * reach * (0.5 + q) * (1.0 + 0.3 * video),
        "outbound_clicks": 0.006 * reach * (0.4 + q) * (1.0 + 1.5 * shop),
        "hides": 0.004 * reach * (1.2 - q) * (1.0 + 0.5 * text),
        "revenue": 35.0 * 0.08 * 0.006 * reach * (0.4 + q) * shop * (0.5 + q),
    }


def oracle(
    seed: int, n: int, design: dict | None = None
) -> dict[str, tuple[float, bool, float, float]]:
    """Per outcome, the AIPW with the true nuisances: (z, covers, error, SE)."""
    df = causal.simulate_content(n=n, seed=seed, **(design or {}))
    t = df["boosted"].to_numpy().astype(bool)
    e = df["true_propensity"].to_numpy()
    mu0 = true_outcome_means(df)
    out = {}
    for o in OUTCOMES:
        tau = df[f"true_cate_{o}"].to_numpy()
        y = df[o].to_numpy(dtype=float)
        s = estimators.aipw_scores(y, t, ~t, mu0[o] + tau, mu0[o], e, 1.0 - e)
        a = estimators.mean_effect_from_scores(s, groups=df["creator_id"].to_numpy())
        truth = float(tau.mean())
        err = a.effect - truth
        out[o] = (err / a.se, a.effect_ci_lower <= truth <= a.effect_ci_upper, err, a.se)
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def one(
    seed: int,
    n: int,
    cv: int | None = None,
    nuisance_params: dict | None = None,
    design: dict | None = None,
) -> dict[str, tuple[float, ...]]:
    """Per outcome: (z of ours vs truth, ours covers, naive covers, error, SE), then for the
    trimmed (Crump) and overlap-weighted estimands (z, covers) each against its own truth;
    key "_slope": the slope of the fitted on the true propensity log-odds."""
    df = causal.simulate_content(n=n, seed=seed, **(design or {}))
    t = df["boosted"].to_numpy()
    est = estimators.LinearDML(random_state=seed, cv=cv, nuisance_params=nuisance_params).fit(
        df[OUTCOMES], t, X=df[MODIFIERS], W=df[CONFOUNDERS], groups=df["creator_id"].to_numpy()
    )
    e_true = df["true_propensity"].to_numpy()
    e_hat = est.propensity_[:, 1]
    out: dict[str, tuple[float, ...]] = {
        "_slope": (float(np.polyfit(_logit(e_true), _logit(e_hat), 1)[0]),)
    }
    lo_c = estimators.crump_threshold(e_hat)
    kept = (e_hat >= lo_c) & (e_hat <= 1 - lo_c)
    h = e_true * (1 - e_true)
    for o in OUTCOMES:
        tau = df[f"true_cate_{o}"].to_numpy()
        truth = float(tau.mean())
        a = est.ate_inference(outcome=o)
        y = df[o].to_numpy(dtype=float)
        y1, y0 = y[t == 1], y[t == 0]
        naive = y1.mean() - y0.mean()
        se_naive = np.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0))
        tr = est.ate_inference(outcome=o, trim="crump")
        ato = est.ate_inference(outcome=o, overlap_weights=True)
        t_trim = float(tau[kept].mean())  # the ATE of the units kept
        t_ato = float(np.sum(h * tau) / np.sum(h))  # Li et al.'s ATO, true e(1 - e) weights
        out[o] = (
            (a.effect - truth) / a.se,
            a.effect_ci_lower <= truth <= a.effect_ci_upper,
            abs(naive - truth) <= Z95 * se_naive,
            a.effect - truth,
            a.se,
            (tr.effect - t_trim) / tr.se,
            tr.effect_ci_lower <= t_trim <= tr.effect_ci_upper,
            (ato.effect - t_ato) / ato.se,
            ato.effect_ci_lower <= t_ato <= ato.effect_ci_upper,
        )
    return out


# The demo's columns (``causal demo``'s what-works config), so --demo-columns stays in step.
DEMO_MODIFIERS = list(DEMO_WHATWORKS_CONFIG["modifiers"])
DEMO_CONFOUNDERS = list(DEMO_WHATWORKS_CONFIG["confounders"])
VARIANTS = ("fitted", "true e", "true mu", "oracle")


def paired(
    seed: int, n: int, demo_columns: bool = False, nuisance_params: dict | None = None
) -> dict[str, dict[str, tuple[float, float]]]:
    """Per outcome and nuisance variant (:data:`VARIANTS`): (error vs truth, SE) on one dataset.

    The fitted nuisances are the estimators' own cross-fitted ones (every estimator and
    AutoCate share them), read from the fitted LinearDML (bench-only diagnostics).
    """
    df = causal.simulate_content(n=n, seed=seed)
    t = df["boosted"].to_numpy().astype(bool)
    g = df["creator_id"].to_numpy()
    X, W = (
        (df[DEMO_MODIFIERS], df[DEMO_CONFOUNDERS])
        if demo_columns
        else (
            df[MODIFIERS],
            df[CONFOUNDERS],
        )
    )
    est = estimators.LinearDML(random_state=seed, nuisance_params=nuisance_params).fit(
        df[OUTCOMES], df["boosted"].to_numpy(), X=X, W=W, groups=g
    )
    nuis = est._ctx.nuis
    assert nuis.mu is not None and nuis.e is not None
    e_fit, e_true = nuis.e[:, 1], df["true_propensity"].to_numpy()
    mu0_true = true_outcome_means(df)
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for j, o in enumerate(OUTCOMES):
        tau = df[f"true_cate_{o}"].to_numpy()
        y = df[o].to_numpy(dtype=float)
        fit_mu = (nuis.mu[:, j, 1], nuis.mu[:, j, 0])
        true_mu = (mu0_true[o] + tau, mu0_true[o])
        sets = {
            "fitted": (*fit_mu, e_fit),
            "true e": (*fit_mu, e_true),
            "true mu": (*true_mu, e_fit),
            "oracle": (*true_mu, e_true),
        }
        out[o] = {}
        for name, (m1, m0, e) in sets.items():
            s = estimators.aipw_scores(y, t, ~t, m1, m0, e, 1.0 - e)
            a = estimators.mean_effect_from_scores(s, groups=g)
            out[o][name] = (a.effect - float(tau.mean()), a.se)
    return out


def print_paired(rows: list[dict[str, dict[str, tuple[float, float]]]], n: int) -> None:
    """Coverage and mean z per variant, and the paired (variant − oracle) / SE."""
    reps = len(rows)
    print(f"\n# AIPW with fitted vs true nuisances, paired: {reps} datasets x {n} pins")
    print("mean z ± s.e.; cover; paired (variant - oracle error) / SE of the fit, mean ± s.e.")
    for o in OUTCOMES:
        print(o)
        orc = np.array([r[o]["oracle"][0] for r in rows])
        se_fit = np.array([r[o]["fitted"][1] for r in rows])
        for v in VARIANTS:
            err = np.array([r[o][v][0] for r in rows])
            se = np.array([r[o][v][1] for r in rows])
            z = err / se
            d = (err - orc) / se_fit
            sd_z = z.std(ddof=1) if reps > 1 else float("nan")
            sd_d = d.std(ddof=1) if reps > 1 else float("nan")
            print(
                f"  {v:<8} mean z {z.mean():+.2f}±{sd_z / np.sqrt(reps):.2f} "
                f"cover {np.mean(np.abs(z) <= Z95):.2f}   "
                f"paired {d.mean():+.2f}±{sd_d / np.sqrt(reps):.2f}   "
                f"z per dataset {' '.join(f'{x:+.1f}' for x in z)}"
            )


def summarize(res: dict[str, list], reps: int, slopes: list[float]) -> None:
    """Print the coverage table of ``res`` (outcome -> per-dataset tuples of :func:`one`)."""
    se = np.sqrt(0.95 * 0.05 / reps)
    print(
        f"\n# AIPW ATE coverage on simulate_content: {reps} datasets "
        f"(binomial SE of a 95% coverage: {se:.3f}); propensity log-odds slope (fitted on "
        f"true) mean {np.mean(slopes):.3f}, SD {np.std(slopes, ddof=1):.3f}"
    )
    print(
        f"{'outcome':<16} {'ours cover':>10} {'bias/SD':>8} {'SE/SD':>6} {'mean z':>13} "
        f"{'sd z':>6} {'naive cover':>11} {'trimmed cover':>13} {'mean z':>11} "
        f"{'ATO cover':>9} {'mean z':>11}"
    )

    def mz(z: np.ndarray) -> str:
        return f"{z.mean():+.2f}±{z.std(ddof=1) / np.sqrt(len(z)):.2f}"

    for o, rows in res.items():
        arr = np.array(rows, dtype=float)
        z, err = arr[:, 0], arr[:, 3]
        sd = float(err.std(ddof=1))
        print(
            f"{o:<16} {arr[:, 1].mean():>10.3f} {err.mean() / sd:>+8.2f} "
            f"{arr[:, 4].mean() / sd:>6.2f} {mz(z):>13} {z.std(ddof=1):>6.2f} "
            f"{arr[:, 2].mean():>11.3f} {arr[:, 6].mean():>13.3f} {mz(arr[:, 5]):>11} "
            f"{arr[:, 8].mean():>9.3f} {mz(arr[:, 7]):>11}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 datasets")
    ap.add_argument("--datasets", type=int, default=100)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--start", type=int, default=0, help="first dataset (seed 50,000 + start)")
    ap.add_argument("--overlap", type=float, default=0.02, help="simulate_content overlap=")
    ap.add_argument("--confounding", type=float, default=1.0, help="simulate_content knob")
    ap.add_argument("--json", default=None, help="also write the per-dataset results here")
    ap.add_argument("--summarize", nargs="+", default=None, help="merge --json files, print")
    ap.add_argument("--cv", type=int, default=None, help="cross-fitting folds (default: auto)")
    ap.add_argument("--nuisance-params", default=None, help="JSON dict of LightGBM overrides")
    ap.add_argument(
        "--oracle-only", type=int, default=0, metavar="N", help="true nuisances, N sets"
    )
    ap.add_argument(
        "--first-seed", type=int, default=50_000, help="first simulator seed (--oracle-only)"
    )
    ap.add_argument("--paired", type=int, default=0, metavar="N", help="fitted vs true, N sets")
    ap.add_argument("--seeds", default=None, help="comma-separated simulator seeds (--paired)")
    ap.add_argument(
        "--demo-columns", action="store_true", help="make demo's modifiers and confounders"
    )
    args = ap.parse_args()
    if args.paired or args.seeds:
        warnings.filterwarnings("ignore")
        seeds = (
            [int(v) for v in args.seeds.split(",")]
            if args.seeds
            else [50_000 + r for r in range(args.paired)]
        )
        print(f"load average at start: {os.getloadavg()[0]:.1f}; seeds {seeds}")
        t0 = time.perf_counter()
        rows = []
        for i, seed in enumerate(seeds):
            params = json.loads(args.nuisance_params) if args.nuisance_params else None
            rows.append(paired(seed, args.rows, args.demo_columns, params))
            print(f"  {i + 1}/{len(seeds)} datasets, {time.perf_counter() - t0:.0f} s", flush=True)
        print_paired(rows, args.rows)
        print(
            f"total {time.perf_counter() - t0:.0f} s; load average at end: {os.getloadavg()[0]:.1f}"
        )
        return
    if args.oracle_only:
        t0 = time.perf_counter()
        design = {"overlap": args.overlap, "confounding": args.confounding}
        rows = [oracle(args.first_seed + r, args.rows, design) for r in range(args.oracle_only)]
        print(
            f"# oracle AIPW (true nuisances): {args.oracle_only} datasets x {args.rows} pins, "
            f"seeds {args.first_seed}..{args.first_seed + args.oracle_only - 1}, design {design}"
        )
        for o in OUTCOMES:
            z, cov, err, se = (np.array([r[o][k] for r in rows], dtype=float) for k in range(4))
            sd = float(err.std(ddof=1))
            print(
                f"{o:<16} cover {cov.mean():.3f} (below {np.mean(z < -Z95):.3f}, above "
                f"{np.mean(z > Z95):.3f}) bias/SD {err.mean() / sd:+.2f} "
                f"SE/SD {se.mean() / sd:.2f} mean z {z.mean():+.2f}"
                f"±{z.std(ddof=1) / np.sqrt(len(z)):.2f} SD z {z.std(ddof=1):.2f}"
            )
        print(f"{time.perf_counter() - t0:.0f} s; load average {os.getloadavg()[0]:.1f}")
        return
    if args.summarize:
        runs = [json.loads(Path(path).read_text()) for path in args.summarize]
        res = {o: [v for r in runs for v in r["res"][o]] for o in OUTCOMES}
        slopes = [x for r in runs for x in r["slopes"]]
        print("# merged:", "; ".join(r["header"] for r in runs))
        summarize(res, len(slopes), slopes)
        return
    reps = 10 if args.quick else args.datasets
    params = json.loads(args.nuisance_params) if args.nuisance_params else None
    design = {"overlap": args.overlap, "confounding": args.confounding}
    warnings.filterwarnings("ignore")
    header = (
        f"datasets {args.start}-{args.start + reps - 1} x {args.rows} pins, design {design}, "
        f"cv={args.cv} nuisance={params}; load average at start {os.getloadavg()[0]:.1f}"
    )
    print(header, flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    res: dict[str, list] = {o: [] for o in OUTCOMES}
    slopes: list[float] = []
    for r in range(args.start, args.start + reps):
        for o, v in one(50_000 + r, args.rows, args.cv, params, design).items():
            if o == "_slope":
                slopes.append(v[0])
            else:
                res[o].append([float(x) for x in v])
        done = r + 1 - args.start
        if done % 5 == 0:
            print(
                f"  {done}/{reps} datasets, {time.perf_counter() - t0:.0f} s, "
                f"{time.process_time() - c0:.0f} CPU s",
                flush=True,
            )
    summarize(res, reps, slopes)
    tail = (
        f"total {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU s; "
        f"load average at end: {os.getloadavg()[0]:.1f}"
    )
    print(tail)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"header": header + "; " + tail, "res": res, "slopes": slopes}, fh)


if __name__ == "__main__":
    main()
