"""Targeting: top share under a budget and the cross-fitted policy tree, against known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators


def _sim(n: int, seed: int):
    """Randomized boost; tau(x) = 4 (q - 0.5): boosting pays exactly when q > 0.5."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "q": rng.uniform(size=n),
            "z": rng.normal(size=n),
            "topic": rng.choice(["a", "b", "c"], size=n),
        }
    )
    T = rng.integers(0, 2, n)
    tau = 4 * (X["q"].to_numpy() - 0.5)
    Y = X["z"].to_numpy() + T * tau + rng.normal(size=n)
    return X, T, Y, tau


@pytest.fixture(scope="module")
def fitted():
    X, T, Y, tau = _sim(3000, 0)
    est = estimators.LinearDML(random_state=0).fit(Y, T, X=X)
    return X, T, Y, tau, est


def test_policy_tree_finds_the_threshold_and_beats_boosting_all(fitted):
    X, T, Y, tau, est = fitted
    res = estimators.policy_tree(est, Y, T, max_depth=1)
    rules = res.rules.set_index("rule")
    boost_rule = [r for r, b in rules["boost"].items() if b]
    assert len(boost_rule) == 1 and boost_rule[0].startswith("q >")
    thr = float(boost_rule[0].split(">")[1])
    assert abs(thr - 0.5) < 0.05
    # boosting all is worth mean(tau) ~ 0; the rule is worth ~ E[tau 1(q > .5)] = 0.5
    assert res.gain_vs_all.effect_ci_lower > 0
    lo, hi = res.values["effect_ci_lower"].iat[0], res.values["effect_ci_upper"].iat[0]
    assert lo < 0.5 < hi
    assert res.in_sample_value is not None
    assert "econml" in type(res.tree).__module__
    import json

    json.dumps(res.to_dict())
    assert "<table" in res._repr_html_()


def test_policy_tree_budget_and_categorical_rules(fitted):
    X, T, Y, tau, est = fitted
    res = estimators.policy_tree(est, Y, T, budget=0.2, max_depth=2)
    assert res.share_boosted <= 0.2 + 0.03
    assert res.tree.predict(np.column_stack([np.zeros(1)] * len(res.features_))).shape == (1,)
    feats = pd.DataFrame({"topic": X["topic"]})
    res2 = estimators.policy_tree(est, Y, T, features=feats, max_depth=1)
    assert res2.rules["rule"].str.contains("topic").all() or len(res2.rules) == 1


def test_top_share_respects_budget_and_cost(fitted):
    X, T, Y, tau, est = fitted
    res = estimators.target_top_share(est, Y, T, budget=0.3)
    assert res.share_boosted <= 0.3
    res_cost = estimators.target_top_share(est, Y, T, budget=1.0, cost=1.0)
    # only units whose predicted effect exceeds the cost (q > 0.75): about a quarter
    assert 0.15 < res_cost.share_boosted < 0.35


def test_bad_input(fitted):
    X, T, Y, tau, est = fitted
    with pytest.raises(estimators.EstimatorInputError, match="budget"):
        estimators.target_top_share(est, Y, T, budget=0.0)
    with pytest.raises(estimators.EstimatorInputError, match="features has 5 rows"):
        estimators.policy_tree(est, Y, T, features=X.iloc[:5])
    with pytest.raises(estimators.EstimatorInputError, match="max_depth"):
        estimators.policy_tree(est, Y, T, max_depth=9)


def _coverage(reps: int, n: int) -> float:
    covered = 0
    for seed in range(reps):
        X, T, Y, tau, _ = (*_sim(n, 100 + seed), None)
        est = estimators.LinearDML(random_state=seed).fit(Y, T, X=X)
        res = estimators.target_top_share(est, Y, T, budget=0.4, random_state=seed)
        v = res.values.iloc[0]
        # the true value of the realised policy: recompute it from the same ranking
        from estimators._evaluate import honest_cate_all
        from estimators._scores import descending_order

        ctx = est._ctx
        t_hat = honest_cate_all(est, ctx, ctx.nuis.folds)[:, 0, 0]
        order = descending_order(t_hat, np.random.default_rng(seed))
        k = int(np.floor(0.4 * n + 1e-9))
        pi = np.zeros(n)
        chosen = order[:k]
        pi[chosen[t_hat[chosen] > 0]] = 1
        truth = float(np.mean(pi * tau))
        covered += v["effect_ci_lower"] <= truth <= v["effect_ci_upper"]
    return covered / reps


def test_top_share_value_interval_covers_truth_small():
    assert _coverage(8, 1500) >= 6 / 8


@pytest.mark.slow
def test_top_share_value_interval_covers_truth():
    # 100 datasets: SE of a 95% rate 0.022
    assert _coverage(100, 2000) >= 0.95 - 2 * 0.022
