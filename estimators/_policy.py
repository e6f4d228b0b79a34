"""Targeting: whom to boost under a budget, with the policy's value measured out of sample.

Two policy families, both scored by the doubly-robust scores of the rows they did not learn
from (Athey & Wager 2021, "never on the rows that chose it"):

- :func:`target_top_share` — boost the units with the highest predicted effect (out-of-fold
  CATE), at most a ``budget`` share, and only where the predicted effect exceeds the ``cost``;
- :func:`policy_tree` — an interpretable depth-``max_depth`` tree (econml's ``PolicyTree``,
  wrapped: exhaustive search for the welfare-maximising splits on the doubly-robust rewards),
  cross-fitted: the tree of the other folds decides each fold's units; the reported value is
  that of these out-of-fold decisions, not the in-sample optimum (also shown, as optimistic).

A budget for the tree is met with a shadow price ``lam`` on boosting (rewards ``score - cost -
lam``), the smallest ``lam`` whose tree boosts at most the budget share of the training rows
(bisection).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from estimators._aipw import ATEResult, mean_effect_from_scores
from estimators._base import BaseCate
from estimators._errors import EstimatorInputError
from estimators._evaluate import dr_scores, honest_cate_all, score_context
from estimators._nuisance import one_blas_thread
from estimators._params import Integer, Real, check_params, resolve_rng
from estimators._scores import descending_order

__all__ = ["PolicyResult", "policy_tree", "target_top_share"]

#: Bisection steps for the budget's shadow price (the boosted share is monotone in it).
BUDGET_BISECTION_STEPS = 14


@dataclass(frozen=True)
class PolicyResult:
    """A targeting policy and its out-of-sample value.

    Attributes
    ----------
    kind : {"top_share", "tree"}
    values : DataFrame
        One row per policy compared — ``policy`` (the learned one, "boost all", "boost
        none", "random at the same share") with effect (the per-unit gain over boosting nobody,
        net of ``cost``), se, effect_ci_lower, effect_ci_upper, pvalue, share_boosted.
    gain_vs_all, gain_vs_random : ATEResult
        Paired differences of the learned policy's value to boosting everyone / a random set of
        the same size (interval for the *difference*, from the paired per-unit scores).
    share_boosted : float
        Share of units the out-of-fold policy boosts.
    rules : DataFrame
        Tree: one row per leaf (rule, n, boost, mean score in the leaf); top share: the
        cut-off on the predicted effect.
    in_sample_value : float or None
        The tree's value on the rows it was fitted on (optimistic; for reference only).
    tree : fitted econml PolicyTree or None
        The tree fitted on all rows (what one would deploy); ``features_`` its column names.
    boosted : ndarray of float (0/1), one per evaluation row
        The decisions the value is measured on (the out-of-fold trees' for a tree), so a
        simulation can compute the true value ``mean(boosted * (tau - cost))``.
    """

    kind: str
    values: pd.DataFrame
    gain_vs_all: ATEResult
    gain_vs_random: ATEResult
    share_boosted: float
    rules: pd.DataFrame
    in_sample_value: float | None
    tree: Any
    features_: list[str]
    outcome: str
    alpha: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    boosted: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def value(self) -> float:
        """Out-of-sample per-unit value of the learned policy (vs boosting nobody)."""
        return float(self.values["effect"].iat[0])

    def to_pandas(self) -> pd.DataFrame:
        """The comparison table (:attr:`values`)."""
        return self.values.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        from estimators._evaluate import _json_value

        def rec(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: _json_value(v) for k, v in r.items()} for r in df.to_dict("records")]

        return {
            "kind": self.kind,
            "outcome": self.outcome,
            "values": rec(self.values),
            "gain_vs_all": self.gain_vs_all.to_dict(),
            "gain_vs_random": self.gain_vs_random.to_dict(),
            "share_boosted": self.share_boosted,
            "rules": rec(self.rules),
            "in_sample_value": self.in_sample_value,
            "notes": list(self.notes),
        }

    def _repr_html_(self) -> str:
        esc = html.escape
        title = "Policy tree" if self.kind == "tree" else "Boost the top share"
        parts = [
            f"<h4>{esc(title)} for {esc(self.outcome)}</h4>",
            f"<p>Out-of-sample value {self.value:.4g} per unit "
            f"[{self.values['effect_ci_lower'].iat[0]:.4g}, "
            f"{self.values['effect_ci_upper'].iat[0]:.4g}], boosting "
            f"{self.share_boosted:.1%} of units.</p>",
            self.values.to_html(index=False, float_format=lambda v: f"{v:.4g}"),
            self.rules.to_html(index=False, float_format=lambda v: f"{v:.4g}"),
        ]
        parts += [f"<p><em>{esc(n)}</em></p>" for n in self.notes]
        return "\n".join(parts)


def _values_table(
    net: np.ndarray, pi: np.ndarray, groups: np.ndarray | None, alpha: float
) -> tuple[pd.DataFrame, ATEResult, ATEResult]:
    share = float(pi.mean())
    cands = {
        "learned": net * pi,
        "boost all": net,
        "boost none": np.zeros_like(net),
        "random at the same share": net * share,
    }
    rows = []
    for name, s in cands.items():
        if name == "boost none":
            rows.append(
                {
                    "policy": name,
                    "effect": 0.0,
                    "se": 0.0,
                    "effect_ci_lower": 0.0,
                    "effect_ci_upper": 0.0,
                    "pvalue": np.nan,
                    "share_boosted": 0.0,
                }
            )
            continue
        r = mean_effect_from_scores(s, groups=groups, alpha=alpha)
        rows.append(
            {
                "policy": name,
                "effect": r.effect,
                "se": r.se,
                "effect_ci_lower": r.effect_ci_lower,
                "effect_ci_upper": r.effect_ci_upper,
                "pvalue": r.pvalue,
                "share_boosted": share if name != "boost all" else 1.0,
            }
        )
    vs_all = mean_effect_from_scores(net * pi - net, groups=groups, alpha=alpha)
    vs_random = mean_effect_from_scores(net * (pi - share), groups=groups, alpha=alpha)
    return pd.DataFrame(rows), vs_all, vs_random


def _check(alpha: float, budget: float | None, cost: float) -> None:
    check_params("policy", {"alpha": alpha}, {"alpha": Real(0.0, 0.5, closed="neither")})
    if budget is not None and not (0.0 < float(budget) <= 1.0):
        raise EstimatorInputError(
            f"budget is the largest share of units to boost, in (0, 1]; got {budget!r}."
        )
    if not np.isfinite(cost):
        raise EstimatorInputError(f"cost must be a finite number per boosted unit; got {cost!r}.")


@one_blas_thread
def target_top_share(
    est: BaseCate,
    Y: Any,
    T: Any,
    *,
    budget: float,
    cost: float = 0.0,
    X: Any = None,
    W: Any = None,
    groups: Any = None,
    outcome: Any = None,
    T1: Any = None,
    alpha: float = 0.05,
    random_state: Any = 0,
) -> PolicyResult:
    """Boost the highest-predicted-effect units, at most ``budget`` of them, where it pays.

    The ranking is the model's out-of-sample CATE (a forest's out-of-bag predictions, else
    the final stage refitted on the other folds; see :func:`estimators.evaluate`), so the
    value — ``mean((score - cost) * boosted)`` per unit — is measured on rows whose outcomes
    did not shape the decision. Units whose predicted effect is at most ``cost`` are
    not boosted even when the budget allows.

    Parameters
    ----------
    est : fitted estimator (discrete treatment)
    Y, T : as passed to ``fit`` (or new rows, then with X/W)
    budget : float in (0, 1]
        Largest share of units to boost.
    cost : float
        Cost of boosting one unit, in outcome units.
    groups : cluster ids (cluster-robust intervals); default those of the fit.

    Returns
    -------
    PolicyResult

    Examples
    --------
    >>> import numpy as np, estimators
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2)); T = rng.integers(0, 2, 2000)
    >>> Y = T * X[:, 1] + rng.normal(size=2000)
    >>> est = estimators.LinearDML(random_state=0).fit(Y, T, X=X)
    >>> res = estimators.target_top_share(est, Y, T, budget=0.3)
    >>> res.share_boosted <= 0.3 and res.gain_vs_all.effect > 0
    True
    """
    _check(alpha, budget, cost)
    rng = resolve_rng(random_state, "target_top_share")
    sc = score_context(est, Y, T, X=X, W=W, groups=groups, outcome=outcome, T1=T1, rng=rng)
    ctx = sc.ctx
    scores = dr_scores(ctx, sc.j_e, sc.a_e)
    if sc.same:
        tau = honest_cate_all(est, ctx, ctx.nuis.folds)[:, sc.j, sc.a]
        source = "out-of-sample CATE (out-of-bag or out-of-fold)"
    else:
        pred = np.asarray(est.effect(ctx.data.X), dtype=float)
        tau = pred[:, sc.j] if pred.ndim == 2 else pred
        source = "CATE of the fitted model on held-out rows"
    order = descending_order(tau, rng)
    k = int(np.floor(budget * tau.size + 1e-9))
    pi = np.zeros(tau.size)
    chosen = order[:k]
    chosen = chosen[tau[chosen] > cost]
    pi[chosen] = 1.0
    net = scores - cost
    values, vs_all, vs_random = _values_table(net, pi, sc.groups, alpha)
    cutoff = float(tau[chosen].min()) if chosen.size else float("nan")
    rules = pd.DataFrame(
        [{"rule": f"predicted effect >= {cutoff:.4g}", "n": int(pi.sum()), "boost": True}]
    )
    return PolicyResult(
        kind="top_share",
        values=values,
        gain_vs_all=vs_all,
        gain_vs_random=vs_random,
        share_boosted=float(pi.mean()),
        rules=rules,
        in_sample_value=None,
        tree=None,
        features_=[],
        outcome=str(ctx.data.outcome_names[sc.j_e]),
        alpha=alpha,
        notes=(f"Ranking: {source}; value net of cost {cost:g} per boosted unit.", *sc.notes),
        boosted=pi,
    )


def _features(frame: pd.DataFrame) -> tuple[np.ndarray, list[str], dict[str, tuple[str, Any]]]:
    """Numeric matrix for the tree; one-hot columns remember (column, level) for the rules."""
    cols: dict[str, np.ndarray] = {}
    onehot: dict[str, tuple[str, Any]] = {}
    for c in frame.columns:
        s = frame[c]
        if isinstance(s.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
        ):
            for v in pd.unique(s.astype("object")):
                name = f"{c}={v}"
                cols[name] = (s.astype("object") == v).to_numpy(dtype=float)
                onehot[name] = (str(c), v)
        else:
            cols[str(c)] = s.to_numpy(dtype=float)
    names = list(cols)
    return np.column_stack([cols[n] for n in names]), names, onehot


def _fit_tree(
    Z: np.ndarray,
    net: np.ndarray,
    budget: float | None,
    max_depth: int,
    min_leaf: int,
    seed: int,
) -> Any:
    from econml.policy import PolicyTree

    def fit(lam: float) -> Any:
        rewards = np.column_stack([np.zeros_like(net), net - lam])
        return PolicyTree(max_depth=max_depth, min_samples_leaf=min_leaf, random_state=seed).fit(
            Z, rewards
        )

    tree = fit(0.0)
    if budget is None or tree.predict(Z).mean() <= budget:
        return tree
    lo, hi = 0.0, float(np.max(np.abs(net))) + 1.0
    best = fit(hi)
    for _ in range(BUDGET_BISECTION_STEPS):
        mid = (lo + hi) / 2
        t = fit(mid)
        if t.predict(Z).mean() <= budget:
            hi, best = mid, t
        else:
            lo = mid
    return best


def _rules(tree: Any, names: list[str], onehot: dict[str, tuple[str, Any]]) -> pd.DataFrame:
    t = tree.tree_
    rows = []

    def cond(f: int, thr: float, left: bool) -> str:
        name = names[f]
        if name in onehot:
            col, level = onehot[name]
            return f"{col} {'!=' if left else '=='} {level}"
        return f"{name} {'<=' if left else '>'} {thr:.4g}"

    def walk(node: int, path: list[str]) -> None:
        if t.children_left[node] == -1:
            val = t.value[node, :, 0]
            rows.append(
                {
                    "rule": " and ".join(path) if path else "all units",
                    "n": int(t.n_node_samples[node]),
                    "boost": bool(val[1] > val[0]),
                    "mean_net_score": float(val[1] - val[0]),
                }
            )
            return
        f, thr = int(t.feature[node]), float(t.threshold[node])
        walk(int(t.children_left[node]), [*path, cond(f, thr, True)])
        walk(int(t.children_right[node]), [*path, cond(f, thr, False)])

    walk(0, [])
    return pd.DataFrame(rows)


@one_blas_thread
def policy_tree(
    est: BaseCate,
    Y: Any,
    T: Any,
    *,
    X: Any = None,
    W: Any = None,
    groups: Any = None,
    features: Any = None,
    max_depth: int = 2,
    min_samples_leaf: int | None = None,
    budget: float | None = None,
    cost: float = 0.0,
    outcome: Any = None,
    T1: Any = None,
    alpha: float = 0.05,
    random_state: Any = 0,
) -> PolicyResult:
    """An interpretable boosting rule (econml ``PolicyTree``) with its cross-fitted value.

    The tree maximises the doubly-robust welfare ``sum((score_i - cost) * boost_i)`` over
    depth-``max_depth`` trees on ``features`` (default: the model's modifiers X). Each fold's
    units are decided by the tree fitted on the other folds; the reported value, its interval
    and the comparisons with "boost all" / "random at the same share" use these out-of-fold
    decisions. The tree fitted on all rows is returned for deployment with its rules.

    Parameters
    ----------
    est : fitted estimator (discrete treatment); its scores are reused on its own rows
    features : DataFrame, optional
        Columns the rule may use (one row per unit); default the model's X.
    max_depth : int, default 2
    min_samples_leaf : int, optional
        Default ``max(50, n // 100)``.
    budget : float in (0, 1], optional
        Largest share to boost (met with a shadow price on boosting).
    cost : float
        Cost per boosted unit, in outcome units.

    Returns
    -------
    PolicyResult

    Examples
    --------
    >>> import numpy as np, pandas as pd, estimators
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"q": rng.uniform(size=3000), "z": rng.normal(size=3000)})
    >>> T = rng.integers(0, 2, 3000)
    >>> Y = T * (X["q"] - 0.5) * 4 + rng.normal(size=3000)
    >>> est = estimators.LinearDML(random_state=0).fit(Y, T, X=X)
    >>> res = estimators.policy_tree(est, Y, T, max_depth=1)
    >>> res.rules["rule"].tolist()[1].startswith("q >")
    True
    """
    _check(alpha, budget, cost)
    check_params("policy_tree", {"max_depth": max_depth}, {"max_depth": Integer(1, 4)})
    rng = resolve_rng(random_state, "policy_tree")
    sc = score_context(est, Y, T, X=X, W=W, groups=groups, outcome=outcome, T1=T1, rng=rng)
    ctx = sc.ctx
    n = ctx.data.n
    net = dr_scores(ctx, sc.j_e, sc.a_e) - cost
    if features is None:
        if ctx.data.X is None:
            raise EstimatorInputError(
                "The model was fitted without X; pass features=<DataFrame> for the tree's rules."
            )
        frame = ctx.data.X
    else:
        frame = features if isinstance(features, pd.DataFrame) else pd.DataFrame(features)
        frame = frame.reset_index(drop=True)
        if len(frame) != n:
            raise EstimatorInputError(
                f"features has {len(frame)} rows but the evaluation data has {n}."
            )
    Z, names, onehot = _features(frame)
    if not np.isfinite(Z).all():
        raise EstimatorInputError(
            "features has missing or infinite values; the policy tree needs complete columns."
        )
    min_leaf = max(50, n // 100) if min_samples_leaf is None else int(min_samples_leaf)
    seed = int(rng.integers(2**31 - 1))
    folds = ctx.nuis.folds
    pi = np.zeros(n)
    for k in np.unique(folds):
        tr, te = folds != k, folds == k
        tree_k = _fit_tree(Z[tr], net[tr], budget, max_depth, min_leaf, seed)
        pi[te] = tree_k.predict(Z[te])
    values, vs_all, vs_random = _values_table(net, pi, sc.groups, alpha)
    tree = _fit_tree(Z, net, budget, max_depth, min_leaf, seed)
    in_sample = float(np.mean(net * tree.predict(Z)))
    notes = [
        "Value of the out-of-fold decisions (each fold decided by the tree of the others); "
        f"the in-sample value of the final tree ({in_sample:.4g}) is optimistic.",
        *sc.notes,
    ]
    if budget is not None and pi.mean() > budget + 0.02:
        notes.append(
            f"The out-of-fold trees boost {pi.mean():.1%}, above the budget {budget:.0%}: "
            "each meets it on its own training folds."
        )
    return PolicyResult(
        kind="tree",
        values=values,
        gain_vs_all=vs_all,
        gain_vs_random=vs_random,
        share_boosted=float(pi.mean()),
        rules=_rules(tree, names, onehot),
        in_sample_value=in_sample,
        tree=tree,
        features_=names,
        outcome=str(ctx.data.outcome_names[sc.j_e]),
        alpha=alpha,
        notes=tuple(notes),
        boosted=pi,
    )
