"""The shared machinery of every estimator: validation, cross-fitted nuisances, the ATE.

Classes stay thin: each estimator only adds a *final stage* (``_final_fit`` /
``_final_predict``) on top of a :class:`Context` that holds the data and the out-of-fold
nuisances. :class:`~estimators.AutoCate` builds one context and lends it to every candidate, so
the nuisance models are fitted once.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from estimators._aipw import ATEResult, aipw_scores, mean_effect_from_scores, plr_ate
from estimators._errors import EstimatorInputError, NotFittedError, OverlapWarning
from estimators._inputs import FinalEncoder, Prepared, frame_like, prepare
from estimators._nuisance import Nuisances, crossfit, one_blas_thread
from estimators._params import Integer, Options, Real, check_params, resolve_rng

__all__ = ["BaseCate", "Context", "build_context", "predict_in_batches"]

#: Refuse to estimate when an arm is this separable from control (out-of-fold AUC of the
#: propensity): treatment is then (almost) determined by the covariates.
MAX_SEPARATION_AUC = 0.99
#: Warn when an arm is this separable from control.
THIN_OVERLAP_AUC = 0.95
#: Warn when more than this share of units has a propensity outside [0.05, 0.95].
THIN_OVERLAP_SHARE = 0.05

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

    @property
    def k(self) -> int:
        return self.t_res.shape[1]


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
        signal = dr[:, 0, 0]
    else:
        assert nuis.t_hat is not None
        t_res = (data.t_cont - nuis.t_hat)[:, None]
        signal = y_res[:, 0] * t_res[:, 0] / np.mean(t_res[:, 0] ** 2)
    enc_num = FinalEncoder(data.x_schema, max_onehot_levels, drop_first=False)
    enc_lin = FinalEncoder(data.x_schema, max_onehot_levels, drop_first=True)
    if data.X is not None:
        enc_num.fit(data.X, signal)
        enc_lin.fit(data.X, signal)
    return Context(
        data=data,
        nuis=nuis,
        y_res=y_res,
        t_res=t_res,
        dr=dr,
        enc_num=enc_num,
        enc_lin=enc_lin,
        x_num=enc_num.transform(data.X, data.n),
        x_lin=enc_lin.transform(data.X, data.n),
        clip=clip,
        n_jobs=jobs,
        seed=int(rng.integers(0, 2**31 - 1)),
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
        warnings.warn(
            f"Thin overlap: treatment is predictable from X/W (out-of-fold AUC up to "
            f"{worst_auc:.3f}); {extreme.mean():.1%} of units have an estimated propensity outside "
            f"[0.05, 0.95] (most often for treatment level {levels[worst]!r}); "
            f"{clipped.mean():.1%} were clipped to [{clip:g}, {1 - clip:g}]. Effects there rest "
            "on extrapolation; consider trimming those units.",
            OverlapWarning,
            stacklevel=4,
        )


class BaseCate:
    """Common API: ``fit``, ``effect``, ``effect_interval``, ``ate``, ``ate_interval``.

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
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (scikit-learn style)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {p: getattr(self, p) for p in names}

    def set_params(self, **params: Any) -> BaseCate:
        """Set constructor arguments (scikit-learn style); returns self."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise EstimatorInputError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {sorted(valid)}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__).parameters
        changed = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if sig[k].default is not inspect.Parameter.empty
            and v is not sig[k].default
            and not (isinstance(v, int | float | str) and v == sig[k].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _check_params(self) -> None:
        constraints = {**COMMON_CONSTRAINTS, **self._constraints}
        values = self.get_params()
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

    def _ate_one(self, ctx: Context, j: int, a: int, alpha: float) -> ATEResult:
        d = ctx.data
        label = f"{d.levels[a + 1]} vs {d.levels[0]}" if d.discrete else "T"
        if d.discrete:
            assert ctx.dr is not None
            return mean_effect_from_scores(
                ctx.dr[:, j, a],
                sample_weight=d.sample_weight,
                groups=d.groups,
                alpha=alpha,
                outcome=d.outcome_names[j],
                treatment=label,
            )
        return plr_ate(
            ctx.y_res[:, j],
            ctx.t_res[:, 0],
            sample_weight=d.sample_weight,
            groups=d.groups,
            alpha=alpha,
            outcome=d.outcome_names[j],
            treatment=label,
        )

    def ate_inference(
        self, alpha: float = 0.05, *, T1: Any = None, outcome: Any = None
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

        Returns
        -------
        ATEResult
        """
        check_params(type(self).__name__, {"alpha": alpha}, {"alpha": Real(0.0, 1.0)})
        ctx = self._fitted()
        a1, _, _ = self._arm(ctx, None, T1)
        names = ctx.data.outcome_names
        if outcome is None:
            if len(names) > 1:
                raise EstimatorInputError(
                    f"Several outcomes were fitted ({names}); pass outcome=<name>."
                )
            j = 0
        elif str(outcome) in names:
            j = names.index(str(outcome))
        else:
            raise EstimatorInputError(f"outcome={outcome!r} is not one of {names}.")
        return self._ate_one(ctx, j, a1, alpha)

    def _ate_all(self, alpha: float, T1: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, Context]:
        check_params(type(self).__name__, {"alpha": alpha}, {"alpha": Real(0.0, 1.0)})
        ctx = self._fitted()
        a1, _, _ = self._arm(ctx, None, T1)
        res = [self._ate_one(ctx, j, a1, alpha) for j in range(ctx.data.y.shape[1])]
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

    def ate(self, *, T1: Any = None) -> Any:
        """Doubly-robust ATE on the training data (float; per outcome if several).

        See :meth:`ate_inference` for how it is computed.
        """
        eff, _, _, ctx = self._ate_all(0.05, T1)
        return self._ate_shape(eff, ctx)

    def ate_interval(self, alpha: float = 0.05, *, T1: Any = None) -> tuple[Any, Any]:
        """``1 - alpha`` interval of :meth:`ate` from the influence function (cluster-robust
        with ``groups``) — not the conservative average of CATE intervals (econml #479)."""
        _, lo, hi, ctx = self._ate_all(alpha, T1)
        return self._ate_shape(lo, ctx), self._ate_shape(hi, ctx)
