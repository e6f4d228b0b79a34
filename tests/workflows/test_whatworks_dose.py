"""`causal.what_works` with a continuous boost intensity: the average dose–response curve
per outcome, checked against `estimators.dose_response` and the simulator's known curve."""

from __future__ import annotations

import json

import numpy as np
import pytest

import causal
from causal._io import json_safe

MODIFIERS = ["quality_score", "format"]
CONFOUNDERS = ["creator_followers", "prior_impressions", "age_days"]
#: the routed curve is the estimator's own: equal up to float rounding
EXACT = 1e-9
#: every point of the curve within this many SEs of the simulator's truth
TRUTH_SE = 4.0


def _design(**kw):
    return causal.Design(unit="pin_id", treatment="dose", outcomes=["saves"],
                         modifiers=MODIFIERS, confounders=CONFOUNDERS, **kw)  # fmt: skip


def _truth(df, curve, reference):
    t = causal.true_dose_response(df, curve["dose"].to_numpy(), outcome="saves",
                                  reference=reference)  # fmt: skip
    return t["true_effect"].to_numpy()


@pytest.fixture(scope="module")
def dosed():
    return causal.simulate_boost_dose(n=2_000, seed=3)


@pytest.fixture(scope="module")
def ww(dosed):
    return causal.what_works(dosed, _design(), estimator="LinearDML", progress=False,
                             n_simulations=5)  # fmt: skip


def test_curve_is_the_estimators_and_covers_the_simulator(ww, dosed):
    import estimators

    o = ww["saves"]
    assert ww.treatment_kind == "continuous"
    curve = o.extras["dose_response"]
    X = dosed[MODIFIERS + CONFOUNDERS]  # format is already categorical, as what_works uses it
    ref = estimators.dose_response(dosed["saves"].to_numpy(float), dosed["dose"].to_numpy(float),
                                   X=X, random_state=0)  # fmt: skip
    want = ref.curve[ref.curve["segment"] == "all"]
    for col in ("dose", "effect", "effect_ci_lower", "effect_ci_upper"):
        np.testing.assert_allclose(curve[col].to_numpy(), want[col].to_numpy(), atol=EXACT)
    sm = o.extras["dose_response_summary"]
    truth = _truth(dosed, curve, sm["reference"])
    z = np.abs(curve["effect"].to_numpy() - truth)[1:] / curve["se"].to_numpy()[1:]
    assert z.max() < TRUTH_SE, z
    # slope summary: the change over the dose range, per unit of dose
    span = sm["dose_high"] - sm["reference"]
    assert sm["slope"] == pytest.approx(sm["effect"] / span)
    assert sm["slope_ci_lower"] == pytest.approx(sm["effect_ci_lower"] / span)
    assert sm["effect"] == pytest.approx(curve["effect"].iloc[-1])


def test_dose_response_in_summary_report_and_findings(ww, tmp_path):
    s = json.loads(json.dumps(json_safe(ww.to_dict()), allow_nan=False))
    entry = s["outcomes"]["saves"]
    assert {"effect", "effect_ci_lower", "effect_ci_upper", "se", "pvalue"} <= set(entry["ate"])
    assert len(entry["dose_response"]) == 9 and "slope" in entry["dose_response_summary"]
    page = ww.report(tmp_path / "r.html").read_text()
    assert "<h2>How much boost: the dose–response curve</h2>" in page
    assert any("dose–response: raising dose" in f for f in ww.findings())


def test_weighted_continuous_names_the_unweighted_curve(dosed):
    df = dosed.head(600).assign(w=np.where(dosed["format"].head(600) == "video", 2.0, 1.0))
    ww = causal.what_works(df, _design(weight="w"), estimator="LinearDML", progress=False,
                           n_simulations=3)  # fmt: skip
    assert "dose_response" not in ww["saves"].extras
    assert "takes no weights" in ww.methods["absent"]["Dose–response curve"]


@pytest.mark.slow
def test_dose_curve_covers_the_simulator_at_scale():
    """10k rows x 3 seeds: pointwise intervals of the what-works curve cover the truth."""
    cov = []
    for seed in range(3):
        df = causal.simulate_boost_dose(n=10_000, seed=seed)
        ww = causal.what_works(df, _design(cluster="creator_id"), estimator="LinearDML",
                               progress=False, n_simulations=3)  # fmt: skip
        c = ww["saves"].extras["dose_response"]
        t = _truth(df, c, ww["saves"].extras["dose_response_summary"]["reference"])
        cov.append(((c["effect_ci_lower"] <= t) & (t <= c["effect_ci_upper"])).to_numpy()[1:])
    assert np.concatenate(cov).mean() >= 0.9
