"""The outcome-model library: each member against a reference, and the out-of-fold choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators
from estimators._errors import EstimatorInputError
from estimators._library import (
    LinearDesign,
    LinearOutcome,
    LogisticPropensity,
    library_members,
    oof_log_loss,
    ridge_gcv,
)

#: Ridge with a GCV-chosen penalty on 5,000 rows and 4 columns differs from OLS by the (small)
#: shrinkage; predictions agree to well under the noise SD of 1.
RIDGE_VS_OLS_ATOL = 0.02
#: The Poisson member carries a 1e-4 ridge penalty on standardised columns; its predictions
#: match an unpenalised statsmodels Poisson GLM to a fraction of a percent.
POISSON_VS_GLM_RTOL = 5e-3
#: ridge_gcv and sklearn's Ridge solve the same normal equations (eigendecomposition vs
#: Cholesky): agreement to floating-point accuracy.
RIDGE_RTOL = 1e-8
#: LogisticRegression carries a C = 1 ridge penalty on standardised columns, statsmodels' Logit
#: none: on 4,000 rows the fitted probabilities differ by well under 0.01, the mean log-loss by
#: a fraction of a percent.
LOGIT_ATOL = 0.01
LOGIT_LL_RTOL = 5e-3


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.uniform(0, 3, size=n),
            "flag": rng.integers(0, 2, size=n).astype(bool),
            "cat": pd.Categorical(rng.choice(["x", "y", "z"], size=n)),
        }
    )


def _design_with_intercept(Z: pd.DataFrame) -> np.ndarray:
    dummies = pd.get_dummies(Z["cat"], drop_first=True).to_numpy(dtype=float)
    base = Z[["a", "b"]].to_numpy(dtype=float)
    return np.column_stack([np.ones(len(Z)), base, Z["flag"].to_numpy(dtype=float), dummies])


def test_linear_member_matches_statsmodels_ols() -> None:
    import statsmodels.api as sm

    Z = _frame(5000, 1)
    A = _design_with_intercept(Z)
    y = A @ np.array([1.0, 2.0, -1.0, 0.5, 0.3, -0.7]) + np.random.default_rng(2).normal(size=5000)
    ols = sm.OLS(y, A).fit()
    pred = LinearOutcome("linear", seed=0).fit(Z, y, None).predict(Z)
    np.testing.assert_allclose(pred, ols.predict(A), rtol=0, atol=RIDGE_VS_OLS_ATOL)


def test_poisson_member_matches_statsmodels_glm() -> None:
    import statsmodels.api as sm

    Z = _frame(4000, 3)
    A = _design_with_intercept(Z)
    mean = np.exp(A @ np.array([0.5, 0.4, -0.3, 0.2, 0.1, -0.2]))
    y = np.random.default_rng(4).poisson(mean).astype(float)
    glm = sm.GLM(y, A, family=sm.families.Poisson()).fit()
    pred = LinearOutcome("poisson", seed=0).fit(Z, y, None).predict(Z)
    np.testing.assert_allclose(pred, glm.predict(A), rtol=POISSON_VS_GLM_RTOL)


def test_design_handles_unseen_levels_and_constant_columns() -> None:
    Z = pd.DataFrame({"c": pd.Categorical(["u", "v", "u"]), "k": [2.0, 2.0, 2.0]})
    design = LinearDesign().fit(Z)
    new = pd.DataFrame({"c": pd.Categorical(["w", "v", "u"]), "k": [2.0, 3.0, 2.0]})
    A = design.transform(new)
    assert np.isfinite(A).all()
    # the unseen level "w" is all-zero; "v" and "u" keep their indicators
    assert A[0, 1:].sum() == 0 and A[1, 1:].sum() == 1 and A[2, 1:].sum() == 1


def test_members_depend_on_the_outcome_sign_and_reject_unknown_names() -> None:
    assert library_members(None, np.array([0.0, 3.0])) == ("lightgbm", "linear", "poisson")
    assert library_members(None, np.array([-0.1, 3.0])) == ("lightgbm", "linear")
    with pytest.raises(EstimatorInputError, match="outcome_library"):
        library_members(["lightgbm", "gam"], np.array([1.0]))


def _choices(Y: np.ndarray, T: np.ndarray, X: pd.DataFrame) -> dict[str, str]:
    est = estimators.TLearner(random_state=0).fit(Y, T, X=X)
    table = est.outcome_models_
    chosen = table[table["chosen"] & (table["metric"] == "mse")]
    return dict(zip(chosen["model"], chosen["member"], strict=True))


def test_out_of_fold_choice_follows_the_shape_of_the_outcome() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(5)})
    T = rng.integers(0, 2, size=n)
    lin = X.to_numpy() @ np.array([1.0, -1.0, 0.5, 0.0, 2.0])
    # linear in X: ridge wins every outcome model
    assert set(_choices(lin + T + rng.normal(size=n), T, X).values()) == {"linear"}
    # log-linear and positive (multiplicative effects, counts): the Poisson GLM wins
    counts = rng.poisson(np.exp(0.4 * lin / 2 + 0.3 * T)).astype(float)
    assert set(_choices(counts, T, X).values()) == {"poisson"}
    # steps and an interaction: the trees win
    steps = 3.0 * (X["x0"] > 0) * (X["x1"] > 0) + 2.0 * np.sign(X["x2"]) + T
    assert set(_choices(steps.to_numpy() + rng.normal(size=n) * 0.3, T, X).values()) == {"lightgbm"}


def test_trees_only_library_reproduces_the_lightgbm_nuisances() -> None:
    rng = np.random.default_rng(6)
    X = pd.DataFrame({"x0": rng.normal(size=800), "x1": rng.normal(size=800)})
    T = rng.integers(0, 2, size=800)
    Y = X["x0"].to_numpy() + T + rng.normal(size=800)
    est = estimators.TLearner(random_state=0, nuisance_params={"outcome_library": ["lightgbm"]})
    table = est.fit(Y, T, X=X).outcome_models_
    outcome_rows = table[table["metric"] == "mse"]
    assert set(outcome_rows["member"]) == {"lightgbm"} and outcome_rows["chosen"].all()


def test_logistic_member_matches_statsmodels_logit() -> None:
    import statsmodels.api as sm

    Z = _frame(4000, 8)
    A = _design_with_intercept(Z)
    p = 1 / (1 + np.exp(-(A @ np.array([-0.3, 0.8, -0.5, 0.4, 0.3, -0.6]))))
    t = (np.random.default_rng(9).uniform(size=4000) < p).astype(int)
    logit = sm.Logit(t, A).fit(disp=0)
    proba = LogisticPropensity(seed=0).fit(Z, t, None, n_classes=2).predict_proba(Z)
    np.testing.assert_allclose(proba[:, 1], logit.predict(A), rtol=0, atol=LOGIT_ATOL)
    assert oof_log_loss(proba, t, None) == pytest.approx(-logit.llf / 4000, rel=LOGIT_LL_RTOL)


def _propensity_choice(T: np.ndarray, X: pd.DataFrame, Y: np.ndarray) -> str:
    both = {"propensity_library": ["lightgbm", "logistic"]}
    table = estimators.TLearner(random_state=0, nuisance_params=both).fit(Y, T, X=X)
    table = table.outcome_models_
    row = table[(table["model"] == "P(T|Z)") & table["chosen"]]
    return str(row["member"].iloc[0])


def test_propensity_choice_follows_the_assignment_rule() -> None:
    rng = np.random.default_rng(10)
    n = 4000
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(4)})
    Y = X["x0"].to_numpy() + rng.normal(size=n)
    smooth = 1 / (1 + np.exp(-(0.9 * X["x0"] - 0.7 * X["x1"] + 0.4 * X["x2"])))
    assert _propensity_choice((rng.uniform(size=n) < smooth).astype(int), X, Y) == "logistic"
    steps = np.where((X["x0"] > 0) ^ (X["x1"] > 0), 0.85, 0.15)
    assert _propensity_choice((rng.uniform(size=n) < steps).astype(int), X, Y) == "lightgbm"
    # the default tries LightGBM only
    default = estimators.TLearner(random_state=0).fit(Y, (rng.uniform(size=n) < smooth), X=X)
    assert list(default.outcome_models_.query("model == 'P(T|Z)'")["member"]) == ["lightgbm"]
    with pytest.raises(EstimatorInputError, match="propensity_library"):
        estimators.TLearner(nuisance_params={"propensity_library": ["probit"]}).fit(
            Y, (rng.uniform(size=n) < 0.5).astype(int), X=X
        )


def test_ridge_gcv_matches_sklearn_ridge_and_a_brute_force_gcv() -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(7)
    A = rng.normal(size=(300, 6))
    y = A @ rng.normal(size=6) + 2.0 + rng.normal(size=300) * 3.0
    w = rng.uniform(0.5, 2.0, size=300)
    alphas = np.logspace(-2, 3, 11)
    coef, intercept, alpha = ridge_gcv(A, y, w, alphas)
    ref = Ridge(alpha=alpha).fit(A, y, sample_weight=w)
    np.testing.assert_allclose(coef, ref.coef_, rtol=RIDGE_RTOL)
    np.testing.assert_allclose(intercept, ref.intercept_, rtol=RIDGE_RTOL)
    # brute force: the weighted, centred hat matrix of every alpha, GCV = RSS / (1 - tr H / n)^2
    root = np.sqrt(w)
    Ac = (A - np.average(A, axis=0, weights=w)) * root[:, None]
    yc = (y - np.average(y, weights=w)) * root
    gcv = []
    for a in alphas:
        H = Ac @ np.linalg.solve(Ac.T @ Ac + a * np.eye(6), Ac.T)
        gcv.append(np.sum((yc - H @ yc) ** 2) / (1 - np.trace(H) / len(y)) ** 2)
    assert alpha == alphas[int(np.argmin(gcv))]
