"""Specialist access to a fitted estimator's cross-fitted pieces, and the fold splitter.

Refuters, diagnostics and evaluation code reuse what ``fit`` already computed instead of
refitting: :func:`nuisances` returns the out-of-fold propensities, outcome regressions,
doubly-robust scores and folds of any fitted estimator (AutoCate included) as a frozen
:class:`FittedNuisances`; :func:`make_folds` is the split every estimator cross-fits on
(stratified by arm, clusters kept whole), for code that must cross-fit the same way.

Examples
--------
>>> import numpy as np
>>> from estimators import LinearDML
>>> from estimators.inference import nuisances
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 2)); T = rng.integers(0, 2, 400)
>>> Y = X[:, 0] + T + rng.normal(size=400)
>>> nu = nuisances(LinearDML(random_state=0).fit(Y, T, X=X))
>>> nu.propensity.shape, nu.scores.shape, int(nu.folds.max()) + 1
((400, 2), (400, 1, 1), 5)
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from estimators._errors import EstimatorInputError
from estimators._nuisance import make_folds

__all__ = ["FittedNuisances", "make_folds", "nuisances"]


def _read_only(a: np.ndarray | None) -> np.ndarray | None:
    """A non-writeable view (no copy): the estimator's own arrays cannot be changed through it."""
    if a is None:
        return None
    view = a.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class FittedNuisances:
    """The training data and out-of-fold nuisances of a fitted estimator (read-only views).

    Shapes: ``n`` rows, ``d_y`` outcomes, ``L`` treatment levels (control first), ``k = L - 1``
    arms (1 for a continuous treatment).

    Attributes
    ----------
    outcome_names : tuple of str
    discrete : bool
        Discrete treatment (else continuous).
    levels : tuple
        Treatment levels, control first (discrete); ``()`` when continuous.
    y : ndarray (n, d_y)
    t_codes : ndarray (n,)
        Level index of each row, 0 = control (discrete; empty when continuous).
    t : ndarray (n,)
        Treatment values (continuous; empty when discrete).
    Z : DataFrame (n, p)
        Modifiers X and confounders W side by side, as the nuisance models saw them (shared
        with the estimator: do not modify).
    folds : ndarray (n,)
        Cross-fitting fold of each row.
    outcome_mean : ndarray (n, d_y)
        ``E[Y | Z]`` out of fold.
    propensity : ndarray (n, L) or None
        ``P(T = level | Z)`` out of fold, unclipped (discrete only).
    arm_means : ndarray (n, d_y, L) or None
        ``E[Y | T = level, Z]`` out of fold (discrete only).
    treatment_mean : ndarray (n,) or None
        ``E[T | Z]`` out of fold (continuous only).
    scores : ndarray (n, d_y, k) or None
        Doubly-robust (AIPW) scores of each arm vs control, propensities clipped to
        ``[clip, 1 - clip]`` (discrete only).
    groups : ndarray (n,) or None
        Cluster codes given to ``fit``.
    sample_weight : ndarray (n,) or None
    clip : float
    """

    outcome_names: tuple[str, ...]
    discrete: bool
    levels: tuple[Any, ...]
    y: np.ndarray
    t_codes: np.ndarray
    t: np.ndarray
    Z: pd.DataFrame
    folds: np.ndarray
    outcome_mean: np.ndarray
    propensity: np.ndarray | None
    arm_means: np.ndarray | None
    treatment_mean: np.ndarray | None
    scores: np.ndarray | None
    groups: np.ndarray | None
    sample_weight: np.ndarray | None
    clip: float

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    def to_pandas(self) -> pd.DataFrame:
        """One row per training row: fold, outcome(s), treatment and every nuisance column."""
        cols: dict[str, Any] = {"fold": self.folds}
        if self.groups is not None:
            cols["group"] = self.groups
        if self.discrete:
            cols["treatment"] = np.asarray(self.levels, dtype=object)[self.t_codes]
        else:
            cols["treatment"] = self.t
            assert self.treatment_mean is not None
            cols["E[T|Z]"] = self.treatment_mean
        if self.propensity is not None:
            for a, lev in enumerate(self.levels):
                cols[f"P(T={lev}|Z)"] = self.propensity[:, a]
        for j, name in enumerate(self.outcome_names):
            cols[name] = self.y[:, j]
            cols[f"E[{name}|Z]"] = self.outcome_mean[:, j]
            if self.arm_means is not None:
                for a, lev in enumerate(self.levels):
                    cols[f"E[{name}|T={lev},Z]"] = self.arm_means[:, j, a]
            if self.scores is not None:
                for a, lev in enumerate(self.levels[1:]):
                    cols[f"AIPW {name}: {lev} vs {self.levels[0]}"] = self.scores[:, j, a]
        return pd.DataFrame(cols)

    def _repr_html_(self) -> str:
        cells = [
            ("rows", f"{self.n:,}"),
            ("folds", str(int(np.unique(self.folds).size))),
            ("outcomes", ", ".join(self.outcome_names)),
            (
                "treatment",
                "levels " + ", ".join(map(str, self.levels)) if self.discrete else "continuous",
            ),
            ("clusters", "none" if self.groups is None else f"{np.unique(self.groups).size:,}"),
        ]
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in cells
        )
        return f"<table class='fitted-nuisances'>{rows}</table>"


def nuisances(est: Any) -> FittedNuisances:
    """The cross-fitted nuisances of a fitted estimator (read-only views, no copies).

    Parameters
    ----------
    est : a fitted estimator of this package (CausalForest, LinearDML, DRLearner, X/T/S
        learners, AutoCate)

    Returns
    -------
    FittedNuisances

    Raises
    ------
    NotFittedError
        ``est`` is an estimator of this package that has not been fitted.
    EstimatorInputError
        ``est`` is not an estimator of this package.
    """
    from estimators._base import BaseCate

    if not isinstance(est, BaseCate):
        raise EstimatorInputError(
            f"nuisances() needs a fitted estimator from the 'estimators' package (e.g. "
            f"LinearDML, AutoCate); got {type(est).__name__}."
        )
    ctx = est._fitted()  # NotFittedError before fit
    d, nu = ctx.data, ctx.nuis
    return FittedNuisances(
        outcome_names=tuple(d.outcome_names),
        discrete=bool(d.discrete),
        levels=tuple(d.levels) if d.discrete else (),
        y=_read_only(d.y),
        t_codes=_read_only(d.t_codes),
        t=_read_only(d.t_cont),
        Z=d.Z,
        folds=_read_only(nu.folds),
        outcome_mean=_read_only(nu.m_y),
        propensity=_read_only(nu.e),
        arm_means=_read_only(nu.mu),
        treatment_mean=_read_only(nu.t_hat),
        scores=_read_only(ctx.dr),
        groups=_read_only(d.groups),
        sample_weight=_read_only(d.sample_weight),
        clip=float(ctx.clip),
    )
