"""AutoCate: choose or ensemble CATE estimators by an out-of-fold causal loss.

The nuisance models are fitted once (one :class:`~estimators._base.Context`) and lent to every
candidate, so AutoCate costs one nuisance fit, the nested nuisances its scoring needs (see
"Scoring without leaks") plus the candidates' final stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize, stats

from estimators._aipw import mean_effect_from_scores
from estimators._base import BaseCate, Context, build_context, scoring_context
from estimators._errors import EstimatorInputError
from estimators._intervals import fold_average
from estimators._learners import (
    CausalForest,
    DRLearner,
    LinearDML,
    SLearner,
    TLearner,
    XLearner,
)
from estimators._nuisance import nested_crossfit, one_blas_thread
from estimators._params import Integer, Options, Real, check_params, resolve_rng

__all__ = ["AutoCate", "causal_losses"]

_REGISTRY: dict[str, type[BaseCate]] = {
    c.__name__: c for c in (CausalForest, LinearDML, DRLearner, XLearner, TLearner, SLearner)
}

#: Candidates tried by default: every estimator except XLearner. Its imputed effects are built
#: from the same per-arm outcome models as the doubly-robust pseudo-outcome, so the scoring loss
#: under-counts its error and the blend gave it weight it had not earned: it was the best
#: candidate on none of 56 benchmark datasets (50 IHDP, 6 simulator) and dropping it improved the
#: blend on both (IHDP 0.533 -> 0.518, simulator 1.15 -> 1.005 mean sqrt(PEHE)). It stays
#: available through ``candidates=``.
DEFAULT_CANDIDATES: tuple[str, ...] = (
    "CausalForest",
    "LinearDML",
    "DRLearner",
    "TLearner",
    "SLearner",
)

#: Two-sided level at which a candidate's loss is called "tied" with the best one's.
TIE_ALPHA = 0.05
#: Blend members below this weight are dropped (the rest renormalised) before the all-rows
#: refit: they move the blend little and each costs a full final-stage fit.
MIN_BLEND_WEIGHT = 0.05
#: ``max_score_samples=None`` (default): every row is scored up to :data:`SCORE_ALL_ROWS_UP_TO`
#: rows, so a blend's forest members are the average of their scoring forests instead of a
#: refit on all rows; above it a random :data:`SCORE_SUBSAMPLE` rows are scored (scoring more
#: rows there only adds cost: the members are refitted anyway). Measured (``bench/bench_speed.py``,
#: 20,000 x 20, ``bench/RESULTS_estimators.md``; CPU seconds, ``n_jobs=1``): scoring a
#: 10,000-row subsample cost 70 s, 51 s of it the all-row refits of the CausalForest and
#: DRLearner members (100 trees of 9,000 rows each); scoring every row cost 38 s.
SCORE_ALL_ROWS_UP_TO = 20_000
#: Rows scored above :data:`SCORE_ALL_ROWS_UP_TO` when ``max_score_samples`` is None.
SCORE_SUBSAMPLE = 10_000
#: A blend's forest member is the average of its scoring forests when every row was scored.
REUSE_SCORING_FORESTS = True
#: Fewest trees per scoring fold of a forest candidate (see :func:`_light`).
LIGHT_MIN_TREES = 12


@dataclass(frozen=True, slots=True)
class _FoldAverage:
    """A blend member predicted by the average of its scoring folds' states (no refit).

    ``oof``: each training row's prediction by the state of the fold that left it out, shape
    (n, d_y, k) (the scoring predictions; ``evaluate`` uses them as out-of-fold CATEs).
    """

    states: list[Any]
    oof: np.ndarray | None = None


def _light(est: BaseCate, n_folds: int) -> BaseCate:
    """The candidate as scored: forests grow ``n_estimators / n_folds`` trees per fold.

    The folds' forests together hold ``n_estimators`` trees, so scoring costs about one forest
    instead of ``n_folds``; when every row was scored a blend's forest member is their average
    (see ``AutoCate.fit``). At least 12 trees a fold, a multiple of 4 (econml's bags).
    """
    if not hasattr(est, "n_estimators"):
        return est
    trees = max(LIGHT_MIN_TREES, int(np.ceil(est.n_estimators / n_folds / 4) * 4))
    return type(est)(**{**est.get_params(), "n_estimators": min(trees, est.n_estimators)})


def _drop_small(weights: np.ndarray) -> np.ndarray:
    """Zero the weights below :data:`MIN_BLEND_WEIGHT` and renormalise (keeps the largest).

    Examples
    --------
    >>> import numpy as np
    >>> _drop_small(np.array([0.5, 0.47, 0.03])).round(3).tolist()
    [0.515, 0.485, 0.0]
    """
    out = np.where(weights >= MIN_BLEND_WEIGHT, weights, 0.0)
    if out.sum() <= 0:
        out = np.eye(weights.size)[int(np.argmax(weights))]
    return out / out.sum()


def causal_losses(
    tau_hat: np.ndarray,
    *,
    dr: np.ndarray | None,
    y_res: np.ndarray,
    t_res: np.ndarray,
) -> np.ndarray:
    """Per-unit out-of-fold causal loss of a CATE prediction.

    Discrete treatment (``dr`` given): the doubly-robust pseudo-outcome loss
    ``sum_{j,a} (phi_ija - tau_ija)^2 / var_j(phi)``, whose mean differs from the PEHE
    ``E[(tau - tau_hat)^2]`` (per outcome, scaled) by a term that does not depend on
    ``tau_hat``; differences between candidates therefore estimate differences in PEHE.
    Continuous treatment: the R-loss ``sum_j (y~_ij - t~_i . tau_ij)^2 / var_j(y~)``
    (Nie & Wager 2021). Outcomes are scaled so that one loss ranks candidates across outcomes.

    Parameters
    ----------
    tau_hat : ndarray of shape (m, d_y, k)
    dr : ndarray of shape (m, d_y, k) or None
    y_res : ndarray of shape (m, d_y)
    t_res : ndarray of shape (m, k)

    Returns
    -------
    ndarray of shape (m,)

    Examples
    --------
    >>> from estimators import causal_losses
    >>> import numpy as np
    >>> phi = np.array([1.0, 3.0])[:, None, None]
    >>> causal_losses(np.full((2, 1, 1), 2.0), dr=phi, y_res=np.zeros((2, 1)),
    ...               t_res=np.zeros((2, 1))).tolist()
    [1.0, 1.0]
    """
    if dr is not None:
        scale = np.maximum(dr.reshape(dr.shape[0], dr.shape[1], -1).var(axis=(0, 2)), 1e-300)
        return (((dr - tau_hat) ** 2).sum(axis=2) / scale).sum(axis=1)
    pred = np.einsum("ik,ijk->ij", t_res, tau_hat)
    scale = np.maximum(y_res.var(axis=0), 1e-300)
    return (((y_res - pred) ** 2) / scale).sum(axis=1)


def _simplex_weights(preds: np.ndarray, target: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to one that minimise ``sum w (target - preds @ omega)^2``.

    ``preds`` (m, c), ``target`` (m, ), ``w`` (m, ). The problem is rescaled to unit mean square
    target (SLSQP stalls on badly scaled objectives, e.g. outcomes in the hundreds) and the
    answer is never worse than the best single candidate (a vertex of the simplex).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> _simplex_weights(P * 100, np.array([50.0, 50.0, 100.0]), np.ones(3)).tolist()
    [0.5, 0.5]
    """
    c = preds.shape[1]
    sw = np.sqrt(w / w.sum())
    b = target * sw
    scale = max(float(np.sqrt(np.sum(b**2))), 1e-300)
    A = preds * sw[:, None] / scale
    b = b / scale

    def objective(om: np.ndarray) -> float:
        return float(np.sum((b - A @ om) ** 2))

    res = optimize.minimize(
        objective,
        np.full(c, 1.0 / c),
        jac=lambda om: -2.0 * A.T @ (b - A @ om),
        bounds=[(0.0, 1.0)] * c,
        constraints=[{"type": "eq", "fun": lambda om: np.sum(om) - 1.0}],
        method="SLSQP",
        options={"maxiter": 500, "ftol": 1e-12},
    )
    vertex = np.eye(c)[int(np.argmin([objective(v) for v in np.eye(c)]))]
    om = np.clip(res.x, 0.0, None)
    if not np.all(np.isfinite(om)) or om.sum() <= 0 or objective(om / om.sum()) > objective(vertex):
        return vertex
    om[om < 1e-3] = 0.0
    # rounded, so that float noise from multi-threaded forests (1e-15) cannot move the weights
    om = np.round(om / om.sum(), 6)
    return om / om.sum()


class AutoCate(BaseCate):
    """The default CATE estimator: picks (or blends) the best candidate by out-of-fold loss.

    1. The nuisances (propensities, outcome models) are cross-fitted once and shared.
    2. Each candidate's final stage is cross-fitted on the same folds (on a random subsample of
       at most ``max_score_samples`` rows, whole clusters with ``groups``); its out-of-fold
       CATE (fitted on nested nuisances, see "Scoring without leaks" below) is scored by the
       doubly-robust pseudo-outcome loss (R-loss for a continuous
       treatment), see :func:`causal_losses`. Forest candidates are scored with
       ``n_estimators / cv`` trees per fold (:func:`_light`): the folds' forests hold
       ``n_estimators`` trees in all.
    3. ``score_table_`` reports each loss with its SE and the *paired* per-unit loss
       difference to the best candidate with its SE (cluster-robust with ``groups``);
       ``tied`` marks candidates whose difference is not significant at 5% (two-sided).
    4. ``strategy="select"`` refits the best candidate's final stage on all rows;
       ``"ensemble"`` blends the candidates with simplex weights that minimise the same
       out-of-fold loss (``weights_``; weights under :data:`MIN_BLEND_WEIGHT` dropped) and
       refits each member on all rows — except a forest member when every row was scored,
       which is the average of its scoring forests (no refit). ``"auto"`` (default):
       ``"ensemble"``, or ``"select"`` when ``require_intervals=True``. Measured with every
       candidate on the same nuisances (``bench/bench_autocate.py``, default candidates): on
       the 50 IHDP replications the blend's mean sqrt(PEHE) was 0.517 against 0.559 for the
       best single candidate (TLearner; paired difference -0.042 +- 0.010); on
       ``simulate_content`` (saves, seeds 7-12 x 5,000, not used to choose the defaults) 1.020
       against 1.061 (DRLearner; -0.04 +- 0.10). Selecting the best candidate instead of
       blending did worse on both (0.586 on IHDP, 1.31 on seeds 1-6).

    Intervals: ``effect_interval`` works with every strategy. When one candidate with its own
    variance is selected (CausalForest, DRLearner, LinearDML) it is that candidate's interval.
    For a blend or a selected meta-learner it is the interval of an honest forest on the shared
    doubly-robust pseudo-outcomes (the DRLearner's forest: the blend's own member when it has
    one, else fitted on the first call; ``estimators._intervals``), centred on that forest's
    estimate, which can differ from ``effect()``; cluster-robust with ``groups``. Pointwise
    coverage of the 95% interval (``bench/bench_cate_coverage.py``, 20,000 rows): see
    ``bench/RESULTS_estimators.md``. ``require_intervals=True`` restricts the choice to
    candidates with their own variance. ``ate()``/``ate_interval()`` are the doubly-robust ATE.
    Blend members below weight :data:`MIN_BLEND_WEIGHT` are dropped before the all-rows refit.

    Scoring without leaks (``estimators._nuisance.nested_crossfit``;
    ``tests/estimators/test_scoring_leak.py``, ``bench/bench_scoring_oracle.py``,
    ``bench/RESULTS_estimators.md``). A candidate scored on fold ``k`` is fitted on the other
    folds' residuals or pseudo-outcomes; with the ordinary cross-fitted nuisances those came
    from models trained on folds *including* ``k``, so the fit could carry fold ``k``'s noise
    and the loss lean towards such candidates (or against those without it). Scoring therefore
    uses nested cross-fitting: the scored rows outside fold ``k`` get nuisances from models
    that never saw fold ``k`` (one model per pair of folds, trained on the remaining folds —
    the other fold split in two when ``cv=2`` — refitting only the library member chosen per
    nuisance, at most 40,000 training rows), and target-encoded categoricals are re-encoded
    from them. No candidate's scoring fit then depends on the scored fold's outcomes (perturbing
    them leaves every candidate's scores unchanged to 1e-9; with the ordinary nuisances
    LinearDML's, DRLearner's and CausalForest's move), so with a correct propensity the
    expected loss difference between candidates equals their PEHE difference. Cost
    (``AutoCate().fit``, CPU): +0.6 s at 5,000 rows, +1.0 s at 20,000, +2.6 s at 100,000
    (12-20% of the fit); about 2x at IHDP's 672 rows, where LightGBM fits dominate. The bias
    it removes was below what simulation resolves: on 24 simulated datasets of 3,000 rows the
    oracle in-fold excess loss of every candidate was within 0.011 (s.e. 0.003-0.017) of
    its held-out one, before and after. The price at small n: the nested per-arm models see fewer
    units, which handicaps the residual-based candidates' scoring fits — 17 paired IHDP
    replications, sqrt(PEHE) 0.4655 nested vs 0.4595 shared (+0.006 +- 0.004);
    ``nested_scoring=False`` restores the shared nuisances. The larger lean towards the
    T-learner seen earlier (ranked first on 8/8 datasets) came from its own projection on X
    reading such nuisances (fixed before; now it projects the nested contrasts).
    ``scoring_nested_`` is False when a fold's nested training sets miss a treatment arm (tiny
    arms; that fold is then scored on the shared nuisances) or ``nested_scoring=False``.

    Parameters
    ----------
    candidates : list of str or estimator instances, optional
        Names from {"CausalForest", "LinearDML", "DRLearner", "XLearner", "TLearner",
        "SLearner"} or configured instances (their final-stage settings are used; the
        nuisance settings of AutoCate apply). Default: :data:`DEFAULT_CANDIDATES` (all but
        XLearner) that support the treatment type.
    strategy : {"auto", "select", "ensemble"}, default "auto"
    require_intervals : bool, default False
        Only candidates with their own CATE variance (CausalForest, DRLearner, LinearDML)
        compete, and one is selected.
    max_score_samples : int or None, default None
        Rows used to score candidates (all rows when fewer; a blend's forest members are then
        the average of their scoring forests, not refitted). None: every row up to
        :data:`SCORE_ALL_ROWS_UP_TO` (20,000) rows, else a random :data:`SCORE_SUBSAMPLE`
        (10,000).
    nested_scoring : bool, default True
        Score candidates on nested cross-fitted nuisances (see "Scoring without leaks");
        False: on the shared ones (faster, the residual-based candidates' scoring fits then
        carry the scored fold's noise).
    cv, clip, max_onehot_levels, discrete_treatment, control, nuisance_params,
    random_state, n_jobs :
        As in :class:`CausalForest`.

    Attributes
    ----------
    score_table_ : DataFrame
        Columns estimator, loss, loss_se, diff_vs_best, diff_se, tied, weight; best first.
    selected_ : str
        Name of the selected candidate (or "ensemble").
    weights_ : Series
        Blend weight per candidate (1 for the selected one with "select").
    best_estimator_ : estimator or None
        The selected candidate, fitted on all rows and sharing the nuisances
        (None for a blend).
    scoring_nested_ : bool
        Whether every fold was scored on nested nuisances (see "Scoring without leaks").

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import AutoCate
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(800, 2)); T = rng.integers(0, 2, 800)
    >>> Y = X[:, 0] + T * (1 + X[:, 1]) + rng.normal(size=800)
    >>> est = AutoCate(random_state=0, candidates=["LinearDML", "TLearner"]).fit(Y, T, X=X)
    >>> list(est.score_table_.columns)[:3]
    ['estimator', 'loss', 'loss_se']
    """

    _constraints: ClassVar[dict[str, Any]] = {
        "strategy": Options(("auto", "select", "ensemble")),
        "require_intervals": Options((True, False)),
        "max_score_samples": Integer(100, allow_none=True),
        "nested_scoring": Options((True, False)),
    }

    def __init__(
        self,
        *,
        candidates: list[Any] | None = None,
        strategy: str = "auto",
        require_intervals: bool = False,
        max_score_samples: int | None = None,
        nested_scoring: bool = True,
        cv: int | None = None,
        clip: float = 0.01,
        max_onehot_levels: int = 10,
        discrete_treatment: bool | None = None,
        control: Any = None,
        nuisance_params: dict[str, Any] | None = None,
        random_state: Any = None,
        n_jobs: int | None = -1,
    ) -> None:
        self.candidates = candidates
        self.strategy = strategy
        self.require_intervals = require_intervals
        self.max_score_samples = max_score_samples
        self.nested_scoring = nested_scoring
        self.cv = cv
        self.clip = clip
        self.max_onehot_levels = max_onehot_levels
        self.discrete_treatment = discrete_treatment
        self.control = control
        self.nuisance_params = nuisance_params
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _strategy(self) -> str:
        if self.strategy == "auto":
            return "select" if self.require_intervals else "ensemble"
        if self.strategy == "ensemble" and self.require_intervals:
            raise EstimatorInputError(
                "AutoCate(strategy='ensemble') gives no CATE intervals, but require_intervals="
                "True; use strategy='select' or 'auto' with require_intervals=True."
            )
        return str(self.strategy)

    def _candidate_list(self, ctx: Context) -> list[BaseCate]:
        specs = self.candidates if self.candidates is not None else list(DEFAULT_CANDIDATES)
        if not isinstance(specs, list | tuple) or len(specs) == 0:
            raise EstimatorInputError(
                "The 'candidates' parameter of AutoCate must be a non-empty list of estimator "
                f"names or instances. Got {specs!r} instead."
            )
        out: list[BaseCate] = []
        for spec in specs:
            if isinstance(spec, str):
                if spec not in _REGISTRY:
                    raise EstimatorInputError(
                        f"Unknown candidate {spec!r} for AutoCate; choose from {list(_REGISTRY)}."
                    )
                est = _REGISTRY[spec]()
            elif isinstance(spec, BaseCate) and not isinstance(spec, AutoCate):
                est = type(spec)(**spec.get_params())
            else:
                raise EstimatorInputError(
                    f"AutoCate candidates must be estimator names or instances from "
                    f"'estimators'; got {spec!r}."
                )
            est._check_params()
            if not ctx.data.discrete and not est._supports_continuous:
                if self.candidates is not None:
                    raise EstimatorInputError(
                        f"Candidate {type(est).__name__} needs a discrete treatment, but T is "
                        "continuous; use CausalForest or LinearDML."
                    )
                continue
            if self.require_intervals and not getattr(est, "_native_intervals", True):
                continue
            out.append(est)
        if not out:
            raise EstimatorInputError(
                "No AutoCate candidate supports this treatment with the requested intervals; "
                "add CausalForest, DRLearner or LinearDML to candidates."
            )
        return out

    def _score_rows(self, ctx: Context, rng: np.random.Generator) -> np.ndarray:
        n = ctx.data.n
        limit = self.max_score_samples
        if limit is None:
            limit = n if n <= SCORE_ALL_ROWS_UP_TO else SCORE_SUBSAMPLE
        if n <= limit:
            return np.arange(n)
        groups = ctx.data.groups
        if groups is None:
            return np.sort(rng.choice(n, size=limit, replace=False))
        order = rng.permutation(int(groups.max()) + 1)
        sizes = np.bincount(groups, minlength=order.size)[order]
        keep = order[: int(np.searchsorted(np.cumsum(sizes), limit)) + 1]
        return np.flatnonzero(np.isin(groups, keep))

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
    ) -> AutoCate:
        """Fit the nuisances once, score every candidate, keep the best (or a blend).

        Parameters are as in :meth:`CausalForest.fit`. Returns self.
        """
        self._check_params()
        self._strategy()
        rng = resolve_rng(self.random_state, "AutoCate")
        ctx = build_context(
            "AutoCate",
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
        cands = self._candidate_list(ctx)
        names = [
            type(c).__name__
            if type(c).__name__ not in [type(o).__name__ for o in cands[:i]]
            else f"{type(c).__name__}_{i}"
            for i, c in enumerate(cands)
        ]
        if ctx.data.X is None:
            self._members: list[tuple[BaseCate, Any, float]] = []
            self.score_table_ = pd.DataFrame(
                columns=[
                    "estimator",
                    "loss",
                    "loss_se",
                    "diff_vs_best",
                    "diff_se",
                    "tied",
                    "weight",
                ]
            )
            self.selected_ = "constant (fitted without X)"
            self.weights_ = pd.Series(dtype=float)
            self.best_estimator_ = None
            self._set_fitted(ctx, None)
            return self
        rows = self._score_rows(ctx, rng)
        preds, fold_states = self._score_predictions(cands, ctx, rows)
        self._scoring = (names, rows, preds)  # the out-of-fold CATEs as scored
        dr = None if ctx.dr is None else ctx.dr[rows]
        losses = np.stack(
            [causal_losses(p, dr=dr, y_res=ctx.y_res[rows], t_res=ctx.t_res[rows]) for p in preds]
        )
        sw = None if ctx.data.sample_weight is None else ctx.data.sample_weight[rows]
        g = None if ctx.data.groups is None else ctx.data.groups[rows]
        table = self._table(names, losses, sw, g)
        weights = np.zeros(len(cands))
        best = int(np.argmin(table.set_index("estimator").loc[names, "loss"].to_numpy()))
        if self._strategy() == "ensemble" and len(cands) > 1:
            weights = _drop_small(self._blend(preds, ctx, rows, sw))
        else:
            weights[best] = 1.0
        table["weight"] = table["estimator"].map(dict(zip(names, weights, strict=True)))
        members = []
        all_rows = np.arange(ctx.data.n)
        # every row was scored and the result is a blend: a forest member is the average of
        # its scoring forests (n_estimators trees in all, no refit)
        reuse = REUSE_SCORING_FORESTS and len(rows) == ctx.data.n and int(np.sum(weights > 0)) > 1
        for c, (est, wgt) in enumerate(zip(cands, weights, strict=True)):
            if wgt <= 0:
                continue
            if reuse and hasattr(est, "n_estimators"):
                members.append((est, _FoldAverage(fold_states[c], preds[c]), float(wgt)))
            else:
                members.append((est, est._final_fit(ctx, all_rows), float(wgt)))
        self._members = members
        self._interval_cache: tuple[Context, Any] | None = None
        self.score_table_ = table
        self.weights_ = pd.Series(weights, index=names, name="weight")
        if len(members) == 1:
            est, state, _ = members[0]
            est._set_fitted(ctx, state)
            self.best_estimator_ = est
            self.selected_ = names[int(np.argmax(weights))]
        else:
            self.best_estimator_ = None
            self.selected_ = "ensemble"
        self._set_fitted(ctx, members)
        return self

    def _score_predictions(
        self, cands: list[BaseCate], ctx: Context, rows: np.ndarray
    ) -> tuple[np.ndarray, list[list[Any]]]:
        """Each candidate's out-of-fold CATE on the scored ``rows``, with nested nuisances.

        For scoring fold ``k`` a candidate's final stage is fitted on the scored rows outside
        ``k`` in :func:`~estimators._base.scoring_context` (their nuisances from models that
        never saw ``k``, :func:`~estimators._nuisance.nested_crossfit`) and predicts fold
        ``k``'s rows. Returns the predictions (c, m, d_y, k) and each candidate's fold states.
        """
        folds = ctx.nuis.folds[rows]
        fold_ids = np.unique(folds)
        nested: list[Any] = (
            nested_crossfit(
                ctx.data,
                ctx.nuis,
                rows,
                seed=ctx.seed + 7,
                n_jobs=ctx.n_jobs,
                overrides=self.nuisance_params,
            )
            if self.nested_scoring
            else [None] * len(fold_ids)
        )
        self.scoring_nested_ = all(part is not None for part in nested)  # False if not asked
        preds = np.empty((len(cands), len(rows), ctx.data.y.shape[1], ctx.k))
        fold_states: list[list[Any]] = [[] for _ in cands]
        scorers = [_light(est, len(fold_ids)) for est in cands]
        for k, part in zip(fold_ids, nested, strict=True):
            ctx_k = ctx if part is None else scoring_context(ctx, part)
            tr, te = rows[folds != k], folds == k
            for c, scorer in enumerate(scorers):
                state = scorer._final_fit(ctx_k, tr)
                preds[c, te] = scorer._final_predict_rows(state, ctx_k, rows[te])[0]
                fold_states[c].append(state)
        return preds, fold_states

    @staticmethod
    def _table(
        names: list[str], losses: np.ndarray, sw: np.ndarray | None, g: np.ndarray | None
    ) -> pd.DataFrame:
        res = [mean_effect_from_scores(lv, sample_weight=sw, groups=g) for lv in losses]
        best = int(np.argmin([r.effect for r in res]))
        z = float(stats.norm.ppf(1 - TIE_ALPHA / 2))
        rows = []
        for c, name in enumerate(names):
            diff = mean_effect_from_scores(losses[c] - losses[best], sample_weight=sw, groups=g)
            rows.append(
                {
                    "estimator": name,
                    "loss": res[c].effect,
                    "loss_se": res[c].se,
                    "diff_vs_best": diff.effect,
                    "diff_se": diff.se,
                    "tied": bool(c == best or diff.effect <= z * diff.se),
                }
            )
        return pd.DataFrame(rows).sort_values("loss", kind="stable").reset_index(drop=True)

    @staticmethod
    def _blend(
        preds: np.ndarray, ctx: Context, rows: np.ndarray, sw: np.ndarray | None
    ) -> np.ndarray:
        c = preds.shape[0]
        if ctx.dr is not None:
            target = ctx.dr[rows]
            scale = np.sqrt(np.maximum(target.var(axis=(0, 2)), 1e-300))  # per outcome
            P = (preds / scale[None, None, :, None]).reshape(c, -1).T
            tvec = (target / scale[None, :, None]).reshape(-1)
            w = np.repeat(
                np.ones(len(rows)) if sw is None else sw, target.shape[1] * target.shape[2]
            )
        else:
            yr = ctx.y_res[rows]
            scale = np.sqrt(np.maximum(yr.var(axis=0), 1e-300))
            pr = np.einsum("ik,cijk->cij", ctx.t_res[rows], preds) / scale[None, None, :]
            P = pr.reshape(c, -1).T
            tvec = (yr / scale[None, :]).reshape(-1)
            w = np.repeat(np.ones(len(rows)) if sw is None else sw, yr.shape[1])
        return _simplex_weights(P, tvec, w)

    def _final_fit(self, ctx: Context, rows: np.ndarray) -> Any:  # pragma: no cover - unused
        raise NotImplementedError

    def _final_predict(
        self, state: Any, ctx: Context, Xf: pd.DataFrame, with_var: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if with_var and not self._native():
            return self._interval_predict(ctx, Xf)
        total = None
        var = None
        for est, st, wgt in state:
            if isinstance(st, _FoldAverage):
                tau, v = fold_average(est, st.states, ctx, Xf), None
            else:
                tau, v = est._final_predict(st, ctx, Xf, with_var and len(state) == 1)
            total = wgt * tau if total is None else total + wgt * tau
            var = v if len(state) == 1 else None
        assert total is not None
        return total, var

    def _native(self) -> bool:
        """Whether one candidate with its own variance (forest / sandwich) was selected."""
        members = self._members
        return len(members) == 1 and getattr(members[0][0], "_native_intervals", True)

    def _interval_predict(self, ctx: Context, Xf: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The doubly-robust forest's interval (``estimators._intervals``) for a blend."""
        from estimators._intervals import fit_interval_forest, predict_interval_forest

        if ctx.data.groups is None:  # a refitted DRLearner forest member is that forest
            for est, st, _ in self._members:
                if isinstance(est, DRLearner) and isinstance(st, tuple) and st[0] == "forest":
                    return est._final_predict(st, ctx, Xf, with_var=True)  # type: ignore[return-value]
        if self._interval_cache is None or self._interval_cache[0] is not ctx:
            self._interval_cache = (ctx, fit_interval_forest(ctx))
        return predict_interval_forest(self._interval_cache[1], ctx, Xf)

    def effect_interval(
        self, X: Any = None, *, alpha: float = 0.05, T1: Any = None
    ) -> tuple[Any, Any]:
        """Pointwise ``1 - alpha`` CATE intervals (see the class docstring, "Intervals")."""
        check_params("AutoCate", {"alpha": alpha}, {"alpha": Real(0.0, 1.0)})
        return super().effect_interval(X, alpha=alpha, T1=T1)
