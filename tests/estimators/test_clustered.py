"""Clustered data: ``groups=`` keeps clusters whole in cross-fitting and makes the ATE and
linear-coefficient intervals cluster-robust."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators
from tests.estimators._estimator_sim import simulate

NUISANCE = {"n_estimators": 40}


@pytest.fixture(scope="module")
def clustered() -> dict[str, object]:
    # 40 creators; each creator shifts both the outcome and the effect (cluster_sd=1)
    return simulate(1500, seed=41, n_clusters=40, cluster_sd=1.0)


def test_folds_keep_clusters_whole(clustered: dict[str, object]) -> None:
    d = clustered
    est = estimators.LinearDML(cv=3, random_state=0, nuisance_params=NUISANCE)
    est.fit(d["Y"], d["T"], X=d["X"], groups=d["groups"])
    per_group = pd.Series(est.folds_).groupby(np.asarray(d["groups"])).nunique()
    assert (per_group == 1).all()
    assert est.n_clusters_ == 40
    assert est.ate_inference().n_clusters == 40


def test_cluster_robust_intervals_are_wider(clustered: dict[str, object]) -> None:
    d = clustered
    kw = {"cv": 3, "random_state": 0, "nuisance_params": NUISANCE}
    naive = estimators.LinearDML(**kw).fit(d["Y"], d["T"], X=d["X"])
    robust = estimators.LinearDML(**kw).fit(d["Y"], d["T"], X=d["X"], groups=d["groups"])
    # creator-level effect shifts: the unit-level SE misses their variance
    assert robust.ate_inference().se > 1.5 * naive.ate_inference().se
    # the effect at x1 = 0 (intercept) carries the creator-level shift too
    x1 = d["X"][["x1"]]
    naive_x1 = estimators.LinearDML(**kw).fit(d["Y"], d["T"], X=x1).coef_table()
    robust_x1 = estimators.LinearDML(**kw).fit(d["Y"], d["T"], X=x1, groups=d["groups"])
    se_naive = naive_x1.set_index("feature")["se"]
    se_robust = robust_x1.coef_table().set_index("feature")["se"]
    assert se_robust["intercept"] > 1.5 * se_naive["intercept"]


def test_autocate_with_groups(clustered: dict[str, object]) -> None:
    d = clustered
    est = estimators.AutoCate(
        candidates=["LinearDML", "TLearner"],
        cv=3,
        random_state=0,
        nuisance_params=NUISANCE,
        max_score_samples=800,  # forces the cluster-wise scoring subsample
    ).fit(d["Y"], d["T"], X=d["X"], groups=d["groups"])
    table = est.score_table_
    assert np.isfinite(table["loss_se"]).all() and (table["loss_se"] > 0).all()
    assert est.ate_inference().n_clusters == 40


def test_too_few_clusters_for_the_folds() -> None:
    d = simulate(300, seed=42, n_clusters=2, cluster_sd=0.5)
    with pytest.raises(estimators.EstimatorInputError, match="groups has 2 clusters but cv=3"):
        estimators.LinearDML(cv=3).fit(d["Y"], d["T"], X=d["X"], groups=d["groups"])


def test_many_level_categorical_uses_one_ordered_code() -> None:
    rng = np.random.default_rng(43)
    n = 1200
    X = pd.DataFrame({"x0": rng.normal(size=n), "creator_type": rng.integers(0, 30, n).astype(str)})
    T = rng.integers(0, 2, n)
    Y = X["x0"] + T * (1 + (X["creator_type"].astype(int) % 3)) + rng.normal(size=n)
    est = estimators.LinearDML(cv=2, random_state=0, nuisance_params=NUISANCE).fit(Y, T, X=X)
    assert list(est.coef_table()["feature"]) == ["intercept", "x0", "creator_type"]
    few = estimators.LinearDML(
        cv=2, random_state=0, max_onehot_levels=40, nuisance_params=NUISANCE
    ).fit(Y, T, X=X)
    assert len(few.coef_table()) == 1 + 1 + 29  # one-hot, first level dropped
    cf = estimators.CausalForest(
        n_estimators=40, cv=2, random_state=0, nuisance_params=NUISANCE
    ).fit(Y, T, X=X)
    truth = 1 + (X["creator_type"].astype(int) % 3)
    assert np.corrcoef(cf.effect(X), truth)[0, 1] > 0.5


def test_sample_weight_changes_the_estimate_as_documented() -> None:
    d = simulate(800, seed=44)
    w = np.where(d["X"]["topic"] == "b", 3.0, 1.0)
    est = estimators.LinearDML(cv=2, random_state=0, nuisance_params=NUISANCE)
    plain = est.fit(d["Y"], d["T"], X=d["X"]).ate()
    weighted = est.fit(d["Y"], d["T"], X=d["X"], sample_weight=w).ate()
    # topic 'b' has a larger effect (+0.5): up-weighting it raises the ATE
    assert weighted > plain
