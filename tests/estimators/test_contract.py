"""One contract test, parametrized over every estimator (shapes, seeds, pandas/numpy, names)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators
from tests.estimators._estimator_sim import simulate

# Small, fast settings: the contract is about behaviour, not accuracy.
FAST: dict[str, dict[str, object]] = {
    "CausalForest": {"n_estimators": 24},
    "LinearDML": {},
    "DRLearner": {"n_estimators": 24},
    "XLearner": {},
    "TLearner": {},
    "SLearner": {},
    "AutoCate": {"candidates": ["LinearDML", "TLearner", "DRLearner"]},
}
WITH_INTERVALS = {"CausalForest", "LinearDML", "DRLearner"}
#: Same seed, same data: results must agree to floating-point noise.
REPRO_ATOL = 1e-10
#: The exact candidate among noisy ones (noise SD 50-120 vs 30 in the target) gets nearly all
#: the blend weight; the noisy ones would only add variance.
WEIGHT_ON_EXACT_MIN = 0.9
NUISANCE = {"n_estimators": 30}


def make(name: str, **kw: object) -> estimators.CausalForest:
    params = {**FAST[name], "cv": 2, "random_state": 0, "nuisance_params": NUISANCE, **kw}
    return getattr(estimators, name)(**params)


@pytest.fixture(scope="module")
def data() -> dict[str, object]:
    return simulate(500, seed=1)


@pytest.mark.parametrize("name", list(FAST))
def test_contract(name: str, data: dict[str, object]) -> None:
    X, W, T = data["X"], data["W"], data["T"]
    Y = pd.Series(data["Y"], name="saves")
    X_before = X.copy()
    est = make(name)
    assert repr(est).startswith(name)
    with pytest.raises(estimators.NotFittedError, match="not fitted"):
        est.effect(X)
    assert est.fit(Y, T, X=X, W=W) is est
    pd.testing.assert_frame_equal(X, X_before)  # the caller's frame is untouched

    eff = est.effect(X)  # pandas in -> pandas out, index and outcome name kept
    assert isinstance(eff, pd.Series) and eff.name == "saves"
    assert eff.index.equals(X.index) and eff.shape == (500,)
    assert np.isfinite(eff).all()
    assert est.feature_names_in_ == ["x0", "x1", "topic"]
    assert isinstance(est.ate(), float)
    lo, hi = est.ate_interval(alpha=0.1)
    assert lo < est.ate() < hi
    res = est.ate_inference()
    assert res.outcome == "saves" and res.treatment == "1 vs 0" and res.se > 0

    lo_c, hi_c = est.effect_interval(X, alpha=0.05)  # every estimator, default settings
    assert lo_c.index.equals(X.index) and np.isfinite(lo_c).all()
    assert (lo_c.to_numpy() < hi_c.to_numpy()).all()
    if name in WITH_INTERVALS:  # native intervals are centred on effect()
        assert (lo_c.to_numpy() <= eff.to_numpy() + 1e-12).all()
        assert (hi_c.to_numpy() >= eff.to_numpy() - 1e-12).all()
    lo_90, hi_90 = est.effect_interval(X, alpha=0.1)  # same centre, narrower
    np.testing.assert_allclose((lo_90 + hi_90).to_numpy(), (lo_c + hi_c).to_numpy(), atol=1e-9)
    assert (hi_90 - lo_90 < hi_c - lo_c).all()

    # same seed -> same numbers; numpy inputs -> numpy out, same numbers
    again = make(name).fit(Y, T, X=X, W=W).effect(X)
    np.testing.assert_allclose(again.to_numpy(), eff.to_numpy(), rtol=0, atol=REPRO_ATOL)
    X_np = X.assign(topic=X["topic"].map({"a": 0, "b": 1, "c": 2, "d": 3}))
    eff_np = (
        make(name).fit(data["Y"], T, X=X_np.to_numpy(), W=W.to_numpy()).effect(X_np.to_numpy()[:7])
    )
    assert isinstance(eff_np, np.ndarray) and eff_np.shape == (7,)


@pytest.mark.parametrize("name", list(FAST))
def test_several_outcomes_and_arms(name: str) -> None:
    d = simulate(600, seed=2, arms=3)
    Y = pd.DataFrame({"saves": d["Y"], "clicks": 2 * d["Y"]})
    est = make(name).fit(Y, d["T"], X=d["X"])
    with pytest.raises(estimators.EstimatorInputError, match="T1="):
        est.effect(d["X"])
    eff = est.effect(d["X"].iloc[:5], T1=2)
    assert list(eff.columns) == ["saves", "clicks"] and eff.shape == (5, 2)
    ate = est.ate(T1=1)
    assert list(ate.index) == ["saves", "clicks"]
    assert est.treatment_levels_ == [0, 1, 2] and est.control_ == 0
    # T0/T1 contrasts are differences of the arm effects
    d21 = est.effect(d["X"].iloc[:5], T0=1, T1=2)
    np.testing.assert_allclose(
        d21.to_numpy(),
        (est.effect(d["X"].iloc[:5], T1=2) - est.effect(d["X"].iloc[:5], T1=1)).to_numpy(),
        rtol=0,
        atol=REPRO_ATOL,
    )


def test_continuous_treatment() -> None:
    rng = np.random.default_rng(3)
    n = 800
    X = pd.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n)})
    T = 0.5 * X["x0"].to_numpy() + rng.normal(size=n)
    Y = X["x0"].to_numpy() + T * (1 + 0.5 * X["x1"].to_numpy()) + rng.normal(size=n)
    for name in ["LinearDML", "CausalForest", "AutoCate"]:
        est = make(name, candidates=None) if name == "AutoCate" else make(name)
        est.fit(Y, T, X=X)
        assert est.discrete_treatment_ is False
        assert est.effect(X.iloc[:4], T0=0, T1=2).shape == (4,)
        np.testing.assert_allclose(
            est.effect(X.iloc[:4], T0=0, T1=2).to_numpy(),
            2 * est.effect(X.iloc[:4]).to_numpy(),
            rtol=1e-12,
        )
    assert set(est.score_table_["estimator"]) == {"CausalForest", "LinearDML"}
    with pytest.raises(estimators.EstimatorInputError, match="discrete treatment"):
        make("TLearner").fit(Y, T, X=X)


def test_autocate_score_table_and_best(data: dict[str, object]) -> None:
    est = estimators.AutoCate(
        candidates=["LinearDML", "TLearner", "SLearner"],
        strategy="select",
        cv=2,
        random_state=0,
        nuisance_params=NUISANCE,
    ).fit(data["Y"], data["T"], X=data["X"], W=data["W"])
    table = est.score_table_
    assert list(table.columns) == [
        "estimator",
        "loss",
        "loss_se",
        "diff_vs_best",
        "diff_se",
        "tied",
        "weight",
    ]
    assert table["loss"].is_monotonic_increasing
    assert table.loc[0, "diff_vs_best"] == 0 and bool(table.loc[0, "tied"])
    assert (table["diff_se"].iloc[1:] > 0).all()
    assert est.selected_ == table.loc[0, "estimator"]
    np.testing.assert_allclose(
        est.effect(data["X"]), est.best_estimator_.effect(data["X"]), rtol=0, atol=REPRO_ATOL
    )
    blend = estimators.AutoCate(
        candidates=["LinearDML", "TLearner"],
        strategy="ensemble",
        cv=2,
        random_state=0,
        nuisance_params=NUISANCE,
    ).fit(data["Y"], data["T"], X=data["X"])
    assert blend.weights_.sum() == pytest.approx(1.0)
    assert (blend.weights_ >= 0).all()
    lo_b, hi_b = blend.effect_interval(data["X"])  # a blend has intervals too
    assert (np.asarray(lo_b) < np.asarray(hi_b)).all()
    sure = estimators.AutoCate(
        candidates=["LinearDML", "TLearner"],
        require_intervals=True,
        cv=2,
        random_state=0,
        nuisance_params=NUISANCE,
    ).fit(data["Y"], data["T"], X=data["X"])
    assert sure.selected_ == "LinearDML"
    lo, hi = sure.effect_interval(data["X"])
    assert (lo < hi).all()
    with pytest.raises(estimators.EstimatorInputError, match="require_intervals"):
        estimators.AutoCate(strategy="ensemble", require_intervals=True).fit(
            data["Y"], data["T"], X=data["X"]
        )


def test_get_set_params() -> None:
    est = estimators.CausalForest(n_estimators=8)
    assert est.get_params()["n_estimators"] == 8
    assert est.set_params(n_estimators=12).n_estimators == 12
    with pytest.raises(estimators.EstimatorInputError, match="no parameter"):
        est.set_params(trees=3)


@pytest.mark.parametrize("name", ["LinearDML", "AutoCate"])
def test_without_modifiers_the_effect_is_the_ate(name: str, data: dict[str, object]) -> None:
    est = make(name).fit(data["Y"], data["T"], W=data["W"])
    eff = est.effect()
    assert eff.shape == (1,)
    np.testing.assert_allclose(eff[0], est.ate(), rtol=1e-12)
    lo, hi = est.effect_interval()
    np.testing.assert_allclose([lo[0], hi[0]], est.ate_interval(), rtol=1e-12)
    with pytest.raises(estimators.EstimatorInputError, match="fitted without X"):
        est.effect(data["X"])


def test_autocate_default_candidates_leave_out_xlearner(data: dict[str, object]) -> None:
    est = estimators.AutoCate(cv=2, random_state=0, nuisance_params=NUISANCE).fit(
        data["Y"], data["T"], X=data["X"]
    )
    assert set(est.score_table_["estimator"]) == {
        "CausalForest",
        "LinearDML",
        "DRLearner",
        "TLearner",
        "SLearner",
    }
    asked = estimators.AutoCate(
        candidates=["XLearner", "TLearner"], cv=2, random_state=0, nuisance_params=NUISANCE
    ).fit(data["Y"], data["T"], X=data["X"])
    assert set(asked.score_table_["estimator"]) == {"XLearner", "TLearner"}


def test_blend_weights_find_the_exact_candidate_on_badly_scaled_outcomes() -> None:
    # outcomes in the hundreds (IHDP replication 34 reaches 340): SLSQP on the raw scale had
    # returned its uniform starting point; the rescaled problem must find the exact candidate
    from estimators._auto import _simplex_weights

    rng = np.random.default_rng(3)
    truth = rng.exponential(100.0, size=600)
    preds = np.column_stack([truth + rng.normal(0, s, 600) for s in (80.0, 0.0, 50.0, 120.0)])
    target = truth + rng.normal(0, 30.0, 600)
    weights = _simplex_weights(preds, target, np.ones(600))
    assert weights[1] > WEIGHT_ON_EXACT_MIN, weights


@pytest.mark.parametrize("name", list(FAST))
def test_sklearn_estimator_contract(name: str) -> None:
    """Every estimator is a scikit-learn estimator: get/set_params, clone, the HTML repr."""
    from sklearn.base import BaseEstimator, clone

    est = make(name)
    assert isinstance(est, BaseEstimator)
    params = est.get_params()
    assert (
        params["cv"] == 2 and params["random_state"] == 0 and params["nuisance_params"] == NUISANCE
    )
    twin = clone(est)
    assert type(twin) is type(est) and twin is not est and twin.get_params() == params
    assert est.set_params(cv=3, clip=0.02) is est and (est.cv, est.clip) == (3, 0.02)
    assert twin.cv == 2  # the clone is independent
    with pytest.raises(estimators.EstimatorInputError, match="has no parameter 'bogus'"):
        est.set_params(bogus=1)
    html = est._repr_html_()
    assert name in html and "<" in html
    assert repr(est).startswith(f"{name}(") and "cv=3" in repr(est)
