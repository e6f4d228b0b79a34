"""Simulated content items (pins) with a confounded distribution boost and known true effects.

Everything is vectorised numpy driven by one ``np.random.default_rng(seed)``, so a given seed
and set of parameters always gives the same table (1M rows take well under a few seconds).
The true effect functions are written out in :func:`simulate_content`'s docstring and live in
:func:`_true_cate`, a pure function of the observed attributes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from causal._errors import ConfigError
from causal.data._rng import Seed, check_fraction, check_positive_int, resolve_rng

__all__ = ["CONTENT_OUTCOMES", "simulate_content", "true_ate"]

#: Outcome columns of :func:`simulate_content`, in column order.
CONTENT_OUTCOMES: tuple[str, ...] = (
    "impressions",
    "saves",
    "outbound_clicks",
    "hides",
    "revenue",
)

CATEGORIES: tuple[str, ...] = (
    "home_decor",
    "fashion",
    "food",
    "travel",
    "beauty",
    "diy",
    "art",
    "fitness",
)
_CATEGORY_P = np.array([0.20, 0.18, 0.16, 0.10, 0.12, 0.10, 0.07, 0.07])
# shopping intent per category: share of pins that are shoppable
_CATEGORY_SHOP = np.array([0.45, 0.60, 0.10, 0.05, 0.50, 0.25, 0.15, 0.20])
# how much a boost helps saves per category (multiplier of the saves effect)
_CATEGORY_SAVE_LIFT = np.array([1.4, 1.0, 1.3, 0.8, 0.9, 1.2, 0.7, 0.6])

FORMATS: tuple[str, ...] = ("image", "video", "carousel")
_FORMAT_P = np.array([0.60, 0.25, 0.15])

# outcome-model constants (documented in simulate_content)
_AOV = 35.0  # average order value of one purchase, in currency units
_DISPERSION = 2.0  # gamma shape of the per-pin noise multiplier (negative-binomial counts)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _true_cate(
    quality: np.ndarray,
    freshness: np.ndarray,
    log_followers: np.ndarray,
    is_video: np.ndarray,
    is_carousel: np.ndarray,
    text_overlay: np.ndarray,
    shoppable: np.ndarray,
    category_code: np.ndarray,
    effect_scale: float,
) -> dict[str, np.ndarray]:
    """True conditional effects of a full boost (0 -> 1) per outcome; pure function of X.

    All effects are non-negative except none; hides rise most for low-quality pins. See
    :func:`simulate_content` for the formulas in words.
    """
    reach = np.exp(5.0 + 0.5 * (log_followers - 4.0) + quality)  # expected organic reach
    tau_imp = reach * (0.3 + 0.6 * quality + 0.4 * freshness)
    good = _sigmoid(10.0 * (quality - 0.55))  # boosts pay off above a quality threshold
    tau_saves = (
        3.0
        * good
        * (1.0 + 0.8 * is_video + 0.4 * is_carousel)
        * (0.5 + freshness)
        * _CATEGORY_SAVE_LIFT[category_code]
    )
    tau_clicks = (
        2.0 * good * (1.0 + 1.5 * shoppable) * (1.0 - 0.5 * text_overlay) * (0.6 + 0.4 * freshness)
    )
    tau_hides = 1.5 * (1.0 - quality) ** 2 * (1.0 + 0.5 * text_overlay)
    tau_revenue = _AOV * 0.08 * tau_clicks * shoppable * (0.5 + quality)
    return {
        "impressions": effect_scale * tau_imp,
        "saves": effect_scale * tau_saves,
        "outbound_clicks": effect_scale * tau_clicks,
        "hides": effect_scale * tau_hides,
        "revenue": effect_scale * tau_revenue,
    }


def _calibrate_intercept(score: np.ndarray, target: float, overlap: float) -> float:
    """Intercept ``a`` with mean(overlap + (1 - 2 overlap) * sigmoid(a + score)) == target.

    Rows are i.i.d., so an evenly spaced subsample of at most 20,000 rows pins the intercept
    down to well below sampling noise, at a fraction of the cost on large ``n``.
    """
    step = max(1, score.size // 20_000)
    score = score[::step]
    lo, hi = -30.0, 30.0
    inner = (target - overlap) / (1.0 - 2.0 * overlap)
    for _ in range(60):  # bisection: monotone in a, 60 halvings reach float precision
        mid = 0.5 * (lo + hi)
        if _sigmoid(mid + score).mean() < inner:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def simulate_content(
    n: int = 10_000,
    seed: Seed = None,
    *,
    confounding: float = 1.0,
    overlap: float = 0.02,
    treated_share: float = 0.3,
    randomized: bool = False,
    intensity: bool = False,
    n_creators: int | None = None,
    creator_effect_sd: float = 0.5,
    effect_scale: float = 1.0,
    attribute_effects: bool = False,
) -> pd.DataFrame:
    """Simulate content items (pins) with a distribution boost and known true effects.

    Parameters
    ----------
    n : int
        Number of pins (rows).
    seed : int, numpy Generator or None
        Randomness; the same seed and parameters give the same table.
    confounding : float, >= 0
        Strength of the targeting rule: the boost goes preferentially to high-quality,
        well-followed, already-popular, fresh pins — which also do better without it and gain
        more from it. 0 gives a constant propensity (no confounding).
    overlap : float in [0, 0.5)
        Floor and ceiling of the true propensity: ``p = overlap + (1 - 2 overlap) * sigmoid(.)``.
        Larger values give better overlap; 0 allows propensities arbitrarily close to 0 and 1.
    treated_share : float in (0, 1)
        Mean propensity (the share of boosted pins, in expectation).
    randomized : bool
        Assign the boost completely at random with probability ``treated_share`` (overrides
        ``confounding``), and with ``intensity`` draw the intensity independently of the
        attributes too: then a difference in means (or the slope on the intensity) is unbiased.
    intensity : bool
        Also draw a continuous ``boost_intensity`` in (0, 1] for boosted pins (0 otherwise);
        its mean rises with quality (confounded too) unless ``randomized``. Outcomes are then linear in the
        intensity, and ``true_cate_<outcome>`` is the effect per unit of intensity (0 -> 1).
    n_creators : int, optional
        Number of creators (clusters); default ``max(1, n // 20)``.
    creator_effect_sd : float, >= 0
        Standard deviation of the creator-level random effect on the log scale of every
        outcome's baseline (shared within a creator, so outcomes cluster by creator).
    effect_scale : float
        Multiplies every true effect (0 gives a null boost, for false-positive checks).
    attribute_effects : bool
        Also make the causal effects of content attributes known: add a ``caption_length``
        column (words; more for bigger creators and better pins, so confounded) with a known
        per-word effect, and put the true average effect of each attribute on each outcome in
        ``df.attrs["true_attribute_effects"]`` (see :func:`_attribute_truth`). Off by default,
        which leaves every other column exactly as before.

    Returns
    -------
    pandas.DataFrame
        One row per pin, columns in this order:

        - ``pin_id`` (int64): unit id ``0..n-1``.
        - ``creator_id`` (int64): cluster id; pins of a creator share a random effect.
        - ``category`` (categorical): one of home_decor, fashion, food, travel, beauty, diy,
          art, fitness.
        - ``format`` (categorical): image, video or carousel.
        - ``quality_score`` (float in (0, 1)): content-quality model score.
        - ``age_days`` (float): days since the pin was posted; ``freshness = exp(-age/14)``.
        - ``creator_followers`` (int64): the creator's follower count (heavy-tailed).
        - ``text_overlay`` (int8, 0/1): text overlaid on the image.
        - ``shoppable`` (int8, 0/1): the pin links to a product.
        - ``prior_impressions`` (int64): organic impressions before the period.
        - ``boost_intensity`` (float, only with ``intensity=True``).
        - ``boosted`` (int8, 0/1): the treatment.
        - outcomes ``impressions``, ``saves``, ``outbound_clicks``, ``hides`` (int64 counts)
          and ``revenue`` (float, zero-inflated and heavy-tailed).
        - ``true_propensity`` (float): P(boosted = 1 | attributes).
        - ``true_cate_<outcome>`` (float) for each outcome: the true conditional effect
          E[Y(1) - Y(0) | attributes] of the pin.

        ``df.attrs["true_ate"]`` holds the mean of each ``true_cate_<outcome>`` column (the
        sample average treatment effect, also given by :func:`true_ate`) and
        ``df.attrs["simulation"]`` the parameters.

    Notes
    -----
    With ``q`` the quality score, ``f`` the freshness, ``L = log10(followers)``, ``g =
    sigmoid(10 (q - 0.55))`` (boosts pay off above a quality threshold) and ``R = exp(5 + 0.5
    (L - 4) + q)`` the expected organic reach, the true effects of a boost are:

    - impressions: ``R (0.3 + 0.6 q + 0.4 f)``
    - saves: ``3 g (1 + 0.8 video + 0.4 carousel) (0.5 + f) c_category`` with category
      multipliers home_decor 1.4, fashion 1.0, food 1.3, travel 0.8, beauty 0.9, diy 1.2,
      art 0.7, fitness 0.6
    - outbound_clicks: ``2 g (1 + 1.5 shoppable) (1 - 0.5 text_overlay) (0.6 + 0.4 f)``
    - hides: ``1.5 (1 - q)^2 (1 + 0.5 text_overlay)`` (boosting weak pins annoys people)
    - revenue: ``35 * 0.08 * tau_clicks * shoppable * (0.5 + q)``

    each times ``effect_scale``. Each outcome's mean is ``baseline(x) * exp(u_creator) + T *
    tau(x)`` (``T`` the boost or its intensity), where ``u_creator ~ N(-s^2/2, s^2)`` has mean
    one on the natural scale; counts are Poisson with a gamma(2) noise multiplier of mean one
    (negative-binomial), and revenue is ``35 * purchases * lognormal`` with purchases
    Poisson. So ``E[Y | x, T=1] - E[Y | x, T=0] = tau(x)`` exactly and true_cate is the
    honest conditional effect given the observed attributes. Treatment depends only on
    observed attributes (no hidden confounding), through the logit score
    ``confounding * (1.2 z(q) + 0.8 z(L) + 0.6 z(log prior_impressions) + 0.4 z(f) + 0.3
    video)``.

    Examples
    --------
    >>> df = simulate_content(n=1_000, seed=1)
    >>> df[["pin_id", "boosted", "saves", "true_cate_saves"]].shape
    (1000, 4)
    >>> bool(df["true_propensity"].between(0.02, 0.98).all())
    True
    """
    n = check_positive_int(n, "n")
    if not np.isfinite(confounding) or confounding < 0:
        raise ConfigError(f"The 'confounding' parameter must be >= 0. Got {confounding!r}.")
    if not (0.0 <= overlap < 0.5):
        raise ConfigError(f"The 'overlap' parameter must be in [0, 0.5). Got {overlap!r}.")
    check_fraction(treated_share, "treated_share")
    if not overlap < treated_share < 1.0 - overlap:
        raise ConfigError(
            f"The 'treated_share' parameter ({treated_share}) must lie strictly between "
            f"'overlap' ({overlap}) and 1 - overlap."
        )
    if n_creators is None:
        n_creators = max(1, n // 20)
    n_creators = check_positive_int(n_creators, "n_creators")
    if not np.isfinite(creator_effect_sd) or creator_effect_sd < 0:
        raise ConfigError(
            f"The 'creator_effect_sd' parameter must be >= 0. Got {creator_effect_sd!r}."
        )
    if not np.isfinite(effect_scale):
        raise ConfigError(f"The 'effect_scale' parameter must be finite. Got {effect_scale!r}.")
    rng = resolve_rng(seed)

    # --- creators (clusters) -------------------------------------------------------------
    creator_id = rng.integers(0, n_creators, size=n)
    c_log_followers = np.clip(rng.normal(3.6, 0.8, size=n_creators), 1.0, 7.5)
    c_followers = np.round(10.0**c_log_followers).astype(np.int64)
    c_skill = rng.normal(0.0, 1.0, size=n_creators)  # creators differ in content quality
    s = creator_effect_sd
    c_effect = rng.normal(-0.5 * s * s, s, size=n_creators)  # E[exp(u)] = 1

    # --- pin attributes ------------------------------------------------------------------
    category_code = np.searchsorted(np.cumsum(_CATEGORY_P), rng.random(n) * _CATEGORY_P.sum())
    category_code = np.minimum(category_code, len(CATEGORIES) - 1)
    format_code = np.minimum(np.searchsorted(np.cumsum(_FORMAT_P), rng.random(n)), len(FORMATS) - 1)
    is_video = (format_code == 1).astype(float)
    is_carousel = (format_code == 2).astype(float)
    quality = _sigmoid(0.4 + 0.6 * c_skill[creator_id] + 0.9 * rng.standard_normal(n))
    age_days = rng.exponential(30.0, size=n)
    freshness = np.exp(-age_days / 14.0)
    followers = c_followers[creator_id]
    log_followers = c_log_followers[creator_id]
    text_overlay = (rng.random(n) < np.where(format_code == 1, 0.15, 0.45)).astype(np.int8)
    shoppable = (rng.random(n) < _CATEGORY_SHOP[category_code]).astype(np.int8)
    prior_mean = np.exp(3.0 + 0.6 * (log_followers - 3.6) + 1.2 * quality + 0.2 * is_video) * (
        np.minimum(age_days, 60.0) / 30.0 + 0.1
    )
    prior_impressions = rng.poisson(prior_mean * rng.gamma(_DISPERSION, 1.0 / _DISPERSION, n))
    # --- content-attribute truth (attribute_effects): its own random stream --------------
    caption = _draw_caption(rng.spawn(1)[0], quality, log_followers) if attribute_effects else None

    # --- treatment assignment ------------------------------------------------------------
    def z(v: np.ndarray) -> np.ndarray:
        sd = v.std()
        return (v - v.mean()) / sd if sd > 0 else v - v.mean()

    if randomized or confounding == 0:
        propensity = np.full(n, float(treated_share))
    else:
        score = confounding * (
            1.2 * z(quality)
            + 0.8 * z(log_followers)
            + 0.6 * z(np.log1p(prior_impressions))
            + 0.4 * z(freshness)
            + 0.3 * is_video
        )
        a = _calibrate_intercept(score, treated_share, overlap)
        propensity = overlap + (1.0 - 2.0 * overlap) * _sigmoid(a + score)
    boosted = (rng.random(n) < propensity).astype(np.int8)
    if intensity:
        # Beta(k m, k (1 - m)) with mean m rising with quality: higher-quality pins get more.
        m = np.full(n, 0.5) if randomized else 0.25 + 0.5 * quality
        k = 6.0
        dose = np.where(boosted == 1, rng.beta(k * m, k * (1.0 - m)), 0.0)
        dose = np.where(boosted == 1, np.maximum(dose, 1e-3), 0.0)
    else:
        dose = boosted.astype(float)

    # --- outcomes ------------------------------------------------------------------------
    tau = _true_cate(
        quality,
        freshness,
        log_followers,
        is_video,
        is_carousel,
        text_overlay,
        shoppable.astype(float),
        category_code,
        float(effect_scale),
    )
    u = np.exp(c_effect[creator_id])
    reach = np.exp(5.0 + 0.5 * (log_followers - 4.0) + quality)
    base = {
        "impressions": reach * (0.6 + 0.8 * freshness),
        "saves": 0.012 * reach * (0.5 + quality) * (1.0 + 0.3 * is_video),
        "outbound_clicks": 0.006 * reach * (0.4 + quality) * (1.0 + 1.5 * shoppable),
        "hides": 0.004 * reach * (1.2 - quality) * (1.0 + 0.5 * text_overlay),
    }
    if caption is not None:  # attribute_effects: + gamma * caption on the outcome mean
        for name, gamma in CAPTION_EFFECT.items():
            if name in base:
                base[name] = base[name] + gamma * caption / u
    outcomes: dict[str, np.ndarray] = {}
    for name, b in base.items():
        mu = b * u + dose * tau[name]
        outcomes[name] = rng.poisson(mu * rng.gamma(_DISPERSION, 1.0 / _DISPERSION, n))
    rev_mu = _AOV * 0.08 * 0.006 * reach * (0.4 + quality) * shoppable * (0.5 + quality)
    rev_mu = rev_mu * u + dose * tau["revenue"]
    purchases = rng.poisson(rev_mu / _AOV)
    sigma = 0.8  # order-value spread; lognormal(-sigma^2/2, sigma) has mean one
    revenue = _AOV * purchases * rng.lognormal(-0.5 * sigma * sigma, sigma, n)
    outcomes["revenue"] = np.round(revenue, 2)

    cols: dict[str, object] = {
        "pin_id": np.arange(n, dtype=np.int64),
        "creator_id": creator_id.astype(np.int64),
        "category": pd.Categorical.from_codes(category_code, categories=list(CATEGORIES)),
        "format": pd.Categorical.from_codes(format_code, categories=list(FORMATS)),
        "quality_score": quality,
        "age_days": age_days,
        "creator_followers": followers,
        "text_overlay": text_overlay,
        "shoppable": shoppable,
        "prior_impressions": prior_impressions.astype(np.int64),
    }
    if intensity:
        cols["boost_intensity"] = dose
    cols["boosted"] = boosted
    for name in CONTENT_OUTCOMES:
        v = outcomes[name]
        cols[name] = v if name == "revenue" else v.astype(np.int64)
    cols["true_propensity"] = propensity
    for name in CONTENT_OUTCOMES:
        cols[f"true_cate_{name}"] = tau[name]
    df = pd.DataFrame(cols, copy=False)  # no block consolidation copy
    df.attrs["true_ate"] = {name: float(tau[name].mean()) for name in CONTENT_OUTCOMES}
    df.attrs["simulation"] = {
        "kind": "content",
        "n": n,
        "confounding": float(confounding),
        "overlap": float(overlap),
        "treated_share": float(treated_share),
        "randomized": bool(randomized),
        "intensity": bool(intensity),
        "n_creators": n_creators,
        "creator_effect_sd": float(creator_effect_sd),
        "effect_scale": float(effect_scale),
    }
    if caption is not None:
        df.insert(int(df.columns.get_loc("prior_impressions")) + 1, "caption_length", caption)
        df.attrs["simulation"]["attribute_effects"] = True
        df.attrs["true_attribute_effects"] = _attribute_truth(
            quality=quality,
            age_days=age_days,
            log_followers=log_followers,
            format_code=format_code,
            text_overlay=text_overlay.astype(float),
            shoppable=shoppable.astype(float),
            category_code=category_code,
            prior_impressions=prior_impressions,
            u=u,
            propensity_args=(confounding, overlap, treated_share, randomized or confounding == 0),
            intensity=intensity,
            effect_scale=float(effect_scale),
            seed_rng=rng.spawn(1)[0],
        )
        df.attrs["attribute_references"] = {"format": FORMATS[0], "category": CATEGORIES[0]}
    return df


def true_ate(df: pd.DataFrame) -> dict[str, float]:
    """True average effect per outcome of a :func:`simulate_content` table.

    It is the mean of each ``true_cate_<outcome>`` column, so it survives a parquet or CSV
    round trip (unlike ``df.attrs``).

    Parameters
    ----------
    df : pandas.DataFrame
        A table made by :func:`simulate_content` (or a row subset of one: the result is then
        the true average effect in that subset).

    Returns
    -------
    dict
        ``{outcome: true average effect}`` for every ``true_cate_<outcome>`` column.

    Examples
    --------
    >>> df = simulate_content(n=500, seed=0)
    >>> sorted(true_ate(df)) == sorted(CONTENT_OUTCOMES)
    True
    """
    prefix = "true_cate_"
    out = {c[len(prefix) :]: float(df[c].mean()) for c in df.columns if str(c).startswith(prefix)}
    if not out:
        raise ConfigError(
            "The table has no 'true_cate_<outcome>' columns: true_ate() needs a table made by "
            "simulate_content()."
        )
    return out


# --- content-attribute truth (simulate_content(attribute_effects=True)) --------------------
#: Effect of one more caption word on each outcome's mean (0 for the outcomes not listed).
CAPTION_EFFECT: dict[str, float] = {"impressions": 1.0, "saves": 0.04, "outbound_clicks": 0.02}


def _draw_caption(
    rng: np.random.Generator, quality: np.ndarray, log_followers: np.ndarray
) -> np.ndarray:
    """Caption length in words: Poisson, longer for bigger creators and better pins (mean ~6)."""
    mean = np.exp(1.8 + 0.25 * (log_followers - 3.6) + 0.8 * (quality - 0.6))
    return rng.poisson(mean).astype(np.int64)


def _expected_outcomes(
    quality: np.ndarray,
    freshness: np.ndarray,
    log_followers: np.ndarray,
    is_video: np.ndarray,
    is_carousel: np.ndarray,
    text_overlay: np.ndarray,
    shoppable: np.ndarray,
    category_code: np.ndarray,
    u: np.ndarray,
    dose: np.ndarray,
    effect_scale: float,
) -> dict[str, np.ndarray]:
    """E[outcome | attributes, creator effect, expected dose] (caption term excluded).

    The same formulas as :func:`simulate_content` (``baseline * u + dose * tau``); a test
    checks that their mean matches the simulated outcomes.
    """
    tau = _true_cate(
        quality,
        freshness,
        log_followers,
        is_video,
        is_carousel,
        text_overlay,
        shoppable,
        category_code,
        effect_scale,
    )
    reach = np.exp(5.0 + 0.5 * (log_followers - 4.0) + quality)
    base = {
        "impressions": reach * (0.6 + 0.8 * freshness),
        "saves": 0.012 * reach * (0.5 + quality) * (1.0 + 0.3 * is_video),
        "outbound_clicks": 0.006 * reach * (0.4 + quality) * (1.0 + 1.5 * shoppable),
        "hides": 0.004 * reach * (1.2 - quality) * (1.0 + 0.5 * text_overlay),
        "revenue": _AOV * 0.08 * 0.006 * reach * (0.4 + quality) * shoppable * (0.5 + quality),
    }
    return {k: base[k] * u + dose * tau[k] for k in CONTENT_OUTCOMES}


def _attribute_truth(
    *,
    quality: np.ndarray,
    age_days: np.ndarray,
    log_followers: np.ndarray,
    format_code: np.ndarray,
    text_overlay: np.ndarray,
    shoppable: np.ndarray,
    category_code: np.ndarray,
    prior_impressions: np.ndarray,
    u: np.ndarray,
    propensity_args: tuple[float, float, float, bool],
    intensity: bool,
    effect_scale: float,
    seed_rng: np.random.Generator,
    n_draws: int = 16,
) -> dict[str, dict[str, float]]:
    """True average effects of the content attributes on each outcome (total effects).

    For attribute ``A`` and levels ``a1`` vs ``a0``: the mean over pins of
    ``E[Y | do(A = a1), pin] - E[Y | do(A = a0), pin]``, where everything ``A`` causes is
    redrawn from its mechanism and everything else is held at the pin's values. What each
    attribute causes in the simulator (so what its total effect runs through):

    - ``text_overlay`` (1 vs 0): hides' baseline, the boost's effect on clicks, hides, revenue.
    - ``shoppable`` (1 vs 0): clicks' and revenue's baselines and boost effects.
    - ``format=video`` / ``format=carousel`` (vs image): the text-overlay probability (0.15
      for video, else 0.45, averaged exactly), saves' baseline, the boost effect on saves,
      prior impressions and with them the chance of a boost (averaged over ``n_draws`` draws of
      prior impressions per pin, the targeting rule's standardisation held fixed).
    - ``category=<c>`` (vs home_decor): the shoppable probability (averaged exactly) and the
      boost effect on saves.
    - ``caption_length`` (per word): ``CAPTION_EFFECT`` exactly (additive, no interactions).

    Returns ``{attribute label: {outcome: effect}}``.
    """
    confounding, overlap, treated_share, constant = propensity_args
    n = quality.size
    freshness = np.exp(-age_days / 14.0)
    lp_obs = np.log1p(prior_impressions)

    def z_consts(v: np.ndarray) -> tuple[float, float]:
        sd = float(v.std())
        return float(v.mean()), (sd if sd > 0 else 1.0)

    is_video_obs = (format_code == 1).astype(float)
    consts = [z_consts(v) for v in (quality, log_followers, lp_obs, freshness)]
    if not constant:
        zq, zl, zp, zf = (
            (v - m) / s
            for v, (m, s) in zip((quality, log_followers, lp_obs, freshness), consts, strict=True)
        )
        score_obs = confounding * (1.2 * zq + 0.8 * zl + 0.6 * zp + 0.4 * zf + 0.3 * is_video_obs)
        a = _calibrate_intercept(score_obs, treated_share, overlap)
    draw_seed = int(seed_rng.integers(0, 2**31 - 1))  # common random numbers across levels
    dose_mean = (0.25 + 0.5 * quality) if intensity else np.ones(n)
    if intensity and constant:
        dose_mean = np.full(n, 0.5)

    def propensity(is_video: np.ndarray) -> np.ndarray:
        """Mean propensity over fresh draws of prior impressions given the format."""
        if constant:
            return np.full(n, float(treated_share))
        prior_mean = np.exp(3.0 + 0.6 * (log_followers - 3.6) + 1.2 * quality + 0.2 * is_video) * (
            np.minimum(age_days, 60.0) / 30.0 + 0.1
        )
        (mq, sq), (ml, sl), (mp, sp), (mf, sf) = consts
        fixed = (
            1.2 * (quality - mq) / sq
            + 0.8 * (log_followers - ml) / sl
            + 0.4 * (freshness - mf) / sf
        )
        total = np.zeros(n)
        draws = np.random.default_rng(draw_seed)
        for _ in range(n_draws):
            prior = draws.poisson(prior_mean * draws.gamma(_DISPERSION, 1.0 / _DISPERSION, n))
            score = confounding * (fixed + 0.6 * (np.log1p(prior) - mp) / sp + 0.3 * is_video)
            total += overlap + (1.0 - 2.0 * overlap) * _sigmoid(a + score)
        return total / n_draws

    cat_obs = category_code
    fmt_obs = format_code

    def expect(
        fmt: np.ndarray, to: np.ndarray, shop: np.ndarray, cat: np.ndarray, p: np.ndarray
    ) -> dict[str, np.ndarray]:
        return _expected_outcomes(
            quality,
            freshness,
            log_followers,
            (fmt == 1).astype(float),
            (fmt == 2).astype(float),
            to,
            shop,
            cat,
            u,
            p * dose_mean,
            effect_scale,
        )

    def mix(parts: list[tuple[np.ndarray | float, dict[str, np.ndarray]]]) -> dict[str, np.ndarray]:
        return {k: sum(w * d[k] for w, d in parts) for k in CONTENT_OUTCOMES}

    def diff(d1: dict[str, np.ndarray], d0: dict[str, np.ndarray]) -> dict[str, float]:
        return {k: float(np.mean(d1[k] - d0[k])) for k in CONTENT_OUTCOMES}

    p_obs = propensity(is_video_obs)
    ones, zeros = np.ones(n), np.zeros(n)
    truth: dict[str, dict[str, float]] = {}
    truth["text_overlay"] = diff(
        expect(fmt_obs, ones, shoppable, cat_obs, p_obs),
        expect(fmt_obs, zeros, shoppable, cat_obs, p_obs),
    )
    truth["shoppable"] = diff(
        expect(fmt_obs, text_overlay, ones, cat_obs, p_obs),
        expect(fmt_obs, text_overlay, zeros, cat_obs, p_obs),
    )

    def do_format(code: int) -> dict[str, np.ndarray]:
        fmt = np.full(n, code)
        p = propensity((fmt == 1).astype(float))
        p_to = 0.15 if code == 1 else 0.45
        return mix(
            [
                (p_to, expect(fmt, ones, shoppable, cat_obs, p)),
                (1 - p_to, expect(fmt, zeros, shoppable, cat_obs, p)),
            ]
        )

    image = do_format(0)
    for code in (1, 2):
        truth[f"format={FORMATS[code]}"] = diff(do_format(code), image)

    def do_category(code: int) -> dict[str, np.ndarray]:
        cat = np.full(n, code)
        ps = float(_CATEGORY_SHOP[code])
        return mix(
            [
                (ps, expect(fmt_obs, text_overlay, ones, cat, p_obs)),
                (1 - ps, expect(fmt_obs, text_overlay, zeros, cat, p_obs)),
            ]
        )

    ref = do_category(0)
    for code in range(1, len(CATEGORIES)):
        truth[f"category={CATEGORIES[code]}"] = diff(do_category(code), ref)
    truth["caption_length"] = {k: float(CAPTION_EFFECT.get(k, 0.0)) for k in CONTENT_OUTCOMES}
    return truth
