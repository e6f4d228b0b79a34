"""explain() works on every effect model of the estimators package (public API only)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import causal
import estimators
from causal.explain import DEFAULT_MIN_FIDELITY, FidelityWarning, explain

# Always on: the default blend and the fastest learner; the rest with -m slow (~20 s each).
NAMES = [
    "AutoCate",
    "LinearDML",
    *(
        pytest.param(n, marks=pytest.mark.slow)
        for n in ["CausalForest", "DRLearner", "XLearner", "TLearner", "SLearner"]
    ),
]
MODIFIERS = ["quality_score", "age_days", "format", "text_overlay", "creator_followers"]
ADDITIVITY_ATOL = 1e-8


@pytest.fixture(scope="module")
def data():
    return causal.simulate_content(n=1500, seed=5)


@pytest.mark.parametrize("name", NAMES)
def test_explain_every_estimator(data, name):
    X = data[MODIFIERS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overlap warnings of the small simulated sample
        est = getattr(estimators, name)(random_state=0).fit(
            data["hides"], data["boosted"], X=X, groups=data["creator_id"]
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FidelityWarning)
        ex = explain(est, X, max_permutation_rows=30, background=20, progress=False)
    cate = np.asarray(est.effect(X), dtype=float)
    if ex.method == "permutation":  # the surrogate was not faithful: a warning said so
        assert any(issubclass(w.category, FidelityWarning) for w in caught)
        rows = ex.data.index.to_numpy()
        np.testing.assert_allclose(ex.cate, cate[rows])
        np.testing.assert_allclose(ex.prediction, ex.cate, atol=ADDITIVITY_ATOL)
    else:
        assert ex.method in ("tree_path_dependent", "constant")
        assert ex.fidelity >= DEFAULT_MIN_FIDELITY
        np.testing.assert_allclose(ex.cate, cate)
        assert ex.values.shape == (len(X), len(MODIFIERS))
    assert np.isfinite(ex.values).all()
    imp = ex.importance()
    assert set(imp["feature"]) == set(MODIFIERS)
    assert ex.outcome == "hides"
