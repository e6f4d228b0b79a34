"""No silent misalignment or sign flips (issue 9, item 11).

Found as a new user would: string labels made the treated arm the control (ATE -1.73 for
+1.73), a pandas T in another row order was matched by position (ATE -0.14), 30 rows with 5
treated fitted without a word. The estimators and ``causal.validate`` now share one set of
rules (``estimators.rules``).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

import estimators
from estimators import EstimatorInputError
from estimators.rules import MAX_CATEGORY_LEVELS, MIN_UNITS_PER_ARM

NUISANCE = {"n_estimators": 20}
TRUE_ATE = 1.5
#: The ATE of n = 1,500 units with noise SD 1 has an SE near 0.06: 6 SE from the truth would
#: be a bug, and a flipped sign is 50 SE away.
ATE_ATOL = 0.4


def _data(n: int = 1_500, seed: int = 5) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    index = pd.Index([f"pin{i}" for i in range(n)], name="pin_id")
    X = pd.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n)}, index=index)
    p = 1 / (1 + np.exp(-0.7 * X["x0"].to_numpy()))
    t = (rng.random(n) < p).astype(int)
    y = X["x0"].to_numpy() + TRUE_ATE * t + rng.normal(size=n)
    T = pd.Series(np.where(t == 1, "boost", "ctl"), index=index, name="arm")
    return pd.Series(y, index=index, name="saves"), T, X


def _est(**kw: object) -> estimators.LinearDML:
    return estimators.LinearDML(cv=2, random_state=0, nuisance_params=NUISANCE, **kw)


def test_string_labels_need_an_explicit_control() -> None:
    Y, T, X = _data()
    with pytest.raises(EstimatorInputError, match=r"ambiguous.*Pass control=") as info:
        _est().fit(Y, T, X=X)
    assert "'boost' vs 'ctl'" not in str(info.value)  # it names the flip it refused to make
    assert "'ctl' vs 'boost'" in str(info.value)
    est = _est(control="ctl").fit(Y, T, X=X)
    assert abs(est.ate() - TRUE_ATE) < ATE_ATOL  # +1.5, not -1.5
    assert est.contrasts_ == ["boost vs ctl"]
    res = est.ate_inference()
    assert res.contrast == "boost vs ctl" and res.estimand == "ATE"
    assert "boost vs ctl on saves, ATE:" in str(res)
    # the other arm as control flips the sign, and says so
    flipped = _est(control="boost").fit(Y, T, X=X).ate_inference()
    assert flipped.contrast == "ctl vs boost"
    assert abs(flipped.effect + res.effect) < ATE_ATOL


def test_unambiguous_labels_need_no_control() -> None:
    Y, T, X = _data(600)
    t01 = (T == "boost").astype(int).to_numpy()
    assert _est().fit(Y, t01, X=X).contrasts_ == ["1 vs 0"]
    assert _est().fit(Y, t01.astype(bool), X=X).contrasts_ == ["True vs False"]
    named = np.where(t01 == 1, "boost", "control")
    assert _est().fit(Y, named, X=X).contrasts_ == ["boost vs control"]
    with pytest.raises(EstimatorInputError, match="ambiguous"):
        _est().fit(Y, t01 + 1, X=X)  # {1, 2}: no 0, so no natural control


def test_pandas_inputs_are_aligned_on_the_index() -> None:
    Y, T, X = _data()
    base = _est(control="ctl").fit(Y, T, X=X).ate_inference()
    perm = np.random.default_rng(6).permutation(len(Y))
    # T (and X) in another row order: matched by label, so exactly the same fit
    again = _est(control="ctl").fit(Y, T.iloc[perm], X=X.iloc[perm[::-1]]).ate_inference()
    assert again.effect == pytest.approx(base.effect, rel=0, abs=1e-12)
    assert again.se == pytest.approx(base.se, rel=0, abs=1e-12)


def test_differing_indexes_are_refused_not_matched_by_position() -> None:
    Y, T, X = _data(600)
    perm = np.random.default_rng(7).permutation(len(Y))
    # same labels, other order, but Y is a plain array: no label to match on
    with pytest.raises(
        EstimatorInputError,
        match=r"X and T have the same index labels in a different order, and Y is not",
    ):
        _est(control="ctl").fit(Y.to_numpy(), T.iloc[perm], X=X)
    # different labels (e.g. one side reset_index'ed)
    with pytest.raises(EstimatorInputError, match=r"X and Y have different index labels"):
        _est(control="ctl").fit(Y, T, X=X.reset_index(drop=True))
    with pytest.raises(EstimatorInputError, match=r"groups and Y have different index"):
        _est(control="ctl").fit(Y, T, X=X, groups=pd.Series(np.arange(600) % 30))
    # numpy everywhere: position is the contract
    _est(control="ctl").fit(Y.to_numpy(), T.to_numpy(), X=X.to_numpy())


def test_too_few_units_per_arm_is_refused() -> None:
    rng = np.random.default_rng(8)
    t = np.r_[np.ones(5, dtype=int), np.zeros(25, dtype=int)]
    with pytest.raises(EstimatorInputError, match=r"arm 1 has only 5 unit\(s\).*at least 10"):
        _est().fit(rng.normal(size=30), t, X=rng.normal(size=(30, 2)))


def test_all_missing_column_says_drop_the_column() -> None:
    Y, T, X = _data(300)
    X = X.assign(empty=np.nan)
    with pytest.raises(EstimatorInputError, match=r"'empty' has 300 missing.*drop the column"):
        _est(control="ctl").fit(Y, T, X=X)
    X.iloc[:5, 2] = 1.0
    with pytest.raises(EstimatorInputError, match=r"'empty' has 295 missing.*impute or drop"):
        _est(control="ctl").fit(Y, T, X=X)


def test_high_cardinality_string_modifier_warns() -> None:
    Y, T, X = _data(2_000)
    X = X.assign(creator=[f"c{i}" for i in range(2_000)])
    with pytest.warns(estimators.HighCardinalityWarning, match=r"'X.creator' has 2,000 levels"):
        _est(control="ctl").fit(Y, T, X=X)


def test_one_set_of_rules_with_causal_validate() -> None:
    from causal import Design
    from causal.data import validate
    from causal.data._validate import HighCardinalityWarning

    assert inspect.signature(validate).parameters["min_units_per_arm"].default == (
        MIN_UNITS_PER_ARM
    )
    assert inspect.signature(validate).parameters["max_levels"].default == MAX_CATEGORY_LEVELS
    rng = np.random.default_rng(9)
    n = 200
    df = pd.DataFrame(
        {
            "id": range(n),
            "t": rng.integers(0, 2, n),
            "y": rng.normal(size=n),
            "empty": np.nan,
            "creator": [f"c{i % 120}" for i in range(n)],
        }
    )
    from causal import CausalError

    with pytest.raises(CausalError, match="every value is missing: drop the column"):
        validate(df, Design("id", "t", "y", modifiers=["empty"]))
    with pytest.warns(HighCardinalityWarning, match="each level's effect rests on few units"):
        validate(df, Design("id", "t", "y", modifiers=["creator"]))
    few = df.assign(t=np.r_[np.ones(5, dtype=int), np.zeros(n - 5, dtype=int)])
    with pytest.raises(CausalError, match="Only 5 treated units"):
        validate(few, Design("id", "t", "y"))


def test_ate_result_prints_renders_and_keeps_the_tuple_api() -> None:
    Y, T, X = _data(600)
    est = _est(control="ctl").fit(Y, T, X=X)
    res = est.ate_inference(alpha=0.1)
    lo, hi = est.ate_interval(alpha=0.1)
    assert isinstance(est.ate(), float) and isinstance(lo, float)
    assert (res.effect_ci_lower, res.effect_ci_upper) == (lo, hi)
    frame = res.to_pandas()
    assert list(frame["contrast"]) == ["boost vs ctl"] and frame.loc[0, "n"] == 600
    html = res._repr_html_()
    assert "boost vs ctl" in html and "90% CI" in html
    # labels are escaped
    odd = estimators.mean_effect_from_scores(np.array([1.0, 2.0]), treatment="<b> vs a&b")
    assert "&lt;b&gt; vs a&amp;b" in odd._repr_html_() and "<b>" not in odd._repr_html_()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        str(res)
