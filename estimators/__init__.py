"""sklearn-style heterogeneous-treatment-effect (CATE) estimators.

Imports nothing from ``causal``; usable on its own. EconML's vocabulary:
``fit(Y, T, *, X=None, W=None, sample_weight=None, groups=None)``, ``effect(X)``,
``effect_interval(X, alpha=0.05)``, ``ate()``, ``ate_interval(alpha=0.05)``.

Examples
--------
>>> import numpy as np
>>> import estimators
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(500, 2)); T = rng.integers(0, 2, 500)
>>> Y = X[:, 0] + 2 * T + rng.normal(size=500)
>>> est = estimators.LinearDML(random_state=0).fit(Y, T, X=X)
>>> lo, hi = est.ate_interval()
>>> bool(lo < 2 < hi)
True
"""

from estimators._aipw import (
    ATEResult,
    aipw_scores,
    att_effect,
    cluster_cr2,
    crump_threshold,
    mean_effect_from_scores,
    median_over_splits,
    overlap_weighted_effect,
    plr_ate,
    targeted_outcome_means,
)
from estimators._auto import AutoCate, causal_losses
from estimators._dose import DoseResponse, dose_response
from estimators._errors import (
    EstimatorInputError,
    HighCardinalityWarning,
    NotFittedError,
    OverlapWarning,
)
from estimators._evaluate import Evaluation, evaluate, evaluate_scores
from estimators._learners import (
    CausalForest,
    DRLearner,
    LinearDML,
    SLearner,
    TLearner,
    XLearner,
)
from estimators._linear import wls_robust
from estimators._policy import PolicyResult, policy_tree, target_top_share
from estimators._tradeoff import Tradeoff, tradeoff

__all__ = [
    "ATEResult",
    "AutoCate",
    "CausalForest",
    "DRLearner",
    "EstimatorInputError",
    "LinearDML",
    "NotFittedError",
    "OverlapWarning",
    "SLearner",
    "TLearner",
    "XLearner",
    "aipw_scores",
    "causal_losses",
    "cluster_cr2",
    "mean_effect_from_scores",
    "median_over_splits",
    "plr_ate",
    "targeted_outcome_means",
    "wls_robust",
    "att_effect",
    "crump_threshold",
    "overlap_weighted_effect",
    "HighCardinalityWarning",
    "Evaluation",
    "evaluate",
    "evaluate_scores",
    "PolicyResult",
    "policy_tree",
    "target_top_share",
    "Tradeoff",
    "tradeoff",
    "DoseResponse",
    "dose_response",
]
