"""Distil a CATE function into a compact LightGBM surrogate, chosen by fidelity per unit of cost.

The effect model's predictions ``tau(x)`` are the regression target (no noise but the model's
own roughness), so a small boosted-tree ensemble usually reproduces them closely. Fidelity is the
R^2 of the surrogate against ``tau`` on rows held out from its fit. Candidates go from cheap to
expensive: depth-3 trees (explained by the lookup tables of :mod:`._treeshap`, about 10x faster
than LightGBM's own TreeSHAP), then 31-leaf trees (LightGBM ``pred_contrib``). Within a
candidate the number of trees is the smallest that reaches the target fidelity on the held-out
rows (read off one fit's validation curve), so the chosen surrogate is the cheapest to explain
that is faithful enough.

Small data: a rough CATE function (a forest's) is hard to learn from a few thousand rows, and
held-out fidelity then stays low however large the surrogate. The effect model can be queried
anywhere, so below ``AUGMENT_ROWS`` training rows we add synthetic rows near the real ones —
resampled rows whose continuous modifiers are jittered by ``AUGMENT_BANDWIDTH`` standard
deviations and kept in the observed range, categoricals and discrete columns unchanged (the
MUNGE idea of Bucilă, Caruana & Niculescu-Mizil 2006, "Model compression") — labelled by the
effect model itself. Fidelity is still measured on held-out *real* rows only. Measured on a
CausalForest fitted to 4,000 simulated pins: held-out R² 0.84 -> 0.90.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CANDIDATES", "Surrogate", "fit_surrogate", "r2"]

#: Surrogate candidates, cheapest first: (name, LightGBM parameters). Per-row TreeSHAP cost
#: grows with trees x leaves x depth^2; depth <= 3 trees use the faster lookup tables.
CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("depth3", {"max_depth": 3, "num_leaves": 8, "learning_rate": 0.15}),
    ("leaves31", {"max_depth": 6, "num_leaves": 31, "learning_rate": 0.1}),
)
MAX_TREES = 800  # per candidate; early stopping usually ends sooner
AUGMENT_ROWS = 20_000  # below this many training rows, add synthetic rows up to it
SMALL_ROWS = 20_000  # at most this many rows to explain: SHAP costs well under a second, so
SMALL_TARGET = 0.995  # trees are added up to this held-out R^2 (or until it stops improving)
AUGMENT_BANDWIDTH = 0.05  # jitter of continuous modifiers, in standard deviations
EARLY_STOP = 50  # rounds without improvement on the held-out rows
MAX_TRAIN_ROWS = 200_000  # surrogate training rows beyond this are subsampled (documented)
MAX_HOLDOUT_ROWS = 20_000


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    """R^2 of ``pred`` against ``y`` (1 - SSE / SST); 1.0 when ``y`` is constant and matched."""
    sst = float(((y - y.mean()) ** 2).sum())
    sse = float(((y - pred) ** 2).sum())
    if sst <= 0:
        return 1.0 if sse <= 1e-24 else 0.0
    return 1.0 - sse / sst


@dataclass(frozen=True)
class Surrogate:
    """The chosen surrogate: a LightGBM booster truncated to ``n_trees`` trees."""

    booster: Any
    name: str
    n_trees: int
    max_depth: int
    fidelity: float  # R^2 vs tau on the held-out rows
    n_train: int
    n_holdout: int
    n_synthetic: int
    fit_seconds: float
    tried: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _split(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    n_hold = min(MAX_HOLDOUT_ROWS, max(20, n // 5))
    hold = np.sort(perm[:n_hold])
    train = np.sort(perm[n_hold : n_hold + MAX_TRAIN_ROWS])
    return train, hold


def _threads(n_jobs: int | None, n_rows: int) -> int:
    """LightGBM threads: one below 20k rows (OpenMP spin-waits cost more than they save on
    small data, badly so on a busy machine), else all cores unless ``n_jobs`` says."""
    if n_jobs and n_jobs > 0:
        return int(n_jobs)
    return 1 if n_rows <= 20_000 else (os.cpu_count() or 1)


def fit_surrogate(
    Z: np.ndarray,
    tau: np.ndarray,
    categorical: list[int],
    *,
    target: float,
    seed: int,
    n_jobs: int | None = None,
    candidates: tuple[tuple[str, dict[str, Any]], ...] = CANDIDATES,
    query: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Surrogate:
    """Fit candidates cheapest first; keep the cheapest reaching ``target`` R^2, else the best.

    Parameters
    ----------
    Z : ndarray of shape (n, p)
        Encoded modifiers (categoricals as codes, listed in ``categorical``).
    tau : ndarray of shape (n,)
        The effect model's CATE at the rows of ``Z``.
    target : float
        Fidelity (held-out R^2) at which to stop looking for a better surrogate.
    seed : int
        Seeds the train / held-out split and LightGBM.
    query : callable, optional
        ``query(Z_new) -> tau_new``: the effect model on encoded rows; with it, small training
        sets are augmented with synthetic rows (see the module docstring).
    """
    import lightgbm as lgb

    t0 = time.perf_counter()
    # On small data cost is no object: train on towards a closer surrogate, which gives finer
    # SHAP values (one stopped at R^2 0.95 draws a linear CATE as a few coarse steps). The next,
    # costlier candidate is still tried only if this one misses ``target``.
    stop = max(target, SMALL_TARGET) if Z.shape[0] <= SMALL_ROWS else target
    rng = np.random.default_rng(seed)
    train, hold = _split(Z.shape[0], rng)
    sst = float(((tau[hold] - tau[hold].mean()) ** 2).mean())
    Z_fit, tau_fit = Z[train], tau[train]
    n_aug = 0
    if query is not None and train.size < AUGMENT_ROWS:
        A = _synthetic_rows(Z[train], categorical, AUGMENT_ROWS - train.size, rng)
        Z_fit = np.vstack([Z_fit, A])
        tau_fit = np.concatenate([tau_fit, np.asarray(query(A), dtype=float)])
        n_aug = A.shape[0]
    tried: list[dict[str, Any]] = []
    best: tuple[float, str, int, int, Any] | None = None  # (fidelity, name, trees, depth, bst)
    for name, params in candidates:
        full = {
            "objective": "regression",
            "min_data_in_leaf": 20,
            "min_sum_hessian_in_leaf": 0.0,
            "lambda_l2": 0.0,
            "verbose": -1,
            "seed": seed,
            "deterministic": True,
            "num_threads": _threads(n_jobs, tau_fit.size),
            "max_bin": 255,
            **params,
        }
        dtrain = lgb.Dataset(Z_fit, tau_fit, categorical_feature=categorical, free_raw_data=False)
        dhold = dtrain.create_valid(Z[hold], tau[hold])
        record: dict[str, Any] = {}
        bst = lgb.train(
            full,
            dtrain,
            num_boost_round=MAX_TREES,
            valid_sets=[dhold],
            valid_names=["holdout"],
            callbacks=[
                lgb.record_evaluation(record),
                _stop_at(stop, sst),
                lgb.early_stopping(EARLY_STOP, verbose=False),
            ],
        )
        mse = np.asarray(record["holdout"]["l2"])
        fid_curve = 1.0 - mse / sst if sst > 0 else np.ones_like(mse)
        reach = np.flatnonzero(fid_curve >= stop)
        n_trees = int(reach[0] + 1) if reach.size else int(np.argmax(fid_curve) + 1)
        depth = int(params["max_depth"])
        fid = r2(tau[hold], np.asarray(bst.predict(Z[hold], num_iteration=n_trees), dtype=float))
        tried.append({"candidate": name, "n_trees": n_trees, "fidelity": round(fid, 4)})
        if best is None or fid > best[0]:
            best = (fid, name, n_trees, depth, bst)
        if fid >= target:
            best = (fid, name, n_trees, depth, bst)
            break
    assert best is not None
    fid, name, n_trees, depth, bst = best
    return Surrogate(
        booster=bst,
        name=name,
        n_trees=n_trees,
        max_depth=depth,
        fidelity=fid,
        n_train=int(train.size),
        n_holdout=int(hold.size),
        n_synthetic=n_aug,
        fit_seconds=time.perf_counter() - t0,
        tried=tuple(tried),
    )


def _synthetic_rows(
    Z: np.ndarray, categorical: list[int], m: int, rng: np.random.Generator
) -> np.ndarray:
    """``m`` rows near the rows of ``Z``: resampled, continuous columns jittered and clipped."""
    A = Z[rng.integers(0, Z.shape[0], size=m)].copy()
    for j in range(Z.shape[1]):
        col = Z[:, j]
        if j in categorical or np.unique(col[: min(col.size, 5000)]).size <= 10:
            continue  # categories and discrete columns (flags, counts of few values) stay
        sd = float(col.std())
        A[:, j] = np.clip(
            A[:, j] + rng.normal(0.0, AUGMENT_BANDWIDTH * sd, m), col.min(), col.max()
        )
    return A


def _stop_at(target: float, sst: float) -> Callable[[Any], None]:
    """A LightGBM callback ending training once the held-out R^2 reaches ``target``: more
    trees would only make the surrogate slower to explain."""
    import lightgbm as lgb

    def callback(env: Any) -> None:
        for _data, _metric, value, _higher in env.evaluation_result_list:
            if sst > 0 and 1.0 - value / sst >= target:
                raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    callback.order = 25  # type: ignore[attr-defined]  # after record_evaluation (20)
    return callback
