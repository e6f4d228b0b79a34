"""Result types render in notebooks: ``_repr_html_`` escaped, one row per field (issue 9)."""

from __future__ import annotations

import math

import pandas as pd

from causal.stats import EffectResult


def test_effect_result_repr_html() -> None:
    r = EffectResult(
        control_mean=1.0,
        treatment_mean=1.5,
        effect=0.5,
        effect_ci_lower=0.25,
        effect_ci_upper=0.75,
        rel_effect=0.5,
        rel_effect_ci_lower=0.2,
        rel_effect_ci_upper=0.8,
        se=0.1276,
        pvalue=1e-4,
        variance_reduction=0.0,
        n_control=100,
        n_treatment=100,
        rel_se=math.nan,
        notes=("a <note> & more",),
    )
    html = r._repr_html_()
    assert "<th style='text-align:left'>effect_ci_upper</th>" in html
    assert ">0.75<" in html and ">0.1276<" in html and ">—<" in html  # NaN as a dash
    assert "a &lt;note&gt; &amp; more" in html and "<note>" not in html


def test_effect_estimates_repr_html() -> None:
    from causal import Design
    from causal.workflows._effects import EffectEstimates, OutcomeEstimate

    o = OutcomeEstimate("saves <x>", "AutoCate", 1.25, 1.0, 1.5, 0.1276, 0.001, true_ate=1.2)
    est = EffectEstimates(
        design=Design("id", "t", ["saves"]),
        effects=pd.DataFrame({"id": [1, 2]}),
        outcomes=(o,),
        score_table=pd.DataFrame(),
    )
    html = est._repr_html_()
    assert "saves &lt;x&gt;" in html and "true_ate" in html and "1.25" in html
    assert "Boost effects (2 items" in html
