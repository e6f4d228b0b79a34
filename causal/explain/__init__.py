"""SHAP for fitted effect models: which modifiers make the treatment effect vary, and how much.

Data scientists use SHAP on prediction models every day, then read "what predicts saves" as
"what makes a boost work". This package explains the *treatment effect* (the CATE) instead, and
puts the two side by side (:func:`compare`).

How: the effect model's ``effect(X)`` is distilled into a compact LightGBM surrogate, chosen as
the cheapest that reaches the target fidelity (held-out R^2 against the CATE, reported as
``Explanation.fidelity``; below ``min_fidelity`` we refuse or fall back to permutation SHAP).
Its SHAP values are exact: path-dependent TreeSHAP by default (lookup tables for depth-3 trees,
~10x faster than LightGBM's own), interventional on request. Categorical modifiers are one
feature each.

Nothing heavy is imported until used: shap, lightgbm and matplotlib load inside the functions.

Examples
--------
>>> import causal, estimators
>>> from causal.explain import explain
>>> df = causal.simulate_content(n=2000, seed=1)
>>> X = df[["quality_score", "age_days", "format", "creator_followers"]]
>>> est = estimators.LinearDML(random_state=0).fit(df["saves"], df["boosted"], X=X)
>>> ex = explain(est, X)
>>> ex.importance()["feature"].tolist()[0] in X.columns
True
"""

from causal.explain._compare import ImportanceComparison, compare
from causal.explain._explain import (
    DEFAULT_MIN_FIDELITY,
    DEFAULT_TARGET_FIDELITY,
    Explanation,
    FidelityWarning,
    LowFidelityError,
    SegmentExplanation,
    explain,
)

__all__ = [
    "DEFAULT_MIN_FIDELITY",
    "DEFAULT_TARGET_FIDELITY",
    "Explanation",
    "FidelityWarning",
    "ImportanceComparison",
    "LowFidelityError",
    "SegmentExplanation",
    "compare",
    "explain",
]
