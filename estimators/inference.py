"""Specialist access to a fitted estimator's cross-fitted pieces, and the numerics behind them.

Refuters, diagnostics and evaluation code reuse what ``fit`` already computed instead of
refitting: :func:`nuisances` returns the out-of-fold propensities, outcome regressions,
doubly-robust scores and folds of any fitted estimator (AutoCate included) as a frozen
:class:`FittedNuisances`; :func:`make_folds` is the split every estimator cross-fits on
(stratified by arm, clusters kept whole), for code that must cross-fit the same way.

For code that rebuilds :func:`estimators.evaluate`'s tables elsewhere (weighted, on Spark):
:func:`dr_scores` and :func:`honest_cate` (one outcome and arm's scores and out-of-fold CATE),
:func:`aipw_scores` (scores from given nuisances), :func:`frame_like` with :class:`Column`
(new rows in the columns and categories seen in ``fit``), :func:`cluster_cr2` (CR2 variance
and Bell–McCaffrey degrees of freedom), :func:`band_limits` (the sup-t simultaneous band) and
:data:`DEFAULT_SHARES`. They are the functions the estimators themselves use, so a table built
from them equals the estimators' own.

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
from typing import Any, overload

import numpy as np
import pandas as pd

from estimators._aipw import aipw_scores, cluster_cr2
from estimators._errors import EstimatorInputError
from estimators._evaluate import DEFAULT_SHARES
from estimators._inputs import Column, frame_like
from estimators._nuisance import make_folds
from estimators._scores import band_limits

__all__ = [
    "DEFAULT_SHARES",
    "Column",
    "FittedNuisances",
    "aipw_scores",
    "band_limits",
    "cluster_cr2",
    "dr_scores",
    "frame_like",
    "honest_cate",
    "make_folds",
    "nuisances",
]


@overload
def _read_only(a: np.ndarray) -> np.ndarray: ...
@overload
def _read_only(a: None) -> None: ...
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
    x_schema, w_schema : tuple of Column
        The modifier and confounder columns seen in ``fit`` (names, categorical levels), for
        :func:`frame_like`; ``x_schema`` is empty when the model was fitted without ``X``.
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
    x_schema: tuple[Column, ...] = ()
    w_schema: tuple[Column, ...] = ()

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

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import TLearner
    >>> from estimators.inference import nuisances
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(300, 2)); T = rng.integers(0, 2, 300)
    >>> Y = X[:, 0] + T + rng.normal(size=300)
    >>> nu = nuisances(TLearner(random_state=0).fit(Y, T, X=X))
    >>> nu.levels, nu.arm_means.shape, bool(nu.scores.flags.writeable)
    ((0, 1), (300, 1, 2), False)
    """
    ctx = _checked(est, "nuisances")  # NotFittedError before fit
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
        x_schema=tuple(d.x_schema),
        w_schema=tuple(d.w_schema),
    )


def _checked(est: Any, caller: str) -> Any:
    """``est``'s fitted context (NotFittedError before fit), or a clear error for a foreign
    object."""
    from estimators._base import BaseCate

    if not isinstance(est, BaseCate):
        raise EstimatorInputError(
            f"{caller}() needs a fitted estimator from the 'estimators' package (e.g. "
            f"LinearDML, AutoCate); got {type(est).__name__}."
        )
    return est._fitted()


def dr_scores(est: Any, *, outcome: Any = None, T1: Any = None) -> np.ndarray:
    """The cross-fitted doubly-robust (AIPW) scores of one outcome and arm (vs the control).

    The scores ``fit`` computed, with propensities clipped as the estimator's ATE clips them;
    their mean is ``est.ate_inference(outcome=, T1=).effect``. A copy.

    Parameters
    ----------
    est : a fitted estimator of this package with a discrete treatment
    outcome : str, optional
        The outcome's name (needed when several outcomes were fitted).
    T1 : optional
        The arm (needed when the treatment has more than two levels).

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    NotFittedError
        ``est`` is not fitted.
    EstimatorInputError
        A continuous treatment (no per-arm scores: see :func:`estimators.dose_response`), an
        unknown ``outcome`` or ``T1``, or ``est`` is not an estimator of this package.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import LinearDML
    >>> from estimators.inference import dr_scores
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); T = rng.integers(0, 2, 400)
    >>> Y = X[:, 0] + T + rng.normal(size=400)
    >>> est = LinearDML(random_state=0).fit(Y, T, X=X)
    >>> s = dr_scores(est)
    >>> s.shape, bool(np.isclose(s.mean(), est.ate_inference().effect))
    ((400,), True)
    """
    from estimators._evaluate import dr_scores as _dr_scores

    ctx = _checked(est, "dr_scores")
    if ctx.dr is None:
        raise EstimatorInputError(
            "dr_scores() needs a discrete treatment (doubly-robust scores per arm); for a "
            "continuous boost intensity use estimators.dose_response."
        )
    a = est._arm(ctx, None, T1)[0]
    return _dr_scores(ctx, est._outcome_index(ctx, outcome), a)


def honest_cate(est: Any, *, outcome: Any = None, T1: Any = None, folds: Any = None) -> np.ndarray:
    """Out-of-fold CATE predictions on the training rows: no row's prediction used its outcome.

    What :func:`estimators.evaluate` ranks units by on the fitting rows (its first split): a
    forest final stage's out-of-bag predictions; any other final stage refitted on the other
    folds, with the estimator's own cross-fitted nuisances (an AutoCate blend keeps its
    weights). Refits are computed for every outcome at once and kept with the fitted model
    per split, so asking outcome after outcome refits once.

    Parameters
    ----------
    est : a fitted estimator of this package with a discrete treatment and modifiers ``X``
    outcome : str, optional
        The outcome's name (needed when several outcomes were fitted).
    T1 : optional
        The arm (needed when the treatment has more than two levels).
    folds : array-like of int, shape (n,), optional
        The split (e.g. from :func:`make_folds`); default the nuisance folds.

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    NotFittedError
        ``est`` is not fitted.
    EstimatorInputError
        No modifiers (a constant effect has nothing to rank), a continuous treatment,
        ``folds`` of the wrong length or with fewer than two folds, an unknown ``outcome``
        or ``T1``, or ``est`` is not an estimator of this package.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import LinearDML
    >>> from estimators.inference import honest_cate
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); T = rng.integers(0, 2, 400)
    >>> Y = X[:, 0] + T * (1 + X[:, 1]) + rng.normal(size=400)
    >>> tau = honest_cate(LinearDML(random_state=0).fit(Y, T, X=X))
    >>> tau.shape, bool(np.corrcoef(tau, 1 + X[:, 1])[0, 1] > 0.9)
    ((400,), True)
    """
    from estimators._evaluate import honest_cate as _honest_cate

    ctx = _checked(est, "honest_cate")
    if ctx.data.X is None:
        raise EstimatorInputError(
            f"honest_cate() needs a model fitted with modifiers X; this "
            f"{type(est).__name__} was fitted without X, so its effect is one constant "
            "(use est.ate_inference())."
        )
    if not ctx.data.discrete:
        raise EstimatorInputError(
            "honest_cate() needs a discrete treatment (arms vs a control); for a continuous "
            "boost intensity use estimators.dose_response."
        )
    j = est._outcome_index(ctx, outcome)
    a = est._arm(ctx, None, T1)[0]
    if folds is None:
        f = ctx.nuis.folds
    else:
        f = np.asarray(folds).reshape(-1)
        if f.size != ctx.data.n or not np.issubdtype(f.dtype, np.integer):
            raise EstimatorInputError(
                f"folds must be {ctx.data.n} integer fold codes (one per training row); got "
                f"{f.size} values of dtype {f.dtype}. Use estimators.inference.make_folds."
            )
        if np.unique(f).size < 2:
            raise EstimatorInputError("folds must hold at least two folds.")
    return _honest_cate(est, ctx, f, j, a)
