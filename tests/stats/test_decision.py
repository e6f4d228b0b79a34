"""Non-inferiority against its closed form (scipy t/normal); the decision rule."""

import math

import numpy as np
import pytest
from scipy import stats

from causal import ConfigError
from causal.stats import (
    EffectResult,
    Moments,
    decide,
    mean_effect,
    noninferiority,
    srm_test,
)

EXACT = 1e-12  # same closed form on both sides


def _result(effect, se, *, rel=None, rel_se=None, pvalue=0.5, df=math.inf):
    rel = effect / 10 if rel is None else rel
    rel_se = se / 10 if rel_se is None else rel_se
    return EffectResult(
        10.0, 10.0 + effect, effect, effect - 2 * se, effect + 2 * se, rel, rel - 2 * rel_se,
        rel + 2 * rel_se, se, pvalue, 0.0, 1000, 1000, rel_se=rel_se, df=df,
    )  # fmt: skip


def test_noninferiority_bound_and_pvalue_closed_form():
    rng = np.random.default_rng(0)
    c = Moments.from_array(rng.normal(100, 20, 800), ("t",))
    t = Moments.from_array(rng.normal(99, 20, 900), ("t",))
    r = mean_effect(c, t, column="t")
    g = noninferiority(r, margin=0.03, metric="time")
    q = stats.t.ppf(1 - 0.025, r.df)
    np.testing.assert_allclose(g.bound, r.rel_effect - q * r.rel_se, rtol=EXACT)
    np.testing.assert_allclose(
        g.pvalue, stats.t.sf((r.rel_effect + 0.03) / r.rel_se, r.df), rtol=EXACT
    )
    assert g.non_inferior == (g.bound > -0.03) == (g.pvalue < 0.025)
    # default alpha = result.alpha / 2: the bound is the reported two-sided interval's bound
    np.testing.assert_allclose(g.bound, r.rel_effect_ci_lower, rtol=EXACT)


def test_noninferiority_directions_and_absolute():
    harm_up = _result(0.5, 0.1)  # e.g. hides went up by 0.5 (se 0.1)
    assert not noninferiority(
        harm_up, margin=0.4, relative=False, direction="decrease"
    ).non_inferior
    assert noninferiority(harm_up, margin=0.8, relative=False, direction="decrease").non_inferior
    assert noninferiority(harm_up, margin=0.1, relative=False, direction="increase").non_inferior
    down = _result(-0.5, 0.1)
    g = noninferiority(down, margin=0.4, relative=False, alpha=0.05)
    np.testing.assert_allclose(g.bound, -0.5 - stats.norm.ppf(0.95) * 0.1, rtol=EXACT)
    assert not g.non_inferior


def test_noninferiority_undefined_relative_and_bad_margin():
    r = _result(0.1, 0.05, rel=math.nan, rel_se=math.nan)
    g = noninferiority(r, margin=0.05)
    assert not g.non_inferior and math.isnan(g.pvalue)
    with pytest.raises(ConfigError, match="margin"):
        noninferiority(r, margin=-0.1, metric="latency")
    with pytest.raises(ConfigError, match="direction"):
        noninferiority(r, margin=0.1, direction="up")


def test_decision_rule():
    win = _result(0.5, 0.1, pvalue=1e-6)
    flat = _result(0.01, 0.1, pvalue=0.9)
    lose = _result(-0.5, 0.1, pvalue=1e-6)
    held = noninferiority(_result(0.0, 0.001), margin=0.01, metric="latency")
    broke = noninferiority(_result(-0.5, 0.1), margin=0.01, metric="crashes")
    assert decide({"saves": win}, [held]).decision == "ship"
    d = decide({"saves": win}, [held, broke])
    assert d.decision == "no_ship" and d.failed_guardrails == ("crashes",)
    assert decide({"saves": flat}, [held]).decision == "no_ship"
    d = decide({"saves": win, "clicks": lose}, [held])
    assert d.decision == "no_ship" and d.losers == ("clicks",)
    # lower is better for hides: a significant drop is a win
    assert decide({"hides": lose}, directions={"hides": "decrease"}).decision == "ship"
    # adjusted p-values are used when given
    assert decide({"saves": win}, pvalues_adjusted={"saves": 0.2}).decision == "no_ship"


def test_srm_failure_means_untrustworthy():
    srm = srm_test({"control": 10_000, "treatment": 11_000})
    d = decide({"saves": _result(0.5, 0.1, pvalue=1e-9)}, srm=srm)
    assert d.decision == "untrustworthy" and "do not decide" in d.reason
    assert d.to_dict()["decision"] == "untrustworthy"
    ok = srm_test({"control": 10_000, "treatment": 10_010})
    assert decide({"saves": _result(0.5, 0.1, pvalue=1e-9)}, srm=ok).decision == "ship"


def test_success_metric_not_estimated_blocks_ship():
    win = _result(0.5, 0.1, pvalue=1e-9)
    missing = _result(math.nan, math.nan, pvalue=math.nan)
    d = decide({"saves": win, "ctr": missing})
    assert d.decision == "untrustworthy" and d.not_estimated == ("ctr",)
    assert "ctr" in d.reason and "could not be estimated" in d.reason
    # a conclusive loss still says no_ship (the missing metric cannot rescue it)
    lose = _result(-0.5, 0.1, pvalue=1e-9)
    assert decide({"saves": lose, "ctr": missing}).decision == "no_ship"
