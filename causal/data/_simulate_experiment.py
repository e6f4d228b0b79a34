"""A simulated user-randomized A/B/n test with pre-period covariates and exactly known lifts.

Users fall in segment cells (country x platform x tenure) with known probabilities; every
user-level random factor has mean one and is independent of the cell, so each metric's
expected value under each variant is an exact finite sum over the 54 cells. That sum is
:func:`experiment_truth`: it depends on the parameters only (not on ``n_users`` or the seed),
so the truth survives any round trip of the data — call the function with the same parameters.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from causal._errors import ConfigError
from causal.data._rng import Seed, check_positive_int, resolve_rng

__all__ = ["EXPERIMENT_METRICS", "LIFT_DRIVERS", "experiment_truth", "simulate_experiment"]

#: Metrics whose true lifts :func:`experiment_truth` reports, with their kind.
EXPERIMENT_METRICS: dict[str, str] = {
    "impressions": "mean",
    "clicks": "mean",
    "ctr": "ratio",  # clicks / impressions, ratio of sums
    "saves": "mean",
    "converted": "proportion",
    "revenue": "mean",
}

#: The quantities a variant lifts (relative lifts, population-weighted, before segments).
LIFT_DRIVERS: tuple[str, ...] = ("impressions", "ctr", "saves", "conversion", "order_value")
_DEFAULT_LIFT = {
    "impressions": 0.01,
    "ctr": 0.02,
    "saves": 0.03,
    "conversion": 0.04,
    "order_value": 0.01,
}

# segment columns: (values, probabilities, baseline activity, conversion factor, lift multiplier)
_SEGMENTS: dict[str, dict[str, tuple[float, ...] | tuple[str, ...]]] = {
    "country": {
        "values": ("US", "GB", "DE", "BR", "IN", "JP"),
        "p": (0.40, 0.10, 0.10, 0.15, 0.15, 0.10),
        "activity": (1.2, 1.0, 0.9, 0.8, 0.6, 1.0),
        "conversion": (1.3, 1.1, 1.0, 0.7, 0.5, 0.9),
        "aov": (40.0, 35.0, 35.0, 15.0, 8.0, 30.0),
        "lift": (1.0, 1.0, 0.8, 1.5, 1.8, 0.5),
    },
    "platform": {
        "values": ("ios", "android", "web"),
        "p": (0.40, 0.45, 0.15),
        "activity": (1.1, 1.0, 0.7),
        "ctr": (1.1, 1.0, 0.8),
        "lift": (1.3, 1.0, 0.3),
    },
    "tenure": {
        "values": ("new", "regular", "loyal"),
        "p": (0.20, 0.50, 0.30),
        "activity": (0.5, 1.0, 1.6),
        "conversion": (0.6, 1.0, 1.3),
        "pre_exposure": (0.3, 1.0, 1.0),  # new users have less pre-period history
        "lift": (2.0, 1.0, 0.5),
    },
}
SEGMENT_COLUMNS: tuple[str, ...] = tuple(_SEGMENTS)

_BASE_IMPRESSIONS = 150.0
_BASE_CTR = 0.04
_BASE_SAVES = 3.0
_BASE_CONVERSION = 0.05
_ACTIVITY_SHAPE = 0.8  # gamma shape of user activity (heavy-tailed counts)
_PERIOD_SHAPE = 4.0  # gamma shape of period-to-period noise
_REVENUE_SIGMA = 1.0  # lognormal spread of order value


def _cells() -> dict[str, np.ndarray]:
    """Every (country, platform, tenure) cell with its probability and factors, as arrays."""
    seg = _SEGMENTS
    idx = np.array(
        list(itertools.product(*(range(len(seg[c]["values"])) for c in SEGMENT_COLUMNS)))
    )
    ci, pi, ti = idx[:, 0], idx[:, 1], idx[:, 2]

    def f(col: str, key: str, i: np.ndarray) -> np.ndarray:
        return np.asarray(seg[col][key], dtype=float)[i]

    return {
        "country": ci,
        "platform": pi,
        "tenure": ti,
        "p": f("country", "p", ci) * f("platform", "p", pi) * f("tenure", "p", ti),
        "activity": f("country", "activity", ci)
        * f("platform", "activity", pi)
        * f("tenure", "activity", ti),
        "ctr": _BASE_CTR * f("platform", "ctr", pi),
        "conversion": _BASE_CONVERSION
        * f("country", "conversion", ci)
        * f("tenure", "conversion", ti),
        "aov": f("country", "aov", ci),
        "lift": f("country", "lift", ci) * f("platform", "lift", pi) * f("tenure", "lift", ti),
    }


def _resolve_lifts(
    variants: tuple[str, ...],
    lifts: Mapping[str, Mapping[str, float]] | None,
    effect_scale: float,
) -> dict[str, dict[str, float]]:
    """Population relative lift of each driver per non-control variant."""
    out: dict[str, dict[str, float]] = {}
    for j, v in enumerate(variants[1:], start=1):
        base = {k: j * x for k, x in _DEFAULT_LIFT.items()}
        if lifts is not None and v in lifts:
            given = dict(lifts[v])
            bad = sorted(set(given) - set(LIFT_DRIVERS))
            if bad:
                raise ConfigError(
                    f"The 'lifts' parameter for variant {v!r} names unknown drivers "
                    f"{bad}; allowed: {list(LIFT_DRIVERS)}."
                )
            base.update({k: float(x) for k, x in given.items()})
        out[v] = {k: effect_scale * x for k, x in base.items()}
        for k, x in out[v].items():
            if not np.isfinite(x) or x <= -0.5 or x > 2.0:
                raise ConfigError(
                    f"The lift of {k!r} for variant {v!r} must be in (-0.5, 2]. Got {x!r}."
                )
    if lifts is not None:
        unknown = sorted(set(lifts) - set(variants[1:]))
        if unknown:
            raise ConfigError(
                f"The 'lifts' parameter names variants {unknown} that are not non-control "
                f"entries of 'variants' {list(variants[1:])}."
            )
    return out


def _cell_lifts(cells: dict[str, np.ndarray], lift: dict[str, float]) -> dict[str, np.ndarray]:
    """Per-cell relative lift of each driver, normalised so the population lift is exact.

    Each driver's cell lift is ``lift * H(cell) / norm`` with ``H`` the segment multiplier and
    ``norm`` the mean of ``H`` weighted by the driver's expected baseline volume, so the
    population-level relative lift of the driver equals the configured ``lift``.
    """
    p, h = cells["p"], cells["lift"]
    imp = cells["activity"] * _BASE_IMPRESSIONS
    weights = {
        "impressions": imp,
        "ctr": imp * cells["ctr"],
        "saves": cells["activity"] * _BASE_SAVES,
        "conversion": cells["conversion"],
        "order_value": cells["conversion"] * cells["aov"],
    }
    out = {}
    for k in LIFT_DRIVERS:
        w = p * weights[k]
        out[k] = lift[k] * h * w.sum() / (w * h).sum()
    return out


def _expected(cells: dict[str, np.ndarray], cl: dict[str, np.ndarray] | None) -> dict[str, Any]:
    """Expected per-user metric components in each cell (control when ``cl`` is None)."""

    def g(k: str) -> np.ndarray | float:
        return 1.0 if cl is None else 1.0 + cl[k]

    imp = _BASE_IMPRESSIONS * cells["activity"] * g("impressions")
    clicks = imp * cells["ctr"] * g("ctr")
    saves = _BASE_SAVES * cells["activity"] * g("saves")
    conv = cells["conversion"] * g("conversion")
    revenue = conv * cells["aov"] * g("order_value")
    return {
        "impressions": imp,
        "clicks": clicks,
        "saves": saves,
        "converted": conv,
        "revenue": revenue,
    }


def _summarise(
    p: np.ndarray, ctrl: dict[str, np.ndarray], trt: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Population means under control and treatment and the lifts, per metric."""
    w = p / p.sum()
    out: dict[str, dict[str, float]] = {}
    for metric, kind in EXPERIMENT_METRICS.items():
        if kind == "ratio":
            c = float((w * ctrl["clicks"]).sum() / (w * ctrl["impressions"]).sum())
            t = float((w * trt["clicks"]).sum() / (w * trt["impressions"]).sum())
        else:
            c = float((w * ctrl[metric]).sum())
            t = float((w * trt[metric]).sum())
        out[metric] = {
            "control_mean": c,
            "treatment_mean": t,
            "effect": t - c,
            "rel_effect": t / c - 1.0,
        }
    return out


def _check_variants(variants: Sequence[str]) -> tuple[str, ...]:
    if isinstance(variants, str):
        raise ConfigError("The 'variants' parameter must be a list of labels, control first.")
    vs = tuple(variants)
    if len(vs) < 2 or len(set(vs)) != len(vs) or not all(isinstance(v, str) and v for v in vs):
        raise ConfigError(
            "The 'variants' parameter needs at least two distinct non-empty labels, control "
            f"first. Got {list(vs)!r}."
        )
    return vs


def experiment_truth(
    variants: Sequence[str] = ("control", "treatment"),
    *,
    lifts: Mapping[str, Mapping[str, float]] | None = None,
    effect_scale: float = 1.0,
) -> dict[str, Any]:
    """Exact true lifts of a :func:`simulate_experiment` table (superpopulation values).

    Depends only on these parameters (pass the same ones given to the simulator), so it
    recovers the truth of a table read back from parquet or CSV.

    Parameters
    ----------
    variants, lifts, effect_scale
        As in :func:`simulate_experiment`.

    Returns
    -------
    dict
        ``{"control": label, "metrics": {metric: {variant: {"control_mean", "treatment_mean",
        "effect", "rel_effect"}}}, "segments": {column: {value: {metric: {variant: {...}}}}}}``
        for the metrics impressions, clicks, ctr (clicks / impressions, ratio of sums), saves,
        converted and revenue. ``effect`` is the absolute lift (treatment minus control mean)
        and ``rel_effect`` the relative one; for ctr the means are ratios of expected sums.

    Examples
    --------
    >>> t = experiment_truth()
    >>> round(t["metrics"]["saves"]["treatment"]["rel_effect"], 6)
    0.03
    """
    vs = _check_variants(variants)
    lift_by_variant = _resolve_lifts(vs, lifts, float(effect_scale))
    cells = _cells()
    ctrl = _expected(cells, None)
    metrics: dict[str, dict[str, dict[str, float]]] = {m: {} for m in EXPERIMENT_METRICS}
    segments: dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]] = {
        c: {str(v): {m: {} for m in EXPERIMENT_METRICS} for v in _SEGMENTS[c]["values"]}
        for c in SEGMENT_COLUMNS
    }
    for v, lift in lift_by_variant.items():
        trt = _expected(cells, _cell_lifts(cells, lift))
        for m, d in _summarise(cells["p"], ctrl, trt).items():
            metrics[m][v] = d
        for c in SEGMENT_COLUMNS:
            for i, value in enumerate(_SEGMENTS[c]["values"]):
                sel = cells[c] == i
                sub = _summarise(
                    cells["p"][sel],
                    {k: x[sel] for k, x in ctrl.items()},
                    {k: x[sel] for k, x in trt.items()},
                )
                for m, d in sub.items():
                    segments[c][str(value)][m][v] = d
    return {"control": vs[0], "metrics": metrics, "segments": segments}


def simulate_experiment(
    n_users: int = 100_000,
    seed: Seed = None,
    *,
    variants: Sequence[str] = ("control", "treatment"),
    split: Sequence[float] | None = None,
    lifts: Mapping[str, Mapping[str, float]] | None = None,
    effect_scale: float = 1.0,
    n_clusters: int | None = None,
    cluster_sd: float = 0.5,
    srm: float = 0.0,
) -> pd.DataFrame:
    """Simulate a user-randomized A/B/n test with pre-period covariates and known true lifts.

    Parameters
    ----------
    n_users : int
        Users randomized (before any ``srm`` loss).
    seed : int, numpy Generator or None
        Randomness; the same seed and parameters give the same table.
    variants : list of str
        Variant labels, control first. Default ``("control", "treatment")``.
    split : list of float, optional
        Configured traffic share per variant (normalised); equal split by default.
    lifts : dict, optional
        ``{variant: {driver: relative lift}}`` overriding the defaults for the drivers
        ``impressions`` 1%, ``ctr`` 2%, ``saves`` 3%, ``conversion`` 4%, ``order_value`` 1%
        (the j-th non-control variant gets j times the defaults). Each is the exact
        population-level relative lift of that driver; per user it varies by segment.
    effect_scale : float
        Multiplies every lift (0 gives an A/A test).
    n_clusters : int, optional
        Randomize by cluster instead of by user: users are grouped into ``n_clusters``
        clusters (column ``cluster_id``) that share a variant and a random activity factor
        (gamma, mean one, coefficient of variation ``cluster_sd``), so cluster-robust
        variance matters.
    cluster_sd : float, >= 0
        Coefficient of variation of the cluster activity factor.
    srm : float in [0, 1)
        Sample-ratio mismatch: each user assigned to the first non-control variant is lost
        with this probability (like a logging bug), so the observed split departs from
        ``split``. Losses are at random, so lifts stay unbiased.

    Returns
    -------
    pandas.DataFrame
        One row per user:

        - ``user_id`` (int64); ``cluster_id`` (int64, only with ``n_clusters``).
        - ``variant`` (str): the assigned label.
        - segments ``country`` (US, GB, DE, BR, IN, JP), ``platform`` (ios, android, web),
          ``tenure`` (new, regular, loyal), as strings.
        - pre-period covariates (for CUPED): ``impressions_pre``, ``clicks_pre``,
          ``saves_pre``, ``converted_pre``, ``revenue_pre``.
        - metrics: ``impressions``, ``clicks`` (counts; ``clicks / impressions`` is the ctr
          ratio metric), ``saves`` (heavy-tailed count), ``converted`` (0/1 proportion),
          ``revenue`` (zero-inflated, heavy-tailed).

        ``df.attrs["true_lifts"]`` is :func:`experiment_truth` for these parameters, and
        ``df.attrs["simulation"]`` the parameters (including ``expected_split``).

    Notes
    -----
    User ``i`` in segment cell ``s`` has activity ``A_i = a(s) a_i k_c`` (``a_i`` gamma
    with shape 0.8, ``k_c`` the cluster factor, both mean one), click propensity
    ``ctr_i = 0.04 ctr(s) b_i`` and conversion probability ``q_i = 0.05 c(s) h_i``
    (``b_i, h_i = 2 Beta(3, 3)``, mean one). In each period impressions are ``Poisson(150 A_i
    e_p)`` with gamma(4) period noise ``e_p``, clicks ``Binomial(impressions, ctr_i)``, saves
    ``Poisson(3 A_i e_p')``, converted ``Bernoulli(q_i)`` and revenue ``converted * aov(s) *
    lognormal`` (mean one). Under variant ``v`` each driver's user mean is multiplied by ``1 +
    l_v H(s) / norm``, with segment multipliers ``H`` (largest for new users, India, Brazil
    and iOS; small on web and in Japan): segments have different true lifts. The pre-period
    repeats the control model with independent period noise (new users have 30% exposure).

    Examples
    --------
    >>> df = simulate_experiment(n_users=2_000, seed=0)
    >>> sorted(df["variant"].unique())
    ['control', 'treatment']
    >>> round(df.attrs["true_lifts"]["metrics"]["converted"]["treatment"]["rel_effect"], 6)
    0.04
    """
    n_users = check_positive_int(n_users, "n_users")
    vs = _check_variants(variants)
    if split is None:
        shares = np.full(len(vs), 1.0 / len(vs))
    else:
        shares = np.asarray(list(split), dtype=float)
        if shares.shape != (len(vs),) or not np.all(np.isfinite(shares)) or np.any(shares <= 0):
            raise ConfigError(
                f"The 'split' parameter needs one positive share per variant ({len(vs)}). "
                f"Got {list(split)!r}."
            )
        shares = shares / shares.sum()
    if not (0.0 <= srm < 1.0):
        raise ConfigError(f"The 'srm' parameter must be in [0, 1). Got {srm!r}.")
    if not np.isfinite(cluster_sd) or cluster_sd < 0:
        raise ConfigError(f"The 'cluster_sd' parameter must be >= 0. Got {cluster_sd!r}.")
    if n_clusters is not None:
        n_clusters = check_positive_int(n_clusters, "n_clusters")
    truth = experiment_truth(vs, lifts=lifts, effect_scale=effect_scale)
    lift_by_variant = _resolve_lifts(vs, lifts, float(effect_scale))
    rng = resolve_rng(seed)
    n = n_users
    cells = _cells()

    # --- segments (one cell per user) and assignment ---------------------------------------
    cell = np.minimum(np.searchsorted(np.cumsum(cells["p"]), rng.random(n)), cells["p"].size - 1)
    cum_shares = np.cumsum(shares)
    if n_clusters is None:
        arm = np.minimum(np.searchsorted(cum_shares, rng.random(n)), len(vs) - 1)
        k = np.ones(n)
        cluster_id = None
    else:
        cluster_id = rng.integers(0, n_clusters, size=n)
        c_arm = np.minimum(np.searchsorted(cum_shares, rng.random(n_clusters)), len(vs) - 1)
        arm = c_arm[cluster_id]
        if cluster_sd > 0:
            shape = 1.0 / cluster_sd**2
            k = rng.gamma(shape, 1.0 / shape, n_clusters)[cluster_id]
        else:
            k = np.ones(n)

    # --- user-level factors (mean one, independent of the cell) ---------------------------
    a = rng.gamma(_ACTIVITY_SHAPE, 1.0 / _ACTIVITY_SHAPE, n) * k
    b = 2.0 * rng.beta(3.0, 3.0, n)
    h = 2.0 * rng.beta(3.0, 3.0, n)
    act = cells["activity"][cell] * a
    ctr = cells["ctr"][cell] * b
    conv = cells["conversion"][cell] * h
    aov = cells["aov"][cell]

    # per-user multipliers (1 + lift) of each driver under the user's own variant
    mult = {d: np.ones(n) for d in LIFT_DRIVERS}
    for j, v in enumerate(vs[1:], start=1):
        cl = _cell_lifts(cells, lift_by_variant[v])
        sel = arm == j
        for d in LIFT_DRIVERS:
            mult[d][sel] = 1.0 + cl[d][cell[sel]]

    def period(
        exposure: np.ndarray | float, m: dict[str, np.ndarray] | None
    ) -> dict[str, np.ndarray]:
        def g(d: str) -> np.ndarray | float:
            return 1.0 if m is None else m[d]

        e1 = rng.gamma(_PERIOD_SHAPE, 1.0 / _PERIOD_SHAPE, n)
        e2 = rng.gamma(_PERIOD_SHAPE, 1.0 / _PERIOD_SHAPE, n)
        imp = rng.poisson(_BASE_IMPRESSIONS * act * exposure * g("impressions") * e1)
        clicks = rng.binomial(imp, np.minimum(ctr * g("ctr"), 1.0))
        saves = rng.poisson(_BASE_SAVES * act * exposure * g("saves") * e2)
        converted = rng.random(n) < np.minimum(conv * exposure * g("conversion"), 1.0)
        s = _REVENUE_SIGMA
        value = aov * g("order_value") * rng.lognormal(-0.5 * s * s, s, n)
        revenue = np.round(np.where(converted, value, 0.0), 2)
        return {
            "impressions": imp,
            "clicks": clicks,
            "saves": saves,
            "converted": converted.astype(np.int8),
            "revenue": revenue,
        }

    pre_exposure = np.asarray(_SEGMENTS["tenure"]["pre_exposure"], dtype=float)[
        cells["tenure"][cell]
    ]
    pre = period(pre_exposure, None)
    post = period(1.0, mult)

    keep = np.ones(n, dtype=bool)
    if srm > 0:
        keep = ~((arm == 1) & (rng.random(n) < srm))

    seg_values = {c: np.asarray(_SEGMENTS[c]["values"], dtype=object) for c in SEGMENT_COLUMNS}
    cols: dict[str, Any] = {"user_id": np.arange(n, dtype=np.int64)}
    if cluster_id is not None:
        cols["cluster_id"] = cluster_id.astype(np.int64)
    cols["variant"] = np.asarray(vs, dtype=object)[arm]
    for c in SEGMENT_COLUMNS:
        cols[c] = seg_values[c][cells[c][cell]]
    for name, values in pre.items():
        cols[f"{name}_pre"] = values
    cols.update(post)
    if not keep.all():
        cols = {name: v[keep] for name, v in cols.items()}
    df = pd.DataFrame(cols, copy=False)
    for c in ("variant", *SEGMENT_COLUMNS):
        df[c] = df[c].astype(str)
    df.attrs["true_lifts"] = truth
    df.attrs["simulation"] = {
        "kind": "experiment",
        "n_users": n_users,
        "variants": list(vs),
        "expected_split": {v: float(s) for v, s in zip(vs, shares, strict=True)},
        "lifts": lift_by_variant,
        "effect_scale": float(effect_scale),
        "n_clusters": n_clusters,
        "cluster_sd": float(cluster_sd),
        "srm": float(srm),
    }
    return df
