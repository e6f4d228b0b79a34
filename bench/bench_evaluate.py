"""estimators.evaluate beside econml's DRTester on the same fitted model and data.

Run (2 shared cores; ``nice``):
    PYTHONPATH=$PWD nice /work/main/.venv/bin/python bench/bench_evaluate.py --rows 100000
    PYTHONPATH=$PWD nice /work/main/.venv/bin/python bench/bench_evaluate.py --rows 1000000

At ``--rows`` above ``--drtester-rows`` (default 100k) DRTester runs on the first
``--drtester-rows`` rows of each half, beside ours held out on the same validation rows and the
same fitted model (DRTester at 1M is not feasible here).

Every step prints wall seconds, CPU seconds (this process and its children, user + system:
the figure that carries over from a machine shared by eight jobs; divided by the 2 cores it is
the wall time on an idle 2-core machine), the step's peak resident memory (``VmHWM``, reset
before each step) and the load average.

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
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

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


def _cpu_seconds() -> float:
    """User + system CPU of this process, its live children and its reaped children."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for c in me.children(recursive=True):
        with suppress(psutil.Error):
            total += sum(c.cpu_times()[:2])
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + ru.ru_utime + ru.ru_stime


def _peak_reset() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (Linux)
    except OSError:
        pass


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


TIMES: dict[str, dict[str, float]] = {}


@contextmanager
def step(name: str) -> Iterator[None]:
    """Time a step: wall, CPU (incl. children), peak memory, load average."""
    _peak_reset()
    c0, t0 = _cpu_seconds(), time.perf_counter()
    yield
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    rec = {"wall": wall, "cpu": cpu, "peak_mb": _peak_mb(), "load": os.getloadavg()[0]}
    TIMES[name] = rec
    print(
        f"[{name}] wall {wall:.1f} s, CPU {cpu:.1f} s (= {cpu / 2:.1f} s on 2 idle cores), "
        f"peak RSS {rec['peak_mb']:.0f} MB, load {rec['load']:.1f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--drtester-rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-drtester", action="store_true")
    ap.add_argument("--no-heldout", action="store_true", help="skip ours held out (and DRTester)")
    args = ap.parse_args()
    n = args.rows
    print(f"rows per half {n:,}; load average before {os.getloadavg()}", flush=True)
    with step("simulate"):
        df = causal.simulate_content(n=2 * n, seed=args.seed)
        tr, va = df.iloc[:n].reset_index(drop=True), df.iloc[n:].reset_index(drop=True)
        del df
    X_tr, X_va = tr[MODIFIERS], va[MODIFIERS]
    y_tr, y_va = tr["saves"].to_numpy(float), va["saves"].to_numpy(float)
    t_tr, t_va = tr["boosted"].to_numpy(), va["boosted"].to_numpy()

    with step("DRLearner fit (training half)"):
        est = estimators.DRLearner(random_state=0).fit(y_tr, t_tr, X=X_tr)

    if not args.no_heldout:
        with step("ours held out (val rows)"):
            ev = estimators.evaluate(
                est, y_va, t_va, X=X_va, segments=va[["category"]], n_groups=4, n_splits=1
            )

    with step("ours training rows"):
        ev_tr = estimators.evaluate(
            est, y_tr, t_tr, segments=tr[["category"]], n_groups=4, n_splits=1
        )
    print(f"  (training rows: calibration slope {ev_tr.blp['effect'].iat[1]:.4f})")
    print(f"  (training rows: {ev_tr.cate_source})")
    if args.no_heldout:
        print(ev_tr.blp.to_string(), ev_tr.rate.to_string(), sep="\n")
        _summary(n)
        return
    truth = va["true_cate_saves"].to_numpy()
    print(f"  (val rows: true ATE {truth.mean():.4f}, ours {ev.ate.effect:.4f})")

    if args.no_drtester:
        print(ev.blp.to_string(), ev.rate.to_string(), sep="\n")
        _summary(n)
        return

    from econml.validate import DRTester
    from lightgbm import LGBMClassifier, LGBMRegressor

    m = min(n, args.drtester_rows)
    if m < n:  # DRTester on a subset; ours again on the same rows for the comparison
        X_tr, X_va = X_tr.iloc[:m], X_va.iloc[:m]
        y_tr, y_va, t_tr, t_va = y_tr[:m], y_va[:m], t_tr[:m], t_va[:m]
        with step(f"ours held out ({m:,} val rows)"):
            ev = estimators.evaluate(
                est, y_va, t_va, X=X_va, segments=va[["category"]].iloc[:m], n_groups=4, n_splits=1
            )
        t_ours = TIMES[f"ours held out ({m:,} val rows)"]
    else:
        t_ours = TIMES["ours held out (val rows)"]

    xtr, xva = _numeric(X_tr), _numeric(X_va)
    tester = DRTester(
        model_regression=LGBMRegressor(n_estimators=200, learning_rate=0.05, n_jobs=1, verbose=-1),
        model_propensity=LGBMClassifier(n_estimators=200, learning_rate=0.05, n_jobs=1, verbose=-1),
        cate=_Wrap(est, X_tr.columns),
        cv=3,
    )
    with step(f"DRTester fit_nuisance + evaluate_all ({m:,} rows)"):
        tester.fit_nuisance(xva, t_va, y_va, xtr, t_tr, y_tr)
        res = tester.evaluate_all(xva, xtr, n_groups=4, n_bootstrap=1000)
    t_drt = TIMES[f"DRTester fit_nuisance + evaluate_all ({m:,} rows)"]
    print(
        f"ratio ours(held out, {m:,} rows) / DRTester: wall {t_ours['wall'] / t_drt['wall']:.2f}, "
        f"CPU {t_ours['cpu'] / t_drt['cpu']:.2f}"
    )
    _summary(n)

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
    print(
        f"  DRTester {np.interp(25, qd.index[::-1], qd.to_numpy()[::-1]):.4f} / "
        f"{np.interp(50, qd.index[::-1], qd.to_numpy()[::-1]):.4f}"
    )
    r = ev.rate.set_index("metric")
    print("\nAreas (ours: exact rank integral over (0, 1]; DRTester: 5-95th percentile grid)")
    print(
        f"  QINI  ours {r.at['QINI', 'effect']:.4f} (se {r.at['QINI', 'se']:.4f})   "
        f"DRTester {res.qini.params[0]:.4f} (se {res.qini.errs[0]:.4f})"
    )
    print(
        f"  AUTOC ours {r.at['AUTOC', 'effect']:.4f} (se {r.at['AUTOC', 'se']:.4f})   "
        f"DRTester {res.toc.params[0]:.4f} (se {res.toc.errs[0]:.4f})"
    )
    print(f"\nATE on val: ours {ev.ate.effect:.4f}, DRTester {float(tester.ate_val[0]):.4f}")

    # ours on DRTester's scores and predictions: what remains is the formula
    s, tau = tester.dr_val_[:, 0], tester.cate_preds_val_[:, 0]
    b = blp_test(s, tau, groups=None, alpha=0.05)["heterogeneity"]
    print("\nours on DRTester's DR scores and predictions")
    print(
        f"  BLP slope {b.effect:.4f} (se {b.se:.4f}) vs DRTester {res.blp.params[0]:.4f} "
        f"(se {res.blp.errs[0]:.4f})"
    )
    order = descending_order(tau, np.random.default_rng(0))
    cur = uplift_curve(s, order, [0.5], groups=None, alpha=0.05)
    print(
        f"  Qini at 0.5 {cur['qini'].iat[0]:.4f} vs DRTester "
        f"{np.interp(50, qd.index[::-1], qd.to_numpy()[::-1]):.4f}"
    )
    rt = rate_table(s, order, tau, groups=None, alpha=0.05).set_index("metric")
    print(f"  AUTOC {rt.at['AUTOC', 'effect']:.4f}  QINI {rt.at['QINI', 'effect']:.4f}")
    print(f"load average after {os.getloadavg()}")


def _summary(n: int) -> None:
    print(f"\nsummary at {n:,} rows per half (markdown)")
    print("| step | wall s | CPU s | CPU s / 2 cores | peak RSS MB | load |")
    print("|---|---|---|---|---|---|")
    for k, r in TIMES.items():
        print(
            f"| {k} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['cpu'] / 2:.1f} | "
            f"{r['peak_mb']:.0f} | {r['load']:.1f} |"
        )
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


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
