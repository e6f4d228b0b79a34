"""Pure numerics: arrays or aggregates in, frozen result dataclasses out."""

from causal.stats._moments import Moments, merge_moments

__all__ = ["Moments", "merge_moments"]
