"""Benchmark: propensity recalibrations paired on the same cross-fitted nuisances.

On seeded ``causal.simulate_content`` datasets (3,000 pins, ``groups=creator_id``), the
estimators' nuisances are cross-fitted once with the RAW LightGBM propensity
(``propensity_calibration=None``); the AIPW ATE and its cluster-robust (CR2) interval are then
recomputed with the same outcome models and each propensity variant:

- ``raw``: LightGBM out of fold (the default before issue 9 item 6);
- ``platt_full``: logistic recalibration of the out-of-fold log-odds on all rows (the default
  now, :func:`estimators._library.calibrate_propensity`); ``platt_cf``: the same cross-fitted;
- ``iso_full`` / ``iso_cf``: isotonic regression of T on the out-of-fold propensity;
- ``logistic``: the library's logistic member (raw design) instead of LightGBM;
- ``true``: the simulator's true propensity (with the fitted outcome models).

Paired differences of the z-score (variant minus raw) isolate the propensity's share of the
bias from the data's noise. Run: ``nice .venv/bin/python bench/bench_propensity_calibration.py
--start 0 --datasets 5 --json out.json`` (several in parallel), then ``--summarize *.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

import causal
import estimators
from estimators._base import auto_cv
from estimators._inputs import prepare
from estimators._library import calibrate_propensity
from estimators._nuisance import crossfit

OUTCOMES = ["saves", "outbound_clicks", "hides", "revenue"]
MODIFIERS = ["quality_score", "format", "category", "shoppable", "text_overlay"]
CONFOUNDERS = ["creator_followers", "prior_impressions", "age_days"]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _isotonic(e: np.ndarray, t: np.ndarray, folds: np.ndarray | None) -> np.ndarray:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    if folds is None:
        return iso.fit(e, t).predict(e)
    out = np.empty_like(e)
    for k in np.unique(folds):
        tr = folds != k
        out[~tr] = iso.fit(e[tr], t[tr]).predict(e[~tr])
    return out


def _platt_cf(e: np.ndarray, t: np.ndarray, folds: np.ndarray) -> np.ndarray:
    out = np.empty_like(e)
    for k in np.unique(folds):
        tr = folds != k
        _, cal = calibrate_propensity(np.c_[1 - e[tr], e[tr]], t[tr], None)
        p = cal.predict_proba(_logit(e[~tr])[:, None])
        out[~tr] = p[:, 1]
    return out


def run(seed: int, n: int) -> dict:
    """Per variant: log-odds slope on the truth, mean of T/e, and per outcome (z, covers)."""
    df = causal.simulate_content(n=n, seed=seed)
    data = prepare(
        df[OUTCOMES],
        df["boosted"].to_numpy(),
        df[MODIFIERS],
        df[CONFOUNDERS],
        None,
        df["creator_id"].to_numpy(),
        discrete_treatment=None,
        control=None,
    )
    s = int(np.random.default_rng(seed).integers(0, 2**31 - 1))
    raw_only = {"propensity_calibration": None}
    nu = crossfit(data, cv=auto_cv(n), seed=s, n_jobs=1, overrides=raw_only)
    logistic = crossfit(
        data,
        cv=auto_cv(n),
        seed=s,
        n_jobs=1,
        overrides={**raw_only, "propensity_library": ["logistic"], "outcome_library": ["linear"]},
    )
    t = (data.t_codes == 1).astype(int)
    e = nu.e[:, 1]
    variants = {
        "raw": e,
        "platt_full": calibrate_propensity(nu.e, data.t_codes, None)[0][:, 1],
        "platt_cf": _platt_cf(e, t, nu.folds),
        "iso_full": _isotonic(e, t, None),
        "iso_cf": _isotonic(e, t, nu.folds),
        "logistic": logistic.e[:, 1],
        "true": df["true_propensity"].to_numpy(),
    }
    true_logit = _logit(variants["true"])
    out: dict = {}
    for name, ev in variants.items():
        r: dict = {
            "slope": float(np.polyfit(true_logit, _logit(ev), 1)[0]),
            "sumw": float(np.sum(t / np.clip(ev, 0.01, 0.99)) / n),
        }
        for j, o in enumerate(OUTCOMES):
            truth = float(df[f"true_cate_{o}"].mean())
            sc = estimators.aipw_scores(
                data.y[:, j], t == 1, t == 0, nu.mu[:, j, 1], nu.mu[:, j, 0], ev, 1 - ev
            )
            a = estimators.mean_effect_from_scores(sc, groups=data.groups)
            r[o] = (
                (a.effect - truth) / a.se,
                bool(a.effect_ci_lower <= truth <= a.effect_ci_upper),
            )
        out[name] = r
    return out


def summarize(rows: list[dict]) -> None:
    print(f"{len(rows)} datasets; per variant: slope of fitted on true log-odds, mean T/e,")
    print("per outcome: coverage, mean z ± s.e., SD z")
    for v in rows[0]:
        sl = np.mean([r[v]["slope"] for r in rows])
        sw = np.mean([r[v]["sumw"] for r in rows])
        line = f"{v:<11} slope {sl:.2f} T/e {sw:.3f} |"
        for o in OUTCOMES:
            z = np.array([r[v][o][0] for r in rows])
            c = np.mean([r[v][o][1] for r in rows])
            se = z.std(ddof=1) / np.sqrt(len(z))
            line += f" {o[:6]} {c:.2f} z{z.mean():+.2f}±{se:.2f} sd{z.std(ddof=1):.2f} |"
        print(line)
    print("paired z difference vs raw, mean ± s.e.")
    for v in rows[0]:
        if v == "raw":
            continue
        line = f"{v:<11}"
        for o in OUTCOMES:
            d = np.array([r[v][o][0] - r["raw"][o][0] for r in rows])
            line += f" {o[:6]} {d.mean():+.3f}±{d.std(ddof=1) / np.sqrt(len(d)):.3f}"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--datasets", type=int, default=5)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--json", default=None)
    ap.add_argument("--summarize", nargs="+", default=None)
    args = ap.parse_args()
    if args.summarize:
        summarize(sum((json.loads(Path(p).read_text()) for p in args.summarize), []))
        return
    warnings.filterwarnings("ignore")
    print(f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    c0 = time.process_time()
    rows = []
    for r in range(args.start, args.start + args.datasets):
        rows.append({"seed": 50_000 + r, **run(50_000 + r, args.rows)})
        print(f"  dataset {r}: {time.process_time() - c0:.0f} CPU s", flush=True)
        if args.json:
            Path(args.json).write_text(
                json.dumps([{k: v for k, v in x.items() if k != "seed"} for x in rows])
            )
    summarize([{k: v for k, v in x.items() if k != "seed"} for x in rows])
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
