"""CATE intervals for estimators without a variance of their own: the doubly-robust forest.

Meta-learners (T/S/X) and AutoCate's blend have no valid variance (a naive bootstrap ignores
the cross-fitted nuisances). Their ``effect_interval`` is that of an honest forest on the same
shared nuisances: discrete treatment, econml's ``grf.RegressionForest`` on the doubly-robust
pseudo-outcomes (the DRLearner's final stage, Kennedy 2023); continuous treatment, econml's
``grf.CausalForest`` on the residuals (the CausalForest's). Its bootstrap-of-little-bags
variance gives pointwise intervals for ``tau(x)``, centred on the forest's own estimate, which
can differ from the estimator's ``effect()``.

Chosen on evidence (``bench/bench_cate_coverage.py``, smooth design, 20,000 rows): the forest
on the pseudo-outcomes covered 93.4% (width 0.76) while a forest on the residual pseudo-outcomes
``phi - tau_oof`` with the blend as offset, centred on the blend plus the correction, covered
only 83% (width 0.62): the blend's own pointwise noise is not in the forest's variance.

With ``groups`` the little bags are half-samples of *clusters* (:class:`ClusterBagForest`, our
own bags of small econml forests), so the variance is cluster-robust; without groups econml's
forest (half-samples of units) is used. With one unit per cluster both give the same variance
up to Monte Carlo error (tested).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import erfc

from estimators._nuisance import run_tasks

__all__ = [
    "ClusterBagForest",
    "ForestIntervalState",
    "fit_interval_forest",
    "fold_average",
    "predict_interval_forest",
]

#: Trees of the interval forest (a multiple of 4, econml's bag size), as DRLearner's default.
INTERVAL_TREES = 100
#: Minimum leaf sizes, as DRLearner (pseudo-outcomes are noisy) and CausalForest.
DR_MIN_LEAF = 10
CF_MIN_LEAF = 5
#: Trees per little bag of :class:`ClusterBagForest`.
TREES_PER_BAG = 4


def _forest_settings(n_rows: int) -> float:
    from estimators._learners import FOREST_ROWS_PER_TREE

    return float(min(0.45, FOREST_ROWS_PER_TREE / max(n_rows, 1)))


class ClusterBagForest:
    """An honest econml GRF forest whose little bags are half-samples of clusters.

    ``kind`` is "regression" (``grf.RegressionForest``: ``fit(x, y)``) or "causal"
    (``grf.CausalForest``: ``fit(x, t, y)``). Each of ``n_bags`` bags fits a forest of
    :data:`TREES_PER_BAG` honest trees on a random half of the clusters (each tree subsampling
    ``2 * max_samples`` of the bag's rows, as in econml's bags); the point estimate pools the
    trees' kernel weights, and the variance is the between-bag variance of the bags' moments
    minus the within-bag Monte Carlo part, with econml's positivity correction (Athey, Tibshirani
    & Wager 2019, section 4). Units in one cluster are never split between a bag and its
    complement, so within-cluster correlation enters the variance.
    """

    def __init__(
        self,
        kind: str,
        *,
        n_bags: int,
        max_samples: float,
        min_samples_leaf: int,
        seed: int,
        n_jobs: int,
    ) -> None:
        self.kind = kind
        self.n_bags = n_bags
        self.max_samples = max_samples
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed
        self.n_jobs = n_jobs

    def _one(self, bag: int, rows: np.ndarray, args: tuple[np.ndarray, ...], sw: Any) -> Any:
        from econml.grf import CausalForest, RegressionForest

        cls = RegressionForest if self.kind == "regression" else CausalForest
        forest = cls(
            n_estimators=TREES_PER_BAG,
            min_samples_leaf=self.min_samples_leaf,
            max_samples=min(0.9, 2 * self.max_samples),
            honest=True,
            inference=False,
            n_jobs=1,
            random_state=self.seed + bag,
        )
        return forest.fit(*(a[rows] for a in args), sample_weight=None if sw is None else sw[rows])

    def fit(
        self, groups: np.ndarray, *args: np.ndarray, sample_weight: Any = None
    ) -> ClusterBagForest:
        """Fit on ``args`` (the forest's ``fit`` arguments) with cluster ids ``groups``."""
        rng = np.random.default_rng(self.seed)
        labels = np.unique(groups)
        tasks = []
        for b in range(self.n_bags):
            half = rng.choice(labels, size=max(labels.size // 2, 1), replace=False)
            rows = np.flatnonzero(np.isin(groups, half))
            tasks.append(functools.partial(self._one, b, rows, args, sample_weight))
        self.bags_ = run_tasks(tasks, self.n_jobs)
        return self

    def predict_and_var(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Point estimates (m, p) and their variances (m, p) of the relevant outputs."""
        alphas, jacs = [], []
        for forest in self.bags_:
            per_tree = [
                forest.predict_alpha_and_jac(x, slice=[t], parallel=False)
                for t in range(TREES_PER_BAG)
            ]
            alphas.append(np.stack([a for a, _ in per_tree]))  # (trees, m, q)
            jacs.append(np.stack([j for _, j in per_tree]))  # (trees, m, q, q)
        alpha = np.stack(alphas)  # (bags, trees, m, q)
        jac = np.stack(jacs)  # (bags, trees, m, q, q)
        invjac = np.linalg.pinv(jac.mean(axis=(0, 1)))  # (m, q, q)
        theta = np.einsum("ijk,ik->ij", invjac, alpha.mean(axis=(0, 1)))
        moment = alpha - np.einsum("btijk,ik->btij", jac, theta)  # (bags, trees, m, q)
        bag_mean = moment.mean(axis=1)  # (bags, m, q)
        between = np.einsum("bij,bik->ijk", bag_mean, bag_mean) / self.n_bags
        within = np.einsum("btij,btik->ijk", moment, moment) / (self.n_bags * TREES_PER_BAG)
        correction = (within - between) / (TREES_PER_BAG - 1)

        def sandwich(v: np.ndarray) -> np.ndarray:
            cov = np.einsum("ijk,ikl,iml->ijm", invjac, v, invjac)
            return np.diagonal(cov, axis1=1, axis2=2)

        pred_var, pred_corr = sandwich(between), sandwich(correction)
        naive = pred_var - pred_corr
        se = np.maximum(pred_var, pred_corr) * np.sqrt(2.0 / self.n_bags)
        z = naive / np.clip(se, 1e-10, None)
        num = np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi)
        den = np.maximum(0.5 * erfc(-z / np.sqrt(2.0)), 1e-300)
        var = naive + se * num / den
        p = self.bags_[0].n_relevant_outputs_
        return theta[:, :p], var[:, :p]


@dataclass(slots=True)
class ForestIntervalState:
    """The doubly-robust forest per outcome (see the module docstring)."""

    forests: list[Any]


def fit_interval_forest(ctx: Any) -> ForestIntervalState:
    """Fit the honest forest that gives the intervals, on every training row.

    Discrete treatment: ``grf.RegressionForest`` on the doubly-robust pseudo-outcomes (the
    DRLearner's final stage); continuous: ``grf.CausalForest`` on the residuals (the
    CausalForest's). With ``groups``: :class:`ClusterBagForest`.
    """
    from econml.grf import CausalForest, RegressionForest

    d = ctx.data
    frac = _forest_settings(d.n)
    sw = d.sample_weight
    forests = []
    for j in range(d.y.shape[1]):
        seed = ctx.seed + 71 + j
        if d.discrete:
            kind, args, leaf = "regression", (ctx.x_num, ctx.dr[:, j, :]), DR_MIN_LEAF
        else:
            kind, args, leaf = "causal", (ctx.x_num, ctx.t_res, ctx.y_res[:, j]), CF_MIN_LEAF
        if d.groups is not None:
            forest: Any = ClusterBagForest(
                kind,
                n_bags=INTERVAL_TREES // TREES_PER_BAG,
                max_samples=frac,
                min_samples_leaf=leaf,
                seed=seed,
                n_jobs=ctx.n_jobs,
            ).fit(d.groups, *args, sample_weight=sw)
        else:
            cls = RegressionForest if kind == "regression" else CausalForest
            forest = cls(
                n_estimators=INTERVAL_TREES,
                min_samples_leaf=leaf,
                max_samples=frac,
                honest=True,
                inference=True,
                n_jobs=ctx.n_jobs,
                random_state=seed,
            ).fit(*args, sample_weight=sw)
        forests.append(forest)
    return ForestIntervalState(forests=forests)


def predict_interval_forest(
    state: ForestIntervalState, ctx: Any, Xf: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """The forest's estimates and their variances, each (m, d_y, k)."""
    x = ctx.enc_num.transform(Xf, len(Xf))
    k = ctx.k
    r = np.empty((x.shape[0], len(state.forests), k))
    v = np.empty_like(r)
    for j, forest in enumerate(state.forests):
        point, var = forest.predict_and_var(x)
        r[:, j, :] = np.asarray(point).reshape(x.shape[0], -1)[:, :k]
        var = np.asarray(var)
        if var.ndim == 3:
            var = np.diagonal(var, axis1=1, axis2=2)
        v[:, j, :] = var.reshape(x.shape[0], -1)[:, :k]
    return r, v


def fold_average(est: Any, states: list[Any], ctx: Any, Xf: pd.DataFrame) -> np.ndarray:
    """The average over fold states of ``est``'s prediction at ``Xf`` (m, d_y, k)."""
    if all(s is None for s in states):  # e.g. the T-learner: the state is the nuisances
        return est._final_predict(None, ctx, Xf, with_var=False)[0]
    total = None
    for s in states:
        tau = est._final_predict(s, ctx, Xf, with_var=False)[0]
        total = tau if total is None else total + tau
    assert total is not None
    return total / len(states)
