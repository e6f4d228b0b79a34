"""Why AutoCate's loss leans towards the T-learner: the ranking with oracle nuisances.

For each seeded dataset (``tests/estimators/_estimator_sim.simulate``: true outcome means
``mu_0, mu_1`` and propensity known), AutoCate is fitted and each default candidate's
out-of-fold CATE on the scored rows is recovered exactly as AutoCate scores it. The mean
doubly-robust loss ``mean((phi - tau_hat_c)^2)`` is then computed with four pseudo-outcomes:

- ``estimated``: AutoCate's own (cross-fitted outcome models and propensity);
- ``oracle``: true ``mu_a`` and true propensity;
- ``true e``: estimated outcome models, true propensity;
- ``true mu``: true outcome models, estimated propensity.

With the oracle pseudo-outcome, ``loss_c - loss_best`` equals ``PEHE_c - PEHE_best`` up to
noise, unless the candidates' final stages saw the scored rows' noise (through nuisances fitted
on those rows). The table reports, per candidate, the mean over datasets of
``(loss_c - loss_T) - (PEHE_c - PEHE_T)``: the bias of the loss difference to the T-learner
(positive = the loss favours the T-learner over candidate c by that much beyond the truth).

Usage::

    nice .venv/bin/python bench/bench_scoring_oracle.py --seeds 10 --n 3000
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np
from _common import machine_load, markdown_table

from estimators import AutoCate, aipw_scores
from estimators._auto import _REGISTRY, _light
from tests.estimators._estimator_sim import simulate

PSEUDO = ("estimated", "oracle", "true e", "true mu")


def truth(d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True mu_0, mu_1 and propensity of ``simulate`` (confounded, two arms)."""
    X, W = d["X"], d["W"]
    x0, x1, w0 = X["x0"].to_numpy(), X["x1"].to_numpy(), W["w0"].to_numpy()
    mu0 = x0 + 0.5 * w0 + np.sin(x1)
    e = 1 / (1 + np.exp(-(0.8 * x0 + 0.5 * w0)))
    return mu0, mu0 + d["tau"], e


def one(seed: int, n: int, no_w: bool = False) -> dict[str, dict[str, float]]:
    """Per candidate: PEHE and the loss under each pseudo-outcome, on the scored rows.

    ``no_w``: the confounder ``w0`` is passed as a modifier (in X) instead of in W.
    """
    d = simulate(n, seed=seed)
    X, W = (d["X"].join(d["W"]), None) if no_w else (d["X"], d["W"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = AutoCate(random_state=seed).fit(d["Y"], d["T"], X=X, W=W)
    ctx = auto._ctx
    mu0, mu1, e = truth(d)
    y, t = d["Y"], d["T"].astype(bool)
    e_hat = ctx.nuis.e[:, 1]
    mu_hat = ctx.nuis.mu[:, 0, :]
    clip = ctx.clip
    phi = {
        "estimated": ctx.dr[:, 0, 0],
        "oracle": aipw_scores(y, t, ~t, mu1, mu0, e, 1 - e, clip=clip),
        "true e": aipw_scores(y, t, ~t, mu_hat[:, 1], mu_hat[:, 0], e, 1 - e, clip=clip),
        "true mu": aipw_scores(y, t, ~t, mu1, mu0, e_hat, 1 - e_hat, clip=clip),
    }
    folds = ctx.nuis.folds
    out: dict[str, dict[str, float]] = {}
    for name in auto.weights_.index:
        cand = _light(_REGISTRY[name](), len(np.unique(folds)))
        pred = np.empty(n)
        for k in np.unique(folds):
            state = cand._final_fit(ctx, np.flatnonzero(folds != k))
            pred[folds == k] = cand._final_predict_rows(state, ctx, np.flatnonzero(folds == k))[0][
                :, 0, 0
            ]
        rec = {"pehe": float(np.mean((pred - d["tau"]) ** 2))}
        for key, p in phi.items():
            rec[key] = float(np.mean((p - pred) ** 2))
        out[name] = rec
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--no-w", action="store_true", help="pass the confounder in X, not W")
    args = parser.parse_args(argv)
    where = "in X (no W)" if args.no_w else "in W"
    print(f"# scoring with oracle nuisances, {args.seeds} x {args.n:,} rows, confounder {where}")
    print(f"# {machine_load()}")
    runs = []
    for s in range(1, args.seeds + 1):
        runs.append(one(s, args.n, args.no_w))
        picks = {k: min(runs[-1], key=lambda c: runs[-1][c][k]) for k in ("pehe", *PSEUDO)}
        print(f"seed {s}: best by {picks}", flush=True)
    names = list(runs[0])
    rows = []
    for c in names:
        cells = [c, f"{np.mean([r[c]['pehe'] for r in runs]) ** 0.5:.3f}"]
        for key in PSEUDO:
            bias = [
                (r[c][key] - r["TLearner"][key]) - (r[c]["pehe"] - r["TLearner"]["pehe"])
                for r in runs
            ]
            m, se = np.mean(bias), np.std(bias, ddof=1) / np.sqrt(len(bias))
            cells.append(f"{m:+.4f} ± {se:.4f}")
        rows.append(cells)
    header = ["candidate", "√mean PEHE", *[f"bias vs T, {k}" for k in PSEUDO]]
    print()
    print(markdown_table(header, rows))
    for key in ("pehe", *PSEUDO):
        wins = [min(r, key=lambda c, k=key: r[c][k]) for r in runs]
        agree = np.mean(
            [w == min(r, key=lambda c: r[c]["pehe"]) for w, r in zip(wins, runs, strict=True)]
        )
        print(
            f"- ranked by {key}: picks the PEHE-best candidate on {agree:.0%} of datasets; T-learner picked {wins.count('TLearner')}/{len(runs)}"
        )
    print(f"# done; {machine_load()}")


if __name__ == "__main__":
    main()
