"""Several outcomes: the recommended policy keeps the guardrail, checked against known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators

MARGIN = 0.02


def _sim(n: int, seed: int):
    """Saves gain more where hides also rise: the unconstrained optimum breaks the guardrail."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n)})
    T = rng.integers(0, 2, n)
    tau_s = 1 + X["x0"].to_numpy()
    tau_h = 0.1 + 0.3 * X["x0"].to_numpy() + 0.5 * X["x1"].to_numpy()
    Y = pd.DataFrame(
        {
            "saves": X["x1"].to_numpy() + T * tau_s + rng.normal(size=n),
            "hides": 0.5 * X["x0"].to_numpy() + T * tau_h + rng.normal(size=n),
        }
    )
    return X, T, Y, tau_s, tau_h


def _run(seed: int, n: int = 3000):
    X, T, Y, tau_s, tau_h = _sim(n, seed)
    est = estimators.LinearDML(random_state=seed).fit(Y, T, X=X)
    tr = estimators.tradeoff(est, Y, T, primary="saves", guardrails={"hides": MARGIN})
    # each row's true per-unit changes need the policy: recompute it as tradeoff does
    from estimators._evaluate import honest_cate_all

    tau = honest_cate_all(est, est._ctx, est._ctx.nuis.folds)[:, :, 0]
    obj_tau, h = tau[:, 0], tau[:, 1]
    scale = np.abs(obj_tau).std()
    truth_h, truth_s = [], []
    for lam in tr.frontier["lam"]:
        pi = obj_tau - lam * scale * h / h.std() > 0
        truth_h.append(float(np.mean(pi * tau_h)))
        truth_s.append(float(np.mean(pi * tau_s)))
    return tr, np.array(truth_h), np.array(truth_s)


def test_recommended_policy_respects_guardrail_and_binds():
    tr, truth_h, truth_s = _run(0)
    f = tr.frontier
    rec = tr.recommended
    assert rec is not None and rec["hides_ci_upper"] <= MARGIN
    i = int(np.flatnonzero(f["recommended"])[0])
    assert truth_h[i] <= MARGIN
    assert truth_h[0] > MARGIN  # the unconstrained policy (lam = 0) raises hides too much
    assert truth_s[i] > 0  # and the recommended one still raises saves
    assert f["pareto"].any()
    # each point's intervals cover its true value on both outcomes (one dataset, 14 points)
    covered = (f["hides_ci_lower"] <= truth_h) & (truth_h <= f["hides_ci_upper"])
    assert covered.mean() >= 0.8
    import json

    json.dumps(tr.to_dict())
    from matplotlib.figure import Figure

    assert isinstance(tr.plot(), Figure)
    assert "Recommended" in tr._repr_html_()


def test_bad_input():
    X, T, Y, _, _ = _sim(600, 1)
    est = estimators.LinearDML(random_state=0).fit(Y, T, X=X)
    with pytest.raises(estimators.EstimatorInputError, match="clicks"):
        estimators.tradeoff(est, Y, T, primary="clicks")
    with pytest.raises(estimators.EstimatorInputError, match="primary"):
        estimators.tradeoff(est, Y, T)
    one = estimators.LinearDML(random_state=0).fit(Y["saves"], T, X=X)
    with pytest.raises(estimators.EstimatorInputError, match="several outcomes"):
        estimators.tradeoff(one, Y["saves"], T, primary="saves")


@pytest.mark.slow
def test_guardrail_holds_over_datasets():
    """Over 60 datasets the recommended policy's true hides change stays within the margin in
    at least 95% (feasibility uses the upper bound, so a violation needs an interval miss)."""
    ok = 0
    for seed in range(60):
        tr, truth_h, _ = _run(100 + seed)
        if tr.recommended is None:
            ok += 1
            continue
        i = int(np.flatnonzero(tr.frontier["recommended"])[0])
        ok += truth_h[i] <= MARGIN
    assert ok / 60 >= 0.95 - 2 * 0.028
