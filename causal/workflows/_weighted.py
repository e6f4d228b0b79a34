"""Weighted segment effects and targeting values from doubly-robust scores.

:func:`estimators.evaluate` takes no weights, so when the :class:`~causal.data.Design` names a
``weight`` the what-works segment and targeting tables are computed here, from the same
cross-fitted doubly-robust (AIPW) scores ``Gamma_i`` and out-of-fold CATE predictions:

- segment effect ``theta_s = sum_{i in s} w_i Gamma_i / sum_{i in s} w_i`` with the
  influence-function SE of :func:`estimators.mean_effect_from_scores` (HC1, or CR2 under
  clusters) and a sup-t simultaneous band over all segments from the weighted influence
  functions' correlation (as :func:`estimators.evaluate`'s unweighted band);
- the value of boosting the top share ``q`` of the *weighted* population (items ranked by
  predicted effect, taken while their cumulative weight is at most ``q sum w``):
  ``value = sum w Gamma 1[S] / sum w``, the gain over a random share of the same weight
  ``sum w Gamma (1[S] - q') / sum w`` with ``q' = sum_S w / sum w``, and the effect on the
  targeted ``sum_S w Gamma / sum_S w``.

With all weights equal these are the unweighted tables (up to the random tie-breaking of
equal predictions).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["weighted_gate", "weighted_targeting"]

_COV_CHUNK_ROWS = 200_000


def _codes(groups: np.ndarray | None) -> np.ndarray | None:
    return None if groups is None else pd.factorize(np.asarray(groups))[0]


def weighted_gate(
    scores: np.ndarray,
    labels: pd.DataFrame,
    weights: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    alpha: float = 0.05,
    rng: np.random.Generator | None = None,
) -> tuple[pd.DataFrame, float]:
    """Weighted segment effects with pointwise intervals and a simultaneous band.

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Doubly-robust scores of one outcome and arm.
    labels : DataFrame of segment columns (text labels, no missing values)
    weights : ndarray of shape (n,), >= 0
    groups : cluster ids, optional
    alpha : float
    rng : Generator, optional (the band's Gaussian draws)

    Returns
    -------
    (DataFrame, float)
        Columns segment (the column), value, n, effect, se, effect_ci_lower,
        effect_ci_upper, pvalue, band_lower, band_upper; and the normal sup-t critical value.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> s = np.array([1.0, 3.0, 2.0, 6.0]); w = np.array([1.0, 1.0, 1.0, 3.0])
    >>> t, _ = weighted_gate(s, pd.DataFrame({"g": ["a", "a", "b", "b"]}), w)
    >>> t["effect"].tolist()
    [2.0, 5.0]
    """

    from estimators import mean_effect_from_scores
    from estimators.inference import band_limits

    rng = rng or np.random.default_rng(0)
    scores = np.asarray(scores, dtype=float)
    w = np.asarray(weights, dtype=float)
    g = _codes(groups)
    rows, masks, dofs = [], [], []
    for col in labels.columns:
        arr = labels[col].to_numpy()
        for value in sorted(pd.unique(arr), key=lambda v: (str(type(v)), v)):
            m = arr == value
            rec = {"segment": str(col), "value": value, "n": int(m.sum())}
            if w[m].sum() > 0:
                r = mean_effect_from_scores(
                    scores[m], sample_weight=w[m], groups=None if g is None else g[m], alpha=alpha
                )
                rec.update(effect=r.effect, se=r.se, effect_ci_lower=r.effect_ci_lower,
                           effect_ci_upper=r.effect_ci_upper, pvalue=r.pvalue)  # fmt: skip
                dofs.append(r.dof)
            else:
                nan = float("nan")
                rec.update(effect=nan, se=nan, effect_ci_lower=nan, effect_ci_upper=nan,
                           pvalue=nan)  # fmt: skip
                dofs.append(None)
            rows.append(rec)
            masks.append(m)
    cols = ["segment", "value", "n", "effect", "se", "effect_ci_lower", "effect_ci_upper",
            "pvalue"]  # fmt: skip
    table = pd.DataFrame(rows, columns=cols)
    theta = table["effect"].to_numpy(dtype=float)
    se = table["se"].to_numpy(dtype=float)
    idx = np.flatnonzero(np.isfinite(se) & (se > 0))
    cov = np.zeros((idx.size, idx.size))
    totals = np.array([w[masks[i]].sum() for i in idx])
    n = scores.size
    if idx.size and g is not None:
        n_g = int(g.max()) + 1
        agg = np.zeros((n_g, idx.size))
        for c, i in enumerate(idx):
            m = masks[i]
            agg[:, c] = np.bincount(
                g[m], weights=w[m] * (scores[m] - theta[i]) / totals[c], minlength=n_g
            )
        cov = agg.T @ agg
    elif idx.size:
        for start in range(0, n, _COV_CHUNK_ROWS):
            sl = slice(start, min(n, start + _COV_CHUNK_ROWS))
            psi = np.zeros((sl.stop - sl.start, idx.size))
            for c, i in enumerate(idx):
                psi[:, c] = np.where(masks[i][sl], w[sl] * (scores[sl] - theta[i]) / totals[c], 0.0)
            cov += psi.T @ psi
    lower, upper, crit = band_limits(cov, theta, se, dofs, idx, len(table), alpha, rng)
    table["band_lower"] = lower
    table["band_upper"] = upper
    return table, float(crit)


def weighted_targeting(
    scores: np.ndarray,
    tau: np.ndarray,
    weights: np.ndarray,
    *,
    shares: Sequence[float] = tuple(np.round(np.arange(0.05, 1.0001, 0.05), 2)),
    groups: np.ndarray | None = None,
    alpha: float = 0.05,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """The weighted value of boosting the top share by predicted effect (see the module).

    Returns
    -------
    DataFrame
        Columns share, n_targeted, value, value_se, value_ci_lower, value_ci_upper,
        gain_vs_random, gain_vs_random_ci_lower, gain_vs_random_ci_upper, effect_targeted —
        the columns of :func:`estimators.evaluate`'s ``policy_values``.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([4.0, 0.0, 1.0, 1.0]); tau = np.array([3.0, 2.0, 1.0, 0.0])
    >>> t = weighted_targeting(s, tau, np.array([2.0, 1.0, 1.0, 0.0]), shares=[0.5, 1.0])
    >>> t["value"].tolist(), t["n_targeted"].tolist()
    ([2.0, 2.25], [1, 4])
    """
    from estimators import mean_effect_from_scores

    rng = rng or np.random.default_rng(0)
    scores = np.asarray(scores, dtype=float)
    w = np.asarray(weights, dtype=float)
    g = _codes(groups)
    order = np.lexsort((rng.random(scores.size), -np.asarray(tau, dtype=float)))
    cum = np.cumsum(w[order])
    total = float(cum[-1])
    rows = []
    for q in shares:
        k = int(np.searchsorted(cum, float(q) * total * (1 + 1e-12), side="right"))
        m = np.zeros(scores.size, dtype=bool)
        m[order[:k]] = True
        q_eff = float(w[m].sum()) / total
        value = mean_effect_from_scores(scores * m, sample_weight=w, groups=g, alpha=alpha)
        gain = mean_effect_from_scores(scores * (m - q_eff), sample_weight=w, groups=g,
                                       alpha=alpha)  # fmt: skip
        targeted = float("nan")
        if w[m].sum() > 0:
            targeted = float(np.sum(w[m] * scores[m]) / np.sum(w[m]))
        rows.append(
            {
                "share": float(q),
                "n_targeted": int(k),
                "value": value.effect,
                "value_se": value.se,
                "value_ci_lower": value.effect_ci_lower,
                "value_ci_upper": value.effect_ci_upper,
                "gain_vs_random": gain.effect,
                "gain_vs_random_ci_lower": gain.effect_ci_lower,
                "gain_vs_random_ci_upper": gain.effect_ci_upper,
                "effect_targeted": targeted,
            }
        )
    return pd.DataFrame(rows)
