"""estimate_effects: the effects.parquet contract, known truth on simulated data, bad input."""

import numpy as np
import pandas as pd
import pytest

import causal
from causal import MissingColumnError, NonBinaryTreatmentError
from causal.workflows import estimate_effects

N = 3000


@pytest.fixture(scope="module")
def content():
    return causal.simulate_content(n=N, seed=11)


@pytest.fixture(scope="module")
def design():
    return causal.Design(
        unit="pin_id",
        treatment="boosted",
        outcomes=["saves", "hides"],
        modifiers=["quality_score", "format", "category"],
        confounders=["creator_followers", "prior_impressions", "age_days"],
        cluster="creator_id",
    )


@pytest.fixture(scope="module")
def estimates(content, design):
    shuffled = content.sample(frac=1.0, random_state=0)  # input order must be kept
    before = shuffled.copy()
    est = estimate_effects(shuffled, design, seed=0)
    pd.testing.assert_frame_equal(shuffled, before)  # the user's table is not modified
    return shuffled, est


def test_effects_follow_the_file_contract(estimates):
    data, est = estimates
    expected = ["pin_id"] + [
        f"cate_{o}{s}" for o in ("saves", "hides") for s in ("", "_ci_lower", "_ci_upper")
    ]
    assert list(est.effects.columns) == expected
    np.testing.assert_array_equal(est.effects["pin_id"], data["pin_id"])
    for o in ("saves", "hides"):
        lo, mid, hi = (est.effects[f"cate_{o}{s}"] for s in ("_ci_lower", "", "_ci_upper"))
        assert (lo <= mid).all() and (mid <= hi).all()


TRUTH_Z = 3.0  # one dataset: |estimate - truth| / se above 3 has chance 0.3% if calibrated
MIN_CATE_CORR = 0.4  # the modifiers carry most of the true heterogeneity of both outcomes


def test_ate_near_the_truth_and_cate_tracks_it(estimates):
    # One seeded dataset with known truth (interval coverage over many datasets is measured in
    # tests/estimators/test_calibration.py): the doubly-robust ATE sits within 3 SE of the
    # simulation's SATE, and item-level estimates rank items like the truth.
    _, est = estimates
    for o in est.outcomes:
        assert abs(o.effect - o.true_ate) / o.se < TRUTH_Z, o
        assert o.cate_truth_corr > MIN_CATE_CORR, o
    d = est.to_dict()
    assert set(d["outcomes"]) == {"saves", "hides"} and d["n"] == N
    assert "Boost effects" in est.summary()


def test_bad_input_is_named(content, design):
    with pytest.raises(MissingColumnError, match="quality_scor"):
        estimate_effects(content.drop(columns=["quality_score"]), design)
    multi = content.assign(boosted=content["boosted"] * 2)  # 0/2 is not a 0/1 treatment
    with pytest.raises(NonBinaryTreatmentError, match="boosted"):
        estimate_effects(multi, design)
