"""Several outcomes: weigh them, hold guardrails, and trace the Pareto frontier of targeting.

``tradeoff`` takes a model fitted on several outcomes (``Y`` a DataFrame: saves, clicks,
revenue, hides, ...). The objective is a weighted sum of outcomes (default: the ``primary``
outcome alone); each guardrail outcome may rise by at most its margin per unit (e.g. "raise
saves without raising hides by more than 0.02 per pin"). For each price ``lam`` on the
guardrails the policy boosts the units whose out-of-fold predicted effect on
``objective - lam * sum_g guardrail_g / sd_g`` is positive; ``lam = 0`` is the unconstrained
optimum and large ``lam`` boosts nobody. Every policy's value on every outcome (per unit,
vs boosting nobody) comes with a (cluster-robust) interval from the doubly-robust scores of the
rows it did not learn from. A point is *feasible* when every guardrail's upper confidence
bound is at most its margin; the recommendation is the feasible point with the largest
objective. The frontier marks the points no other point beats on the objective and on every
guardrail at once.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from estimators._aipw import mean_effect_from_scores
from estimators._base import BaseCate
from estimators._errors import EstimatorInputError
from estimators._evaluate import _json_value, honest_cate_all, score_context
from estimators._nuisance import one_blas_thread
from estimators._params import Real, check_params, resolve_rng

__all__ = ["Tradeoff", "tradeoff"]

#: Default guardrail prices (in objective units per guardrail standard deviation).
DEFAULT_LAMBDAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 1e9)


@dataclass(frozen=True)
class Tradeoff:
    """Targeting policies across guardrail prices, each valued on every outcome.

    Attributes
    ----------
    frontier : DataFrame
        One row per price: lam, share_boosted, objective (+ _se, _ci_lower, _ci_upper), and
        per outcome ``<outcome>`` (+ _se, _ci_lower, _ci_upper): the per-unit change vs
        boosting nobody; feasible (every guardrail's upper bound <= its margin); pareto
        (not dominated on the objective and the guardrails); recommended.
    weights : dict
        The objective's weight per outcome.
    guardrails : dict
        Margin per guardrail outcome.
    """

    frontier: pd.DataFrame
    weights: dict[str, float]
    guardrails: dict[str, float]
    alpha: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def recommended(self) -> pd.Series | None:
        """The feasible policy with the largest objective (None if none is feasible)."""
        rec = self.frontier[self.frontier["recommended"]]
        return None if rec.empty else rec.iloc[0]

    def to_pandas(self) -> pd.DataFrame:
        """The frontier table."""
        return self.frontier.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "weights": self.weights,
            "guardrails": self.guardrails,
            "alpha": self.alpha,
            "frontier": [
                {k: _json_value(v) for k, v in r.items()} for r in self.frontier.to_dict("records")
            ],
            "notes": list(self.notes),
        }

    def _repr_html_(self) -> str:
        esc = html.escape
        rec = self.recommended
        head = "<h4>Targeting across outcomes</h4>"
        if rec is None:
            head += "<p>No policy keeps every guardrail within its margin.</p>"
        else:
            head += (
                f"<p>Recommended: boost {rec['share_boosted']:.1%} (price {rec['lam']:g}); "
                f"objective {rec['objective']:.4g} [{rec['objective_ci_lower']:.4g}, "
                f"{rec['objective_ci_upper']:.4g}] per unit.</p>"
            )
        table = self.frontier.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return head + table + "".join(f"<p><em>{esc(n)}</em></p>" for n in self.notes)

    def plot(self, guardrail: str | None = None) -> Any:
        """Objective vs a guardrail's change, each policy with both intervals."""
        from matplotlib.figure import Figure

        g = guardrail or next(iter(self.guardrails))
        f = self.frontier
        fig = Figure(figsize=(5, 4))
        ax = fig.subplots()
        ax.errorbar(
            f[g],
            f["objective"],
            xerr=[f[g] - f[f"{g}_ci_lower"], f[f"{g}_ci_upper"] - f[g]],
            yerr=[
                f["objective"] - f["objective_ci_lower"],
                f["objective_ci_upper"] - f["objective"],
            ],
            fmt="o",
            color="0.6",
        )
        p = f[f["pareto"]].sort_values(g)
        ax.plot(p[g], p["objective"], "-o", color="C0", label="Pareto frontier")
        ax.axvline(self.guardrails[g], color="C3", ls="--", label=f"{g} margin")
        ax.set_xlabel(f"change in {g} per unit")
        ax.set_ylabel("objective per unit")
        ax.legend(fontsize="small")
        fig.tight_layout()
        return fig


def _stats(s: np.ndarray, groups: np.ndarray | None, alpha: float) -> tuple[float, ...]:
    if not np.any(s):
        return 0.0, 0.0, 0.0, 0.0
    r = mean_effect_from_scores(s, groups=groups, alpha=alpha)
    return r.effect, r.se, r.effect_ci_lower, r.effect_ci_upper


@one_blas_thread
def tradeoff(
    est: BaseCate,
    Y: Any,
    T: Any,
    *,
    primary: str | None = None,
    weights: Mapping[str, float] | None = None,
    guardrails: Mapping[str, float] | None = None,
    lambdas: Sequence[float] | None = None,
    X: Any = None,
    W: Any = None,
    groups: Any = None,
    T1: Any = None,
    alpha: float = 0.05,
    random_state: Any = 0,
) -> Tradeoff:
    """Weigh several outcomes, hold guardrails, and value each policy on the frontier.

    Parameters
    ----------
    est : estimator fitted on several outcomes (``Y`` a DataFrame), discrete treatment
    Y, T : as passed to ``fit`` (or new rows, then with X/W)
    primary : str, optional
        The outcome to raise (objective weight 1) when ``weights`` is not given.
    weights : mapping outcome -> weight, optional
        Objective ``sum_j w_j Y_j`` (e.g. ``{"saves": 1, "outbound_clicks": 0.5}``).
    guardrails : mapping outcome -> margin
        The largest acceptable rise per unit of each outcome (say hides: ``{"hides": 0.02}``);
        a margin of 0 means "must not rise".
    lambdas : sequence of float, optional
        Guardrail prices to scan (default :data:`DEFAULT_LAMBDAS`).
    groups : cluster ids; default those of the fit.

    Returns
    -------
    Tradeoff

    Examples
    --------
    >>> import numpy as np, pandas as pd, estimators
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(3000, 2)); T = rng.integers(0, 2, 3000)
    >>> Y = pd.DataFrame({"saves": T * (1 + X[:, 0]) + rng.normal(size=3000),
    ...                   "hides": T * (0.2 + 0.5 * X[:, 1]) + rng.normal(size=3000)})
    >>> est = estimators.LinearDML(random_state=0).fit(Y, T, X=X)
    >>> tr = estimators.tradeoff(est, Y, T, primary="saves", guardrails={"hides": 0.0})
    >>> bool(tr.recommended["hides_ci_upper"] <= 0.0)
    True
    """
    check_params("tradeoff", {"alpha": alpha}, {"alpha": Real(0.0, 0.5, closed="neither")})
    rng = resolve_rng(random_state, "tradeoff")
    sc = score_context(
        est, Y, T, X=X, W=W, groups=groups, outcome=None, T1=T1, rng=rng, multi_outcome=True
    )
    ctx = sc.ctx
    names = [str(n) for n in ctx.data.outcome_names]
    if len(names) < 2:
        raise EstimatorInputError(
            "tradeoff() needs a model fitted on several outcomes (Y a DataFrame, e.g. saves "
            "and hides); this one has one."
        )
    if weights is None:
        if primary is None:
            raise EstimatorInputError("Pass primary=<outcome to raise> or weights={outcome: w}.")
        weights = {primary: 1.0}
    guardrails = dict(guardrails or {})
    for name in [*weights, *guardrails]:
        if name not in names:
            raise EstimatorInputError(
                f"Outcome {name!r} is not one of the fitted outcomes {names}."
            )
    for name, margin in guardrails.items():
        if not np.isfinite(margin):
            raise EstimatorInputError(f"The margin of guardrail {name!r} must be finite.")
    lams = tuple(DEFAULT_LAMBDAS if lambdas is None else lambdas)
    if not lams or any(not np.isfinite(v) or v < 0 for v in lams):
        raise EstimatorInputError(f"lambdas must be non-negative finite numbers; got {lambdas!r}.")
    assert ctx.dr is not None
    scores = ctx.dr[:, :, sc.a_e]  # (n, d_y)
    if sc.same:
        tau = honest_cate_all(est, ctx, ctx.nuis.folds)[:, :, sc.a]
    else:
        pred = np.asarray(est.effect(ctx.data.X), dtype=float)
        tau = pred.reshape(len(pred), -1)
    idx = {n: i for i, n in enumerate(names)}
    w_vec = np.zeros(len(names))
    for name, w in weights.items():
        w_vec[idx[name]] = float(w)
    obj_tau = tau @ w_vec
    obj_scores = scores @ w_vec
    scale = np.abs(obj_tau).std() or 1.0
    guard_tau = np.zeros(len(obj_tau))
    for name in guardrails:
        sd = tau[:, idx[name]].std() or 1.0
        guard_tau += tau[:, idx[name]] / sd
    g = sc.groups
    rows = []
    for lam in lams:
        pi = (obj_tau - lam * scale * guard_tau > 0).astype(float)
        rec: dict[str, Any] = {"lam": float(lam), "share_boosted": float(pi.mean())}
        e, se, lo, hi = _stats(obj_scores * pi, g, alpha)
        rec.update(objective=e, objective_se=se, objective_ci_lower=lo, objective_ci_upper=hi)
        for name in names:
            e, se, lo, hi = _stats(scores[:, idx[name]] * pi, g, alpha)
            rec.update({name: e, f"{name}_se": se, f"{name}_ci_lower": lo, f"{name}_ci_upper": hi})
        rec["feasible"] = all(rec[f"{n}_ci_upper"] <= m for n, m in guardrails.items())
        rows.append(rec)
    frontier = pd.DataFrame(rows)
    obj = frontier["objective"].to_numpy()
    guards = frontier[list(guardrails)].to_numpy() if guardrails else np.zeros((len(obj), 0))
    pareto = []
    for i in range(len(obj)):
        dominated = any(
            obj[k] >= obj[i]
            and np.all(guards[k] <= guards[i])
            and (obj[k] > obj[i] or np.any(guards[k] < guards[i]))
            for k in range(len(obj))
        )
        pareto.append(not dominated)
    frontier["pareto"] = pareto
    feas = frontier["feasible"].to_numpy()
    frontier["recommended"] = False
    if feas.any():
        best = int(np.flatnonzero(feas)[np.argmax(obj[feas])])
        frontier.loc[best, "recommended"] = True
    notes = [
        "Per-unit changes vs boosting nobody, from the doubly-robust scores of out-of-fold "
        "decisions; feasible = every guardrail's upper confidence bound within its margin.",
        *sc.notes,
    ]
    return Tradeoff(
        frontier=frontier,
        weights={k: float(v) for k, v in weights.items()},
        guardrails={k: float(v) for k, v in guardrails.items()},
        alpha=alpha,
        notes=tuple(notes),
    )
