"""Reference tests: pure functions against statsmodels / closed forms; learners against
closed forms with degenerate (cell-mean) LightGBM base models and against econml."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm

import estimators

#: Exact algebraic identities, up to floating-point accumulation.
EXACT_RTOL = 1e-9
#: LinearDML residualizes with cross-fitted LightGBM, OLS adjusts linearly: on a randomized
#: design both are unbiased for the same coefficients. Over 20 seeds of this design (n=3000)
#: their difference had sd 0.55 OLS-SEs (max 1.6 of 60), so 2.5 SEs is ~4.5 sd of slack while a
#: wrong sign, scale or design column would be off by many SEs.
DML_VS_OLS_SE = 2.5
#: LightGBM stores leaf values in float64 but sums gradients in float32 histograms.
CELL_MEAN_ATOL = 1e-5

#: LightGBM as an exact cell-mean estimator: one tree, learning rate 1, no sampling and no
#: regularisation, so each leaf predicts the mean outcome of its cell (trees only: the outcome
#: library would otherwise be free to pick its ridge member).
CELL_MEANS = {
    "outcome_library": ["lightgbm"],
    "n_estimators": 1,
    "learning_rate": 1.0,
    "num_leaves": 4,
    "min_child_samples": 1,
    "min_data_per_group": 1,
    "min_data_in_bin": 1,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "min_sum_hessian_in_leaf": 0.0,
}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_mean_scores_match_statsmodels_hc1_weights_and_clusters() -> None:
    rng = _rng(0)
    s = rng.normal(size=300) + 1
    w = rng.uniform(0.5, 2, size=300)
    g = np.arange(300) % 30  # equal clusters: CR2 + Bell-McCaffrey is CR1 + t(G-1) exactly
    const = np.ones((300, 1))
    r = estimators.mean_effect_from_scores(s, sample_weight=w)
    ref = sm.WLS(s, const, weights=w).fit(cov_type="HC1")
    np.testing.assert_allclose(r.effect, ref.params[0], rtol=EXACT_RTOL)
    np.testing.assert_allclose(r.se, ref.bse[0], rtol=EXACT_RTOL)
    rc = estimators.mean_effect_from_scores(s, groups=g)
    # clustered, equal clusters: CR1 with t(G - 1), statsmodels' use_t=True (unequal: test_aipw)
    refc = sm.OLS(s, const).fit(cov_type="cluster", cov_kwds={"groups": g}, use_t=True)
    np.testing.assert_allclose(rc.se, refc.bse[0], rtol=EXACT_RTOL)
    np.testing.assert_allclose(rc.pvalue, refc.pvalues[0], rtol=1e-6)
    np.testing.assert_allclose(
        [rc.effect_ci_lower, rc.effect_ci_upper], refc.conf_int(alpha=0.05)[0], rtol=EXACT_RTOL
    )
    assert refc.df_resid_inference == 29
    assert rc.n_clusters == 30


def test_aipw_with_arm_means_is_difference_in_means() -> None:
    rng = _rng(1)
    n = 400
    t = rng.random(n) < 0.3
    y = 1 + 2 * t + rng.normal(size=n) * (1 + t)
    mu1 = np.full(n, y[t].mean())
    mu0 = np.full(n, y[~t].mean())
    e = np.full(n, t.mean())
    r = estimators.mean_effect_from_scores(estimators.aipw_scores(y, t, ~t, mu1, mu0, e, 1 - e))
    ols = sm.OLS(y, sm.add_constant(t.astype(float))).fit(cov_type="HC0")
    np.testing.assert_allclose(r.effect, ols.params[1], rtol=EXACT_RTOL)
    # HC0 of the OLS slope is the Neyman variance with ddof=0; ours adds n/(n-1)
    np.testing.assert_allclose(r.se, ols.bse[1] * np.sqrt(n / (n - 1)), rtol=EXACT_RTOL)


def test_aipw_with_ols_arm_models_is_lin_estimator() -> None:
    """AIPW with per-arm OLS and a constant propensity = OLS of y on T, Xc, T*Xc (Lin 2013)."""
    rng = _rng(2)
    n = 500
    x = rng.normal(size=(n, 2))
    t = rng.random(n) < 0.5
    y = x @ [1.0, -1.0] + t * (2 + x[:, 0]) + rng.normal(size=n)
    X1 = sm.add_constant(x)
    mu1 = X1 @ sm.OLS(y[t], X1[t]).fit().params
    mu0 = X1 @ sm.OLS(y[~t], X1[~t]).fit().params
    e = np.full(n, t.mean())
    ate = estimators.mean_effect_from_scores(
        estimators.aipw_scores(y, t, ~t, mu1, mu0, e, 1 - e)
    ).effect
    xc = x - x.mean(axis=0)
    design = np.column_stack([np.ones(n), t, xc, t[:, None] * xc])
    np.testing.assert_allclose(ate, sm.OLS(y, design).fit().params[1], rtol=EXACT_RTOL)


def test_aipw_clips_propensities() -> None:
    y = np.array([1.0, 2.0])
    t = np.array([True, False])
    psi = estimators.aipw_scores(
        y,
        t,
        ~t,
        np.zeros(2),
        np.zeros(2),
        np.array([1e-6, 0.5]),
        np.array([1 - 1e-6, 0.5]),
        clip=0.1,
    )
    np.testing.assert_allclose(psi, [1.0 / 0.1, -2.0 / 0.5], rtol=EXACT_RTOL)


def test_plr_matches_no_intercept_ols() -> None:
    rng = _rng(3)
    tr = rng.normal(size=300)
    yr = 0.7 * tr + rng.normal(size=300)
    ref = sm.OLS(yr, tr[:, None]).fit(cov_type="HC1")
    r = estimators.plr_ate(yr, tr)
    np.testing.assert_allclose([r.effect, r.se], [ref.params[0], ref.bse[0]], rtol=EXACT_RTOL)
    # clustered plr_ate (CR2, unequal leverages): tests/estimators/test_aipw.py


def test_wls_robust_matches_statsmodels() -> None:
    rng = _rng(4)
    D = sm.add_constant(rng.normal(size=(250, 3)))
    y = D @ [1, 2, 0, -1] + rng.normal(size=250) * (1 + np.abs(D[:, 1]))
    w = rng.uniform(0.5, 2, 250)
    g = rng.integers(0, 20, 250)
    coef, cov = estimators.wls_robust(D, y, sample_weight=w)
    ref = sm.WLS(y, D, weights=w).fit(cov_type="HC1")
    np.testing.assert_allclose(coef, ref.params, rtol=EXACT_RTOL)
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-8)
    _, covc = estimators.wls_robust(D, y, groups=g)
    refc = sm.OLS(y, D).fit(cov_type="cluster", cov_kwds={"groups": g})
    np.testing.assert_allclose(covc, refc.cov_params(), rtol=1e-8)


def test_linear_dml_matches_interacted_ols_on_randomized_design() -> None:
    rng = _rng(5)
    n = 3000
    X = pd.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n)})
    T = rng.integers(0, 2, size=n)
    Y = X["x0"] + T * (1 + 0.5 * X["x0"] - X["x1"]) + rng.normal(size=n)
    est = estimators.LinearDML(cv=3, random_state=0).fit(Y, T, X=X)
    table = est.coef_table()
    design = np.column_stack([np.ones(n), X, T, T[:, None] * X.to_numpy()])
    ols = sm.OLS(Y.to_numpy(), design).fit(cov_type="HC1")
    ols_coef, ols_se = ols.params[3:], ols.bse[3:]
    assert list(table["feature"]) == ["intercept", "x0", "x1"]
    diff = np.abs(table["coef"].to_numpy() - ols_coef)
    assert (diff < DML_VS_OLS_SE * ols_se).all(), (table, ols_coef, ols_se)
    # The SEs are of the same size (both efficient here up to the nuisance fit)
    np.testing.assert_allclose(table["se"].to_numpy(), ols_se, rtol=0.25)


def _cells(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = _rng(seed)
    X = pd.DataFrame({"x": rng.integers(0, 2, size=n).astype(float)})
    T = rng.integers(0, 2, size=n)
    Y = 1 + X["x"].to_numpy() + T * (2 - 3 * X["x"].to_numpy()) + rng.normal(size=n)
    return X, T, Y


def test_tlearner_is_difference_of_cell_means_averaged_over_folds() -> None:
    X, T, Y = _cells(400, 6)
    est = estimators.TLearner(cv=2, random_state=0, nuisance_params=CELL_MEANS).fit(Y, T, X=X)
    grid = pd.DataFrame({"x": [0.0, 1.0]})
    expected = np.zeros(2)
    for k in range(2):
        train = est.folds_ != k
        for i, xv in enumerate([0.0, 1.0]):
            cell = train & (X["x"].to_numpy() == xv)
            expected[i] += (Y[cell & (T == 1)].mean() - Y[cell & (T == 0)].mean()) / 2
    np.testing.assert_allclose(est.effect(grid).to_numpy(), expected, rtol=0, atol=CELL_MEAN_ATOL)


def test_slearner_is_difference_of_cell_means() -> None:
    X, T, Y = _cells(400, 7)
    est = estimators.SLearner(cv=2, random_state=0, nuisance_params=CELL_MEANS).fit(Y, T, X=X)
    x = X["x"].to_numpy()
    expected = [Y[(x == v) & (T == 1)].mean() - Y[(x == v) & (T == 0)].mean() for v in (0, 1)]
    got = est.effect(pd.DataFrame({"x": [0.0, 1.0]})).to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=CELL_MEAN_ATOL)


def test_causal_forest_agrees_with_econml_causal_forest_dml() -> None:
    """Same GRF final stage; econml fits its own nuisances, so agreement is statistical."""
    import lightgbm as lgb
    from econml.dml import CausalForestDML

    rng = _rng(8)
    n = 1500
    X = rng.normal(size=(n, 2))
    T = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    tau = 1 + 2 * (X[:, 1] > 0)
    Y = X[:, 0] + T * tau + rng.normal(size=n)
    ours = estimators.CausalForest(n_estimators=100, cv=3, random_state=0).fit(Y, T, X=X)
    ref = CausalForestDML(
        model_y=lgb.LGBMRegressor(n_estimators=100, verbose=-1, n_jobs=1),
        model_t=lgb.LGBMClassifier(n_estimators=100, verbose=-1, n_jobs=1),
        discrete_treatment=True,
        cv=3,
        n_estimators=100,
        random_state=0,
        n_jobs=1,
    ).fit(Y, T, X=X)
    a, b = ours.effect(X), ref.effect(X)
    assert np.corrcoef(a, b)[0, 1] > 0.9
    # mean effects agree within the estimators' own uncertainty
    lo, hi = ours.ate_interval()
    assert abs(a.mean() - b.mean()) < (hi - lo) / 2
