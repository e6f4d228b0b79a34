"""A continuous boost intensity with a known, nonlinear dose–response curve.

Built on :func:`causal.data._simulate_content.simulate_content`: the pins, their attributes and
their no-boost outcomes come from it (``effect_scale=0``); every pin then gets a boost
intensity ``dose`` in (0, 1) and each outcome gains ``g(dose) * tau(x)`` on top, with ``tau``
the simulator's true boost effect of that pin and ``g`` a saturating curve,
``g(d) = (1 - exp(-k d)) / (1 - exp(-k))`` (``g(0) = 0``, ``g(1) = 1``; most of the gain comes
from the first part of the intensity). So ``E[Y(d) - Y(d') | x] = (g(d) - g(d')) tau(x)``
exactly, and :func:`true_dose_response` gives the population (or a segment's) curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from causal._errors import ConfigError
from causal.data._rng import Seed, check_positive_int, resolve_rng
from causal.data._simulate_content import CONTENT_OUTCOMES, _true_cate, simulate_content

__all__ = ["dose_curve", "simulate_boost_dose", "true_dose_response"]

#: Gamma shape of the noise multiplier of the added counts (as the content simulator's).
_DISPERSION = 2.0


def dose_curve(d: np.ndarray | float, rate: float = 4.0) -> np.ndarray:
    """The saturating curve ``g(d) = (1 - exp(-rate d)) / (1 - exp(-rate))``.

    Examples
    --------
    >>> float(dose_curve(0.0)), float(dose_curve(1.0))
    (0.0, 1.0)
    """
    d = np.asarray(d, dtype=float)
    return (1.0 - np.exp(-rate * d)) / (1.0 - np.exp(-rate))


def simulate_boost_dose(
    n: int = 10_000,
    seed: Seed = None,
    *,
    confounding: float = 1.0,
    rate: float = 4.0,
    n_creators: int | None = None,
) -> pd.DataFrame:
    """Content items with a continuous boost intensity and a known nonlinear dose–response.

    Parameters
    ----------
    n : int
    seed : int, Generator or None
    confounding : float, >= 0
        The intensity's mean is ``0.5 + confounding * 0.4 (quality - 0.5)``: better pins get
        more (and also gain more), so a naive regression on the dose is biased. 0: random.
    rate : float, > 0
        Curvature of the saturating curve (:func:`dose_curve`).
    n_creators : int, optional
        As in ``simulate_content``.

    Returns
    -------
    DataFrame
        The ``simulate_content`` columns (outcomes without any boost effect replaced by the
        dosed ones), ``dose`` (float in (0, 1)), and ``true_cate_<outcome>``: ``tau(x)``, the
        effect of going from dose 0 to 1. ``attrs["dose_curve"]`` records ``rate``.

    Examples
    --------
    >>> df = simulate_boost_dose(n=500, seed=1)
    >>> bool(df["dose"].between(0, 1).all())
    True
    """
    n = check_positive_int(n, "n")
    if not np.isfinite(confounding) or confounding < 0:
        raise ConfigError(f"The 'confounding' parameter must be >= 0. Got {confounding!r}.")
    if not np.isfinite(rate) or rate <= 0:
        raise ConfigError(f"The 'rate' parameter must be > 0. Got {rate!r}.")
    rng = resolve_rng(seed)
    base_seed = int(rng.integers(2**31 - 1))
    df = simulate_content(
        n, base_seed, effect_scale=0.0, randomized=True, n_creators=n_creators
    ).drop(columns=["boosted", "true_propensity"])
    q = df["quality_score"].to_numpy()
    fmt = df["format"].cat.codes.to_numpy()
    cats = df["category"].cat.codes.to_numpy()
    tau = _true_cate(
        q,
        np.exp(-df["age_days"].to_numpy() / 14.0),
        np.log10(df["creator_followers"].to_numpy().astype(float)),
        (fmt == 1).astype(float),
        (fmt == 2).astype(float),
        df["text_overlay"].to_numpy(),
        df["shoppable"].to_numpy().astype(float),
        cats,
        1.0,
    )
    mean = np.clip(0.5 + confounding * 0.4 * (q - 0.5), 0.1, 0.9)
    k = 5.0
    dose = np.clip(rng.beta(k * mean, k * (1.0 - mean)), 1e-3, 1 - 1e-3)
    g = dose_curve(dose, rate)
    for name in CONTENT_OUTCOMES:
        lift = np.maximum(g * tau[name], 0.0)  # every simulated effect is non-negative
        if name == "revenue":
            extra = lift * rng.lognormal(-0.32, 0.8, n)  # mean one
            df[name] = np.round(df[name].to_numpy() + extra, 2)
        else:
            noise = rng.gamma(_DISPERSION, 1.0 / _DISPERSION, n)
            df[name] = df[name].to_numpy() + rng.poisson(lift * noise)
        df[f"true_cate_{name}"] = tau[name]
    df.insert(df.columns.get_loc("impressions"), "dose", dose)
    df.attrs["dose_curve"] = {"rate": float(rate), "confounding": float(confounding)}
    df.attrs.pop("true_ate", None)
    return df


def true_dose_response(
    df: pd.DataFrame,
    doses: np.ndarray,
    *,
    outcome: str = "saves",
    reference: float = 0.0,
    segment: str | None = None,
) -> pd.DataFrame:
    """True ``E[Y(d)] - E[Y(reference)]`` at each dose (per segment value if ``segment``).

    Returns columns dose, (segment), true_effect.
    """
    rate = float(df.attrs.get("dose_curve", {}).get("rate", 4.0))
    col = f"true_cate_{outcome}"
    if col not in df.columns:
        raise ConfigError(f"The table has no {col!r} column: make it with simulate_boost_dose().")
    shift = dose_curve(np.asarray(doses), rate) - dose_curve(reference, rate)
    if segment is None:
        return pd.DataFrame({"dose": doses, "true_effect": shift * float(df[col].mean())})
    parts = []
    for value, sub in df.groupby(segment, observed=True):
        parts.append(
            pd.DataFrame(
                {"dose": doses, segment: value, "true_effect": shift * float(sub[col].mean())}
            )
        )
    return pd.concat(parts, ignore_index=True)
