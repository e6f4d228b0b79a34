"""Workflows: orchestrate validation, estimation and statistics into one result."""

from causal.workflows._config import WhatWorksConfig, parse_whatworks_config
from causal.workflows._effects import EffectEstimates, OutcomeEstimate, estimate_effects
from causal.workflows._results import OutcomeEffect, WhatWorks
from causal.workflows._whatworks import what_works

__all__ = [
    "EffectEstimates",
    "OutcomeEffect",
    "OutcomeEstimate",
    "WhatWorks",
    "WhatWorksConfig",
    "estimate_effects",
    "parse_whatworks_config",
    "what_works",
]
