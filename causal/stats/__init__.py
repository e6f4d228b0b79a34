"""Pure numerics: arrays or aggregates in, frozen result dataclasses out.

Experiment statistics are pure functions of per-arm :class:`Moments` (the aggregate seam):

- :func:`mean_effect`, :func:`ratio_effect` → :class:`EffectResult` (absolute and relative
  effect with intervals, Welch t / z, CUPED, delta method, cluster-robust ratios);
  :func:`effects_vs_control` for multi-arm (each arm vs control);
- :func:`srm_test` → :class:`SRMResult`; :func:`adjust_pvalues` (Holm, BH);
- :func:`noninferiority` → :class:`GuardrailResult`; :func:`decide` → :class:`Decision`;
- :func:`mde`, :func:`sample_size` → :class:`PowerResult` (from pre-period Moments);
- :func:`confidence_sequence` → :class:`ConfidenceSequence` (always valid) and its
  :func:`always_valid_pvalue`;
  :func:`group_sequential_design`, :func:`group_sequential_test` (Lan–DeMets alpha spending).
"""

from causal.stats._decision import decide, noninferiority
from causal.stats._effects import effects_vs_control, mean_effect, ratio_effect
from causal.stats._moments import Moments, merge_moments
from causal.stats._multitest import adjust_pvalues
from causal.stats._power import cuped_variance_reduction, mde, sample_size
from causal.stats._results import (
    ConfidenceSequence,
    Decision,
    EffectResult,
    GroupSequentialDesign,
    GroupSequentialResult,
    GuardrailResult,
    PowerResult,
    SRMResult,
)
from causal.stats._sequential import (
    always_valid_pvalue,
    confidence_sequence,
    group_sequential_design,
    group_sequential_test,
)
from causal.stats._srm import srm_test

__all__ = [
    "ConfidenceSequence",
    "Decision",
    "EffectResult",
    "GroupSequentialDesign",
    "GroupSequentialResult",
    "GuardrailResult",
    "Moments",
    "PowerResult",
    "SRMResult",
    "adjust_pvalues",
    "always_valid_pvalue",
    "confidence_sequence",
    "cuped_variance_reduction",
    "decide",
    "effects_vs_control",
    "group_sequential_design",
    "group_sequential_test",
    "mde",
    "mean_effect",
    "merge_moments",
    "noninferiority",
    "ratio_effect",
    "sample_size",
    "srm_test",
]
