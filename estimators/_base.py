"""The shared machinery of every estimator: validation, cross-fitted nuisances, the ATE.

Classes stay thin: each estimator only adds a *final stage* (``_final_fit`` /
``_final_predict``) on top of a :class:`Context` that holds the data and the out-of-fold
nuisances. :class:`~estimators.AutoCate` builds one context and lends it to every candidate, so
the nuisance models are fitted once.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator

from estimators._aipw import (
    ATEResult,
    aipw_scores,
    att_effect,
    crump_threshold,
    mean_effect_from_scores,
    overlap_weighted_effect,
    plr_ate,
    targeted_outcome_means,
)
from estimators._errors import EstimatorInputError, NotFittedError, OverlapWarning
from estimators._inputs import FinalEncoder, Prepared, frame_like, prepare
from estimators._nuisance import NestedFold, Nuisances, crossfit, one_blas_thread
from estimators._params import Integer, Options, Real, check_params, resolve_rng

__all__ = ["BaseCate", "Context", "build_context", "predict_in_batches", "scoring_context"]

#: Refuse to estimate when an arm is this separable from control (out-of-fold AUC of the
#: propensity): treatment is then (almost) determined by the covariates.
MAX_SEPARATION_AUC = 0.99
#: Warn when an arm is this separable from control.
THIN_OVERLAP_AUC = 0.95
#: Warn when more than this share of units has a propensity outside [0.05, 0.95].
THIN_OVERLAP_SHARE = 0.05
#: Above this share of units with an estimated propensity outside [0.05, 0.95] the plain ATE's
#: interval is flagged as unreliable (a stronger ``OverlapWarning`` and ``ATEResult.note``).
#: On ``simulate_content`` at 3,000 pins (bench/RESULTS_estimators.md, session 5) the share is
#: 0.33-0.44 on every one of 100 datasets of the thin design (``overlap=0.005,
#: confounding=2``), where the ATE interval fell short, and 0.15-0.26 on the intermediate
#: design (``overlap=0.02, confounding=1.5``, 40 datasets), 0.03-0.11 on the default (10).
UNRELIABLE_ATE_SHARE = 0.3
#: What the flag says it rests on (the thin design of bench/RESULTS_estimators.md, session 5).
UNRELIABLE_ATE_EVIDENCE = (
    "over 100 simulated datasets with 33-44% of units there, its 95% interval covered the "
    "true ATE 89-94% of the time per outcome (z-scores off-centre by up to +0.47, or 1.2x "
    "wider than nominal); the overlap-weighted ATO's covered its own estimand 89-97%."
)

COMMON_CONSTRAINTS: dict[str, Any] = {
    "cv": Integer(2, 20, allow_none=True),
    "clip": Real(0.0, 0.5, closed="neither"),
    "max_onehot_levels": Integer(1),
    "discrete_treatment": Options((None, True, False)),
    "n_jobs": (Integer(1, allow_none=True), Options((-1,))),
}


def resolve_n_jobs(n_jobs: int | None) -> int:
    """``None`` or ``-1``: every core; otherwise the number given."""
    if n_jobs is None or n_jobs == -1:
        return os.cpu_count() or 1
    return int(n_jobs)


def auto_cv(n: int) -> int:
    """Default number of cross-fitting folds: 5 up to 10k rows, 3 up to 200k, then 2."""
    return 5 if n <= 10_000 else 3 if n <= 200_000 else 2


#: ``effect``/``effect_interval`` predict at most this many rows at a time. Every final stage
#: makes per-row predictions, so batching changes no number; it bounds the temporary copies
#: (LightGBM converts each frame to float64, the S-learner adds a treatment column, several
#: models predict side by side) to a fixed size instead of a multiple of the 1M-row input.
PREDICT_BATCH_ROWS = 200_000


def predict_in_batches(
    predict: Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray | None]],
    Xf: pd.DataFrame,
    batch_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply ``predict`` (frame -> (tau, var or None)) to row batches and stack the results.

    ``batch_rows`` defaults to ``PREDICT_BATCH_ROWS`` (read at call time).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> f = lambda part: (part.to_numpy()[:, :, None] * 2.0, None)
    >>> tau, var = predict_in_batches(f, pd.DataFrame({"a": [1.0, 2.0, 3.0]}), batch_rows=2)
    >>> tau[:, 0, 0].tolist(), var
    ([2.0, 4.0, 6.0], None)
    """
    m = len(Xf)
    batch_rows = batch_rows or PREDICT_BATCH_ROWS
    if m <= batch_rows:
        return predict(Xf)
    taus: list[np.ndarray] = []
    variances: list[np.ndarray | None] = []
    for start in range(0, m, batch_rows):
        tau, var = predict(Xf.iloc[start : start + batch_rows].reset_index(drop=True))
        taus.append(tau)
        variances.append(var)
    if any(v is None for v in variances):
        return np.concatenate(taus), None
    return np.concatenate(taus), np.concatenate([v for v in variances if v is not None])


@dataclass(slots=True)
class Context:
    """Training data, out-of-fold nuisances and the derived residuals / pseudo-outcomes.

    Shapes: ``y_res`` (n, d_y); ``t_res`` (n, k) with k = arms other than control (1 if
    continuous); ``dr`` (n, d_y, k) doubly-robust pseudo-outcomes of each arm vs control
    (discrete only); ``x_num`` (n, p) numeric encoding of X for forests (one-hot kept whole);
    ``x_lin`` (n, p') with the first level of each one-hot dropped, for linear stages.

    High-cardinality categoricals are target-encoded (:class:`FinalEncoder`) per outcome:
    ``x_num_by[j]`` / ``x_lin_by[j]`` encode the training rows out of fold (each cross-fitting
    fold with ranks from the other folds, so no row's code contains its own pseudo-outcome) and
    ``enc_num_by[j]`` / ``enc_lin_by[j]`` encode new rows. ``x_num``, ``x_lin``, ``enc_num``,
    ``enc_lin`` are outcome 0's (the same objects).
    """

    data: Prepared
    nuis: Nuisances
    y_res: np.ndarray
    t_res: np.ndarray
    dr: np.ndarray | None
    enc_num: FinalEncoder
    enc_lin: FinalEncoder
    x_num: np.ndarray
    x_lin: np.ndarray
    clip: float
    n_jobs: int
    seed: int
    x_num_by: list[np.ndarray] | None = None
    x_lin_by: list[np.ndarray] | None = None
    enc_num_by: list[FinalEncoder] | None = None
    enc_lin_by: list[FinalEncoder] | None = None
    #: set on AutoCate's per-fold scoring contexts (:func:`scoring_context`): the fold scored
    scoring_fold: int | None = None

    def __post_init__(self) -> None:
        if self.x_num_by is None:  # one shared encoding (no high-cardinality categorical)
            d_y = self.y_res.shape[1]
            self.x_num_by = [self.x_num] * d_y
            self.x_lin_by = [self.x_lin] * d_y
            self.enc_num_by = [self.enc_num] * d_y
            self.enc_lin_by = [self.enc_lin] * d_y

    @property
    def k(self) -> int:
        return self.t_res.shape[1]

    def features(
        self, kind: str, j: int, *, rows: np.ndarray | None = None, Xf: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Numeric modifiers for outcome ``j``: training ``rows`` (out of fold) or new ``Xf``.

        ``kind`` is ``"num"`` (forests) or ``"lin"`` (linear stages).
        """
        train = self.x_num_by if kind == "num" else self.x_lin_by
        enc = self.enc_num_by if kind == "num" else self.enc_lin_by
        assert train is not None and enc is not None
        if Xf is None:
            assert rows is not None
            return train[j][rows]
        return enc[j].transform(Xf, len(Xf))


def build_context(
    owner: str,
    Y: Any,
    T: Any,
    X: Any,
    W: Any,
    sample_weight: Any,
    groups: Any,
    *,
    cv: int | None,
    clip: float,
    max_onehot_levels: int,
    discrete_treatment: bool | None,
    control: Any,
    nuisance_params: dict[str, Any] | None,
    n_jobs: int | None,
    rng: np.random.Generator,
) -> Context:
    """Validate inputs, cross-fit the nuisances once and derive residuals and pseudo-outcomes."""
    data = prepare(
        Y, T, X, W, sample_weight, groups, discrete_treatment=discrete_treatment, control=control
    )
    jobs = resolve_n_jobs(n_jobs)
    seed = int(rng.integers(0, 2**31 - 1))
    nuis = crossfit(
        data, cv=cv or auto_cv(data.n), seed=seed, n_jobs=jobs, overrides=nuisance_params
    )
    y_res = data.y - nuis.m_y
    dr = None
    if data.discrete:
        assert nuis.e is not None and nuis.mu is not None
        _check_overlap(nuis.e, data.t_codes, clip, data.levels)
        n_levels = len(data.levels)
        onehot = np.eye(n_levels)[data.t_codes]
        t_res = onehot[:, 1:] - nuis.e[:, 1:]
        dr = np.empty((data.n, data.y.shape[1], n_levels - 1))
        for j in range(data.y.shape[1]):
            for a in range(1, n_levels):
                dr[:, j, a - 1] = aipw_scores(
                    data.y[:, j],
                    data.t_codes == a,
                    data.t_codes == 0,
                    nuis.mu[:, j, a],
                    nuis.mu[:, j, 0],
                    nuis.e[:, a],
                    nuis.e[:, 0],
                    clip=clip,
                )
        # the effect signal of each outcome: its pseudo-outcome, averaged over the arms
        signals = [dr[:, j, :].mean(axis=1) for j in range(data.y.shape[1])]
    else:
        assert nuis.t_hat is not None
        t_res = (data.t_cont - nuis.t_hat)[:, None]
        scale = np.mean(t_res[:, 0] ** 2)
        signals = [y_res[:, j] * t_res[:, 0] / scale for j in range(data.y.shape[1])]
    enc_num_by, enc_lin_by, x_num_by, x_lin_by = [], [], [], []
    for signal in signals:
        enc_num = FinalEncoder(data.x_schema, max_onehot_levels, drop_first=False)
        enc_lin = FinalEncoder(data.x_schema, max_onehot_levels, drop_first=True)
        if data.X is None:
            x_num, x_lin = enc_num.transform(None, data.n), enc_lin.transform(None, data.n)
        else:
            enc_num.fit(data.X, signal)
            enc_lin.fit(data.X, signal)
            # out of fold: no training row is encoded with its own pseudo-outcome
            x_num = enc_num.transform_oof(data.X, signal, nuis.folds)
            x_lin = enc_lin.transform_oof(data.X, signal, nuis.folds)
        enc_num_by.append(enc_num)
        enc_lin_by.append(enc_lin)
        x_num_by.append(x_num)
        x_lin_by.append(x_lin)
        if not enc_num.target_encoded:  # the encoding does not depend on the outcome
            break
    d_y = data.y.shape[1]
    if len(x_num_by) < d_y:
        enc_num_by, enc_lin_by = enc_num_by * d_y, enc_lin_by * d_y
        x_num_by, x_lin_by = x_num_by * d_y, x_lin_by * d_y
    return Context(
        data=data,
        nuis=nuis,
        y_res=y_res,
        t_res=t_res,
        dr=dr,
        enc_num=enc_num_by[0],
        enc_lin=enc_lin_by[0],
        x_num=x_num_by[0],
        x_lin=x_lin_by[0],
        clip=clip,
        n_jobs=jobs,
        seed=int(rng.integers(0, 2**31 - 1)),
        x_num_by=x_num_by,
        x_lin_by=x_lin_by,
        enc_num_by=enc_num_by,
        enc_lin_by=enc_lin_by,
    )


def scoring_context(ctx: Context, part: NestedFold) -> Context:
    """A copy of ``ctx`` whose rows outside fold ``part.fold`` carry nested nuisances.

    AutoCate fits each candidate's scoring final stage on ``part.rows`` (the scored rows
    outside the fold) and predicts the fold's scored rows. In the copy, ``part.rows`` hold
    residuals / pseudo-outcomes from models that never saw the fold
    (:func:`~estimators._nuisance.nested_crossfit`), and target-encoded categoricals are
    re-encoded from those pseudo-outcomes (training rows out of their inner fold, the fold's
    rows by an encoder fitted on ``part.rows``), so the fitted stage is a function of the
    other folds' data only. Every other row keeps the values of ``ctx``.
    """
    data = ctx.data
    r = part.rows
    nuis = Nuisances(
        folds=ctx.nuis.folds,
        m_y=ctx.nuis.m_y.copy(),
        e=None if ctx.nuis.e is None else ctx.nuis.e.copy(),
        t_hat=None if ctx.nuis.t_hat is None else ctx.nuis.t_hat.copy(),
        mu=None if ctx.nuis.mu is None else ctx.nuis.mu.copy(),
        mu_models=ctx.nuis.mu_models,
        e_models=ctx.nuis.e_models,
        library=ctx.nuis.library,
        chosen=ctx.nuis.chosen,
    )
    nuis.m_y[r] = part.m_y
    y_res = ctx.y_res.copy()
    y_res[r] = data.y[r] - part.m_y
    t_res = ctx.t_res.copy()
    dr = None if ctx.dr is None else ctx.dr.copy()
    if data.discrete:
        assert nuis.e is not None and nuis.mu is not None and part.e is not None
        assert part.mu is not None and dr is not None
        nuis.e[r] = part.e
        nuis.mu[r] = part.mu
        t_res[r] = np.eye(len(data.levels))[data.t_codes[r]][:, 1:] - part.e[:, 1:]
        for j in range(data.y.shape[1]):
            for a in range(1, len(data.levels)):
                dr[r, j, a - 1] = aipw_scores(
                    data.y[r, j],
                    data.t_codes[r] == a,
                    data.t_codes[r] == 0,
                    part.mu[:, j, a],
                    part.mu[:, j, 0],
                    part.e[:, a],
                    part.e[:, 0],
                    clip=ctx.clip,
                )
    else:
        assert nuis.t_hat is not None and part.t_hat is not None
        nuis.t_hat[r] = part.t_hat
        t_res[r] = (data.t_cont[r] - part.t_hat)[:, None]
    x_num_by, x_lin_by = list(ctx.x_num_by or []), list(ctx.x_lin_by or [])
    encs = ctx.enc_num_by or []
    if data.X is not None and encs and encs[0].target_encoded:
        here = np.flatnonzero(ctx.nuis.folds == part.fold)
        Xr = data.X.iloc[r].reset_index(drop=True)
        Xh = data.X.iloc[here].reset_index(drop=True)
        if dr is not None:
            signals = [dr[r, j, :].mean(axis=1) for j in range(data.y.shape[1])]
        else:
            scale = np.mean(t_res[r, 0] ** 2)
            signals = [y_res[r, j] * t_res[r, 0] / scale for j in range(data.y.shape[1])]
        for j, signal in enumerate(signals):
            for kind, store in (("num", x_num_by), ("lin", x_lin_by)):
                old = encs[j] if kind == "num" else (ctx.enc_lin_by or [])[j]
                enc = FinalEncoder(old.schema, old.max_onehot_levels, drop_first=old.drop_first)
                enc.fit(Xr, signal)
                codes = store[j].copy()
                codes[r] = enc.transform_oof(Xr, signal, part.inner)
                codes[here] = enc.transform(Xh, len(Xh))
                store[j] = codes
    return Context(
        data=data,
        nuis=nuis,
        y_res=y_res,
        t_res=t_res,
        dr=dr,
        enc_num=ctx.enc_num,
        enc_lin=ctx.enc_lin,
        x_num=x_num_by[0],
        x_lin=x_lin_by[0],
        clip=ctx.clip,
        n_jobs=ctx.n_jobs,
        seed=ctx.seed,
        x_num_by=x_num_by,
        x_lin_by=x_lin_by,
        enc_num_by=ctx.enc_num_by,
        enc_lin_by=ctx.enc_lin_by,
        scoring_fold=part.fold,
    )


def _check_overlap(e: np.ndarray, codes: np.ndarray, clip: float, levels: tuple[Any, ...]) -> None:
    """Refuse when an arm is (almost) perfectly separable from control; warn on thin overlap.

    Separability: the out-of-fold AUC of ``e_a / (e_a + e_0)`` for arm ``a`` vs control is at
    least ``MAX_SEPARATION_AUC`` (regularised propensity models rarely reach 0 or 1 even when
    treatment is a deterministic function of X, so the AUC is the reliable signal). Thin
    overlap (a warning): AUC at least ``THIN_OVERLAP_AUC``, any propensity clipped, or more
    than ``THIN_OVERLAP_SHARE`` of units with an arm's propensity outside [0.05, 0.95].
    """
    from scipy.stats import rankdata

    worst_auc = 0.0
    for a in range(1, len(levels)):
        keep = (codes == a) | (codes == 0)
        score = e[keep, a] / np.maximum(e[keep, a] + e[keep, 0], 1e-12)
        pos = codes[keep] == a
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        ranks = rankdata(score)
        auc = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        if auc >= MAX_SEPARATION_AUC:
            raise EstimatorInputError(
                f"No overlap: treatment level {levels[a]!r} vs control {levels[0]!r} is almost "
                f"perfectly predictable from X/W (out-of-fold AUC {auc:.3f}), so no effect is "
                "identified. Drop the columns that determine treatment or restrict the data to "
                "units that could receive either arm."
            )
        worst_auc = max(worst_auc, float(auc))
    clipped = ((e < clip) | (e > 1 - clip)).any(axis=1)
    extreme = ((e < 0.05) | (e > 0.95)).any(axis=1)
    if clipped.any() or extreme.mean() > THIN_OVERLAP_SHARE or worst_auc >= THIN_OVERLAP_AUC:
        worst = int(np.argmax(((e < 0.05) | (e > 0.95)).mean(axis=0)))
        share = float(extreme.mean())
        advice = (
            _unreliable_ate_note(share)
            if share > UNRELIABLE_ATE_SHARE
            else "Effects there rest on extrapolation; consider ate_inference(trim='crump') "
            "(the ATE of the units with overlap) or overlap_weights=True (the ATO); both change "
            "the estimand, which the result records."
        )
        warnings.warn(
            f"Thin overlap: treatment is predictable from X/W (out-of-fold AUC up to "
            f"{worst_auc:.3f}); {share:.1%} of units have an estimated propensity outside "
            f"[0.05, 0.95] (most often for treatment level {levels[worst]!r}); "
            f"{clipped.mean():.1%} were clipped to [{clip:g}, {1 - clip:g}]. {advice}",
            OverlapWarning,
            stacklevel=4,
        )


def extreme_propensity_share(e_pair: np.ndarray) -> float:
    """Share of units whose propensity (arm among arm and control) is outside [0.05, 0.95]."""
    e_pair = np.asarray(e_pair, dtype=float)
    return float(np.mean((e_pair < 0.05) | (e_pair > 0.95))) if e_pair.size else 0.0


def _unreliable_ate_note(share: float) -> str:
    """The caveat of a plain ATE whose units are mostly at extreme propensities."""
    return (
        f"With {share:.0%} of units outside [0.05, 0.95] (more than "
        f"{UNRELIABLE_ATE_SHARE:.0%}) the ATE rests on a few heavily weighted units and its "
        f"interval is unreliable: {UNRELIABLE_ATE_EVIDENCE} Consider "
        "ate_inference(overlap_weights=True) (the overlap-weighted ATO) or "
        "ate_inference(trim='crump') (the ATE of the units with overlap); both change the "
        "estimand, which the result records."
    )


class BaseCate(BaseEstimator):
    """Common API: ``fit``, ``effect``, ``effect_interval``, ``ate``, ``ate_interval``, ``att``.

    A scikit-learn estimator (``sklearn.base.BaseEstimator``): ``get_params``/``set_params``,
    ``sklearn.base.clone``, pipelines/grid search over parameters and the notebook HTML repr
    come from scikit-learn.

    Subclasses define ``__init__`` (storing arguments only), ``_constraints`` and the final
    stage ``_final_fit(ctx, rows) -> state`` / ``_final_predict(state, ctx, Xf, with_var)
    -> (tau, var | None)`` with ``tau`` and ``var`` of shape (m, d_y, k).
    """

    _constraints: ClassVar[dict[str, Any]] = {}
    _supports_continuous: ClassVar[bool] = True
    # constructor arguments every estimator stores
    cv: int | None
    clip: float
    max_onehot_levels: int
    discrete_treatment: bool | None
    control: Any
    nuisance_params: dict[str, Any] | None
    random_state: Any
    n_jobs: int | None
    _supports_intervals: ClassVar[bool] = True

    # ------------------------------------------------------------------ sklearn plumbing
    def set_params(self, **params: Any) -> BaseCate:
        """Set constructor arguments (scikit-learn style); returns self.

        An unknown name raises :class:`EstimatorInputError` (a ``ValueError``, as in
        scikit-learn) listing the valid ones.
        """
        valid = self.get_params(deep=False)
        for key in params:
            if key.split("__", 1)[0] not in valid:
                raise EstimatorInputError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {sorted(valid)}."
                )
        super().set_params(**params)
        return self

    def _check_params(self) -> None:
        constraints = {**COMMON_CONSTRAINTS, **self._constraints}
        values = self.get_params(deep=False)
        check_params(
            type(self).__name__, values, {k: v for k, v in constraints.items() if k in values}
        )

    # ------------------------------------------------------------------ fit
    @one_blas_thread
    def fit(
        self,
        Y: Any,
        T: Any,
        *,
        X: Any = None,
        W: Any = None,
        sample_weight: Any = None,
        groups: Any = None,
    ) -> BaseCate:
        """Fit the estimator.

        Parameters
        ----------
        Y : array-like of shape (n,) or (n, d_y), Series or DataFrame
            One or several outcomes (several share the propensity model).
        T : array-like of shape (n,)
            Binary, multi-valued (labels) or continuous treatment.
        X : array-like or DataFrame of shape (n, p), optional
            Effect modifiers; string / categorical columns are used natively.
        W : array-like or DataFrame, optional
            Confounders used only for adjustment.
        sample_weight : array-like of shape (n,), optional
        groups : array-like of shape (n,), optional
            Cluster ids (e.g. creator): cross-fitting keeps clusters whole and the ATE and
            linear-coefficient intervals are cluster-robust.

        Returns
        -------
        self

        Notes
        -----
        Rows are matched by index, never silently by position: pandas inputs whose indexes
        hold the same labels in another order are aligned when every input is pandas, and
        refused otherwise. String treatment labels need ``control=`` unless one of them is
        ``"control"``. Each arm needs at least 10 units, as in ``causal.validate``.
        """
        self._check_params()
        name = type(self).__name__
        rng = resolve_rng(self.random_state, name)
        ctx = build_context(
            name,
            Y,
            T,
            X,
            W,
            sample_weight,
            groups,
            cv=self.cv,
            clip=self.clip,
            max_onehot_levels=self.max_onehot_levels,
            discrete_treatment=self.discrete_treatment,
            control=self.control,
            nuisance_params=self.nuisance_params,
            n_jobs=self.n_jobs,
            rng=rng,
        )
        self._check_supported(ctx)
        state = self._final_fit(ctx, np.arange(ctx.data.n)) if ctx.data.X is not None else None
        self._set_fitted(ctx, state)
        return self

    def _check_supported(self, ctx: Context) -> None:
        if not ctx.data.discrete and not self._supports_continuous:
            raise EstimatorInputError(
                f"{type(self).__name__} needs a discrete treatment but T is continuous; use "
                "LinearDML or CausalForest (marginal effect, linear in T), or pass "
                "discrete_treatment=True if T takes a few values."
            )

    def _set_fitted(self, ctx: Context, state: Any) -> None:
        d = ctx.data
        self._ctx = ctx
        self._state = state
        self.n_samples_ = d.n
        self.outcome_names_ = list(d.outcome_names)
        self.discrete_treatment_ = d.discrete
        self.treatment_levels_ = list(d.levels)
        self.control_ = d.levels[0] if d.discrete else 0.0
        #: "<arm> vs <control>" for each arm other than control (every effect's label)
        self.contrasts_ = (
            [f"{lev} vs {d.levels[0]}" for lev in d.levels[1:]] if d.discrete else ["T"]
        )
        self.feature_names_in_ = [c.name for c in d.x_schema]
        self.n_clusters_ = None if d.groups is None else int(np.unique(d.groups).size)
        self.propensity_ = None if ctx.nuis.e is None else ctx.nuis.e.copy()
        self.folds_ = ctx.nuis.folds.copy()
        lib = ctx.nuis.library
        self.outcome_models_ = None if lib is None else lib.copy()

    # ------------------------------------------------------------------ final stage hooks
    def _final_fit(self, ctx: Context, rows: np.ndarray) -> Any:
        raise NotImplementedError

    def _final_predict(
        self, state: Any, ctx: Context, Xf: pd.DataFrame, with_var: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def _final_predict_rows(
        self, state: Any, ctx: Context, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Predict for training rows (AutoCate scoring); learners may use out-of-fold values."""
        assert ctx.data.X is not None
        return self._final_predict(
            state, ctx, ctx.data.X.iloc[rows].reset_index(drop=True), with_var=False
        )

    def _out_of_fold_rows(self, state: Any, ctx: Context) -> np.ndarray | None:
        """Stored out-of-sample CATEs of every training row, shape (n, d_y, k), or None.

        Forest final stages return their out-of-bag predictions (each row predicted by the
        trees whose subsample left it out), so ``evaluate`` needs no refit per fold; others
        return None and are refitted on the other folds.
        """
        del state, ctx
        return None

    # ------------------------------------------------------------------ helpers
    def _fitted(self) -> Context:
        if not hasattr(self, "n_samples_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        return self._ctx

    def _arm(self, ctx: Context, T0: Any, T1: Any) -> tuple[int, int, float]:
        """(arm index into k or -1 for control, T0 arm index or -1, continuous scale)."""
        d = ctx.data
        if not d.discrete:
            t0 = 0.0 if T0 is None else float(T0)
            t1 = 1.0 if T1 is None else float(T1)
            return 0, -1, t1 - t0

        def index(v: Any, role: str) -> int:
            if v not in d.levels:
                raise EstimatorInputError(
                    f"{role}={v!r} is not a treatment level; levels are {list(d.levels)}."
                )
            return d.levels.index(v) - 1

        if T1 is None:
            if len(d.levels) > 2:
                raise EstimatorInputError(
                    f"T has {len(d.levels)} levels {list(d.levels)}; pass T1=<arm> (and "
                    f"optionally T0, default the control {d.levels[0]!r}) to say which effect."
                )
            a1 = 0
        else:
            a1 = index(T1, "T1")
        a0 = -1 if T0 is None else index(T0, "T0")
        return a1, a0, 1.0

    @one_blas_thread
    def _tau_var(
        self, X: Any, with_var: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None, Context]:
        ctx = self._fitted()
        d = ctx.data
        if d.X is None:
            if X is not None:
                raise EstimatorInputError(
                    f"{type(self).__name__} was fitted without X, so the effect is constant; "
                    "call effect() without X (or refit with X)."
                )
            tau = np.empty((1, d.y.shape[1], ctx.k))
            const_var = np.empty_like(tau)
            for j in range(d.y.shape[1]):
                for a in range(ctx.k):
                    r = self._ate_one(ctx, j, a, 0.05)
                    tau[0, j, a], const_var[0, j, a] = r.effect, r.se**2
            return tau, const_var, ctx
        if X is None:
            raise EstimatorInputError(
                f"X is required: {type(self).__name__} was fitted with modifiers "
                f"{self.feature_names_in_[:5]}{'...' if len(self.feature_names_in_) > 5 else ''}."
            )
        Xf = frame_like(X, d.x_schema, "X", "x")
        tau, var = predict_in_batches(
            lambda part: self._final_predict(self._state, ctx, part, with_var), Xf
        )
        return tau, var, ctx

    def _shape(self, arr: np.ndarray, ctx: Context, X: Any) -> Any:
        """(m, d_y) -> (m,) for one 1-D outcome; pandas when X is a DataFrame."""
        d = ctx.data
        if isinstance(X, pd.DataFrame):
            if d.y.shape[1] == 1 and not d.y_2d:
                return pd.Series(arr[:, 0], index=X.index, name=d.outcome_names[0])
            return pd.DataFrame(arr, index=X.index, columns=d.outcome_names)
        return arr[:, 0] if (d.y.shape[1] == 1 and not d.y_2d) else arr

    # ------------------------------------------------------------------ public API
    def effect(self, X: Any = None, *, T0: Any = None, T1: Any = None) -> Any:
        """Conditional average treatment effect of ``T1`` vs ``T0`` at each row of ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (m, p)
            Modifiers with the columns seen in ``fit`` (None if fitted without X).
        T0, T1 : optional
            Discrete: treatment levels (default: control and the only other arm).
            Continuous: doses; the effect is ``(T1 - T0) * theta(x)`` (default 0 and 1), i.e.
            the marginal effect, as the final stages are linear in T.

        Returns
        -------
        ndarray of shape (m,) or (m, d_y); a Series/DataFrame indexed like ``X`` when ``X`` is
        a DataFrame (columns: outcome names).
        """
        tau, _, ctx = self._tau_var(X, with_var=False)
        a1, a0, scale = self._arm(ctx, T0, T1)
        out = tau[:, :, a1] * scale
        if a0 >= 0:
            out = out - tau[:, :, a0]
        return self._shape(out, ctx, X)

    def effect_interval(
        self, X: Any = None, *, alpha: float = 0.05, T1: Any = None
    ) -> tuple[Any, Any]:
        """Pointwise ``1 - alpha`` confidence interval of :meth:`effect` (T0 = control).

        Returns
        -------
        (lower, upper), each shaped as :meth:`effect`.
        """
        check_params(type(self).__name__, {"alpha": alpha}, {"alpha": Real(0.0, 1.0)})
        if not self._supports_intervals:
            self._fitted()
            raise NotImplementedError(
                f"{type(self).__name__} has no valid CATE intervals: meta-learner intervals from "
                "a naive bootstrap ignore the cross-fitted nuisances and do not cover. Use "
                "CausalForest, DRLearner or LinearDML for intervals (ate_interval() is valid "
                "for every estimator)."
            )
        tau, var, ctx = self._tau_var(X)
        a1, _, scale = self._arm(ctx, None, T1)
        if var is None:
            raise NotImplementedError(f"{type(self).__name__} gave no variance for intervals.")
        z = float(stats.norm.ppf(1 - alpha / 2))
        half = z * np.sqrt(np.maximum(var[:, :, a1], 0.0)) * abs(scale)
        center = tau[:, :, a1] * scale
        return self._shape(center - half, ctx, X), self._shape(center + half, ctx, X)

    def _population(
        self,
        ctx: Context,
        a: int,
        subset: Any,
        weights: Any,
        trim: Any,
        overlap_weights: bool,
        att: bool,
    ) -> tuple[np.ndarray, np.ndarray | None, str]:
        """(rows used, their weights or None, the estimand's name) for the ATE/ATT options."""
        d = ctx.data
        name = type(self).__name__
        keep = np.ones(d.n, dtype=bool)
        w = None if d.sample_weight is None else d.sample_weight.copy()
        label = "ATT" if att else "ATE"
        if subset is not None:
            keep &= self._per_row(subset, "subset", ctx, boolean=True)
            if not keep.any():
                raise EstimatorInputError("subset selects no rows; pass a mask with some True.")
            label += f" on a subset ({int(keep.sum()):,} of {d.n:,} units)"
        if weights is not None:
            uw = self._per_row(weights, "weights", ctx, boolean=False)
            w = uw if w is None else w * uw
            label = "weighted " + label
        if (trim is not None or overlap_weights) and not d.discrete:
            raise EstimatorInputError(
                "trim= and overlap_weights= need a discrete treatment (they act on the "
                "propensity); T is continuous."
            )
        if (trim is not None or overlap_weights) and att:
            raise EstimatorInputError(
                "trim= and overlap_weights= apply to the ATE; the ATT already weights by the "
                "treated's covariate distribution (use subset= to restrict it)."
            )
        if trim is not None and overlap_weights:
            raise EstimatorInputError(
                "Pass either trim= or overlap_weights=True, not both: each defines its own "
                "target population."
            )
        if trim is not None or overlap_weights:
            assert ctx.nuis.e is not None
            e = ctx.nuis.e
            pair = e[:, a + 1] / np.maximum(e[:, a + 1] + e[:, 0], 1e-12)
            if overlap_weights:  # the weights e(1-e) enter in overlap_weighted_effect
                label = "ATO (overlap weights)" if label == "ATE" else label + ", overlap-weighted"
            else:
                lo, hi = _trim_bounds(trim, pair[keep], name)
                inside = (pair >= lo) & (pair <= hi)
                dropped = int((keep & ~inside).sum())
                keep &= inside
                if keep.sum() < 2:
                    raise EstimatorInputError(
                        f"trim={trim!r} keeps {int(keep.sum())} unit(s); loosen the bounds."
                    )
                label += f" trimmed to {lo:.3g} <= e(x) <= {hi:.3g} ({dropped:,} units dropped"
                label += ": the ATE itself)" if dropped == 0 else ")"
        rows = np.flatnonzero(keep)
        return rows, (None if w is None else w[rows]), label

    def _per_row(self, values: Any, arg: str, ctx: Context, *, boolean: bool) -> np.ndarray:
        """A per-row mask/weight vector, matched to the fitted rows by index when pandas."""
        d = ctx.data
        if (
            isinstance(values, pd.Series | pd.DataFrame)
            and d.index is not None
            and not values.index.equals(d.index)
        ):
            if not (values.index.is_unique and set(values.index) == set(d.index)):
                raise EstimatorInputError(
                    f"{arg} has index labels other than the data's given to fit; pass it "
                    "with the same index (or as a numpy array in the fitted row order)."
                )
            values = values.loc[d.index]
        arr = np.asarray(values).reshape(-1)
        if arr.shape[0] != d.n:
            raise EstimatorInputError(
                f"{arg} has {arr.shape[0]} rows but fit saw {d.n}; pass one value per fitted row."
            )
        if boolean:
            if arr.dtype != bool:
                raise EstimatorInputError(
                    f"{arg} must be a boolean mask (one True/False per fitted row); got "
                    f"dtype {arr.dtype}."
                )
            return arr
        try:
            out = arr.astype(float)
        except (TypeError, ValueError) as exc:
            raise EstimatorInputError(f"{arg} must be numeric; got dtype {arr.dtype}.") from exc
        if not np.isfinite(out).all() or (out < 0).any() or out.sum() <= 0:
            raise EstimatorInputError(f"{arg} must be finite and non-negative with a positive sum.")
        return out

    def _ate_one(
        self,
        ctx: Context,
        j: int,
        a: int,
        alpha: float,
        *,
        subset: Any = None,
        weights: Any = None,
        trim: Any = None,
        overlap_weights: bool = False,
        att: bool = False,
        method: str | None = None,
    ) -> ATEResult:
        method = DEFAULT_ATE_METHOD if method is None else method
        if method not in ATE_METHODS:
            raise EstimatorInputError(f"method must be one of {list(ATE_METHODS)}; got {method!r}.")
        d = ctx.data
        label = f"{d.levels[a + 1]} vs {d.levels[0]}" if d.discrete else "T"
        rows, w, estimand = self._population(ctx, a, subset, weights, trim, overlap_weights, att)
        groups = None if d.groups is None else d.groups[rows]
        if att:
            if not d.discrete:
                raise EstimatorInputError(
                    "att() needs a discrete treatment: with a continuous T there is no single "
                    "treated group (use ate(), the partially-linear effect)."
                )
            assert ctx.nuis.mu is not None and ctx.nuis.e is not None
            res = att_effect(
                d.y[rows, j],
                d.t_codes[rows] == a + 1,
                d.t_codes[rows] == 0,
                ctx.nuis.mu[rows, j, 0],
                ctx.nuis.e[rows, a + 1],
                ctx.nuis.e[rows, 0],
                clip=ctx.clip,
                sample_weight=w,
                groups=groups,
                alpha=alpha,
                outcome=d.outcome_names[j],
                treatment=label,
            )
            return _relabel(res, res.estimand, "ATT score")
        if d.discrete and overlap_weights:
            assert ctx.dr is not None and ctx.nuis.e is not None and ctx.nuis.mu is not None
            e, mu, codes = ctx.nuis.e[rows], ctx.nuis.mu[rows, j], d.t_codes[rows]
            mass = e[:, a + 1] + e[:, 0]
            res = overlap_weighted_effect(
                ctx.dr[rows, j, a],
                e[:, a + 1] / np.maximum(mass, 1e-12),
                tau_hat=mu[:, a + 1] - mu[:, 0],
                is_arm=codes == a + 1,
                in_pair=(codes == a + 1) | (codes == 0),
                pair_mass=mass,
                sample_weight=w,
                groups=groups,
                alpha=alpha,
                outcome=d.outcome_names[j],
                treatment=label,
            )
            return _relabel(res, estimand, "overlap weights")
        if d.discrete and method == "tmle":
            assert ctx.nuis.mu is not None and ctx.nuis.e is not None
            e, mu, codes = ctx.nuis.e[rows], ctx.nuis.mu[rows, j], d.t_codes[rows]
            y = d.y[rows, j]
            is_arm, is_ctl = codes == a + 1, codes == 0
            m1, m0, link = targeted_outcome_means(
                y,
                is_arm,
                is_ctl,
                mu[:, a + 1],
                mu[:, 0],
                e[:, a + 1],
                e[:, 0],
                clip=ctx.clip,
                sample_weight=w,
            )
            scores = aipw_scores(y, is_arm, is_ctl, m1, m0, e[:, a + 1], e[:, 0], clip=ctx.clip)
            res = mean_effect_from_scores(
                scores,
                sample_weight=w,
                groups=groups,
                alpha=alpha,
                outcome=d.outcome_names[j],
                treatment=label,
                estimand=estimand,
            )
            return _relabel(res, estimand, f"TMLE ({link} link)")
        if d.discrete:
            assert ctx.dr is not None
            return mean_effect_from_scores(
                ctx.dr[rows, j, a],
                sample_weight=w,
                groups=groups,
                alpha=alpha,
                outcome=d.outcome_names[j],
                treatment=label,
                estimand=estimand,
            )
        res = plr_ate(
            ctx.y_res[rows, j],
            ctx.t_res[rows, 0],
            sample_weight=w,
            groups=groups,
            alpha=alpha,
            outcome=d.outcome_names[j],
            treatment=label,
        )
        return _relabel(res, estimand, "PLR")

    def _outcome_index(self, ctx: Context, outcome: Any) -> int:
        names = ctx.data.outcome_names
        if outcome is None:
            if len(names) > 1:
                raise EstimatorInputError(
                    f"Several outcomes were fitted ({names}); pass outcome=<name>."
                )
            return 0
        if str(outcome) in names:
            return names.index(str(outcome))
        raise EstimatorInputError(f"outcome={outcome!r} is not one of {names}.")

    def ate_inference(
        self,
        alpha: float = 0.05,
        *,
        T1: Any = None,
        outcome: Any = None,
        subset: Any = None,
        weights: Any = None,
        trim: Any = None,
        overlap_weights: bool = False,
        method: str | None = None,
    ) -> ATEResult:
        """The doubly-robust ATE on the training data with its influence-function inference.

        Discrete treatment: the AIPW estimate from the cross-fitted nuisances (clipped
        propensities), SE from the influence function, summed within clusters when ``groups``
        was given. Continuous treatment: the partially-linear DML coefficient (see
        :func:`estimators.plr_ate`).

        Parameters
        ----------
        alpha : float
        T1 : optional
            The arm (multi-valued treatments).
        outcome : str, optional
            The outcome, when several were fitted.
        subset : array-like of bool, shape (n,), optional
            Average only over these fitted rows (e.g. one format): the ATE of that subgroup.
        weights : array-like of shape (n,), optional
            Average with these non-negative weights (times ``sample_weight``).
        trim : {"crump"}, float, (float, float) or None
            Drop units whose propensity (of the arm among arm and control) is outside bounds:
            ``"crump"`` the rule of Crump et al. (2009) (:func:`estimators.crump_threshold`),
            a float ``a`` for ``[a, 1 - a]``, a pair for ``[low, high]``. **The estimand
            changes** to the ATE of the units kept; ``result.estimand`` says which.
        overlap_weights : bool
            Weight units by ``e (1 - e)``: the overlap-weighted effect (ATO, Li, Morgan &
            Zaslavsky 2018) — also a different estimand, named in ``result.estimand``.
        method : {"aipw", "tmle"} or None
            Discrete treatment: ``"aipw"``, the mean of the doubly-robust scores, or
            ``"tmle"``, the outcome means first targeted along the clever covariate ``1/e``
            (one fluctuation per arm; log link for non-negative outcomes, see
            :func:`estimators.targeted_outcome_means`). None: :data:`DEFAULT_ATE_METHOD`.
            ``result.method`` records it. Ignored with ``overlap_weights`` and for ATTs.

        Returns
        -------
        ATEResult
            ``effect``, interval, ``se``, ``pvalue``, ``contrast`` ("<arm> vs <control>"),
            ``n`` and ``estimand``; prints and renders in notebooks.

        Examples
        --------
        >>> import numpy as np, estimators
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(600, 2)); T = rng.integers(0, 2, 600)
        >>> Y = X[:, 0] + 2 * T + rng.normal(size=600)
        >>> est = estimators.LinearDML(cv=2, random_state=0).fit(Y, T, X=X)
        >>> r = est.ate_inference(trim="crump")
        >>> r.contrast, r.estimand.startswith("ATE")
        ('1 vs 0', True)
        """
        check_params(type(self).__name__, {"alpha": alpha}, {"alpha": Real(0.0, 1.0)})
        ctx = self._fitted()
        a1, _, _ = self._arm(ctx, None, T1)
        j = self._outcome_index(ctx, outcome)
        res = self._ate_one(
            ctx,
            j,
            a1,
            alpha,
            subset=subset,
            weights=weights,
            trim=trim,
            overlap_weights=overlap_weights,
            method=method,
        )
        if trim is not None or overlap_weights or not ctx.data.discrete:
            return res
        # the ATE (or a subset's / weighted one): flag it when overlap is too thin for its interval
        assert ctx.nuis.e is not None
        rows = self._population(ctx, a1, subset, None, None, False, False)[0]
        e = ctx.nuis.e[rows]
        share = extreme_propensity_share(e[:, a1 + 1] / np.maximum(e[:, a1 + 1] + e[:, 0], 1e-12))
        if share <= UNRELIABLE_ATE_SHARE:
            return res
        from dataclasses import replace

        return replace(res, note=_unreliable_ate_note(share))

    def att_inference(
        self,
        alpha: float = 0.05,
        *,
        T1: Any = None,
        outcome: Any = None,
        subset: Any = None,
        weights: Any = None,
    ) -> ATEResult:
        """The doubly-robust effect on the treated (ATT) with its influence-function inference.

        The ATTE score of DoubleML (Hahn 1998; :func:`estimators.att_effect`) from the shared
        cross-fitted nuisances: the effect on the units that did receive the arm (the boosted
        content), cluster-robust (CR2, Bell–McCaffrey t) under ``groups`` as :meth:`ate`.
        ``subset``/``weights`` as in :meth:`ate_inference` (the ATT of the treated in the
        subset).

        Returns
        -------
        ATEResult
            With ``estimand="ATT"``.
        """
        check_params(type(self).__name__, {"alpha": alpha}, {"alpha": Real(0.0, 1.0)})
        ctx = self._fitted()
        a1, _, _ = self._arm(ctx, None, T1)
        j = self._outcome_index(ctx, outcome)
        return self._ate_one(ctx, j, a1, alpha, subset=subset, weights=weights, att=True)

    def _ate_all(
        self, alpha: float, T1: Any, **options: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Context]:
        check_params(type(self).__name__, {"alpha": alpha}, {"alpha": Real(0.0, 1.0)})
        ctx = self._fitted()
        a1, _, _ = self._arm(ctx, None, T1)
        res = [self._ate_one(ctx, j, a1, alpha, **options) for j in range(ctx.data.y.shape[1])]
        return (
            np.array([r.effect for r in res]),
            np.array([r.effect_ci_lower for r in res]),
            np.array([r.effect_ci_upper for r in res]),
            ctx,
        )

    def _ate_shape(self, arr: np.ndarray, ctx: Context) -> Any:
        d = ctx.data
        if d.y.shape[1] == 1 and not d.y_2d:
            return float(arr[0])
        return pd.Series(arr, index=d.outcome_names) if d.y_pandas else arr

    def ate(
        self,
        *,
        T1: Any = None,
        subset: Any = None,
        weights: Any = None,
        trim: Any = None,
        overlap_weights: bool = False,
    ) -> Any:
        """Doubly-robust ATE on the training data (float; per outcome if several).

        See :meth:`ate_inference` for how it is computed, the options (a subgroup, weights,
        trimming, overlap weights) and the result object with SE, p-value and contrast label.
        """
        eff, _, _, ctx = self._ate_all(
            0.05, T1, subset=subset, weights=weights, trim=trim, overlap_weights=overlap_weights
        )
        return self._ate_shape(eff, ctx)

    def ate_interval(
        self,
        alpha: float = 0.05,
        *,
        T1: Any = None,
        subset: Any = None,
        weights: Any = None,
        trim: Any = None,
        overlap_weights: bool = False,
    ) -> tuple[Any, Any]:
        """``1 - alpha`` interval of :meth:`ate` from the influence function (cluster-robust
        with ``groups``) — not the conservative average of CATE intervals (econml #479)."""
        _, lo, hi, ctx = self._ate_all(
            alpha, T1, subset=subset, weights=weights, trim=trim, overlap_weights=overlap_weights
        )
        return self._ate_shape(lo, ctx), self._ate_shape(hi, ctx)

    def att(self, *, T1: Any = None, subset: Any = None, weights: Any = None) -> Any:
        """Doubly-robust ATT on the training data (float; per outcome if several).

        See :meth:`att_inference`.
        """
        eff, _, _, ctx = self._ate_all(0.05, T1, subset=subset, weights=weights, att=True)
        return self._ate_shape(eff, ctx)

    def att_interval(
        self, alpha: float = 0.05, *, T1: Any = None, subset: Any = None, weights: Any = None
    ) -> tuple[Any, Any]:
        """``1 - alpha`` interval of :meth:`att` (influence function; CR2 under ``groups``)."""
        _, lo, hi, ctx = self._ate_all(alpha, T1, subset=subset, weights=weights, att=True)
        return self._ate_shape(lo, ctx), self._ate_shape(hi, ctx)


def _relabel(res: ATEResult, estimand: str, method: str | None = None) -> ATEResult:
    from dataclasses import replace

    if method is None:
        return replace(res, estimand=estimand)
    return replace(res, estimand=estimand, method=method)


#: How ``ate()``/``ate_interval()``/``ate_inference()`` compute a discrete treatment's ATE:
#: "aipw" (mean of the doubly-robust scores) or "tmle" (outcome means first targeted along the
#: clever covariate, :func:`estimators.targeted_outcome_means`; log link for non-negative
#: outcomes). See ``ate_inference(method=...)``.
ATE_METHODS = ("aipw", "tmle")
DEFAULT_ATE_METHOD = "aipw"


def _trim_bounds(trim: Any, pair: np.ndarray, name: str) -> tuple[float, float]:
    """``trim`` ("crump", a float ``a`` or a pair) as ``(low, high)`` propensity bounds."""
    if isinstance(trim, str):
        if trim != "crump":
            raise EstimatorInputError(
                f"The 'trim' parameter of {name} must be 'crump', a float in (0, 0.5) or a "
                f"(low, high) pair. Got {trim!r} instead."
            )
        a = crump_threshold(pair)
        return a, 1.0 - a
    if isinstance(trim, int | float) and not isinstance(trim, bool) and 0 < trim < 0.5:
        return float(trim), 1.0 - float(trim)
    if (
        isinstance(trim, tuple | list)
        and len(trim) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in trim)
        and 0 <= trim[0] < trim[1] <= 1
    ):
        return float(trim[0]), float(trim[1])
    raise EstimatorInputError(
        f"The 'trim' parameter of {name} must be 'crump', a float in (0, 0.5) or a (low, high) "
        f"pair with 0 <= low < high <= 1. Got {trim!r} instead."
    )
