"""The lookup-table TreeSHAP against LightGBM's pred_contrib and shap's TreeExplainer."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import shap

from causal.explain._treeshap import build_tables, shap_values

# Both references run the same path-dependent TreeSHAP in float64; only summation order differs.
EXACT_ATOL = 1e-10


def _data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[:, 2] = rng.integers(0, 6, n)  # a categorical column (codes)
    X[:, 4] = rng.integers(0, 2, n)  # a binary column
    y = X[:, 0] * X[:, 1] + (X[:, 2] == 3) + np.sin(X[:, 3]) + 0.5 * X[:, 4] * X[:, 0]
    return X, y


def _booster(X: np.ndarray, y: np.ndarray, depth: int, trees: int = 60) -> object:
    params = {"objective": "regression", "max_depth": depth, "num_leaves": 2**depth,
              "verbose": -1, "min_data_in_leaf": 5, "num_threads": 1, "seed": 0}  # fmt: skip
    return lgb.train(params, lgb.Dataset(X, y, categorical_feature=[2]), trees)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_matches_lightgbm_and_shap(depth):
    X, y = _data()
    bst = _booster(X, y, depth)
    tables = build_tables(bst)
    phi = shap_values(tables, X)
    contrib = bst.predict(X, pred_contrib=True)
    np.testing.assert_allclose(phi, contrib[:, :-1], rtol=0, atol=EXACT_ATOL)
    assert tables.base_value == pytest.approx(contrib[0, -1], abs=EXACT_ATOL)
    ref = shap.TreeExplainer(bst, feature_perturbation="tree_path_dependent").shap_values(X)
    np.testing.assert_allclose(phi, ref, rtol=0, atol=EXACT_ATOL)


def test_additivity_and_truncation():
    X, y = _data(seed=1)
    bst = _booster(X, y, 3, trees=80)
    tables = build_tables(bst, num_iteration=25)
    phi = shap_values(tables, X, chunk=257)  # odd chunk size: block boundaries
    np.testing.assert_allclose(
        phi.sum(axis=1) + tables.base_value, bst.predict(X, num_iteration=25),
        rtol=0, atol=EXACT_ATOL,
    )  # fmt: skip


def test_missing_values_follow_lightgbm():
    X, y = _data(seed=2)
    X[::7, 0] = np.nan
    X[::5, 2] = np.nan
    bst = _booster(X, np.nan_to_num(y), 3)
    phi = shap_values(build_tables(bst), X)
    np.testing.assert_allclose(phi, bst.predict(X, pred_contrib=True)[:, :-1], atol=EXACT_ATOL)


def test_deep_trees_are_refused():
    X, y = _data()
    bst = _booster(X, y, 5, trees=5)
    with pytest.raises(ValueError, match="depth"):
        build_tables(bst)
