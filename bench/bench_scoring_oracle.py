"""AutoCate's scoring loss: leak or no leak, with oracle and with fitted nuisances.

For each seeded dataset (``tests/estimators/_estimator_sim.simulate``: true outcome means
``mu_0, mu_1`` and propensity known), AutoCate is fitted and each default candidate's
out-of-fold CATE on the scored rows is taken exactly as AutoCate scored it
(``AutoCate._scoring``). Two measurements per candidate:

1. **Bias of the loss difference to the T-learner**: the mean doubly-robust loss
   ``mean((phi - tau_hat_c)^2)`` with four pseudo-outcomes — ``estimated`` (AutoCate's own),
   ``oracle`` (true ``mu_a`` and propensity), ``true e``, ``true mu`` — and the entry
   ``(loss_c - loss_T) - (PEHE_c - PEHE_T)`` (positive = the loss favours the T-learner over
   c beyond the truth).
2. **In-fold vs held-out loss**: each candidate's fold-``k`` scoring fit is also applied to a
   fresh dataset of the same size from the same simulator (held out: no row of it was seen by
   anything), with its pseudo-outcome from the oracle nuisances and from fitted ones (the
   average of AutoCate's cross-fitting fold models). On both, the *excess* loss over the true
   CATE's loss on the same rows, ``mean((phi - tau_hat)^2 - (phi - tau)^2)`` (this removes
   the noise term, which differs between datasets), estimates the PEHE. ``in-fold -
   held-out`` (averaged over folds) is zero in expectation when the scored rows did not reach
   the candidate's fit; negative = the in-fold loss is optimistic.

``--no-nesting`` scores with the ordinary cross-fitted nuisances (the code before nested
cross-fitting), for the before/after comparison in the same run.

Usage::

    nice .venv/bin/python bench/bench_scoring_oracle.py --seeds 8 --n 3000 [--first-seed 1] [--no-nesting] [--no-w]
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np
from _common import machine_load, markdown_table

import estimators._auto as auto_mod
from estimators import AutoCate, aipw_scores
from estimators._auto import _light
from estimators._base import scoring_context
from estimators.inference import frame_like
from tests.estimators._estimator_sim import simulate

PSEUDO = ("estimated", "oracle", "true e", "true mu")
HELD = ("oracle", "estimated")


def truth(d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True mu_0, mu_1 and propensity of ``simulate`` (confounded, two arms)."""
    X, W = d["X"], d["W"]
    x0, x1, w0 = X["x0"].to_numpy(), X["x1"].to_numpy(), W["w0"].to_numpy()
    mu0 = x0 + 0.5 * w0 + np.sin(x1)
    e = 1 / (1 + np.exp(-(0.8 * x0 + 0.5 * w0)))
    return mu0, mu0 + d["tau"], e


def _held_out_phi(auto: AutoCate, fresh: dict[str, Any], Zf: Any) -> dict[str, np.ndarray]:
    """Oracle and fitted pseudo-outcomes of the fresh rows (fitted: mean of the fold models)."""
    ctx = auto._ctx
    mu0, mu1, e = truth(fresh)
    y, t = fresh["Y"], fresh["T"].astype(bool)
    e_hat = np.mean([m.predict_proba(Zf)[:, 1] for m in ctx.nuis.e_models], axis=0)
    mu_hat = [np.mean([m.predict(Zf) for m in ctx.nuis.mu_models[0][a]], axis=0) for a in (0, 1)]
    return {
        "oracle": aipw_scores(y, t, ~t, mu1, mu0, e, 1 - e, clip=ctx.clip),
        "estimated": aipw_scores(y, t, ~t, mu_hat[1], mu_hat[0], e_hat, 1 - e_hat, clip=ctx.clip),
    }


def one(seed: int, n: int, no_w: bool, nesting: bool) -> dict[str, dict[str, float]]:
    """Per candidate: PEHE, the in-fold loss under each pseudo-outcome, held-out losses."""
    d = simulate(n, seed=seed)
    fresh = simulate(n, seed=10_000 + seed)
    X, W = (d["X"].join(d["W"]), None) if no_w else (d["X"], d["W"])
    Xh = fresh["X"].join(fresh["W"]) if no_w else fresh["X"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = AutoCate(random_state=seed, nested_scoring=nesting).fit(d["Y"], d["T"], X=X, W=W)
    ctx = auto._ctx
    names, rows, preds = auto._scoring
    assert len(rows) == n
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
    # held-out: every fold's scoring fit of every candidate predicts the fresh rows
    Xf = frame_like(Xh, ctx.data.x_schema, "X", "x")
    Zf = frame_like(fresh["X"].join(fresh["W"]), ctx.data.x_schema + ctx.data.w_schema, "X", "x")
    phi_h = _held_out_phi(auto, fresh, Zf)
    folds = ctx.nuis.folds
    fold_ids = np.unique(folds)
    nested = (
        auto_mod.nested_crossfit(
            ctx.data, ctx.nuis, rows, seed=ctx.seed + 7, n_jobs=ctx.n_jobs, overrides=None
        )
        if nesting
        else [None] * len(fold_ids)
    )
    cands = [auto_mod._REGISTRY[name]() for name in names]
    held: dict[str, dict[str, list[float]]] = {c: {k: [] for k in HELD} for c in names}
    infold: dict[str, dict[str, list[float]]] = {c: {k: [] for k in HELD} for c in names}
    for k, part in zip(fold_ids, nested, strict=True):
        ctx_k = ctx if part is None else scoring_context(ctx, part)
        tr, te = rows[folds != k], folds == k
        for c, name in enumerate(names):
            scorer = _light(cands[c], len(fold_ids))
            state = scorer._final_fit(ctx_k, tr)
            p_in = scorer._final_predict_rows(state, ctx_k, rows[te])[0][:, 0, 0]
            assert np.allclose(p_in, preds[c, te, 0, 0])  # exactly as AutoCate scored
            if state is None:  # T-learner without W: fold k's own outcome models
                mods = ctx.nuis.mu_models[0]
                p_out = mods[1][k].predict(Zf) - mods[0][k].predict(Zf)
            else:
                p_out = scorer._final_predict(state, ctx_k, Xf, with_var=False)[0][:, 0, 0]
            for key in HELD:  # excess loss over the true CATE's on the same rows
                ph, tau_h = phi_h[key], fresh["tau"]
                infold[name][key].append(
                    float(np.mean((phi[key][te] - p_in) ** 2 - (phi[key][te] - d["tau"][te]) ** 2))
                )
                held[name][key].append(float(np.mean((ph - p_out) ** 2 - (ph - tau_h) ** 2)))
    out: dict[str, dict[str, float]] = {}
    for c, name in enumerate(names):
        pred = preds[c, :, 0, 0]
        rec = {"pehe": float(np.mean((pred - d["tau"]) ** 2))}
        for key, p in phi.items():
            rec[key] = float(np.mean((p - pred) ** 2))
        for key in HELD:
            rec[f"optimism {key}"] = float(np.mean(infold[name][key]) - np.mean(held[name][key]))
        out[name] = rec
    return out


def _mean_se(values: list[float]) -> str:
    return f"{np.mean(values):+.4f} ± {np.std(values, ddof=1) / np.sqrt(len(values)):.4f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--no-w", action="store_true", help="pass the confounder in X, not W")
    parser.add_argument(
        "--no-nesting", action="store_true", help="score on the ordinary nuisances (before)"
    )
    args = parser.parse_args(argv)
    nesting = not args.no_nesting
    where = "in X (no W)" if args.no_w else "in W"
    print(
        f"# scoring {'with' if nesting else 'WITHOUT'} nested cross-fitting, "
        f"{args.seeds} x {args.n:,} rows (seeds {args.first_seed}-"
        f"{args.first_seed + args.seeds - 1}), confounder {where}"
    )
    print(f"# {machine_load()}")
    runs = []
    for s in range(args.first_seed, args.first_seed + args.seeds):
        runs.append(one(s, args.n, args.no_w, nesting))
        picks = {k: min(runs[-1], key=lambda c: runs[-1][c][k]) for k in ("pehe", *PSEUDO)}
        print(f"seed {s}: best by {picks}", flush=True)
    names = list(runs[0])
    rows = []
    for c in names:
        cells = [c, f"{np.mean([r[c]['pehe'] for r in runs]) ** 0.5:.3f}"]
        for key in PSEUDO:
            cells.append(
                _mean_se(
                    [
                        (r[c][key] - r["TLearner"][key]) - (r[c]["pehe"] - r["TLearner"]["pehe"])
                        for r in runs
                    ]
                )
            )
        for key in HELD:
            cells.append(_mean_se([r[c][f"optimism {key}"] for r in runs]))
        rows.append(cells)
    header = [
        "candidate",
        "√mean PEHE",
        *[f"bias vs T, {k}" for k in PSEUDO],
        *[f"in-fold − held-out, {k}" for k in HELD],
    ]
    print()
    print(markdown_table(header, rows))
    for key in ("pehe", *PSEUDO):
        wins = [min(r, key=lambda c, k=key: r[c][k]) for r in runs]
        agree = np.mean(
            [w == min(r, key=lambda c: r[c]["pehe"]) for w, r in zip(wins, runs, strict=True)]
        )
        print(
            f"- ranked by {key}: picks the PEHE-best candidate on {agree:.0%} of datasets; "
            f"T-learner picked {wins.count('TLearner')}/{len(runs)}"
        )
    print(f"# done; {machine_load()}")


if __name__ == "__main__":
    main()
