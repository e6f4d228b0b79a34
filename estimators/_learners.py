"""The estimator family: CausalForest, LinearDML, DRLearner, XLearner, TLearner, SLearner.

Every estimator shares the same first stage (cross-fitted LightGBM nuisances, see
``_nuisance.py``) and differs only in its final stage:

============  ===========================================================  ==============
estimator     final stage                                                   CATE intervals
============  ===========================================================  ==============
CausalForest  econml ``grf.CausalForest`` (the final model of econml's      honest forest
              ``CausalForestDML``) on the residuals ``(y~, t~)``            (not cluster-robust)
LinearDML     WLS of ``y~`` on ``t~ x [1, X]`` (econml ``LinearDML``)       HC1 / cluster CR1
DRLearner     econml ``grf.RegressionForest`` (``final="forest"``) or WLS   honest forest /
              (``final="linear"``) on the AIPW pseudo-outcomes              HC1 / CR1
XLearner      LightGBM on imputed effects, blended by the propensity       DR forest's
TLearner      difference of the per-arm LightGBM outcome models            DR forest's
SLearner      one LightGBM with T as a feature                             DR forest's
============  ===========================================================  ==============

``ate()`` / ``ate_interval()`` are the doubly-robust ATE for all of them. "DR forest's": the
meta-learners have no valid variance of their own; their interval is that of an honest forest
on the shared doubly-robust pseudo-outcomes (``estimators._intervals``), centred on that
forest's estimate (which can differ from ``effect()``); cluster-robust with ``groups``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from estimators._base import BaseCate, Context
from estimators._linear import wls_robust
from estimators._nuisance import (
    fit_regressor,
    lgbm_params,
    run_tasks,
)
from estimators._params import Integer, Options, Real

__all__ = ["CausalForest", "DRLearner", "LinearDML", "SLearner", "TLearner", "XLearner"]

#: Rows per tree above which the forests subsample (``max_samples="auto"``): bounds a forest's
#: cost (25k rows per tree took 35 s for 100 trees on 1M rows, 2 idle cores). Honest forests
#: with intervals need a fraction <= 0.5.
FOREST_ROWS_PER_TREE = 10_000

_FOREST_CONSTRAINTS: dict[str, Any] = {
    "n_estimators": Integer(4),
    "min_samples_leaf": Integer(1),
    "max_depth": Integer(1, allow_none=True),
    "max_samples": (Real(0.0, 0.5, closed="right"), Options(("auto",))),
}


def _forest_kwargs(est: Any, n_rows: int, seed: int, n_jobs: int) -> dict[str, Any]:
    frac = est.max_samples
    if frac == "auto":
        frac = min(0.45, FOREST_ROWS_PER_TREE / max(n_rows, 1))
    n_trees = int(np.ceil(est.n_estimators / 4) * 4)  # a multiple of econml's subforest_size
    return {
        "n_estimators": n_trees,
        "min_samples_leaf": est.min_samples_leaf,
        "max_depth": est.max_depth,
        "max_samples": float(frac),
        "honest": True,
        "inference": True,
        "n_jobs": n_jobs,
        "random_state": seed,
    }


def _weights(ctx: Context, rows: np.ndarray) -> np.ndarray | None:
    sw = ctx.data.sample_weight
    return None if sw is None else sw[rows]


def _design(phi: np.ndarray, t_res: np.ndarray) -> np.ndarray:
    """``[t~_1 * phi, ..., t~_k * phi]`` of shape (m, k * q)."""
    return np.hstack([t_res[:, [a]] * phi for a in range(t_res.shape[1])])


def _with_intercept(x: np.ndarray) -> np.ndarray:
    return np.hstack([np.ones((x.shape[0], 1)), x])


def _linear_predict(
    coefs: list[tuple[np.ndarray, np.ndarray]], phi: np.ndarray | list[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-outcome linear effects; ``phi`` is one design for all outcomes or one per outcome."""
    phis = phi if isinstance(phi, list) else [phi] * len(coefs)
    m, q = phis[0].shape
    tau = np.empty((m, len(coefs), k))
    var = np.empty_like(tau)
    for j, (coef, cov) in enumerate(coefs):
        phi = phis[j]
        for a in range(k):
            sl = slice(a * q, (a + 1) * q)
            tau[:, j, a] = phi @ coef[sl]
            var[:, j, a] = np.einsum("ij,jk,ik->i", phi, cov[sl, sl], phi)
    return tau, var


class _Common(BaseCate):
    """Stores the arguments every estimator shares (see the subclasses' docstrings)."""

    def _store_common(
        self,
        cv: int | None,
        clip: float,
        max_onehot_levels: int,
        discrete_treatment: bool | None,
        control: Any,
        nuisance_params: dict[str, Any] | None,
        random_state: Any,
        n_jobs: int | None,
    ) -> None:
        self.cv = cv
        self.clip = clip
        self.max_onehot_levels = max_onehot_levels
        self.discrete_treatment = discrete_treatment
        self.control = control
        self.nuisance_params = nuisance_params
        self.random_state = random_state
        self.n_jobs = n_jobs


Features = Callable[[str, int], np.ndarray]


class _Encoded(_Common):
    """Final stages on the numeric encoding of X (:meth:`Context.features`), per outcome.

    Training rows are predicted from their out-of-fold encoding (AutoCate's scoring), new rows
    from the encoders fitted on every row, so no row is scored with a code built from its own
    pseudo-outcome.
    """

    def _predict_encoded(
        self, state: Any, ctx: Context, feats: Features, m: int, with_var: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def _final_predict(
        self, state: Any, ctx: Context, Xf: pd.DataFrame, with_var: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        return self._predict_encoded(
            state, ctx, lambda kind, j: ctx.features(kind, j, Xf=Xf), len(Xf), with_var
        )

    def _final_predict_rows(
        self, state: Any, ctx: Context, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        return self._predict_encoded(
            state, ctx, lambda kind, j: ctx.features(kind, j, rows=rows), len(rows), False
        )


_COMMON_DOC = """
    cv : int or None, default None
        Cross-fitting folds (None: 5 up to 10k rows, 3 up to 200k, else 2). With ``groups``
        the folds keep clusters whole.
    clip : float, default 0.01
        Propensities are clipped to ``[clip, 1 - clip]`` in the doubly-robust scores.
    max_onehot_levels : int, default 10
        Categorical modifiers with at most this many levels are one-hot encoded for numeric
        final stages; more levels become one code ordered by the level's mean effect signal.
        LightGBM nuisance models always use the categories natively.
    discrete_treatment : bool or None, default None
        None: T is discrete if non-numeric, binary, or integer-valued with at most 10 levels.
    control : optional
        The control level of a discrete T. Default: 0, False or 'control' when T has such a
        level; other labels (e.g. ``{"ctl", "boost"}``) must name it, or ``fit`` refuses rather
        than guess (a guess can flip the sign). Every effect is labelled "<arm> vs <control>"
        (``contrasts_``, ``ATEResult.contrast``).
    nuisance_params : dict, optional
        LightGBM parameters that override the defaults of the nuisance models. The key
        ``"outcome_library"`` (a list from "lightgbm", "linear", "poisson"; default all three)
        sets the outcome models tried per outcome and arm, the one with the smallest
        out-of-fold error being used (see ``estimators._library``); ``"propensity_library"``
        (from "lightgbm", "logistic"; default "lightgbm" only) does the same for the propensity
        model, by out-of-fold log-loss.
    random_state : int, numpy Generator or None
    n_jobs : int or None, default -1
        Threads (-1 or None: all cores): independent LightGBM models (each single-threaded)
        are fitted and predict side by side, and the forests grow their trees in parallel.
        Results do not depend on it (up to float rounding in the forests)."""


class CausalForest(_Encoded):
    __doc__ = f"""Causal forest (generalized random forest) on cross-fitted residuals.

    The final stage is econml's ``grf.CausalForest`` — the same honest forest with
    bootstrap-of-little-bags variance that econml's ``CausalForestDML`` uses — fitted on the
    residuals ``y - E[y|X,W]`` and ``t - E[t|X,W]`` from our LightGBM nuisances. Binary,
    multi-valued (one residual column per arm) and continuous treatments (marginal effect;
    the forest is locally linear in T, so a curved dose-response is linearised).

    CATE intervals are pointwise and **not** cluster-robust: the forest subsamples units, not
    clusters (``groups`` only keeps clusters whole in cross-fitting). ATE intervals are.

    Parameters
    ----------
    n_estimators : int, default 100
        Trees (rounded up to a multiple of 4). More trees give steadier intervals.
    min_samples_leaf : int, default 5
    max_depth : int or None, default None
    max_samples : float in (0, 0.5] or "auto", default "auto"
        Fraction of rows per tree; "auto" = min(0.45, 10000 / n).{_COMMON_DOC}

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import CausalForest
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 2)); T = rng.integers(0, 2, 600)
    >>> Y = X[:, 0] + T * (1 + X[:, 1]) + rng.normal(size=600)
    >>> est = CausalForest(n_estimators=40, random_state=0).fit(Y, T, X=X)
    >>> est.effect(X[:3]).shape
    (3,)
    """

    _constraints: ClassVar[dict[str, Any]] = _FOREST_CONSTRAINTS

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        min_samples_leaf: int = 5,
        max_depth: int | None = None,
        max_samples: float | str = "auto",
        cv: int | None = None,
        clip: float = 0.01,
        max_onehot_levels: int = 10,
        discrete_treatment: bool | None = None,
        control: Any = None,
        nuisance_params: dict[str, Any] | None = None,
        random_state: Any = None,
        n_jobs: int | None = -1,
    ) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.max_samples = max_samples
        self._store_common(
            cv,
            clip,
            max_onehot_levels,
            discrete_treatment,
            control,
            nuisance_params,
            random_state,
            n_jobs,
        )

    def _final_fit(self, ctx: Context, rows: np.ndarray) -> Any:
        from econml.grf import CausalForest as GRF

        forests = []
        for j in range(ctx.y_res.shape[1]):
            kw = _forest_kwargs(self, len(rows), ctx.seed + j, ctx.n_jobs)
            forests.append(
                GRF(**kw).fit(
                    ctx.features("num", j, rows=rows),
                    ctx.t_res[rows],
                    ctx.y_res[rows, j],
                    sample_weight=_weights(ctx, rows),
                )
            )
        return forests

    def _predict_encoded(
        self, state: Any, ctx: Context, feats: Features, m: int, with_var: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        tau = np.empty((m, len(state), ctx.k))
        var = np.empty_like(tau)
        for j, forest in enumerate(state):
            x = feats("num", j)
            if not with_var:
                tau[:, j, :] = forest.predict(x)
                continue
            point, v = forest.predict_and_var(x)
            tau[:, j, :] = point
            var[:, j, :] = np.diagonal(v, axis1=1, axis2=2)
        return tau, (var if with_var else None)


class LinearDML(_Encoded):
    __doc__ = f"""Double machine learning with a linear final stage: interpretable coefficients.

    ``theta(x) = b0 + b' x``: the WLS fit of the outcome residual on the treatment residual
    times ``[1, x]`` (Chernozhukov et al. 2018; econml ``LinearDML``), with HC1 or, given
    ``groups``, cluster-robust (CR1) covariance. Categorical modifiers enter as one-hot columns
    with the first level as reference (``max_onehot_levels``). :meth:`coef_table` lists every
    coefficient with its interval. Continuous T: the marginal effect (linear in T).

    Parameters
    ----------{_COMMON_DOC}

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import LinearDML
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 2)); T = rng.integers(0, 2, 600)
    >>> Y = X[:, 0] + T * (1 + X[:, 1]) + rng.normal(size=600)
    >>> est = LinearDML(random_state=0).fit(Y, T, X=X)
    >>> list(est.coef_table()["feature"])
    ['intercept', 'x0', 'x1']
    """

    def __init__(
        self,
        *,
        cv: int | None = None,
        clip: float = 0.01,
        max_onehot_levels: int = 10,
        discrete_treatment: bool | None = None,
        control: Any = None,
        nuisance_params: dict[str, Any] | None = None,
        random_state: Any = None,
        n_jobs: int | None = -1,
    ) -> None:
        self._store_common(
            cv,
            clip,
            max_onehot_levels,
            discrete_treatment,
            control,
            nuisance_params,
            random_state,
            n_jobs,
        )

    def _final_fit(self, ctx: Context, rows: np.ndarray) -> Any:
        g = None if ctx.data.groups is None else ctx.data.groups[rows]
        out = []
        for j in range(ctx.y_res.shape[1]):
            D = _design(_with_intercept(ctx.features("lin", j, rows=rows)), ctx.t_res[rows])
            out.append(
                wls_robust(D, ctx.y_res[rows, j], sample_weight=_weights(ctx, rows), groups=g)
            )
        return out

    def _predict_encoded(
        self, state: Any, ctx: Context, feats: Features, m: int, with_var: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        phis = [_with_intercept(feats("lin", j)) for j in range(len(state))]
        return _linear_predict(state, phis, ctx.k)

    def coef_table(self, alpha: float = 0.05) -> pd.DataFrame:
        """Effect coefficients per modifier with standard errors, intervals and p-values.

        Returns
        -------
        DataFrame with columns outcome, treatment, feature, coef, se, coef_ci_lower,
        coef_ci_upper, pvalue (one row per outcome x arm x [intercept + modifiers]).
        """
        from scipy import stats

        from estimators._params import check_params

        check_params("LinearDML", {"alpha": alpha}, {"alpha": Real(0.0, 1.0)})
        ctx = self._fitted()
        d = ctx.data
        if self._state is None:
            raise NotImplementedError(
                "LinearDML was fitted without X: there are no modifier coefficients; use "
                "ate_inference() for the constant effect."
            )
        features = ["intercept", *ctx.enc_lin.names]
        q = len(features)
        z = float(stats.norm.ppf(1 - alpha / 2))
        rows = []
        for j, (coef, cov) in enumerate(self._state):
            se = np.sqrt(np.maximum(np.diag(cov), 0.0))
            for a in range(ctx.k):
                arm = f"{d.levels[a + 1]} vs {d.levels[0]}" if d.discrete else "T"
                for i, f in enumerate(features):
                    c, s = coef[a * q + i], se[a * q + i]
                    rows.append(
                        {
                            "outcome": d.outcome_names[j],
                            "treatment": arm,
                            "feature": f,
                            "coef": c,
                            "se": s,
                            "coef_ci_lower": c - z * s,
                            "coef_ci_upper": c + z * s,
                            "pvalue": float(2 * stats.norm.sf(abs(c) / s)) if s > 0 else np.nan,
                        }
                    )
        return pd.DataFrame(rows)


class DRLearner(_Encoded):
    __doc__ = f"""Doubly-robust learner: regress the AIPW pseudo-outcome on the modifiers.

    Pseudo-outcome (Kennedy 2023): ``mu_a - mu_0 + 1[T=a](y - mu_a)/e_a - 1[T=0](y - mu_0)/e_0``
    from the cross-fitted nuisances (clipped propensities). ``final="forest"``: econml's honest
    ``grf.RegressionForest`` with bootstrap-of-little-bags intervals (econml's
    ``ForestDRLearner``); ``final="linear"``: WLS on ``[1, X]`` with HC1 / cluster-robust
    intervals (econml's ``LinearDRLearner``). Discrete treatments only.

    Parameters
    ----------
    final : {{"forest", "linear"}}, default "forest"
    n_estimators, min_samples_leaf, max_depth, max_samples :
        Forest settings as in :class:`CausalForest` (``min_samples_leaf`` default 10: the
        pseudo-outcomes are noisy).{_COMMON_DOC}

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import DRLearner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 2)); T = rng.integers(0, 2, 600)
    >>> Y = X[:, 0] + T * (1 + X[:, 1]) + rng.normal(size=600)
    >>> lo, hi = DRLearner(n_estimators=40, random_state=0).fit(Y, T, X=X).effect_interval(X[:2])
    >>> bool((lo < hi).all())
    True
    """

    _constraints: ClassVar[dict[str, Any]] = {
        **_FOREST_CONSTRAINTS,
        "final": Options(("forest", "linear")),
    }
    _supports_continuous: ClassVar[bool] = False

    def __init__(
        self,
        *,
        final: str = "forest",
        n_estimators: int = 100,
        min_samples_leaf: int = 10,
        max_depth: int | None = None,
        max_samples: float | str = "auto",
        cv: int | None = None,
        clip: float = 0.01,
        max_onehot_levels: int = 10,
        discrete_treatment: bool | None = None,
        control: Any = None,
        nuisance_params: dict[str, Any] | None = None,
        random_state: Any = None,
        n_jobs: int | None = -1,
    ) -> None:
        self.final = final
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.max_samples = max_samples
        self._store_common(
            cv,
            clip,
            max_onehot_levels,
            discrete_treatment,
            control,
            nuisance_params,
            random_state,
            n_jobs,
        )

    def _final_fit(self, ctx: Context, rows: np.ndarray) -> Any:
        assert ctx.dr is not None
        if self.final == "linear":
            g = None if ctx.data.groups is None else ctx.data.groups[rows]
            out = []
            for j in range(ctx.dr.shape[1]):
                phi = _with_intercept(ctx.features("lin", j, rows=rows))
                per_arm = [
                    wls_robust(phi, ctx.dr[rows, j, a], sample_weight=_weights(ctx, rows), groups=g)
                    for a in range(ctx.k)
                ]
                coef = np.concatenate([c for c, _ in per_arm])
                q = phi.shape[1]
                cov = np.zeros((q * ctx.k, q * ctx.k))
                for a, (_, c) in enumerate(per_arm):
                    cov[a * q : (a + 1) * q, a * q : (a + 1) * q] = c
                out.append((coef, cov))
            return ("linear", out)
        from econml.grf import RegressionForest

        forests = []
        for j in range(ctx.dr.shape[1]):
            kw = _forest_kwargs(self, len(rows), ctx.seed + 17 + j, ctx.n_jobs)
            forests.append(
                RegressionForest(**kw).fit(
                    ctx.features("num", j, rows=rows),
                    ctx.dr[rows, j, :],
                    sample_weight=_weights(ctx, rows),
                )
            )
        return ("forest", forests)

    def _predict_encoded(
        self, state: Any, ctx: Context, feats: Features, m: int, with_var: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        kind, fitted = state
        if kind == "linear":
            phis = [_with_intercept(feats("lin", j)) for j in range(len(fitted))]
            return _linear_predict(fitted, phis, ctx.k)
        tau = np.empty((m, len(fitted), ctx.k))
        var = np.empty_like(tau)
        for j, forest in enumerate(fitted):
            x = feats("num", j)
            if not with_var:
                tau[:, j, :] = forest.predict(x).reshape(m, -1)
                continue
            point, v = forest.predict_and_var(x)
            tau[:, j, :] = point
            var[:, j, :] = np.diagonal(v, axis1=1, axis2=2)
        return tau, (var if with_var else None)


class _MetaLearner(_Common):
    """Discrete-treatment meta-learners with LightGBM base models.

    They have no variance of their own: ``effect_interval`` is the interval of an honest forest
    on the shared doubly-robust pseudo-outcomes (``estimators._intervals``), fitted on the
    first call.
    """

    _supports_continuous: ClassVar[bool] = False
    #: No native variance: AutoCate(require_intervals=True) leaves them out.
    _native_intervals: ClassVar[bool] = False

    def _interval_predict(self, ctx: Context, Xf: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        from estimators._intervals import fit_interval_forest, predict_interval_forest

        cache = getattr(self, "_interval_cache", None)
        if cache is None or cache[0] is not ctx:  # fitted lazily, once per fit
            cache = (ctx, fit_interval_forest(ctx))
            self._interval_cache = cache
        return predict_interval_forest(cache[1], ctx, Xf)

    def __init__(
        self,
        *,
        cv: int | None = None,
        clip: float = 0.01,
        max_onehot_levels: int = 10,
        discrete_treatment: bool | None = None,
        control: Any = None,
        nuisance_params: dict[str, Any] | None = None,
        random_state: Any = None,
        n_jobs: int | None = -1,
    ) -> None:
        self._store_common(
            cv,
            clip,
            max_onehot_levels,
            discrete_treatment,
            control,
            nuisance_params,
            random_state,
            n_jobs,
        )

    def _params(self, ctx: Context, n_fit: int, salt: int) -> dict[str, Any]:
        return lgbm_params(
            n_fit, n_jobs=ctx.n_jobs, seed=ctx.seed + salt, overrides=self.nuisance_params
        )

    def _project(self, ctx: Context, rows: np.ndarray, target: np.ndarray, salt: int) -> Any:
        """LightGBM of a per-row contrast on X alone (used when W is given)."""
        assert ctx.data.X is not None
        Xr = ctx.data.X.iloc[rows]
        return fit_regressor(Xr, target, _weights(ctx, rows), self._params(ctx, len(rows), salt))


_META_DOC = f"""
    Parameters
    ----------{_COMMON_DOC}"""


class TLearner(_MetaLearner):
    __doc__ = f"""T-learner: the difference of per-arm outcome models, ``mu_a(x) - mu_0(x)``.

    The per-arm LightGBM models are the nuisance models themselves (no extra fit); new rows are
    predicted by the average of the cross-fitting fold models. With confounders ``W`` the
    contrast (a function of X and W) is projected on X with one more LightGBM fit.
    ``effect_interval``: a naive bootstrap of a meta-learner ignores the cross-fitted nuisances
    and does not cover; the interval is instead that of an honest forest on the shared
    doubly-robust pseudo-outcomes (see ``estimators._intervals``; fitted on the first call),
    centred on that forest's estimate (which can differ from ``effect()``).
    {_META_DOC}

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import TLearner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 2)); T = rng.integers(0, 2, 600)
    >>> Y = X[:, 0] + T * (1 + X[:, 1]) + rng.normal(size=600)
    >>> TLearner(random_state=0).fit(Y, T, X=X).effect(X[:4]).shape
    (4,)
    """

    def _contrast_oof(self, ctx: Context, rows: np.ndarray) -> np.ndarray:
        assert ctx.nuis.mu is not None
        mu = ctx.nuis.mu[rows]
        return mu[:, :, 1:] - mu[:, :, :1]

    def _contrast_for(self, ctx: Context, rows: np.ndarray) -> np.ndarray:
        """Targets of the projection on X: contrasts that never saw the rows left out.

        All rows: the out-of-fold contrasts. AutoCate's scoring contexts
        (``ctx.scoring_fold`` set): the out-of-fold contrasts of its nested nuisances, which
        never saw the scored fold. Rows missing exactly one cross-fitting fold ``k`` of an
        ordinary context: the contrasts of fold ``k``'s outcome models (trained on the other
        folds, in-sample here), so that the projection is a function of the other folds' data
        only — the out-of-fold contrasts of these rows came from models that saw fold ``k``
        (``tests/estimators/test_scoring_leak.py``).
        """
        if ctx.scoring_fold is not None:  # AutoCate's nested nuisances never saw the fold
            return self._contrast_oof(ctx, rows)
        folds = ctx.nuis.folds
        missing = np.setdiff1d(np.unique(folds), np.unique(folds[rows]))
        models = ctx.nuis.mu_models
        if missing.size != 1 or models is None:
            return self._contrast_oof(ctx, rows)
        k = int(missing[0])
        Zr = ctx.data.Z.iloc[rows]
        flat = [(j, a) for j in range(len(models)) for a in range(ctx.k + 1)]
        preds = run_tasks(
            [functools.partial(models[j][a][k].predict, Zr) for j, a in flat], ctx.n_jobs
        )
        mu = np.empty((len(rows), len(models), ctx.k + 1))
        for (j, a), pred in zip(flat, preds, strict=True):
            mu[:, j, a] = np.asarray(pred, dtype=float)
        return mu[:, :, 1:] - mu[:, :, :1]

    def _final_fit(self, ctx: Context, rows: np.ndarray) -> Any:
        if ctx.data.W is None:
            return None
        c = self._contrast_for(ctx, rows)
        return [
            [self._project(ctx, rows, c[:, j, a], 31 + a) for a in range(ctx.k)]
            for j in range(c.shape[1])
        ]

    def _final_predict(
        self, state: Any, ctx: Context, Xf: pd.DataFrame, with_var: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if with_var:  # effect_interval: the doubly-robust forest's interval
            return self._interval_predict(ctx, Xf)
        d_y = ctx.data.y.shape[1]
        tau = np.empty((len(Xf), d_y, ctx.k))
        if state is not None:
            for j in range(d_y):
                for a in range(ctx.k):
                    tau[:, j, a] = state[j][a].predict(Xf)
            return tau, None
        models = ctx.nuis.mu_models
        assert models is not None
        # every fold model of every arm predicts side by side, then averaged per arm
        flat = [
            (j, a, m)
            for j, per_outcome in enumerate(models)
            for a, per_arm in enumerate(per_outcome)
            for m in per_arm
        ]
        preds = run_tasks([functools.partial(m.predict, Xf) for _, _, m in flat], ctx.n_jobs)
        sums = np.zeros((len(Xf), d_y, ctx.k + 1))
        counts = np.zeros((d_y, ctx.k + 1))
        for (j, a, _), pred in zip(flat, preds, strict=True):
            sums[:, j, a] += np.asarray(pred, dtype=float)
            counts[j, a] += 1
        mean = sums / counts
        tau[:] = mean[:, :, 1:] - mean[:, :, :1]
        return tau, None

    def _final_predict_rows(
        self, state: Any, ctx: Context, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if state is None:  # out-of-fold contrasts: the fold models never saw these rows
            return self._contrast_oof(ctx, rows), None
        return super()._final_predict_rows(state, ctx, rows)


class SLearner(_MetaLearner):
    __doc__ = f"""S-learner: one LightGBM outcome model with T as a (categorical) feature.

    ``tau_a(x) = f(x, a) - f(x, control)``. Tree models may shrink small effects toward zero
    (regularisation bias); prefer it when effects are large relative to noise. With ``W`` the
    contrast is projected on X. ``effect_interval``: see :class:`TLearner`.
    {_META_DOC}

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import SLearner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 2)); T = rng.integers(0, 2, 600)
    >>> Y = X[:, 0] + T * (1 + X[:, 1]) + rng.normal(size=600)
    >>> SLearner(random_state=0).fit(Y, T, X=X).effect(X[:4]).shape
    (4,)
    """

    _TCOL = "__treatment__"

    def _with_t(self, Z: pd.DataFrame, code: int | np.ndarray, n_levels: int) -> pd.DataFrame:
        out = Z.reset_index(drop=True).copy()
        codes = np.broadcast_to(np.asarray(code), (len(out),))
        out[self._TCOL] = pd.Categorical(codes, categories=list(range(n_levels)))
        return out

    def _contrasts(self, models: list[Any], Z: pd.DataFrame, ctx: Context) -> np.ndarray:
        n_levels = ctx.k + 1
        out = np.empty((len(Z), len(models), ctx.k))

        def predict_at(m: Any, code: int) -> np.ndarray:
            return np.asarray(m.predict(self._with_t(Z, code, n_levels)), dtype=float)

        # f(x, a) for every arm (control included) side by side
        tasks = [functools.partial(predict_at, m, a) for m in models for a in range(n_levels)]
        preds = run_tasks(tasks, ctx.n_jobs)
        for j in range(len(models)):
            base = preds[j * n_levels]
            for a in range(ctx.k):
                out[:, j, a] = preds[j * n_levels + a + 1] - base
        return out

    def _final_fit(self, ctx: Context, rows: np.ndarray) -> Any:
        d = ctx.data
        Zr = self._with_t(d.Z.iloc[rows], d.t_codes[rows], ctx.k + 1)
        models = [
            fit_regressor(Zr, d.y[rows, j], _weights(ctx, rows), self._params(ctx, len(rows), 41))
            for j in range(d.y.shape[1])
        ]
        if d.W is None:
            return (models, None)
        c = self._contrasts(models, d.Z.iloc[rows], ctx)
        proj = [
            [self._project(ctx, rows, c[:, j, a], 43 + a) for a in range(ctx.k)]
            for j in range(c.shape[1])
        ]
        return (models, proj)

    def _final_predict(
        self, state: Any, ctx: Context, Xf: pd.DataFrame, with_var: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if with_var:  # effect_interval: the doubly-robust forest's interval
            return self._interval_predict(ctx, Xf)
        models, proj = state
        if proj is None:
            return self._contrasts(models, Xf, ctx), None
        tau = np.empty((len(Xf), len(proj), ctx.k))
        for j, per_arm in enumerate(proj):
            for a, m in enumerate(per_arm):
                tau[:, j, a] = m.predict(Xf)
        return tau, None


class XLearner(_MetaLearner):
    __doc__ = f"""X-learner (Künzel et al. 2019) on the shared out-of-fold outcome models.

    For arm ``a``: imputed effects ``y - mu_0(z)`` on arm units and ``mu_a(z) - y`` on control
    units, each regressed on X with LightGBM (``tau_1``, ``tau_0``), blended as
    ``g(x) tau_0(x) + (1 - g(x)) tau_1(x)`` with ``g = e_a / (e_a + e_0)`` from the propensity
    fold models (without ``W``) or the arm's share (with ``W``). ``effect_interval``: as
    in :class:`TLearner`.
    {_META_DOC}

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import XLearner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 2)); T = rng.integers(0, 2, 600)
    >>> Y = X[:, 0] + T * (1 + X[:, 1]) + rng.normal(size=600)
    >>> XLearner(random_state=0).fit(Y, T, X=X).effect(X[:4]).shape
    (4,)
    """

    def _final_fit(self, ctx: Context, rows: np.ndarray) -> Any:
        d = ctx.data
        assert d.X is not None and ctx.nuis.mu is not None
        codes = d.t_codes[rows]
        mu = ctx.nuis.mu[rows]
        y = d.y[rows]
        tasks = []
        shares = []
        for j in range(d.y.shape[1]):
            for a in range(1, ctx.k + 1):
                on, off = rows[codes == a], rows[codes == 0]
                d1 = (y[:, j] - mu[:, j, 0])[codes == a]
                d0 = (mu[:, j, a] - y[:, j])[codes == 0]
                tasks.append(functools.partial(self._project, ctx, on, d1, 51 + a))
                tasks.append(functools.partial(self._project, ctx, off, d0, 53 + a))
                shares.append(float(len(on) / (len(on) + len(off))))
        models = iter(run_tasks(tasks, ctx.n_jobs))  # tau_1, tau_0 fits side by side
        share = iter(shares)
        return [
            [(next(models), next(models), next(share)) for _ in range(ctx.k)]
            for _ in range(d.y.shape[1])
        ]

    def _final_predict(
        self, state: Any, ctx: Context, Xf: pd.DataFrame, with_var: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if with_var:  # effect_interval: the doubly-robust forest's interval
            return self._interval_predict(ctx, Xf)
        tau = np.empty((len(Xf), len(state), ctx.k))
        use_e = ctx.data.W is None and bool(ctx.nuis.e_models)
        e_models = ctx.nuis.e_models if use_e and ctx.nuis.e_models else []
        tasks = [functools.partial(m.predict_proba, Xf) for m in e_models]
        for per_arm in state:
            for t1, t0, _ in per_arm:
                tasks += [functools.partial(t1.predict, Xf), functools.partial(t0.predict, Xf)]
        out = run_tasks(tasks, ctx.n_jobs)  # every model predicts side by side
        probs = np.mean(out[: len(e_models)], axis=0) if e_models else None
        preds = iter(out[len(e_models) :])
        for j, per_arm in enumerate(state):
            for a, (_, _, share) in enumerate(per_arm):
                if probs is not None:
                    g = probs[:, a + 1] / np.maximum(probs[:, a + 1] + probs[:, 0], 1e-12)
                else:
                    g = np.full(len(Xf), share)
                p1, p0 = next(preds), next(preds)
                tau[:, j, a] = g * p0 + (1 - g) * p1
        return tau, None
