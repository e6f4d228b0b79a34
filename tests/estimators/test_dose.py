"""Dose–response: the doubly-robust curve covers a known nonlinear curve; a line would not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators


def _sim(n: int, seed: int):
    """Confounded dose in (0, 1); E[Y(a) | c] = 2 sqrt(a) (1 + [c == b]) + x."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n)})
    T = 1 / (1 + np.exp(-X["x"].to_numpy() - rng.normal(size=n)))
    mult = 1 + (X["c"].to_numpy() == "b")
    Y = np.sqrt(T) * 2 * mult + X["x"].to_numpy() + rng.normal(size=n)
    return X, T, Y, mult


def _covered(seed: int, n: int) -> tuple[np.ndarray, pd.DataFrame]:
    X, T, Y, mult = _sim(n, seed)
    dr = estimators.dose_response(Y, T, X=X, segments=X["c"], random_state=seed)
    out = []
    for seg, m in (("all", mult.mean()), ("a", 1.0), ("b", 2.0)):
        c = dr.curve[dr.curve["segment"] == seg]
        truth = 2 * m * (np.sqrt(c["dose"]) - np.sqrt(dr.reference))
        out.append(
            ((c["effect_ci_lower"] <= truth) & (truth <= c["effect_ci_upper"])).to_numpy()[1:]
        )
    return np.concatenate(out), dr.curve


def test_dose_response_covers_known_curve_and_is_not_linear():
    cov, curve = _covered(0, 4000)
    assert cov.mean() >= 0.8  # 24 pointwise intervals on one dataset
    a = curve[curve["segment"] == "all"]
    # concave: the first half of the dose range gains more than the second
    mid = len(a) // 2
    first = a["effect"].iat[mid] - a["effect"].iat[0]
    second = a["effect"].iat[-1] - a["effect"].iat[mid]
    assert first > second
    assert set(curve["segment"]) == {"all", "a", "b"}


def test_dose_response_outputs_and_bad_input():
    X, T, Y, _ = _sim(1500, 1)
    dr = estimators.dose_response(pd.Series(Y, name="saves"), T, X=X, doses=[0.3, 0.5, 0.7], cv=3)
    assert dr.outcome == "saves" and dr.reference == 0.3 and len(dr.curve) == 3
    assert dr.curve["effect"].iat[0] == 0.0
    import json

    json.dumps(dr.to_dict())
    from matplotlib.figure import Figure

    assert isinstance(dr.plot(), Figure) and "saves" in dr._repr_html_()
    with pytest.raises(estimators.EstimatorInputError, match="continuous"):
        estimators.dose_response(Y, np.round(T), X=X)
    with pytest.raises(estimators.EstimatorInputError, match="X"):
        estimators.dose_response(Y, T)
    with pytest.raises(estimators.EstimatorInputError, match="rows"):
        estimators.dose_response(Y[:10], T, X=X)


@pytest.mark.slow
def test_dose_response_pointwise_coverage():
    """20 datasets x 24 intervals: pointwise coverage near 95%."""
    cov = np.concatenate([_covered(100 + s, 4000)[0] for s in range(20)])
    assert cov.mean() >= 0.9


@pytest.mark.slow
def test_dose_response_covers_the_content_simulator_curve():
    """simulate_boost_dose (saturating curve, confounded intensity): pointwise intervals of
    the saves curve cover the truth (4 datasets x 8 doses)."""
    import causal

    cols = ["quality_score", "age_days", "creator_followers", "text_overlay", "shoppable",
            "prior_impressions", "category", "format"]  # fmt: skip
    cov = []
    for seed in range(4):
        df = causal.simulate_boost_dose(n=10_000, seed=seed)
        dr = estimators.dose_response(
            df["saves"], df["dose"], X=df[cols], groups=df["creator_id"], random_state=0
        )
        c = dr.curve
        truth = causal.true_dose_response(df, c["dose"].to_numpy(), reference=dr.reference)
        t = truth["true_effect"].to_numpy()
        cov.append(((c["effect_ci_lower"] <= t) & (t <= c["effect_ci_upper"])).to_numpy()[1:])
    assert np.concatenate(cov).mean() >= 0.9
