"""Refuters, overlap and balance against cases with a known answer."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import estimators
from causal import ConfigError
from causal.graph import (
    REFUTERS,
    EffectScores,
    balance,
    overlap,
    robustness,
    scores_of,
    smd,
)
from causal.graph._robustness import bootstrap_refuter, data_subset_refuter, placebo_refuter


def _data(seed=0, n=3000, effect=1.0):
    rng = np.random.default_rng(seed)
    W = pd.DataFrame({"w1": rng.normal(size=n), "w2": rng.normal(size=n)})
    e = 1 / (1 + np.exp(-(0.8 * W["w1"] - 0.5 * W["w2"]).to_numpy()))
    T = (rng.random(n) < e).astype(int)
    tau = effect * (1 + 0.5 * W["w1"].to_numpy())
    Y = tau * T + W["w1"] + 0.5 * W["w2"] + rng.normal(size=n)
    return W, T, Y.to_numpy(), e, tau


@pytest.fixture(scope="module")
def fitted():
    W, T, Y, e, tau = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = estimators.LinearDML(random_state=0, n_jobs=1).fit(Y, T, W=W)
    return est, W, T, Y, e, tau


def test_full_suite_passes_on_a_correct_model(fitted):
    est, *_ = fitted
    messages = []
    rob = robustness(est, n_simulations=40, progress=messages.append, seed=1)
    assert [r.name for r in rob.refutations] == list(REFUTERS)
    assert rob.passed, [r.detail for r in rob.refutations if not r.passed]
    assert any("placebo_treatment" in m for m in messages) and "done" in messages[-1]
    d = rob.to_dict()
    assert set(d) == {"refutations", "sensitivity", "overlap", "balance"}
    assert set(d["refutations"][0]) == {"name", "passed", "detail"}
    assert "robustness_value" in d["sensitivity"]
    json.dumps(d, allow_nan=True)  # JSON-ready plain types
    assert rob.to_pandas().shape[0] == 5 and "<table>" in rob._repr_html_()
    # the refuters that need no refit take a fraction of the refit
    assert rob.timings["placebo_treatment"] < rob.timings["refit"]


def test_placebo_intervals_are_calibrated(fitted):
    """Known answer: a permuted treatment has no effect, so alpha of its intervals exclude 0."""
    est, *_ = fitted
    sc = scores_of(est)
    n_sims = 400
    r = placebo_refuter(sc, n_simulations=n_sims, seed=5)
    excluded = round(float(r.detail.split("/")[0]))
    lo, hi = stats.binom.ppf([0.0005, 0.9995], n_sims, 0.05)  # 99.9% binomial band
    assert lo <= excluded <= hi and r.passed
    assert abs(r.new_effect) < 4 * sc.estimate().se / np.sqrt(n_sims) * 3


def test_bootstrap_and_subset_statistics_match_theory(fitted):
    """Bootstrap SE ~ influence-function SE; the subset mean ~ estimate (no refit)."""
    est, *_ = fitted
    sc = scores_of(est)
    full = sc.estimate()
    b = bootstrap_refuter(sc, n_simulations=300, seed=2)
    ratio = float(b.detail.split("ratio ")[1].split(",")[0])
    assert 0.85 < ratio < 1.15 and b.passed  # 300 resamples: SE of the SE ~ 4%
    s = data_subset_refuter(sc, n_simulations=300, fraction=0.8, seed=3)
    # subset means of the scores centre on the full mean (sd = se * sqrt(0.2/0.8) / sqrt(300))
    assert s.new_effect == pytest.approx(full.effect, abs=4 * full.se * 0.5 / np.sqrt(300))
    assert s.passed


def test_overlap_known_propensities_and_trimming(fitted):
    est, W, T, Y, e, tau = fitted
    sc = scores_of(est)
    # replace the estimated propensities by the true ones: every number is then known
    true = EffectScores(**{**sc.__dict__, "e1": e, "e0": 1 - e})
    ov = overlap(true, lower=0.1, upper=0.9)
    outside = (e < 0.1) | (e > 0.9)
    assert ov.share_outside == pytest.approx(outside.mean(), abs=1e-12)
    assert ov.quantiles["1"]["q50"] == pytest.approx(np.median(e[T == 1]), abs=1e-12)
    assert sum(ov.histogram["1"]) == (T == 1).sum() and sum(ov.histogram["0"]) == (T == 0).sum()
    assert ov.n_trimmed == int((~outside).sum())
    assert ov.trimmed_estimate == pytest.approx(sc.psi[~outside].mean(), abs=1e-12)
    # the trimmed estimate targets the effect in the kept population (true value known)
    assert ov.trimmed_ci_lower < tau[~outside].mean() < ov.trimmed_ci_upper
    assert "sub-population" in ov.estimand_note and "Crump" in ov.estimand_note
    assert overlap(sc, trim=False).trimmed_estimate != overlap(sc).trimmed_estimate
    fig = ov.plot()
    assert len(fig.axes) == 1
    with pytest.raises(ConfigError, match="lower < upper"):
        overlap(sc, lower=0.9, upper=0.1)


def test_balance_true_weights_remove_imbalance(fitted):
    est, W, T, Y, e, tau = fitted
    sc = scores_of(est)
    true = EffectScores(**{**sc.__dict__, "e1": e, "e0": 1 - e})
    bal = balance(true)
    tab = bal.to_pandas().set_index("covariate")
    # w1 drives treatment strongly: imbalanced before (> 0.1), balanced by the true weights
    assert abs(tab.loc["w1", "smd_before"]) > 0.3
    assert abs(tab.loc["w1", "smd_after"]) < 0.1 and abs(tab.loc["w2", "smd_after"]) < 0.1
    assert bal.n_flagged_before >= 1 and bal.n_flagged_after == 0
    # reference: the formula by hand for the unweighted SMD
    x = W["w1"].to_numpy()
    by_hand = (x[T == 1].mean() - x[T == 0].mean()) / np.sqrt(
        (x[T == 1].var(ddof=1) + x[T == 0].var(ddof=1)) / 2
    )
    assert tab.loc["w1", "smd_before"] == pytest.approx(by_hand, abs=1e-12)


def test_smd_weighted_reference():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 1))
    arm = rng.random(200) < 0.4
    w = rng.random(200) + 0.5
    m1 = np.sum(w[arm] * x[arm, 0]) / w[arm].sum()
    m0 = np.sum(w[~arm] * x[~arm, 0]) / w[~arm].sum()
    sd = np.sqrt((x[arm, 0].var(ddof=1) + x[~arm, 0].var(ddof=1)) / 2)
    assert smd(x, arm, w)[0] == pytest.approx((m1 - m0) / sd, abs=1e-12)


def test_categorical_treatment_and_several_outcomes():
    rng = np.random.default_rng(2)
    n = 2400
    W = pd.DataFrame({"w": rng.normal(size=n), "kind": rng.choice(["a", "b"], n)})
    T = np.where(rng.random(n) < 0.4, "ctl", np.where(rng.random(n) < 0.5, "x", "z"))
    Y = pd.DataFrame(
        {"y1": (T == "x") * 2.0 + W["w"] + rng.normal(size=n), "y2": W["w"] + rng.normal(size=n)}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = estimators.LinearDML(random_state=0, n_jobs=1, control="ctl").fit(Y, T, W=W)
    with pytest.raises(ConfigError, match="several outcomes"):
        scores_of(est)
    with pytest.raises(ConfigError, match="pass T1"):
        scores_of(est, outcome="y1")
    rob = robustness(
        est, outcome="y1", T1="x", refuters=("placebo_treatment", "bootstrap"), n_simulations=30
    )
    assert rob.estimate == pytest.approx(2.0, abs=4 * rob.se)
    assert rob.overlap is not None and set(rob.overlap.quantiles) == {"x", "ctl"}
    names = {r["covariate"] for r in rob.balance.table}
    assert {"w", "kind=a", "kind=b"} <= names
    with pytest.raises(ConfigError, match="Unknown refuters"):
        robustness(est, outcome="y1", T1="x", refuters=("placebo",))


def test_continuous_treatment_has_no_overlap_but_refuters_run():
    rng = np.random.default_rng(4)
    n = 2000
    W = pd.DataFrame({"w": rng.normal(size=n)})
    T = 0.5 * W["w"] + rng.normal(size=n)
    Y = 0.7 * T + W["w"] + rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = estimators.LinearDML(random_state=0, n_jobs=1).fit(Y, T, W=W)
    rob = robustness(est, n_simulations=30)
    assert rob.overlap is None and rob.balance is None
    verdicts = {r.name: r.passed for r in rob.refutations}
    # Measured here: the random common cause moves this estimate 0.68 -> 0.61 (3 SE): with an
    # extra noise column LightGBM's E[T|Z] overfits, and the partially linear estimate is
    # attenuated by Var(error of E^[T|Z]) / Var(T~) — a real fragility of the estimator at
    # n = 2000 that the refuter reports, so its verdict is not asserted here.
    assert all(
        verdicts[k] for k in ("placebo_treatment", "data_subset", "bootstrap", "dummy_outcome")
    )
    assert rob.effect_ci_lower < 0.7 < rob.effect_ci_upper


def test_not_fitted_is_a_clear_error():
    from causal import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        robustness(estimators.LinearDML())
