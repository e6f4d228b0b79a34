"""Batched permutation SHAP (causal.explain._permutation) against shap's PermutationExplainer.

The batched path reproduces shap's algorithm step for step (same permutations for the same
seed, same carry-forward of unchanged background rows) and only changes how the model is
called, so its values must equal shap's to rounding, and add up to the prediction.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import causal
from causal.explain import FidelityWarning, explain
from causal.explain._frame import encode
from causal.explain._permutation import default_max_evals, permutation_shap

# Same permutations, same model outputs: only the order of float64 sums differs (observed
# max |difference| 3e-15 on values of order 1).
SHAP_MATCH_ATOL = 1e-10
# Local accuracy: base value + sum of SHAP values = the model's prediction (antithetic walks
# telescope exactly; only float64 rounding remains).
ADDITIVITY_ATOL = 1e-6


def _shap_reference(f, X, background, seed):
    """The old path: shap's PermutationExplainer, as causal.explain called it before."""
    import shap

    masker = shap.maskers.Independent(background, max_samples=background.shape[0])
    explainer = shap.PermutationExplainer(f, masker, seed=seed)
    res = explainer(X, max_evals=default_max_evals(X.shape[1]), silent=True)
    return np.asarray(res.values, dtype=float), float(np.ravel(res.base_values)[0])


def _rough(M: np.ndarray) -> np.ndarray:
    """Interactions, a step and a categorical-like integer column: nothing additive."""
    return (
        np.sin(M[:, 0]) * M[:, 1]
        + (M[:, 2] > 0.3) * M[:, 5]
        + M[:, 3] ** 2
        - M[:, 4] * M[:, 0] * M[:, 2]
    )


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    X, bg = rng.normal(size=(30, 6)), rng.normal(size=(40, 6))
    X[:, 5], bg[:, 5] = rng.integers(0, 3, 30), rng.integers(0, 3, 40)  # ties with background
    X[3] = bg[0]  # a row equal to a background row: some modifiers vary nowhere else
    X[4, :5] = bg[1, :5]
    return X, bg


@pytest.mark.parametrize("seed", [0, 3])
def test_equals_shap_permutation_explainer(seed):
    X, bg = _data(seed)
    calls = []

    def f(M):
        calls.append(len(M))
        return _rough(M)

    ours, base = permutation_shap(f, X, bg, seed=seed)
    n_ours = len(calls)
    ref, ref_base = _shap_reference(_rough, X, bg, seed)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=SHAP_MATCH_ATOL)
    assert abs(base - ref_base) < SHAP_MATCH_ATOL
    assert n_ours == 1  # everything in one model call (well under BATCH_ROWS rows)
    np.testing.assert_allclose(base + ours.sum(axis=1), _rough(X), rtol=0, atol=ADDITIVITY_ATOL)


def test_small_batches_give_the_same_values():
    X, bg = _data(1)
    calls = []

    def f(M):
        calls.append(len(M))
        return _rough(M)

    whole, base = permutation_shap(_rough, X, bg, seed=1)
    parts, base2 = permutation_shap(f, X, bg, seed=1, batch_rows=997)
    assert len(calls) > 10 and max(calls) <= 997
    np.testing.assert_array_equal(parts, whole)
    assert base == base2


def test_a_row_equal_to_every_background_row_gets_zero_values():
    bg = np.ones((10, 3))
    X = np.vstack([np.ones(3), [2.0, 3.0, 1.0]])  # row 2: the last modifier never differs
    values, base = permutation_shap(_rough_3, X, bg, seed=0)
    assert not values[0].any() and values[1, 2] == 0.0  # shap skips what never varies
    assert base == _rough_3(bg).mean()
    np.testing.assert_allclose(base + values.sum(axis=1), _rough_3(X), atol=ADDITIVITY_ATOL)


def _rough_3(M):
    return M[:, 0] * M[:, 1] + M[:, 2]


def test_model_returning_wrong_length_is_a_clear_error():
    X, bg = _data(0)
    with pytest.raises(ValueError, match="one per row"):
        permutation_shap(lambda M: _rough(M)[:-1], X, bg)
    with pytest.raises(ValueError, match="max_evals"):
        permutation_shap(_rough, X, bg, max_evals=5)


def test_explain_fallback_equals_shap_on_a_fitted_model():
    """explain()'s permutation path on a fitted effect model with a categorical modifier,
    against shap's explainer given the same rows, background and seed."""
    import estimators

    df = causal.simulate_content(n=1_500, seed=4)
    X = df[["quality_score", "age_days", "format"]]
    est = estimators.LinearDML(random_state=0).fit(df["saves"], df["boosted"], X=X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FidelityWarning)
        ex = explain(est, X, method="permutation", max_permutation_rows=25, background=30,
                     random_state=5, progress=False)  # fmt: skip
    assert ex.method == "permutation" and ex.values.shape == (25, 3)
    # rebuild the rows and background explain() drew (same generator calls, same order)
    enc = encode(X)
    rng = np.random.default_rng(5)
    bg = enc.matrix[rng.choice(len(X), size=30, replace=False)]
    rows = np.sort(rng.choice(len(X), size=25, replace=False))

    def f(M):
        return np.asarray(est.effect(enc.decode(M)), dtype=float).reshape(-1)

    ref, ref_base = _shap_reference(f, enc.matrix[rows], bg, 5)
    pd.testing.assert_frame_equal(
        ex.data.reset_index(drop=True), X.iloc[rows].reset_index(drop=True)
    )
    np.testing.assert_allclose(ex.values, ref, rtol=0, atol=SHAP_MATCH_ATOL)
    assert abs(ex.base_value - ref_base) < SHAP_MATCH_ATOL
    np.testing.assert_allclose(
        ex.base_value + ex.values.sum(axis=1), ex.cate, rtol=0, atol=ADDITIVITY_ATOL
    )
