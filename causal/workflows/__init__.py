"""Workflows: orchestrate validation, estimation and statistics into one result."""

from causal.workflows._effects import EffectEstimates, OutcomeEstimate, estimate_effects

__all__ = ["EffectEstimates", "OutcomeEstimate", "estimate_effects"]
