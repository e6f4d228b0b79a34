"""sklearn-style heterogeneous-treatment-effect (CATE) estimators.

Imports nothing from ``causal``; usable on its own.
"""

__all__: list[str] = []
