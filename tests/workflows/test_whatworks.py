"""`causal.what_works` end to end on small simulated data: results, files, truth, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import causal
from causal._io import json_safe

N_ROWS = 2_000  # small: the whole module runs in well under a minute
OUTCOMES = ["saves", "hides"]
MODIFIERS = ["quality_score", "format", "category"]
CONFOUNDERS = ["creator_followers", "prior_impressions", "age_days"]


def _design(**kw):
    base = dict(
        unit="pin_id",
        treatment="boosted",
        outcomes=OUTCOMES,
        modifiers=MODIFIERS,
        confounders=CONFOUNDERS,
        cluster="creator_id",
        segments=["format"],
    )
    base.update(kw)
    return causal.Design(**base)


@pytest.fixture(scope="module")
def content():
    return causal.simulate_content(n=N_ROWS, seed=3)


@pytest.fixture(scope="module")
def ww(content):
    return causal.what_works(content, _design(), seed=0, progress=False, n_simulations=20)


def test_result_shape_and_truth(ww, content):
    assert [o.outcome for o in ww.outcomes] == OUTCOMES
    table = ww.to_pandas()
    assert list(table["outcome"]) == OUTCOMES
    for o in ww.outcomes:
        assert o.effect_ci_lower < o.effect < o.effect_ci_upper
        assert o.se > 0 and 0 <= o.pvalue <= 1
        # simulated data: the true average effect is read from true_cate_<outcome>
        assert o.true_effect == pytest.approx(content[f"true_cate_{o.outcome}"].mean())
        assert o.covers_truth, (o.outcome, o.effect_ci_lower, o.true_effect, o.effect_ci_upper)
        names = set(o.candidates["estimator"])
        assert o.estimator in names or o.estimator.startswith("AutoCate blend of ")
        assert "out-of-fold" in o.why
    assert ww.n == N_ROWS and ww.treatment_kind == "binary"


def test_effects_table_contract(ww, content):
    e = ww.effects
    expected = ["pin_id"]
    for o in OUTCOMES:
        expected += [f"cate_{o}", f"cate_{o}_ci_lower", f"cate_{o}_ci_upper"]
    assert list(e.columns) == expected
    assert len(e) == N_ROWS
    np.testing.assert_array_equal(e["pin_id"].to_numpy(), content["pin_id"].to_numpy())
    for o in OUTCOMES:
        assert (e[f"cate_{o}_ci_lower"] < e[f"cate_{o}_ci_upper"]).all()
        assert e[f"cate_{o}"].notna().all()


def test_summary_json_schema(ww):
    """summary.json has exactly the DESIGN.md fields (extra keys allowed after them)."""
    s = json.loads(json.dumps(json_safe(ww.to_dict()), allow_nan=False))
    assert list(s)[:4] == ["outcomes", "attribution", "design", "n"]
    assert s["n"] == N_ROWS and isinstance(s["attribution"], list)
    assert s["design"]["treatment"] == "boosted"
    assert list(s["outcomes"]) == OUTCOMES
    for entry in s["outcomes"].values():
        assert list(entry)[:7] == [
            "estimator",
            "ate",
            "segments",
            "drivers",
            "refutations",
            "sensitivity",
            "overlap",
        ]
        assert isinstance(entry["estimator"], str)
        assert set(entry["ate"]) == {"effect", "effect_ci_lower", "effect_ci_upper", "se", "pvalue"}
        assert all(isinstance(v, float) for v in entry["ate"].values())
        for seg in entry["segments"]:
            assert {"segment", "n", "effect", "effect_ci_lower", "effect_ci_upper"} <= set(seg)
            assert isinstance(seg["segment"], dict)
        for d in entry["drivers"]:
            assert {"feature", "importance"} <= set(d)
        for r in entry["refutations"]:
            assert {"name", "passed", "detail"} <= set(r)
            assert isinstance(r["passed"], bool)
        assert isinstance(entry["sensitivity"], dict) and isinstance(entry["overlap"], dict)
        if entry["sensitivity"]:
            assert "robustness_value" in entry["sensitivity"]
    for row in s["attribution"]:
        assert {
            "attribute",
            "outcome",
            "effect",
            "effect_ci_lower",
            "effect_ci_upper",
            "pvalue",
            "pvalue_adjusted",
            "robustness_value",
        } <= set(row)


def test_input_not_modified_and_inputs_agree(content, tmp_path):
    before = content.copy()
    small = content.head(800).copy()
    d = _design(outcomes=["saves"], segments=None, cluster=None)
    a = causal.what_works(small, d, estimator="LinearDML", progress=False)
    pd.testing.assert_frame_equal(content, before)
    path = tmp_path / "c.parquet"
    small.to_parquet(path)
    b = causal.what_works(str(path), d, estimator="LinearDML", progress=False)
    import duckdb

    con = duckdb.connect()
    con.register("pins_view", small)
    con.execute("CREATE TABLE pins AS SELECT * FROM pins_view")
    c = causal.what_works("pins", d, estimator="LinearDML", connection=con, progress=False)
    for other in (b, c):
        assert other["saves"].effect == pytest.approx(a["saves"].effect, rel=1e-9)
        assert other["saves"].true_effect == pytest.approx(a["saves"].true_effect)


def test_weights_are_used(content):
    small = content.head(800).copy()
    small["w"] = np.where(small["format"] == "video", 3.0, 1.0)
    d = _design(outcomes=["saves"], segments=None, cluster=None)
    plain = causal.what_works(small, d, estimator="LinearDML", progress=False)
    weighted = causal.what_works(
        small,
        causal.Design(**{**d.to_dict(), "weight": "w"}),
        estimator="LinearDML",
        progress=False,
    )
    assert weighted["saves"].effect != pytest.approx(plain["saves"].effect, rel=1e-6)
    # the weighted truth is the weighted mean of the true effects
    t = small["true_cate_saves"].to_numpy()
    assert weighted["saves"].true_effect == pytest.approx(np.average(t, weights=small["w"]))
    assert weighted.methods["weighted"] is True


def test_segments_and_targeting(ww, content):
    for o in ww.outcomes:
        seg = o.segments
        assert list(seg["segment"]) == ["format"] * 3
        assert sorted(seg["value"]) == ["carousel", "image", "video"]
        assert seg["n"].sum() == N_ROWS
        # the simultaneous band contains the pointwise interval
        assert (seg["band_lower"] <= seg["effect_ci_lower"] + 1e-12).all()
        assert (seg["band_upper"] >= seg["effect_ci_upper"] - 1e-12).all()
        truth = content.groupby(content["format"].astype(str), observed=True)[
            f"true_cate_{o.outcome}"
        ].mean()
        assert dict(zip(seg["value"], seg["true_effect"], strict=True)) == pytest.approx(
            truth.to_dict()
        )
        pv = o.extras["targeting"]
        assert pv["share"].max() == pytest.approx(1.0)
        # boosting everyone is worth the average effect (same doubly-robust scores)
        assert pv.loc[pv["share"].idxmax(), "value"] == pytest.approx(o.effect, rel=1e-6)


def test_tradeoffs_without_guardrails(ww):
    fr = ww.tradeoffs["frontier"]
    assert ww.tradeoffs["primary"] == "saves" and ww.tradeoffs["guardrails"] == {}
    assert list(fr["lam"]) == [0.0]  # no guardrail: only the unconstrained policy
    for o in OUTCOMES:
        assert fr[f"{o}_ci_lower"].iloc[0] <= fr[o].iloc[0] <= fr[f"{o}_ci_upper"].iloc[0]


def test_primary_and_guardrails_are_checked(content):
    with pytest.raises(causal.ConfigError, match="'primary' parameter"):
        causal.what_works(content, _design(), primary="clicks", progress=False)
    with pytest.raises(causal.ConfigError, match="guardrail 'hidez'"):
        causal.what_works(content, _design(), guardrails={"hidez": 0.0}, progress=False)


def test_refutations_pass_on_a_valid_design(ww):
    for o in ww.outcomes:
        assert set(o.refutations["name"]) == {
            "placebo_treatment",
            "random_common_cause",
            "data_subset",
            "bootstrap",
            "dummy_outcome",
        }
        assert o.refutations["passed"].all(), o.refutations.to_dict("records")
        assert 0 < o.sensitivity["robustness_value"] < 1
        assert 0 <= o.overlap["share_outside"] <= 1
    # no graph given: the graph the design implies is drawn and identifies every effect
    assert ww.graph["source"].startswith("implied by the design")
    assert len(ww.graph["identification"]) == len(OUTCOMES)
    assert ww.graph["svg"].lstrip().startswith(("<svg", "<?xml"))


def test_graph_sets_the_adjustment_and_attribution(content, tmp_path):
    from causal.graph import default_content_graph

    small = content.head(1_000)
    d = _design(outcomes=["saves"], segments=None, confounders=["prior_impressions"])
    dot = default_content_graph("boosted", ["saves"]).to_dot()
    ww = causal.what_works(
        small,
        d,
        graph=dot,
        attributes=["text_overlay"],
        estimator="LinearDML",
        progress=False,
        n_simulations=10,
    )
    used = ww.graph["adjustment_sets"]["saves"]
    assert "creator_followers" in used and "prior_impressions" in used
    assert any("replace the configured confounders" in w for w in ww.warnings)
    row = ww.attribution.iloc[0]
    assert (row["attribute"], row["outcome"]) == ("text_overlay", "saves")
    assert row["effect_ci_lower"] <= row["effect"] <= row["effect_ci_upper"]
    assert list(ww.to_dict()["attribution"][0])[:8] == [
        "attribute",
        "outcome",
        "effect",
        "effect_ci_lower",
        "effect_ci_upper",
        "pvalue",
        "pvalue_adjusted",
        "robustness_value",
    ]
    page = ww.report(tmp_path / "r.html").read_text()
    assert "<h2>The causal graph</h2>" in page and "Which attributes cause engagement" in page


def test_repr_and_report(ww, tmp_path):
    html = ww._repr_html_()
    assert "saves" in html and "<table>" in html
    path = ww.report(tmp_path / "r.html")
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    for title in (
        "Key findings",
        "Effect per outcome",
        "Segment effects",
        "Where a boost pays off: the value of targeting",
        "Trade-offs between outcomes",
        "Robustness, sensitivity and overlap",
        "The causal graph",
        "Methods",
    ):
        assert f"<h2>{title}</h2>" in page
    assert "<script" not in page and "src=" not in page and "<link" not in page


def test_bad_input_is_one_clear_error(content):
    with pytest.raises(causal.MissingColumnError, match="boostd.*Did you mean 'boosted'"):
        causal.what_works(content, _design(treatment="boostd"), progress=False)
    with pytest.raises(causal.MissingColumnError, match="attribute column 'is_vid'"):
        causal.what_works(content, _design(), attributes=["is_vid"], progress=False)
    with pytest.raises(causal.ConfigError, match="'estimator' parameter"):
        causal.what_works(content, _design(), estimator="forest", progress=False)
    text = content.assign(saves=content["saves"].astype(str))
    with pytest.raises(causal.NonNumericColumnError, match="outcome column 'saves'"):
        causal.what_works(text, _design(), progress=False)
    const = content.assign(boosted=1)
    with pytest.raises(causal.ConstantColumnError, match="'boosted' is constant"):
        causal.what_works(const, _design(), progress=False)


def test_continuous_boost_intensity():
    df = causal.simulate_content(n=1_200, seed=6, intensity=True)
    d = causal.Design(
        unit="pin_id",
        treatment="boost_intensity",
        outcomes=["saves"],
        modifiers=["quality_score", "format"],
        confounders=["creator_followers", "prior_impressions", "age_days"],
        treatment_kind="continuous",
    )
    ww = causal.what_works(df, d, estimator="LinearDML", progress=False, n_simulations=10)
    o = ww["saves"]
    assert ww.treatment_kind == "continuous"
    assert o.effect_ci_lower < o.effect < o.effect_ci_upper
    assert len(o.segments) == 0 and "Segment effects and targeting" in ww.methods["absent"]
    assert "per unit of boost_intensity" in ww.findings()[0]
    # like for like: the truth on intensity data is the slope per unit of boost_intensity, and
    # the finding says per unit of what
    assert o.true_effect == pytest.approx(df["true_cate_saves"].mean())
    assert "per unit of boost_intensity; the interval" in ww.findings()[0]


def test_binary_boost_on_intensity_data_is_not_compared_with_the_slope(tmp_path):
    """The 0/1 effect of `boosted` on intensity data is slope x expected intensity, not the
    slope in true_cate_<o>: no truth, no COVERS/MISSES, and a note says why; the file reader
    keeps the column that says what the truth measures. (Plain 0/1 data is still compared:
    test_result_shape_and_truth.)"""
    from causal.workflows._whatworks import SIM_INTENSITY_COLUMN, _load, _truth_columns

    df = causal.simulate_content(n=1_200, seed=6, intensity=True)
    cols = ["pin_id", "true_cate_saves", SIM_INTENSITY_COLUMN]
    assert _truth_columns(cols, ["saves"]) == ["true_cate_saves", SIM_INTENSITY_COLUMN]
    assert _truth_columns(["pin_id", SIM_INTENSITY_COLUMN], ["saves"]) == []
    d = _design(outcomes=["saves"], modifiers=["quality_score", "format"], cluster=None)
    path = tmp_path / "intensity.parquet"
    df.to_parquet(path)
    read, _ = _load(str(path), d, [], None)
    assert {"true_cate_saves", SIM_INTENSITY_COLUMN} <= set(read.columns)
    ww = causal.what_works(df, d, estimator="LinearDML", progress=False, n_simulations=10)
    o = ww["saves"]
    assert o.true_effect is None
    assert len(o.segments) and "true_effect" not in o.segments.columns
    assert not any("Simulated data" in f for f in ww.findings())
    assert any("per unit of boost_intensity, not of boosted" in n for n in ww.warnings)
