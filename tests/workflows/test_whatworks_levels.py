"""`causal.what_works` with a multi-valued boost (levels vs an explicit control) and with the
design's `weight` honoured in the segment and targeting tables (closed forms)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import causal
from causal._io import json_safe
from causal.workflows._weighted import weighted_gate, weighted_targeting

N_ROWS = 2_400
#: |estimate - truth| within this many standard errors (a 4-sigma miss has p ~ 6e-5)
TRUTH_SE = 4.0
#: closed forms are recomputed from the same scores: agreement up to float rounding
EXACT = 1e-10
XSS = "<script>alert(1)</script>"


def simulate_tiers(n: int = N_ROWS, seed: int = 0, big: str = "large") -> pd.DataFrame:
    """A boost tier none / small / big assigned by a confounder ``w``; known effects:
    small ``0.5 + 0.5 x`` (heterogeneous), big ``1.5`` (constant)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    w = rng.normal(size=n)
    logits = np.column_stack([np.zeros(n), 0.5 * w, 0.8 * w - 0.3])
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    code = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    tau_small, tau_big = 0.5 + 0.5 * x, np.full(n, 1.5)
    y = w + x + tau_small * (code == 1) + tau_big * (code == 2) + rng.normal(size=n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "tier": np.array(["none", "small", big], dtype=object)[code],
            "x": x,
            "w": w,
            "seg": np.where(x > 0, "hi", "lo"),
            "y": y,
            "y2": 2 * y,
            f"true_cate_y[{big}]": tau_big,
            "true_cate_y[small]": tau_small,
        }
    )


def _design(**kw):
    base = dict(unit="id", treatment="tier", outcomes=["y"], modifiers=["x"],
                confounders=["w"], segments=["seg"])  # fmt: skip
    return causal.Design(**{**base, **kw})


@pytest.fixture(scope="module")
def tiers():
    return simulate_tiers()


@pytest.fixture(scope="module")
def ww(tiers):
    return causal.what_works(tiers, _design(outcomes=["y", "y2"]), control="none",
                             estimator="LinearDML", progress=False, n_simulations=5)  # fmt: skip


# ----------------------------------------------------------------------------- multi-valued


def test_each_level_vs_control_against_truth(ww, tiers):
    assert ww.treatment_kind == "multi" and ww.control == "none"
    labels = [(o.outcome, o.level) for o in ww.outcomes]
    assert labels == [("y", "large"), ("y", "small"), ("y2", "large"), ("y2", "small")]
    for level in ("large", "small"):
        o = ww["y", level]
        assert o.contrast == f"{level} vs none" and o.label == f"y: {level} vs none"
        truth = tiers[f"true_cate_y[{level}]"].mean()
        assert o.true_effect == pytest.approx(truth)
        assert abs(o.effect - truth) < TRUTH_SE * o.se, (level, o.effect, truth, o.se)
        # scaling Y scales the effect (same model, outcome y2 = 2 y)
        assert ww["y2", level].effect == pytest.approx(2 * o.effect, rel=1e-6)
        # control mean: the untreated (tier = none) mean
        assert o.control_mean == pytest.approx(tiers.loc[tiers["tier"] == "none", "y"].mean())
    # the heterogeneous level ranks items; its segment effects follow the truth
    seg = ww["y", "small"].segments.set_index("value")
    assert seg.loc["hi", "effect"] > seg.loc["lo", "effect"]
    assert "targeting" in ww["y", "small"].extras
    assert ww["y"] is ww.outcomes[0]
    with pytest.raises(KeyError, match="levels"):
        ww["y", "medium"]


def test_effects_table_has_per_level_columns_and_best_level(ww, tiers):
    e = ww.effects
    expected = ["id"]
    for o in ("y", "y2"):
        for level in ("large", "small"):
            c = f"cate_{o}[{level}]"
            expected += [c, f"{c}_ci_lower", f"{c}_ci_upper"]
        expected.append(f"best_level_{o}")
    assert list(e.columns) == expected
    np.testing.assert_array_equal(e["id"], tiers["id"])
    stack = e[["cate_y[large]", "cate_y[small]"]].to_numpy()
    want = np.where(stack.max(1) > 0, np.array(["large", "small"])[stack.argmax(1)], "none")
    np.testing.assert_array_equal(e["best_level_y"].to_numpy(dtype=str), want)


def test_summary_json_keeps_design_keys_and_adds_contrasts(ww):
    s = json.loads(json.dumps(json_safe(ww.to_dict()), allow_nan=False))
    assert list(s)[:4] == ["outcomes", "attribution", "design", "n"]
    assert s["control"] == "none" and s["levels"] == ["large", "small"]
    entry = s["outcomes"]["y"]
    for key in ("estimator", "ate", "segments", "drivers", "refutations", "sensitivity",
                "overlap"):  # fmt: skip
        assert key in entry
    # the DESIGN.md block describes the first level, and says so
    assert entry["ate"]["contrast"] == "large vs none" and entry["ate"]["level"] == "large"
    contrasts = entry["contrasts"]
    assert [c["contrast"] for c in contrasts] == ["large vs none", "small vs none"]
    for c in contrasts:
        assert set(c["ate"]) >= {"effect", "effect_ci_lower", "effect_ci_upper", "se", "pvalue"}
        assert all(seg["contrast"] == c["contrast"] for seg in c["segments"])
    assert contrasts[1]["ate"]["effect"] == pytest.approx(ww["y", "small"].effect)
    table = ww.to_pandas()
    assert list(table["contrast"]) == ["large vs none", "small vs none"] * 2


def test_report_rows_per_level_and_escaping(tmp_path):
    df = simulate_tiers(n=1_500, seed=1, big=XSS)
    ww = causal.what_works(df, _design(), control="none", estimator="LinearDML",
                           progress=False, n_simulations=5)  # fmt: skip
    page = ww.report(tmp_path / "r.html").read_text()
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; vs none" in page
    assert "y: small vs none" in page
    assert any("which level" in f for f in ww.findings())


def test_control_is_required_and_checked(tiers):
    other = tiers.assign(tier=tiers["tier"].replace({"none": "off"}))
    with pytest.raises(causal.ConfigError, match="control=<level>.*config key 'control'"):
        causal.what_works(other, _design(), progress=False)
    with pytest.raises(causal.ConfigError, match="'nothing' is not a value.*'large'"):
        causal.what_works(tiers, _design(), control="nothing", progress=False)
    binary = causal.simulate_content(n=300, seed=1)
    d = causal.Design(unit="pin_id", treatment="boosted", outcomes=["saves"])
    with pytest.raises(causal.ConfigError, match="'boosted' is binary"):
        causal.what_works(binary, d, control="large", progress=False)


def test_numeric_levels_default_to_zero_as_control(tiers):
    num = tiers.assign(tier=tiers["tier"].map({"none": 0, "small": 1, "large": 2}))
    ww = causal.what_works(num, _design(segments=None), estimator="LinearDML",
                           progress=False, n_simulations=5)  # fmt: skip
    assert ww.control == 0 and [o.level for o in ww.outcomes] == [1, 2]
    assert "cate_y[2]" in ww.effects.columns


# ----------------------------------------------------------------------------- weights


def _scores(ww_model_source):
    """The doubly-robust scores of a fitted what-works model (outcome 0, arm 0)."""
    from estimators.inference import dr_scores

    return dr_scores(ww_model_source)


def test_weighted_segments_and_targeting_closed_form():
    """Weighted segment effect = weighted mean of the DR scores in the segment; the targeting
    value at share 1 = the weighted mean of all scores; both differ from the unweighted."""
    import estimators

    df = causal.simulate_content(n=1_500, seed=4)
    df["w"] = np.where(df["format"] == "video", 4.0, 1.0)
    base = dict(unit="pin_id", treatment="boosted", outcomes=["saves"],
                modifiers=["quality_score", "format"],
                confounders=["creator_followers", "prior_impressions"], segments=["format"])  # fmt: skip
    plain = causal.what_works(df, causal.Design(**base), estimator="LinearDML",
                              progress=False, n_simulations=5)  # fmt: skip
    ww = causal.what_works(df, causal.Design(**base, weight="w"), estimator="LinearDML",
                           progress=False, n_simulations=5)  # fmt: skip
    # refit the same model to read its DR scores (deterministic under the same seed)
    model = estimators.LinearDML(random_state=0).fit(
        df[["saves"]], df["boosted"].to_numpy(), X=ww_frames(df, ["quality_score", "format"]),
        W=ww_frames(df, ["creator_followers", "prior_impressions"]),
        sample_weight=df["w"].to_numpy(),
    )  # fmt: skip
    scores = _scores(model)
    w = df["w"].to_numpy()
    o = ww["saves"]
    seg = o.segments.set_index("value")
    for value in ("carousel", "image", "video"):
        m = (df["format"] == value).to_numpy()
        want = np.sum(w[m] * scores[m]) / np.sum(w[m])
        assert seg.loc[value, "effect"] == pytest.approx(want, abs=EXACT)
        assert seg.loc[value, "band_lower"] <= seg.loc[value, "effect_ci_lower"]
    # the weighted ATE equals the weighted mean of the same scores (AIPW)
    assert o.effect == pytest.approx(np.sum(w * scores) / np.sum(w), abs=1e-8)
    pv = o.extras["targeting"].set_index("share")
    assert pv.loc[1.0, "value"] == pytest.approx(np.sum(w * scores) / np.sum(w), abs=EXACT)
    # weights matter: the mixed-format segments would not move, but the overall figures do
    assert pv.loc[1.0, "value"] != pytest.approx(
        plain["saves"].extras["targeting"].set_index("share").loc[1.0, "value"], rel=1e-4
    )
    assert "Calibration (BLP) and RATE" in ww.methods["absent"]
    assert "calibration" not in o.extras and "rate" not in o.extras
    assert o.share_positive == pytest.approx(
        np.average(ww.effects["cate_saves_ci_lower"] > 0, weights=w)
    )


def ww_frames(df, cols):
    from causal.workflows._whatworks import _frames

    d = causal.Design(unit="pin_id", treatment="boosted", outcomes=["saves"], modifiers=cols)
    return _frames(df, d)[0]


def test_weighted_gate_reference():
    """Equal weights: estimators' unweighted GATE table; SE = statsmodels WLS HC1."""
    import statsmodels.api as sm

    from estimators._scores import gate_table

    rng = np.random.default_rng(0)
    n = 3_000
    s = rng.normal(size=n) + 1.0
    labels = pd.DataFrame({"g": rng.choice(["a", "b", "c"], n)})
    ours, crit = weighted_gate(s, labels, np.ones(n), alpha=0.05, rng=np.random.default_rng(1))
    ref, crit_ref = gate_table(s, labels, alpha=0.05, rng=np.random.default_rng(1))
    for col in ("effect", "se", "effect_ci_lower", "effect_ci_upper", "band_lower", "band_upper"):
        np.testing.assert_allclose(ours[col], ref[col], atol=EXACT)
    assert crit == pytest.approx(crit_ref, abs=EXACT)
    w = rng.uniform(0.2, 3.0, n)
    t, _ = weighted_gate(s, labels, w, alpha=0.05)
    for value, row in t.set_index("value").iterrows():
        m = labels["g"].to_numpy() == value
        fit = sm.WLS(s[m], np.ones(m.sum()), weights=w[m]).fit(cov_type="HC1")
        assert row["effect"] == pytest.approx(fit.params[0], abs=EXACT)
        # HC1 of the intercept-only WLS = the influence-function SE (rel: float rounding)
        assert row["se"] == pytest.approx(fit.bse[0], rel=1e-6)


def test_weighted_targeting_closed_form():
    rng = np.random.default_rng(2)
    n = 1_000
    s = rng.normal(size=n)
    tau = rng.normal(size=n)
    w = rng.uniform(0.0, 2.0, n)
    t = weighted_targeting(s, tau, w, shares=[0.3, 1.0]).set_index("share")
    order = np.argsort(-tau)
    cum = np.cumsum(w[order])
    top = order[cum <= 0.3 * w.sum() * (1 + 1e-12)]
    m = np.zeros(n, bool)
    m[top] = True
    assert t.loc[0.3, "n_targeted"] == m.sum()
    assert t.loc[0.3, "value"] == pytest.approx(np.sum(w * s * m) / w.sum(), abs=EXACT)
    q = w[m].sum() / w.sum()
    assert t.loc[0.3, "gain_vs_random"] == pytest.approx(
        np.sum(w * s * (m - q)) / w.sum(), abs=EXACT
    )
    assert t.loc[0.3, "effect_targeted"] == pytest.approx(
        np.sum(w[m] * s[m]) / w[m].sum(), abs=EXACT
    )
    assert t.loc[1.0, "value"] == pytest.approx(np.average(s, weights=w), abs=EXACT)


def test_weight_never_reported_unweighted():
    """Tables that cannot be weighted (trade-offs, attribution) are named, not shown."""
    df = causal.simulate_content(n=800, seed=5).assign(w=lambda d: 1.0 + d["shoppable"])
    d = causal.Design(unit="pin_id", treatment="boosted", outcomes=["saves", "hides"],
                      modifiers=["quality_score"], confounders=["creator_followers"], weight="w")  # fmt: skip
    ww = causal.what_works(df, d, attributes=["text_overlay"], estimator="LinearDML",
                           progress=False, n_simulations=3)  # fmt: skip
    assert not ww.tradeoffs and len(ww.attribution) == 0
    assert "takes no sample weights" in ww.methods["absent"]["Trade-offs between outcomes"]
    assert "takes no sample weights" in ww.methods["absent"]["Attribution table"]
    for o in ww.outcomes:
        assert "weighted by 'w'" in o.extras["evaluation_source"]
