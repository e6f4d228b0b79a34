"""Cross-fitted LightGBM nuisance models, computed once and shared by every final stage.

For a discrete treatment: the propensities ``e_t(z)`` of every arm (one multi-class model),
the outcome mean ``m(z) = E[Y | Z]`` and the per-arm outcome means ``mu_t(z) = E[Y | T=t, Z]``,
all out-of-fold. For a continuous treatment: ``E[T | Z]`` and ``E[Y | Z]``. ``Z`` is the
modifiers ``X`` and confounders ``W`` side by side; categorical columns go to LightGBM as pandas
categoricals (used natively, not one-hot encoded — econml would lose them, #907).

Folds: stratified by treatment arm; with ``groups`` every cluster sits in one fold
(``StratifiedGroupKFold``), so a creator's content never trains the model that predicts it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from estimators._errors import EstimatorInputError
from estimators._inputs import Prepared
from estimators._library import (
    LinearOutcome,
    LogisticPropensity,
    PlattCalibrated,
    calibrate_propensity,
    check_calibration,
    check_log_features,
    library_members,
    oof_log_loss,
    oof_mse,
    propensity_members,
)

#: Keys of ``nuisance_params`` that pick library members rather than LightGBM settings.
LIBRARY_KEYS = (
    "outcome_library",
    "propensity_library",
    "propensity_calibration",
    "linear_log_features",
)

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "NestedFold",
    "Nuisances",
    "crossfit",
    "lgbm_params",
    "make_folds",
    "nested_crossfit",
    "one_blas_thread",
    "run_tasks",
]


#: LightGBM always trains single-threaded; parallelism is across models (see :func:`run_tasks`).
#: Measured on this shared 2-core VM at load average 6-9 (10:45 UTC, 67k rows x 20, 100
#: trees): one OpenMP thread 1.6 s per fit, two threads 64-93 s per fit (spin-waiting threads
#: that lose the CPU to other processes stall every histogram barrier), two single-threaded
#: fits side by side in Python threads 3.1 s for both. The previous default (2 threads above
#: 50k rows) made the 100k-row nuisance cross-fit take 98 s instead of ~10 s under load.
LGBM_THREADS = 1


def run_tasks(tasks: Sequence[Callable[[], Any]], n_jobs: int) -> list[Any]:
    """Run independent zero-argument callables, ``n_jobs`` at a time, in Python threads.

    LightGBM and numpy release the GIL while they work, so single-threaded model fits side by
    side use both cores without OpenMP barriers. Results come back in task order; each task
    uses its own seed, so the output does not depend on scheduling.

    Examples
    --------
    >>> run_tasks([lambda: 1, lambda: 2], n_jobs=2)
    [1, 2]
    """
    if n_jobs <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(n_jobs, len(tasks))) as pool:
        futures = [pool.submit(task) for task in tasks]
        return [f.result() for f in futures]


_BLAS: dict[str, Any] = {}


def one_blas_thread(func: F) -> F:
    """Run ``func`` with numpy/scipy's BLAS limited to one thread (restored afterwards).

    Our matrix products are small (n x ~20); multi-threaded OpenBLAS spin-waits on a busy
    machine. Measured at load average 8-9 (10:57 UTC): ``wls_robust`` on 100,000 x 21 took
    7.5-9.7 s with 2 OpenBLAS threads and 0.03 s with one (LinearDML's final stages took 12.8 s
    of a 100k-row AutoCate fit). Applied once at the public entry points (``fit`` of every
    estimator and AutoCate, and the prediction path behind ``effect``/``effect_interval``), so
    every stage below them — nuisance library, final stages, scoring — runs under it; never
    inside :func:`run_tasks` workers (the limit is process-wide).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "controller" not in _BLAS:
            from threadpoolctl import ThreadpoolController  # a scikit-learn dependency

            _BLAS["controller"] = ThreadpoolController()
        with _BLAS["controller"].limit(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return cast(F, wrapper)


def lgbm_params(
    n_fit: int,
    *,
    n_jobs: int,
    seed: int,
    overrides: dict[str, Any] | None,
    classifier: bool = False,
) -> dict[str, Any]:
    """LightGBM settings scaled to the training size ``n_fit``.

    Outcome models: 100 trees, ``num_leaves`` 31, learning rate 0.1, ``min_child_samples`` =
    ``clip(n_fit // 2000, 10, 200)``. Propensity models are regularised harder (overconfident
    propensities inflate the doubly-robust weights; on a randomized design the defaults of the
    outcome models gave propensities with sd 0.10 around the true 0.5): ``num_leaves`` 7,
    learning rate 0.05, ``min_child_samples`` = ``clip(n_fit // 50, 20, 1000)``,
    ``reg_lambda`` 10. Both: row/column subsampling 0.8, 63 histogram bins.
    Threads: always ``LGBM_THREADS`` (one; ``n_jobs`` is used by the callers to fit several
    models side by side, see :func:`run_tasks`). ``overrides`` (the estimators' ``nuisance_params``) replace any of these.
    """
    if classifier:
        mcs = int(np.clip(n_fit // 50, 20, 1000))
    else:
        mcs = int(np.clip(n_fit // 2000, 10, 200))
    params: dict[str, Any] = {
        "n_estimators": 100,
        "learning_rate": 0.05 if classifier else 0.1,
        "num_leaves": 7 if classifier else 31,
        "reg_lambda": 10.0 if classifier else 0.0,
        "min_child_samples": mcs,
        "min_data_per_group": mcs,
        "cat_smooth": 10.0,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "max_bin": 63,
        "verbose": -1,
        "n_jobs": LGBM_THREADS,
        "random_state": seed,
    }
    params.update({k: v for k, v in (overrides or {}).items() if k not in LIBRARY_KEYS})
    return params


def make_folds(
    n: int, cv: int, *, strata: np.ndarray | None, groups: np.ndarray | None, seed: int
) -> np.ndarray:
    """Fold id (0..cv-1) of every row: stratified by ``strata``, clusters kept whole.

    Parameters
    ----------
    n : int
        Rows.
    cv : int
        Folds.
    strata : ndarray of shape (n,) or None
        Labels to balance across folds (the estimators pass the treatment's level codes).
    groups : ndarray of shape (n,) or None
        Cluster ids: a cluster's rows all land in one fold.
    seed : int

    Returns
    -------
    ndarray of int, shape (n,)

    Examples
    --------
    >>> from estimators.inference import make_folds
    >>> import numpy as np
    >>> f = make_folds(10, 2, strata=np.array([0, 1] * 5), groups=None, seed=0)
    >>> sorted(np.bincount(f).tolist())
    [5, 5]
    """
    from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold

    folds = np.empty(n, dtype=int)
    dummy = np.zeros(n)
    if groups is not None:
        n_groups = int(np.unique(groups).size)
        if n_groups < cv:
            raise EstimatorInputError(
                f"groups has {n_groups} clusters but cv={cv} folds need at least {cv}; lower cv "
                "or pass finer clusters."
            )
        strat = strata if strata is not None else np.zeros(n, dtype=int)
        splitter: Any = StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=seed)
        splits = splitter.split(dummy, strat, groups)
    elif strata is not None:
        counts = np.bincount(strata)
        if counts.min() < cv:
            raise EstimatorInputError(
                f"A treatment arm has only {counts.min()} units, fewer than cv={cv} folds; "
                "lower cv or drop that arm."
            )
        splits = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed).split(dummy, strata)
    else:
        splits = KFold(n_splits=cv, shuffle=True, random_state=seed).split(dummy)
    for k, (_, test) in enumerate(splits):
        folds[test] = k
    return folds


class _Constant:
    """The (weighted) mean, for when there are no features to model with."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = value

    def predict(self, Z: pd.DataFrame) -> np.ndarray:
        return np.full(len(Z), float(self.value[0]))

    def predict_proba(self, Z: pd.DataFrame) -> np.ndarray:
        return np.repeat(self.value[None, :], len(Z), axis=0)


def fit_regressor(
    Z: pd.DataFrame, y: np.ndarray, w: np.ndarray | None, params: dict[str, Any]
) -> Any:
    """A LightGBM regressor (or a constant when ``Z`` has no columns or too few rows)."""
    if Z.shape[1] == 0 or len(y) < 2 * params["min_child_samples"]:
        return _Constant(np.atleast_1d(np.average(y, weights=w)))
    import lightgbm as lgb

    return lgb.LGBMRegressor(**params).fit(Z, y, sample_weight=w)


def _fit_classifier(
    Z: pd.DataFrame, t: np.ndarray, w: np.ndarray | None, n_classes: int, params: dict[str, Any]
) -> Any:
    if Z.shape[1] == 0:
        counts = np.bincount(t, weights=w, minlength=n_classes)
        return _Constant(counts / counts.sum())
    import lightgbm as lgb

    return lgb.LGBMClassifier(**params).fit(Z, t, sample_weight=w)


@dataclass(slots=True)
class Nuisances:
    """Out-of-fold nuisance predictions (shapes in comments) and the fold models for ``mu``."""

    folds: np.ndarray  # (n,)
    m_y: np.ndarray  # (n, d_y)  E[Y | Z]
    e: np.ndarray | None  # (n, n_levels) propensities, discrete only
    t_hat: np.ndarray | None  # (n,) E[T | Z], continuous only
    mu: np.ndarray | None  # (n, d_y, n_levels) E[Y | T=t, Z], discrete only
    mu_models: list[list[list[Any]]] | None  # [outcome][level] -> fold models
    e_models: list[Any] | None  # propensity fold models, discrete only
    library: pd.DataFrame | None = None  # per nuisance model and member: out-of-fold error, chosen
    #: the library member kept per model: ("m_y" | "mu" | "e" | "t_hat", outcome, arm) -> member
    chosen: dict[tuple[str, int, int], str] | None = None


def _fit_task(
    Z: pd.DataFrame,
    train: np.ndarray,
    test: np.ndarray,
    target: np.ndarray,
    w: np.ndarray | None,
    params: dict[str, Any],
    *,
    n_classes: int = 0,
    member: str = "lightgbm",
    log_skewed: bool = False,
) -> Callable[[], tuple[Any, np.ndarray]]:
    """A task that fits one nuisance model on ``Z[train]`` and predicts ``Z[test]``.

    ``train`` and ``test`` are boolean masks; the task returns (model, prediction), the
    prediction being class probabilities when ``n_classes`` is given. Frames are sliced inside
    the task, so at most ``n_jobs`` training copies exist at a time. ``member`` names the
    outcome-library model (see ``_library.py``); "lightgbm" uses ``params``.
    """

    def task() -> tuple[Any, np.ndarray]:
        Ztr = Z[train]
        model: Any
        if n_classes:
            if member == "logistic":
                seed = int(params["random_state"])
                model = LogisticPropensity(seed, log_skewed).fit(Ztr, target, w, n_classes)
            else:
                model = _fit_classifier(Ztr, target, w, n_classes, params)
            del Ztr
            return model, model.predict_proba(Z[test])
        if member != "lightgbm":
            seed = int(params["random_state"])
            model = LinearOutcome(member, seed=seed, log_skewed=log_skewed).fit(Ztr, target, w)
        else:
            model = fit_regressor(Ztr, target, w, params)
        del Ztr
        return model, model.predict(Z[test])

    return task


def crossfit(
    data: Prepared,
    *,
    cv: int,
    seed: int,
    n_jobs: int,
    overrides: dict[str, Any] | None,
) -> Nuisances:
    """Fit every nuisance model with ``cv``-fold cross-fitting; return out-of-fold predictions.

    Outcome models (``m_y`` and the per-arm ``mu``) come from the outcome library
    (``_library.py``): every member is cross-fitted on the same folds and the one with the
    smallest out-of-fold squared error is kept, per outcome and arm (``Nuisances.library``
    lists the errors). With ``overrides["propensity_library"] = ["lightgbm", "logistic"]`` the
    propensity model is chosen the same way, by out-of-fold log-loss (default: LightGBM). ``overrides["outcome_library"]`` and
    ``overrides["propensity_library"]`` restrict the members; the other keys of ``overrides``
    go to LightGBM.

    The chosen propensity model's out-of-fold probabilities are then recalibrated by a
    logistic regression of the arm on their log-odds (Platt scaling, fitted on all rows;
    :func:`estimators._library.calibrate_propensity`, which documents why: the regularised
    LightGBM propensity is shrunken towards the mean). ``overrides["propensity_calibration"]
    = None`` keeps the raw probabilities.
    """
    overrides = dict(overrides or {})
    requested = overrides.pop("outcome_library", None)
    calibration = check_calibration(overrides.pop("propensity_calibration", "platt"))
    logs = check_log_features(overrides.pop("linear_log_features", False))
    e_members = (
        propensity_members(overrides.pop("propensity_library", None))
        if data.Z.shape[1]
        else ("lightgbm",)
    )
    n, d_y = data.y.shape
    members = [
        library_members(requested, data.y[:, j]) if data.Z.shape[1] else ("lightgbm",)
        for j in range(d_y)
    ]
    strata = data.t_codes if data.discrete else None
    folds = make_folds(n, cv, strata=strata, groups=data.groups, seed=seed)
    Z = data.Z
    w = data.sample_weight
    m_y = np.empty((n, d_y))
    n_levels = len(data.levels)
    e = np.empty((n, n_levels)) if data.discrete else None
    t_hat = None if data.discrete else np.empty(n)
    mu = np.empty((n, d_y, n_levels)) if data.discrete else None
    mu_models: list[list[list[Any]]] | None = (
        [[[] for _ in range(n_levels)] for _ in range(d_y)] if data.discrete else None
    )
    # every model is an independent task (fitted single-threaded, n_jobs side by side)
    tasks: list[Callable[[], Any]] = []
    kinds: list[tuple[str, int, int, int, str]] = []  # (kind, fold, outcome, arm, member)
    for k in range(cv):
        tr = folds != k
        wtr = None if w is None else w[tr]
        n_tr = int(tr.sum())
        p_reg = lgbm_params(n_tr, n_jobs=n_jobs, seed=seed + k, overrides=overrides)
        for j in range(d_y):
            for mem in members[j]:
                tasks.append(
                    _fit_task(Z, tr, ~tr, data.y[tr, j], wtr, p_reg, member=mem, log_skewed=logs)
                )
                kinds.append(("m_y", k, j, 0, mem))
        if data.discrete:
            t_tr = data.t_codes[tr]
            present = np.unique(t_tr)
            if present.size < n_levels:
                lost = [data.levels[i] for i in range(n_levels) if i not in set(present)]
                raise EstimatorInputError(
                    f"Treatment arm(s) {lost} are missing from a cross-fitting fold (too few units "
                    "or clusters in that arm); lower cv or merge small arms."
                )
            p_clf = lgbm_params(
                n_tr, n_jobs=n_jobs, seed=seed + 100 + k, overrides=overrides, classifier=True
            )
            if n_levels == 2:
                p_clf.setdefault("objective", "binary")
            for mem in e_members:
                tasks.append(
                    _fit_task(
                        Z,
                        tr,
                        ~tr,
                        t_tr,
                        wtr,
                        p_clf,
                        n_classes=n_levels,
                        member=mem,
                        log_skewed=logs,
                    )
                )
                kinds.append(("e", k, 0, 0, mem))
            for a in range(n_levels):
                arm = tr & (data.t_codes == a)
                wa = None if w is None else w[arm]
                pa = lgbm_params(
                    int(arm.sum()), n_jobs=n_jobs, seed=seed + 200 + k, overrides=overrides
                )
                for j in range(d_y):
                    for mem in members[j]:
                        tasks.append(
                            _fit_task(
                                Z, arm, ~tr, data.y[arm, j], wa, pa, member=mem, log_skewed=logs
                            )
                        )
                        kinds.append(("mu", k, j, a, mem))
        else:
            tasks.append(_fit_task(Z, tr, ~tr, data.t_cont[tr], wtr, p_reg))
            kinds.append(("t_hat", k, 0, 0, "lightgbm"))
    e_models: list[Any] = []
    lib_oof: dict[tuple[str, int, int, str], np.ndarray] = {}
    lib_models: dict[tuple[str, int, int, str], list[Any]] = {}
    for (kind, k, j, a, mem), (model, pred) in zip(kinds, run_tasks(tasks, n_jobs), strict=True):
        te = folds == k
        if kind in ("m_y", "mu"):
            key = (kind, j, a, mem)
            lib_oof.setdefault(key, np.empty(n))[te] = pred
            lib_models.setdefault(key, []).append(model)
        elif kind == "e":
            key = (kind, 0, 0, mem)
            lib_oof.setdefault(key, np.empty((n, n_levels)))[te] = pred
            lib_models.setdefault(key, []).append(model)
        else:
            assert t_hat is not None
            t_hat[te] = pred
    records = []
    chosen: dict[tuple[str, int, int], str] = {("t_hat", 0, 0): "lightgbm"}
    if data.discrete:
        assert e is not None
        losses = {
            mem: oof_log_loss(lib_oof[("e", 0, 0, mem)], data.t_codes, w) for mem in e_members
        }
        best_e = min(e_members, key=lambda mem: losses[mem])  # ties: the earlier member
        e_models = lib_models[("e", 0, 0, best_e)]
        chosen[("e", 0, 0)] = best_e
        e[:], calibrator = calibrate_propensity(
            lib_oof[("e", 0, 0, best_e)],
            data.t_codes,
            w,
            calibration if data.Z.shape[1] else None,
        )
        if calibrator is not None:
            e_models = [PlattCalibrated(m, calibrator, n_levels) for m in e_models]
        records += [
            {
                "model": "P(T|Z)",
                "outcome": None,
                "member": mem,
                "metric": "log-loss",
                "oof_error": err,
                "chosen": mem == best_e,
            }
            for mem, err in losses.items()
        ]
    for j in range(d_y):
        targets = [("m_y", 0, np.ones(n, dtype=bool))]
        if data.discrete:
            targets += [("mu", a, data.t_codes == a) for a in range(n_levels)]
        for kind, a, rows in targets:
            errors = {
                mem: oof_mse(
                    lib_oof[(kind, j, a, mem)][rows],
                    data.y[rows, j],
                    None if w is None else w[rows],
                )
                for mem in members[j]
            }
            best = min(members[j], key=lambda mem: errors[mem])  # ties: the earlier member
            chosen[(kind, j, a)] = best
            if kind == "m_y":
                m_y[:, j] = lib_oof[(kind, j, a, best)]
            else:
                assert mu is not None and mu_models is not None
                mu[:, j, a] = lib_oof[(kind, j, a, best)]
                mu_models[j][a] = lib_models[(kind, j, a, best)]
            records += [
                {
                    "model": "E[Y|Z]" if kind == "m_y" else f"E[Y|T={data.levels[a]!r},Z]",
                    "outcome": data.outcome_names[j],
                    "member": mem,
                    "metric": "mse",
                    "oof_error": err,
                    "chosen": mem == best,
                }
                for mem, err in errors.items()
            ]
    return Nuisances(
        folds=folds,
        m_y=m_y,
        e=e,
        t_hat=t_hat,
        mu=mu,
        mu_models=mu_models,
        e_models=e_models if data.discrete else None,
        library=pd.DataFrame(records),
        chosen=chosen,
    )


#: Most training rows of one nested nuisance model (:func:`nested_crossfit`); larger training
#: sets are subsampled. Those models only serve AutoCate's scoring (at most
#: ``max_score_samples`` rows), so at 1M rows they need not cost a second full cross-fit.
NESTED_MAX_TRAIN = 40_000


@dataclass(frozen=True, slots=True)
class NestedFold:
    """Nuisances of the scored rows outside fold ``fold``, from models that never saw it.

    ``rows`` (m,) are those rows (sorted), ``inner`` (m,) the inner fold each was predicted
    out of; ``m_y`` (m, d_y), ``e`` (m, n_levels), ``mu`` (m, d_y, n_levels) (discrete),
    ``t_hat`` (m,) (continuous), as in :class:`Nuisances`.
    """

    fold: int
    rows: np.ndarray
    inner: np.ndarray
    m_y: np.ndarray
    e: np.ndarray | None
    mu: np.ndarray | None
    t_hat: np.ndarray | None


def nested_crossfit(
    data: Prepared,
    nuis: Nuisances,
    rows: np.ndarray,
    *,
    seed: int,
    n_jobs: int,
    overrides: dict[str, Any] | None,
    max_train: int = NESTED_MAX_TRAIN,
) -> list[NestedFold | None]:
    """Nested cross-fitting for scoring: per outer fold ``k``, nuisances that never saw ``k``.

    A candidate scored on fold ``k`` is fitted on the other folds' residuals or
    pseudo-outcomes; their cross-fitted nuisances were trained on folds *including* ``k``, so
    the fit carries fold ``k``'s noise and the out-of-fold loss is optimistic for
    residual-based candidates. Here the scored rows outside ``k`` get nuisances from models
    trained without fold ``k`` and without their own fold: with ``cv >= 3`` one model per
    *pair* of folds ``{j, k}`` (trained on the remaining folds) serves outer fold ``k`` on
    fold ``j`` and outer fold ``j`` on fold ``k``; with ``cv = 2`` the other fold is split in
    two (stratified by arm, clusters whole). Only the library member chosen by
    :func:`crossfit` is refitted (LightGBM settings as there, scaled to the training size),
    training sets are subsampled to ``max_train`` rows and only scored rows are predicted.

    Returns one :class:`NestedFold` per outer fold (fold order), or None for a fold whose
    inner training sets miss a treatment arm (tiny arms; the caller then keeps the ordinary
    nuisances for that fold).
    """
    overrides = dict(overrides or {})
    logs = check_log_features(overrides.get("linear_log_features", False))
    chosen = nuis.chosen or {}
    folds = nuis.folds
    fold_ids = [int(k) for k in np.unique(folds)]
    n, d_y = data.y.shape
    n_levels = len(data.levels)
    scored = np.zeros(n, dtype=bool)
    scored[rows] = True
    rng = np.random.default_rng(seed)
    # units: (training mask, predicted rows, outer fold of each predicted row)
    units: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    inner_of = np.full(n, -1)
    failed: set[int] = set()
    if len(fold_ids) >= 3:
        inner_of[:] = folds
        for i, j in enumerate(fold_ids):
            for k in fold_ids[i + 1 :]:
                pair = (folds == j) | (folds == k)
                pred = np.flatnonzero(scored & pair)
                units.append((~pair, pred, np.where(folds[pred] == j, k, j)))
    else:
        for k in fold_ids:
            other = np.flatnonzero(folds != k)
            try:
                half = make_folds(
                    other.size,
                    2,
                    strata=data.t_codes[other] if data.discrete else None,
                    groups=None if data.groups is None else data.groups[other],
                    seed=seed + k,
                )
            except EstimatorInputError:
                failed.add(k)
                continue
            inner_of[other] = half
            for h in (0, 1):
                train = np.zeros(n, dtype=bool)
                train[other[half != h]] = True
                pred = other[(half == h) & scored[other]]
                units.append((train, pred, np.full(pred.size, k)))
    tasks: list[Callable[[], Any]] = []
    kinds: list[tuple[int, str, int, int]] = []  # (unit, kind, outcome, arm)
    Z, w = data.Z, data.sample_weight
    for u, (train, pred, outer) in enumerate(units):
        if int(train.sum()) > max_train:
            keep = rng.choice(np.flatnonzero(train), size=max_train, replace=False)
            train = np.zeros(n, dtype=bool)
            train[keep] = True
        test = np.zeros(n, dtype=bool)
        test[pred] = True
        if data.discrete and np.unique(data.t_codes[train]).size < n_levels:
            failed.update(int(k) for k in np.unique(outer))
            continue
        n_tr = int(train.sum())
        wtr = None if w is None else w[train]
        salt = seed + 1000 * (u + 1)
        p_reg = lgbm_params(n_tr, n_jobs=n_jobs, seed=salt, overrides=overrides)
        for j in range(d_y):
            mem = chosen.get(("m_y", j, 0), "lightgbm")
            tasks.append(
                _fit_task(Z, train, test, data.y[train, j], wtr, p_reg, member=mem, log_skewed=logs)
            )
            kinds.append((u, "m_y", j, 0))
        if not data.discrete:
            tasks.append(_fit_task(Z, train, test, data.t_cont[train], wtr, p_reg))
            kinds.append((u, "t_hat", 0, 0))
            continue
        p_clf = lgbm_params(
            n_tr, n_jobs=n_jobs, seed=salt + 100, overrides=overrides, classifier=True
        )
        if n_levels == 2:
            p_clf.setdefault("objective", "binary")
        mem = chosen.get(("e", 0, 0), "lightgbm")
        tasks.append(
            _fit_task(
                Z,
                train,
                test,
                data.t_codes[train],
                wtr,
                p_clf,
                n_classes=n_levels,
                member=mem,
                log_skewed=logs,
            )
        )
        kinds.append((u, "e", 0, 0))
        for a in range(n_levels):
            arm = train & (data.t_codes == a)
            wa = None if w is None else w[arm]
            pa = lgbm_params(int(arm.sum()), n_jobs=n_jobs, seed=salt + 200, overrides=overrides)
            for j in range(d_y):
                mem = chosen.get(("mu", j, a), "lightgbm")
                tasks.append(
                    _fit_task(Z, arm, test, data.y[arm, j], wa, pa, member=mem, log_skewed=logs)
                )
                kinds.append((u, "mu", j, a))
    # the nested propensities pass through crossfit's recalibration too (same model family)
    calib = (
        nuis.e_models[0]
        if nuis.e_models and isinstance(nuis.e_models[0], PlattCalibrated)
        else None
    )
    out: dict[int, dict[str, np.ndarray]] = {}
    for k in fold_ids:
        m = int(np.sum(scored & (folds != k)))
        out[k] = {
            "rows": np.flatnonzero(scored & (folds != k)),
            "m_y": np.full((m, d_y), np.nan),
            "e": np.full((m, n_levels), np.nan),
            "mu": np.full((m, d_y, n_levels), np.nan),
            "t_hat": np.full(m, np.nan),
        }
    for (u, kind, j, a), (_, pred) in zip(kinds, run_tasks(tasks, n_jobs), strict=True):
        _, pred_rows, outer = units[u]
        for k in np.unique(outer):
            part = out[int(k)]
            sel = outer == k
            pos = np.searchsorted(part["rows"], pred_rows[sel])
            values = np.asarray(pred)[sel]
            if kind == "m_y":
                part["m_y"][pos, j] = values
            elif kind == "mu":
                part["mu"][pos, j, a] = values
            elif kind == "e":
                part["e"][pos] = values if calib is None else calib.recalibrate(values)
            else:
                part["t_hat"][pos] = values
    result: list[NestedFold | None] = []
    for k in fold_ids:
        part = out[k]
        if k in failed:
            result.append(None)
            continue
        result.append(
            NestedFold(
                fold=k,
                rows=part["rows"],
                inner=inner_of[part["rows"]],
                m_y=part["m_y"],
                e=part["e"] if data.discrete else None,
                mu=part["mu"] if data.discrete else None,
                t_hat=None if data.discrete else part["t_hat"],
            )
        )
    return result
