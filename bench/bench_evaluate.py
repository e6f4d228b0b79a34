"""estimators.evaluate beside econml's DRTester on the same fitted model and data.

Run (2 shared cores; ``nice``):
    PYTHONPATH=$PWD nice /work/main/.venv/bin/python bench/bench_evaluate.py --rows 100000
    PYTHONPATH=$PWD nice /work/main/.venv/bin/python bench/bench_evaluate.py --rows 1000000 --no-drtester

Data: ``causal.simulate_content`` (outcome ``saves``, treatment ``boosted``), a training half
and a validation half of ``--rows`` rows each. The CATE model is our ``DRLearner`` fitted on
the training half. Then, timed in the same run:

- DRTester: ``fit_nuisance(Xval, Dval, yval, Xtrain, Dtrain, ytrain)`` (LightGBM nuisances as
  ours, ``cv=3``) + ``evaluate_all(Xval, Xtrain)`` (BLP, calibration, Qini, TOC with 1000
  bootstrap draws);
- ours, held out: ``evaluate(est, yval, Tval, X=Xval, W=Wval, segments=category)``
  (cross-fits the nuisances on the validation rows, GATE table with band, BLP, GATES/CLAN,
  Qini/TOC, RATE, policy values);
- ours, on the training rows: reuses the fitted nuisances (``n_splits=1``: one out-of-fold
  refit of the final stage per fold).

Then the numbers side by side, and ours recomputed on DRTester's own doubly-robust scores and
CATE predictions, which isolates what differs (nuisance models vs formulas).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

import causal
import estimators
from estimators._scores import blp_test, descending_order, rate_table, uplift_curve

MODIFIERS = [
    "quality_score",
    "age_days",
    "creator_followers",
    "text_overlay",
    "shoppable",
    "prior_impressions",
    "category",
    "format",
]


def _numeric(X: pd.DataFrame) -> np.ndarray:
    return pd.get_dummies(X, columns=["category", "format"], dtype=float).to_numpy(dtype=float)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-drtester", action="store_true")
    args = ap.parse_args()
    n = args.rows
    print(f"rows per half {n:,}; load average before {os.getloadavg()}")
    df = causal.simulate_content(n=2 * n, seed=args.seed)
    tr, va = df.iloc[:n].reset_index(drop=True), df.iloc[n:].reset_index(drop=True)
    X_tr, X_va = tr[MODIFIERS], va[MODIFIERS]
    y_tr, y_va = tr["saves"].to_numpy(float), va["saves"].to_numpy(float)
    t_tr, t_va = tr["boosted"].to_numpy(), va["boosted"].to_numpy()

    t0 = time.perf_counter()
    est = estimators.DRLearner(random_state=0).fit(y_tr, t_tr, X=X_tr)
    t_fit = time.perf_counter() - t0
    print(f"DRLearner fit on the training half: {t_fit:.1f} s  (load {os.getloadavg()[0]:.1f})")

    t0 = time.perf_counter()
    ev = estimators.evaluate(
        est, y_va, t_va, X=X_va, segments=va[["category"]], n_groups=4, n_splits=1
    )
    t_ours = time.perf_counter() - t0
    print(f"ours, held out (nuisances cross-fitted on val + all tables): {t_ours:.1f} s  "
          f"(load {os.getloadavg()[0]:.1f})")

    t0 = time.perf_counter()
    ev_tr = estimators.evaluate(est, y_tr, t_tr, segments=tr[["category"]], n_groups=4, n_splits=1)
    t_ours_tr = time.perf_counter() - t0
    print(f"ours, training rows (reusing the fitted nuisances, 1 split): {t_ours_tr:.1f} s  "
          f"(load {os.getloadavg()[0]:.1f})")

    if args.no_drtester:
        print(ev.blp.to_string(), ev.rate.to_string(), sep="\n")
        return

    from econml.validate import DRTester
    from lightgbm import LGBMClassifier, LGBMRegressor

    xtr, xva = _numeric(X_tr), _numeric(X_va)
    tester = DRTester(
        model_regression=LGBMRegressor(n_estimators=200, learning_rate=0.05, n_jobs=1, verbose=-1),
        model_propensity=LGBMClassifier(n_estimators=200, learning_rate=0.05, n_jobs=1, verbose=-1),
        cate=_Wrap(est, X_tr.columns),
        cv=3,
    )
    t0 = time.perf_counter()
    tester.fit_nuisance(xva, t_va, y_va, xtr, t_tr, y_tr)
    res = tester.evaluate_all(xva, xtr, n_groups=4, n_bootstrap=1000)
    t_drt = time.perf_counter() - t0
    print(f"DRTester fit_nuisance + evaluate_all: {t_drt:.1f} s  (load {os.getloadavg()[0]:.1f})")
    print(f"ratio ours(held out) / DRTester: {t_ours / t_drt:.2f}; "
          f"ours(training rows) / DRTester: {t_ours_tr / t_drt:.2f}")

    # ---------------------------------------------------------------- numbers side by side
    blp_ours = ev.blp.set_index("term").loc["heterogeneity"]
    print("\nBLP slope on the CATE prediction")
    print(f"  ours     {blp_ours['effect']:.4f} (se {blp_ours['se']:.4f})")
    print(f"  DRTester {res.blp.params[0]:.4f} (se {res.blp.errs[0]:.4f})")
    cal = res.cal.plot_data_dict[1]
    print("\nGATES by CATE quartile (ours: val quartiles; DRTester: train-prediction cuts)")
    g = ev.gates[ev.gates["group"] != "top - bottom"]
    print(pd.DataFrame({"ours": g["effect"].to_numpy(), "DRTester": cal["gate"].to_numpy()}))
    q = ev.qini.set_index("share")
    print("\nQini curve at shares 0.25 / 0.5 (gain over random per unit)")
    print(f"  ours     {q.at[0.25, 'qini']:.4f} / {q.at[0.5, 'qini']:.4f}")
    qd = res.qini.curves[1].set_index("Percentage treated")["value"]
    print(f"  DRTester {np.interp(25, qd.index[::-1], qd.to_numpy()[::-1]):.4f} / "
          f"{np.interp(50, qd.index[::-1], qd.to_numpy()[::-1]):.4f}")
    r = ev.rate.set_index("metric")
    print("\nAreas (ours: exact rank integral over (0, 1]; DRTester: 5-95th percentile grid)")
    print(f"  QINI  ours {r.at['QINI', 'effect']:.4f} (se {r.at['QINI', 'se']:.4f})   "
          f"DRTester {res.qini.params[0]:.4f} (se {res.qini.errs[0]:.4f})")
    print(f"  AUTOC ours {r.at['AUTOC', 'effect']:.4f} (se {r.at['AUTOC', 'se']:.4f})   "
          f"DRTester {res.toc.params[0]:.4f} (se {res.toc.errs[0]:.4f})")
    print(f"\nATE on val: ours {ev.ate.effect:.4f}, DRTester {float(tester.ate_val[0]):.4f}")

    # ours on DRTester's scores and predictions: what remains is the formula
    s, tau = tester.dr_val_[:, 0], tester.cate_preds_val_[:, 0]
    b = blp_test(s, tau, groups=None, alpha=0.05)["heterogeneity"]
    print("\nours on DRTester's DR scores and predictions")
    print(f"  BLP slope {b.effect:.4f} (se {b.se:.4f}) vs DRTester {res.blp.params[0]:.4f} "
          f"(se {res.blp.errs[0]:.4f})")
    order = descending_order(tau, np.random.default_rng(0))
    cur = uplift_curve(s, order, [0.5], groups=None, alpha=0.05)
    print(f"  Qini at 0.5 {cur['qini'].iat[0]:.4f} vs DRTester "
          f"{np.interp(50, qd.index[::-1], qd.to_numpy()[::-1]):.4f}")
    rt = rate_table(s, order, tau, groups=None, alpha=0.05).set_index("metric")
    print(f"  AUTOC {rt.at['AUTOC', 'effect']:.4f}  QINI {rt.at['QINI', 'effect']:.4f}")
    print(f"load average after {os.getloadavg()}")


class _Wrap:
    """DRTester calls ``cate.effect(X=ndarray, T0=, T1=)``; ours wants the modifier frame."""

    def __init__(self, est: estimators.DRLearner, columns: pd.Index) -> None:
        self.est = est
        self.columns = columns

    def effect(self, X: np.ndarray, T0: object = None, T1: object = None) -> np.ndarray:
        del T0, T1
        frame = self._frame(X)
        return np.asarray(self.est.effect(frame), dtype=float)

    def _frame(self, X: np.ndarray) -> pd.DataFrame:
        k = 6  # numeric modifiers first, then the one-hot blocks
        base = pd.DataFrame(X[:, :k], columns=list(self.columns[:k]))
        cats = list(causal.data._simulate_content.CATEGORIES)
        fmts = list(causal.data._simulate_content.FORMATS)
        base["category"] = pd.Categorical.from_codes(
            X[:, k : k + len(cats)].argmax(axis=1), categories=cats
        )
        base["format"] = pd.Categorical.from_codes(
            X[:, k + len(cats) :].argmax(axis=1), categories=fmts
        )
        return base


if __name__ == "__main__":
    main()
