"""``estimators.inference``: the public accessor for a fitted estimator's cross-fitted nuisances.

It must hand back exactly the arrays the estimator computed in ``fit`` (the ones
``causal.graph`` and ``causal.experiments`` used to read from the private context), as
read-only views, for every estimator and treatment type; and refuse clearly otherwise.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import estimators
from estimators import _nuisance
from estimators.inference import FittedNuisances, make_folds, nuisances
from tests.estimators._estimator_sim import simulate

NUISANCE = {"n_estimators": 20, "outcome_library": ["lightgbm"]}


def _same(view: np.ndarray | None, original: np.ndarray | None) -> None:
    if original is None:
        assert view is None
        return
    assert view is not None
    np.testing.assert_array_equal(view, original)
    assert np.shares_memory(view, original)  # a view, not a copy
    assert not view.flags.writeable


@pytest.mark.parametrize(
    "make",
    [
        lambda: estimators.LinearDML(random_state=0, nuisance_params=NUISANCE),
        lambda: estimators.AutoCate(
            random_state=0,
            nuisance_params=NUISANCE,
            candidates=["LinearDML", "TLearner"],
        ),
    ],
)
def test_discrete_returns_the_fitted_arrays(make) -> None:
    d = simulate(500, seed=4, n_clusters=40)
    est = make().fit(d["Y"], d["T"], X=d["X"], W=d["W"], groups=d["groups"])
    nu = nuisances(est)
    ctx = est._ctx
    assert isinstance(nu, FittedNuisances)
    _same(nu.propensity, ctx.nuis.e)
    _same(nu.arm_means, ctx.nuis.mu)
    _same(nu.outcome_mean, ctx.nuis.m_y)
    _same(nu.scores, ctx.dr)
    _same(nu.folds, ctx.nuis.folds)
    _same(nu.groups, ctx.data.groups)
    _same(nu.y, ctx.data.y)
    _same(nu.t_codes, ctx.data.t_codes)
    assert nu.treatment_mean is None
    assert nu.Z is ctx.data.Z
    assert nu.levels == (0, 1) and nu.discrete and nu.clip == ctx.clip
    np.testing.assert_array_equal(nu.folds, est.folds_)
    with pytest.raises(dataclasses.FrozenInstanceError):
        nu.clip = 0.2  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        nu.propensity[0, 0] = 0.5  # type: ignore[index]
    table = nu.to_pandas()
    assert len(table) == 500
    np.testing.assert_array_equal(table["P(T=1|Z)"], ctx.nuis.e[:, 1])
    np.testing.assert_array_equal(table["AIPW y: 1 vs 0"], ctx.dr[:, 0, 0])
    assert "fitted-nuisances" in nu._repr_html_()


def test_continuous_treatment() -> None:
    d = simulate(400, seed=5)
    t = d["X"]["x0"].to_numpy() + np.random.default_rng(0).normal(size=400)
    est = estimators.LinearDML(random_state=0, nuisance_params=NUISANCE).fit(d["Y"], t, X=d["X"])
    nu = nuisances(est)
    _same(nu.treatment_mean, est._ctx.nuis.t_hat)
    _same(nu.t, est._ctx.data.t_cont)
    assert nu.propensity is None and nu.scores is None and nu.arm_means is None
    assert not nu.discrete and nu.levels == ()
    assert "E[T|Z]" in nu.to_pandas().columns


def test_refuses_unfitted_and_foreign_objects() -> None:
    with pytest.raises(estimators.NotFittedError, match="not fitted"):
        nuisances(estimators.LinearDML())
    with pytest.raises(estimators.EstimatorInputError, match="fitted estimator"):
        nuisances(pd.DataFrame())


def test_make_folds_is_the_estimators_splitter() -> None:
    strata = np.repeat([0, 1], 50)
    groups = np.arange(100) // 4
    a = make_folds(100, 5, strata=strata, groups=groups, seed=3)
    np.testing.assert_array_equal(
        a, _nuisance.make_folds(100, 5, strata=strata, groups=groups, seed=3)
    )
    for g in np.unique(groups):  # clusters whole
        assert np.unique(a[groups == g]).size == 1
