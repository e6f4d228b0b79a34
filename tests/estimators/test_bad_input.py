"""Bad input gives a clear EstimatorInputError naming the argument/column, never a deep
traceback or a silently wrong number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators
from estimators import EstimatorInputError

NUISANCE = {"n_estimators": 20}


def _data(n: int = 300, seed: int = 31) -> tuple[pd.Series, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x0": rng.normal(size=n), "topic": rng.choice(["a", "b"], size=n)})
    T = rng.integers(0, 2, size=n)
    Y = pd.Series(X["x0"] + T + rng.normal(size=n), name="saves")
    return Y, T, X


def _est(**kw: object) -> estimators.LinearDML:
    return estimators.LinearDML(cv=2, random_state=0, nuisance_params=NUISANCE, **kw)


def test_parameter_messages_are_uniform() -> None:
    with pytest.raises(EstimatorInputError) as info:
        estimators.CausalForest(n_estimators=24).fit(*_data()[:2], X=_data()[2]).effect_interval(
            _data()[2], alpha=1.5
        )
    assert str(info.value) == (
        "The 'alpha' parameter of CausalForest must be a float in (0, 1). Got 1.5 instead."
    )
    with pytest.raises(EstimatorInputError, match="The 'cv' parameter of LinearDML must be"):
        estimators.LinearDML(cv=1).fit(*_data()[:2])
    with pytest.raises(EstimatorInputError, match="'random_state' parameter of TLearner"):
        estimators.TLearner(random_state="seed").fit(*_data()[:2])
    with pytest.raises(EstimatorInputError, match="'strategy' parameter of AutoCate"):
        estimators.AutoCate(strategy="best").fit(*_data()[:2])
    with pytest.raises(EstimatorInputError, match="Unknown candidate 'BART'"):
        estimators.AutoCate(candidates=["BART"]).fit(*_data()[:2], X=_data()[2])


def test_one_treatment_arm_empty() -> None:
    Y, _, X = _data()
    with pytest.raises(EstimatorInputError, match="one treatment arm is empty"):
        _est().fit(Y, np.ones(len(Y), dtype=int), X=X)


def test_no_overlap_is_refused_and_poor_overlap_warns() -> None:
    Y, _, X = _data(600)
    T = (X["x0"] > 0).astype(int).to_numpy()  # treatment determined by a modifier
    with pytest.raises(EstimatorInputError, match="No overlap: treatment level 1 vs control 0"):
        _est().fit(Y, T, X=X)
    rng = np.random.default_rng(32)
    T2 = (rng.random(600) < 1 / (1 + np.exp(-8 * X["x0"].to_numpy()))).astype(int)
    with pytest.warns(estimators.OverlapWarning, match="Thin overlap"):
        _est().fit(Y, T2, X=X)


@pytest.mark.parametrize("where", ["Y", "T", "X"])
def test_missing_values_are_named(where: str) -> None:
    Y, T, X = _data()
    Y, X = Y.copy(), X.copy()
    T = T.astype(float)
    if where == "Y":
        Y.iloc[3] = np.nan
        match = "Y column 'saves' has 1 missing"
    elif where == "T":
        T[5] = np.nan
        match = "T has 1 missing"
    else:
        X.loc[7, "x0"] = np.nan
        match = "X column 'x0' has 1 missing"
    with pytest.raises(EstimatorInputError, match=match):
        _est().fit(Y, T, X=X)


def test_mismatched_lengths() -> None:
    Y, T, X = _data()
    with pytest.raises(EstimatorInputError, match="T has 299 rows but Y has 300"):
        _est().fit(Y, T[:-1], X=X)
    with pytest.raises(EstimatorInputError, match="X has 299 rows but Y has 300"):
        _est().fit(Y, T, X=X.iloc[:-1])
    with pytest.raises(EstimatorInputError, match="groups has 10 rows"):
        _est().fit(Y, T, X=X, groups=np.arange(10))


def test_unseen_level_and_missing_column_at_effect_time() -> None:
    Y, T, X = _data()
    est = _est().fit(Y, T, X=X)
    new = pd.DataFrame({"x0": [0.0, 1.0], "topic": ["a", "zzz"]})
    with pytest.raises(EstimatorInputError, match=r"column 'topic' has level\(s\) \['zzz'\]"):
        est.effect(new)
    with pytest.raises(EstimatorInputError, match=r"missing column\(s\) \['topic'\]"):
        est.effect(new[["x0"]])
    with pytest.raises(EstimatorInputError, match="X is required"):
        est.effect()


def test_bad_treatment_arguments_and_outcomes() -> None:
    Y, T, X = _data()
    est = _est().fit(Y, T, X=X)
    with pytest.raises(EstimatorInputError, match="T1=5 is not a treatment level"):
        est.effect(X, T1=5)
    with pytest.raises(EstimatorInputError, match="control level 'x' is not among"):
        _est(control="x").fit(Y, T, X=X)
    with pytest.raises(EstimatorInputError, match=r"in both X and W"):
        _est().fit(Y, T, X=X, W=X[["x0"]])
    with pytest.raises(EstimatorInputError, match="Y column .y. holds text"):
        _est().fit(np.array(["a"] * len(T)), T, X=X)


def test_boolean_and_string_treatments() -> None:
    Y, T, X = _data()
    a = _est().fit(Y, T.astype(bool), X=X)
    assert a.control_ is False and a.treatment_levels_ == [False, True]
    b = _est().fit(Y, np.where(T == 1, "boost", "control"), X=X)
    assert b.control_ == "control" and b.ate_inference().treatment == "boost vs control"
    np.testing.assert_allclose(a.ate(), b.ate(), rtol=1e-9)
