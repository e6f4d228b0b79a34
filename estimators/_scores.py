"""Pure statistics on doubly-robust scores: GATEs with simultaneous bands, BLP, GATES/CLAN,
uplift (Qini/TOC) curves, RATE and "boost the top share" policy values.

Every function takes per-unit doubly-robust scores ``scores`` (``Gamma_i``, whose conditional
mean given ``x_i`` is the CATE), optional CATE predictions ``tau_hat`` that were made without
the row's outcome (out of fold or on held-out rows), optional cluster codes ``groups``, and
returns plain numbers / DataFrames. Inference is conditional on ``tau_hat``: every estimand
that depends on a ranking (BLP slope, GATES by CATE quantile, Qini, AUTOC, top-share value)
is the one of the *realised* ranking, and every estimator is a (weighted) mean of per-unit
terms whose standard error comes from :func:`estimators.mean_effect_from_scores` (HC1, or CR2
with Bell–McCaffrey degrees of freedom under ``groups``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from estimators._aipw import ATEResult, mean_effect_from_scores, plr_ate
from estimators._errors import EstimatorInputError

__all__ = [
    "blp_test",
    "clan_table",
    "gate_table",
    "median_rule",
    "quantile_gates",
    "rank_groups",
    "rate_table",
    "sup_t_critical",
    "uplift_curve",
]

#: Monte Carlo draws for the simultaneous-band critical value. The max-|t| quantile at 95% has
#: Monte Carlo SE about 0.01 in t units with 20,000 draws.
BAND_DRAWS = 20_000
#: Rows per chunk when forming the score covariance of overlapping segments (bounds memory).
COV_CHUNK_ROWS = 200_000


def _row(r: ATEResult) -> dict[str, float]:
    return {
        "effect": r.effect,
        "se": r.se,
        "effect_ci_lower": r.effect_ci_lower,
        "effect_ci_upper": r.effect_ci_upper,
        "pvalue": r.pvalue,
    }


def _nan_row() -> dict[str, float]:
    return dict.fromkeys(("effect", "se", "effect_ci_lower", "effect_ci_upper", "pvalue"), np.nan)


def _safe_mean(
    s: np.ndarray, groups: np.ndarray | None, alpha: float
) -> tuple[dict[str, float], float | None]:
    """Mean with inference; NaN row when the subset cannot carry a standard error."""
    if s.size < 2:
        return _nan_row(), None
    try:
        r = mean_effect_from_scores(s, groups=groups, alpha=alpha)
    except EstimatorInputError:  # fewer than two clusters in the subset
        return {**_nan_row(), "effect": float(np.mean(s))}, None
    return _row(r), r.dof


def sup_t_critical(
    corr: np.ndarray, alpha: float, rng: np.random.Generator, draws: int = BAND_DRAWS
) -> float:
    """The ``1 - alpha`` quantile of ``max_s |Z_s|`` for ``Z ~ N(0, corr)`` (sup-t band).

    The Gaussian multiplier bootstrap of the estimates' influence functions is, given the data,
    exactly ``N(0, Sigma_hat)``; drawing from it directly is the same and costs
    ``O(draws x S^2)`` instead of ``O(draws x n)`` (Chernozhukov, Chetverikov & Kato 2013;
    Montiel Olea & Plagborg-Møller 2019).

    Examples
    --------
    >>> import numpy as np
    >>> c = sup_t_critical(np.eye(1), 0.05, np.random.default_rng(0))
    >>> abs(c - 1.96) < 0.05
    True
    """
    s = corr.shape[0]
    if s == 0:
        return float("nan")
    vals, vecs = np.linalg.eigh((corr + corr.T) / 2)
    # the symmetric square root: unlike vecs * sqrt(vals) it does not depend on the signs (or,
    # for repeated eigenvalues, the rotation) eigh picks, which rounding-level changes of corr
    # (row order, Spark's partial aggregates) can flip — the draws, and so the critical value,
    # are then a continuous function of corr
    root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T
    z = rng.standard_normal((draws, s)) @ root.T
    return float(np.quantile(np.abs(z).max(axis=1), 1 - alpha))


def band_limits(
    cov: np.ndarray,
    thetas: np.ndarray,
    se: np.ndarray,
    dofs: list[float | None],
    idx: np.ndarray,
    n_rows: int,
    alpha: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Simultaneous band over the estimates ``idx`` from their covariance ``cov``.

    The sup-t critical value of ``corr(cov)`` (:func:`sup_t_critical`); an estimate with
    degrees of freedom (CR2 / Bell-McCaffrey) gets the t quantile at the same per-estimate
    level instead. Returns ``(lower, upper, crit)`` over ``n_rows`` rows (NaN outside ``idx``).
    The one band :func:`estimators.evaluate`'s GATE table, ``causal``'s weighted segment table
    and its Spark segment effects all use.

    Parameters
    ----------
    cov : ndarray of shape (m, m)
        Covariance of the ``m = len(idx)`` estimates in the band.
    thetas, se : ndarray of shape (n_rows,)
        Every estimate and its standard error (only the rows in ``idx`` are used).
    dofs : list of float or None, length n_rows
        Degrees of freedom of each estimate (None: normal reference).
    idx : ndarray of int, shape (m,)
        Rows in the band (e.g. those with a finite, positive SE), in ``cov``'s order.
    n_rows : int
    alpha : float
        One minus the band's simultaneous coverage.
    rng : Generator
        For the Gaussian draws of the sup-t critical value.

    Returns
    -------
    lower, upper : ndarray of shape (n_rows,)
        NaN outside ``idx``.
    crit : float
        The normal-scale sup-t critical value (NaN when ``idx`` is empty).

    Examples
    --------
    >>> from estimators.inference import band_limits
    >>> import numpy as np
    >>> lo, hi, c = band_limits(np.eye(1), np.array([1.0]), np.array([0.5]), [None],
    ...                         np.array([0]), 1, 0.05, np.random.default_rng(0))
    >>> bool(abs(hi[0] - lo[0] - 2 * c * 0.5) < 1e-12)
    True
    """
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd) if idx.size else cov
    crit = sup_t_critical(corr, alpha, rng)
    level = float(stats.norm.cdf(crit)) if np.isfinite(crit) else np.nan
    lower = np.full(n_rows, np.nan)
    upper = np.full(n_rows, np.nan)
    for i in idx:
        c_i = crit if dofs[i] is None else float(stats.t(dofs[i]).ppf(level))
        lower[i] = thetas[i] - c_i * se[i]
        upper[i] = thetas[i] + c_i * se[i]
    return lower, upper, crit


def _segment_codes(segments: pd.DataFrame) -> list[tuple[str, str, object, np.ndarray]]:
    """(label, column, value, mask) per segment, in column then sorted-value order."""
    out = []
    for col in segments.columns:
        s = segments[col]
        if s.isna().any():
            raise EstimatorInputError(
                f"segments column {col!r} has {int(s.isna().sum())} missing values; fill them "
                "(e.g. with 'unknown') or drop those rows."
            )
        values = (
            list(s.cat.categories)
            if isinstance(s.dtype, pd.CategoricalDtype)
            else sorted(s.unique(), key=lambda v: (str(type(v)), v))
        )
        arr = s.to_numpy()
        for v in values:
            mask = arr == v
            if mask.any():
                out.append((f"{col}={v}", str(col), v, mask))
    return out


def gate_table(
    scores: np.ndarray,
    segments: pd.DataFrame,
    *,
    groups: np.ndarray | None = None,
    alpha: float = 0.05,
    rng: np.random.Generator | None = None,
) -> tuple[pd.DataFrame, float]:
    """Group average effects per segment with pointwise intervals and a simultaneous band.

    ``effect_s = mean(scores | segment s)``; pointwise intervals as in
    :func:`estimators.mean_effect_from_scores`. The band ``effect_s +- c_s se_s`` holds for
    every segment together with probability ``1 - alpha``: ``c`` is the sup-t critical value
    (:func:`sup_t_critical`) of the segments' estimated correlation (segments of different
    columns overlap and are correlated; clusters are summed first). Under ``groups`` the
    normal level ``Phi(c)`` is mapped to each segment's Student-t reference,
    ``c_s = t_{dof_s}^{-1}(Phi(c))``.

    Returns
    -------
    (DataFrame, float)
        Columns segment, column, value, n, effect, se, effect_ci_lower, effect_ci_upper,
        pvalue, band_lower, band_upper; and the normal sup-t critical value.
    """
    rng = rng or np.random.default_rng(0)
    segs = _segment_codes(segments)
    rows = []
    dofs: list[float | None] = []
    for label, col, value, mask in segs:
        g = None if groups is None else groups[mask]
        row, dof = _safe_mean(scores[mask], g, alpha)
        rows.append({"segment": label, "column": col, "value": value, "n": int(mask.sum()), **row})
        dofs.append(dof)
    table = pd.DataFrame(
        rows,
        columns=[
            "segment",
            "column",
            "value",
            "n",
            "effect",
            "se",
            "effect_ci_lower",
            "effect_ci_upper",
            "pvalue",
        ],
    )
    se_all = table["se"].to_numpy(dtype=float)
    ok = np.isfinite(se_all) & (se_all > 0)
    idx = np.flatnonzero(ok)
    cov = np.zeros((idx.size, idx.size))
    thetas = table["effect"].to_numpy(dtype=float)
    if idx.size:
        masks = [segs[i][3] for i in idx]
        ns = np.array([m.sum() for m in masks], dtype=float)
        n = scores.size
        if groups is not None:
            codes = pd.factorize(groups)[0]
            n_g = int(codes.max()) + 1
            agg = np.zeros((n_g, idx.size))
            for c, (i, m) in enumerate(zip(idx, masks, strict=True)):
                agg[:, c] = np.bincount(
                    codes[m], weights=(scores[m] - thetas[i]) / ns[c], minlength=n_g
                )
            cov = agg.T @ agg
        else:
            for start in range(0, n, COV_CHUNK_ROWS):
                sl = slice(start, start + COV_CHUNK_ROWS)
                psi = np.zeros((min(n, start + COV_CHUNK_ROWS) - start, idx.size))
                for c, (i, m) in enumerate(zip(idx, masks, strict=True)):
                    psi[:, c] = np.where(m[sl], (scores[sl] - thetas[i]) / ns[c], 0.0)
                cov += psi.T @ psi
    lower, upper, crit = band_limits(
        cov, thetas, table["se"].to_numpy(), dofs, idx, len(table), alpha, rng
    )
    table["band_lower"] = lower
    table["band_upper"] = upper
    return table, crit


def rank_groups(tau_hat: np.ndarray, n_groups: int, rng: np.random.Generator) -> np.ndarray:
    """Quantile group 0..n_groups-1 of each row by ``tau_hat`` (ties broken at random)."""
    n = tau_hat.size
    order = np.lexsort((rng.random(n), tau_hat))
    ranks = np.empty(n, dtype=int)
    ranks[order] = np.arange(n)
    return (ranks * n_groups) // n


def blp_test(
    scores: np.ndarray, tau_hat: np.ndarray, *, groups: np.ndarray | None, alpha: float
) -> dict[str, ATEResult]:
    """Best linear predictor of the CATE: ``scores ~ b1 + b2 (tau_hat - mean(tau_hat))``.

    ``b1`` is the ATE; ``b2`` the heterogeneity loading (1 for a calibrated model, 0 when
    ``tau_hat`` carries no information about the effect). Chernozhukov, Demirer, Duflo &
    Fernández-Val (generic ML inference), doubly-robust variant (as grf's
    ``test_calibration`` and econml's ``DRTester.evaluate_blp``). ``b2`` is computed as the
    no-intercept fit on the centred prediction, which equals the OLS slope; its SE is HC1
    (CR2 under ``groups``) via :func:`estimators.plr_ate`.
    """
    centred = tau_hat - tau_hat.mean()
    if float(np.sum(centred**2)) <= 0.0:
        raise EstimatorInputError(
            "The CATE predictions are constant, so the calibration test has nothing to test; "
            "the model found no heterogeneity (fit with modifiers X that vary)."
        )
    b1 = mean_effect_from_scores(scores, groups=groups, alpha=alpha)
    b2 = plr_ate(scores - scores.mean(), centred, groups=groups, alpha=alpha)
    return {"mean": b1, "heterogeneity": b2}


def quantile_gates(
    scores: np.ndarray,
    groups_q: np.ndarray,
    n_groups: int,
    *,
    groups: np.ndarray | None,
    alpha: float,
) -> pd.DataFrame:
    """GATES: the average effect in each CATE-quantile group, and top minus bottom.

    Returns rows ``group`` 1..n_groups (1 = lowest predicted effect) and ``"top - bottom"``,
    columns group, n, effect, se, effect_ci_lower, effect_ci_upper, pvalue.
    """
    rows = []
    for q in range(n_groups):
        m = groups_q == q
        row, _ = _safe_mean(scores[m], None if groups is None else groups[m], alpha)
        rows.append({"group": str(q + 1), "n": int(m.sum()), **row})
    top, bot = groups_q == n_groups - 1, groups_q == 0
    diff = scores * (top / top.mean() - bot / bot.mean())
    row, _ = _safe_mean(diff, groups, alpha)
    rows.append({"group": "top - bottom", "n": int(top.sum() + bot.sum()), **row})
    return pd.DataFrame(rows)


def clan_table(
    features: pd.DataFrame,
    groups_q: np.ndarray,
    n_groups: int,
    *,
    groups: np.ndarray | None,
    alpha: float,
) -> pd.DataFrame:
    """CLAN: each feature's mean in the most- and least-affected CATE-quantile groups.

    ``features`` is numeric (categorical columns one-hot encoded by the caller). The
    difference ``mean(top) - mean(bottom)`` is the mean of ``x (1[top]/p_top -
    1[bottom]/p_bottom)``, with its (cluster-robust) SE.

    Returns columns feature, mean_top, mean_bottom, effect (the difference), se,
    effect_ci_lower, effect_ci_upper, pvalue.
    """
    top, bot = groups_q == n_groups - 1, groups_q == 0
    rows = []
    for col in features.columns:
        x = features[col].to_numpy(dtype=float)
        row, _ = _safe_mean(x * (top / top.mean() - bot / bot.mean()), groups, alpha)
        rows.append(
            {
                "feature": str(col),
                "mean_top": float(x[top].mean()),
                "mean_bottom": float(x[bot].mean()),
                **row,
            }
        )
    return pd.DataFrame(rows)


def _top_mask(order: np.ndarray, share: float) -> np.ndarray:
    k = int(np.floor(share * order.size + 1e-9))
    mask = np.zeros(order.size, dtype=bool)
    mask[order[:k]] = True
    return mask


def descending_order(tau_hat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices from the largest predicted effect down (ties in random order)."""
    return np.lexsort((rng.random(tau_hat.size), -tau_hat))


def uplift_curve(
    scores: np.ndarray,
    order: np.ndarray,
    shares: Sequence[float],
    *,
    groups: np.ndarray | None,
    alpha: float,
) -> pd.DataFrame:
    """Qini, TOC and policy value at each share of units boosted, highest predicted first.

    For the top ``q`` share ``S`` (``|S| = floor(q n)``): ``value = mean(scores 1[S])`` — the
    per-unit gain of boosting ``S`` over boosting nobody; ``qini = mean(scores (1[S] - q'))``
    with ``q' = |S|/n`` — the gain over boosting a random ``q'`` share (econml's Qini
    ``q' (mean(scores | S) - ATE)``); ``toc = mean(scores | S) - ATE``; and
    ``effect_targeted = mean(scores | S)``. Each with its (cluster-robust) interval.
    """
    rows = []
    for q in shares:
        m = _top_mask(order, float(q))
        q_eff = m.mean()
        rec: dict[str, float] = {"share": float(q), "n_targeted": int(m.sum())}
        if m.sum() == 0:
            for name in ("value", "qini", "toc", "effect_targeted"):
                rec.update({name: 0.0 if name in ("value", "qini") else np.nan})
                for suffix in ("se", "ci_lower", "ci_upper"):
                    rec[f"{name}_{suffix}"] = 0.0 if name in ("value", "qini") else np.nan
            rows.append(rec)
            continue
        parts = {
            "value": scores * m,
            "qini": scores * (m - q_eff),
            "toc": scores * (m / q_eff - 1.0),
            "effect_targeted": None,
        }
        for name, s in parts.items():
            if s is None:
                sub = scores[m]
                row, _ = _safe_mean(sub, None if groups is None else groups[m], alpha)
            else:
                row, _ = _safe_mean(s, groups, alpha)
            rec[name] = row["effect"]
            rec[f"{name}_se"] = row["se"]
            rec[f"{name}_ci_lower"] = row["effect_ci_lower"]
            rec[f"{name}_ci_upper"] = row["effect_ci_upper"]
        rows.append(rec)
    return pd.DataFrame(rows)


def rank_weights(order: np.ndarray, tau_hat: np.ndarray, kind: str) -> np.ndarray:
    """Per-row weights ``w`` with ``RATE = sum(w * scores)`` for the ranking ``order``.

    ``autoc``: ``(1/n) sum_k TOC(k/n)`` with ``TOC(k/n) = mean of the top k - ATE`` gives
    ``w_(j) = (H_n - H_(j-1) - 1) / n`` (``H`` harmonic numbers) for the unit ranked ``j``;
    ``qini``: ``(1/n) sum_k (k/n) TOC(k/n)`` gives ``w_(j) = (n - j + 1)/n^2 - (n + 1)/(2 n^2)``
    (Yadlowsky et al. 2021, the discrete forms). Tied predictions get their average weight.
    """
    n = order.size
    j = np.arange(1, n + 1, dtype=float)
    if kind == "autoc":
        harmonic = np.concatenate([[0.0], np.cumsum(1.0 / j)])
        w_rank = (harmonic[n] - harmonic[:-1] - 1.0) / n
    else:
        w_rank = ((n - j + 1) / n - (n + 1) / (2 * n)) / n
    w = np.empty(n)
    w[order] = w_rank
    _, inv = np.unique(tau_hat, return_inverse=True)
    if inv.max() + 1 < n:  # ties: average within each tied value
        w = (np.bincount(inv, weights=w) / np.bincount(inv))[inv]
    return w


def rate_table(
    scores: np.ndarray,
    order: np.ndarray,
    tau_hat: np.ndarray,
    *,
    groups: np.ndarray | None,
    alpha: float,
) -> pd.DataFrame:
    """RATE metrics of the ranking: AUTOC and the Qini coefficient with SE and interval.

    Each is ``sum(w * scores)`` for the weights of :func:`rank_weights`, i.e. the mean of
    ``n w_i scores_i``; its SE is that mean's (HC1 / CR2), conditional on the ranking. The
    p-value is one-sided (``RATE > 0``: the ranking finds units that gain more than average).
    """
    rows = []
    n = scores.size
    for kind, label in (("autoc", "AUTOC"), ("qini", "QINI")):
        w = rank_weights(order, tau_hat, kind)
        row, dof = _safe_mean(n * w * scores, groups, alpha)
        ref = stats.norm if dof is None else stats.t(dof)
        p1 = float(ref.sf(row["effect"] / row["se"])) if row["se"] > 0 else np.nan
        rows.append({"metric": label, **row, "pvalue": p1})
    return pd.DataFrame(rows)


def median_rule(tables: Sequence[pd.DataFrame], keys: Sequence[str]) -> pd.DataFrame:
    """Combine the same table from several sample splits (Chernozhukov et al., median rule).

    Estimates, SEs and interval bounds: the median over splits, where each split's interval was
    computed at level ``1 - alpha / 2`` by the caller when there are several splits;
    p-values: ``min(1, 2 median(p))`` (or the single split's when there is one). The result is
    valid at level ``1 - alpha`` (their Theorem 4.3). ``keys`` identify rows across splits.
    """
    if len(tables) == 1:
        return tables[0].reset_index(drop=True)
    stacked = pd.concat(tables, ignore_index=True)
    num = [
        c for c in stacked.columns if c not in keys and pd.api.types.is_numeric_dtype(stacked[c])
    ]
    out = stacked.groupby(list(keys), sort=False)[num].median().reset_index()
    for c in [c for c in out.columns if c == "pvalue" or c.endswith("_pvalue")]:
        out[c] = np.minimum(1.0, 2.0 * out[c])
    return out
