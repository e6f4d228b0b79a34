"""Refuters, overlap and balance for one effect estimate, reusing its cross-fitted nuisances.

What each refuter reuses, and what DoWhy's own refuter would cost instead (DoWhy refits the
whole estimator once per simulation: at 100k rows one econml LinearDML fit took 168 s here, so
a 100-simulation DoWhy refuter around it would take hours):

- **placebo_treatment** (``n_simulations`` permutations, no refit): under a permuted
  treatment the true nuisances are known — its propensity is the constant arm share and its
  outcome regression is ``E[Y | Z]`` (already cross-fitted) — so each placebo effect is the
  residual-on-residual regression of ``Y - E[Y|Z]`` on ``T_perm - mean(T)``, exact
  double machine learning with the true placebo nuisances. Expected: about ``alpha`` of the
  placebo intervals exclude zero.
- **data_subset** and **bootstrap** (no refit): each row's nuisance predictions are
  out-of-fold, so they stay valid on any subset or resample; the estimate is recomputed from
  the doubly-robust scores (discrete) or residuals (continuous). They test the stability of
  the estimate and of its influence-function standard error (a few rows with extreme weights
  show up as a bootstrap SE far from the analytic one, or subset estimates that flip sign).
- **random_common_cause** and **dummy_outcome** (one nuisance refit shared by both): the
  nuisances are refitted once with an extra N(0, 1) column in the adjustment set and with a
  second outcome ``E^[Y|Z] + permuted residual`` (no effect of the treatment by
  construction, as strongly related to the confounders as ``Y``). The propensity model is
  shared by both outcomes, so the two refuters cost one cross-fit (not ``2 x n_simulations``
  full fits).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from causal._errors import ConfigError
from causal.graph._results import Balance, Overlap, RefutationResult, Robustness
from causal.graph._scores import EffectScores, fitted_nuisances, scores_of
from causal.graph._sensitivity import sensitivity

__all__ = [
    "REFUTERS",
    "balance",
    "bootstrap_refuter",
    "data_subset_refuter",
    "overlap",
    "placebo_refuter",
    "refit_refuters",
    "robustness",
]

REFUTERS: tuple[str, ...] = (
    "placebo_treatment",
    "random_common_cause",
    "data_subset",
    "bootstrap",
    "dummy_outcome",
)
#: random common cause passes when adding the noise column moves the estimate by at most this
#: many (original) standard errors: less than the estimate's own sampling uncertainty. The
#: refit also redraws LightGBM's column subsampling, so some movement is algorithmic noise
#: (measured: 0.00 SE on a 4,000-pin boost estimate); a real fragility shows as several SE (3.1 SE for a continuous treatment whose
#: E[T|Z] overfits the noise column, tests/graph/test_robustness.py).
RANDOM_CAUSE_MAX_SHIFT_SE = 1.0
#: bootstrap passes when its SE is within this factor of the influence-function SE (the
#: sampling error of a 100-resample SE is about 7%, so a correct SE fails with < 1e-3 chance).
BOOTSTRAP_SE_RATIO = 1.3
#: significance level of the single-shot dummy-outcome test (false-failure rate).
DUMMY_ALPHA = 0.01

Progress = Callable[[str], None] | None


def _progress(progress: bool | Callable[[str], None]) -> Callable[[str], None]:
    if callable(progress):
        return progress
    if progress:
        return lambda msg: print(msg, file=sys.stderr, flush=True)
    return lambda msg: None


def _rng(seed: Any) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _plr(y_res: np.ndarray, t_res: np.ndarray, groups: np.ndarray | None, alpha: float) -> Any:
    from estimators import plr_ate

    return plr_ate(y_res, t_res, groups=groups, alpha=alpha)


def _mean(psi: np.ndarray, groups: np.ndarray | None, alpha: float) -> Any:
    from estimators import mean_effect_from_scores

    return mean_effect_from_scores(psi, groups=groups, alpha=alpha)


def _recompute(sc: EffectScores, idx: np.ndarray, alpha: float) -> Any:
    g = None if sc.groups is None else sc.groups[idx]
    if sc.discrete:
        assert sc.psi is not None
        return _mean(sc.psi[idx], g, alpha)
    assert sc.t is not None and sc.t_hat is not None
    return _plr((sc.y - sc.m)[idx], (sc.t - sc.t_hat)[idx], g, alpha)


def placebo_refuter(
    sc: EffectScores, *, n_simulations: int = 100, alpha: float = 0.05, seed: Any = 0
) -> RefutationResult:
    """Placebo treatment: permute the treatment; the placebo's effect must be zero.

    Passes when the share of placebo intervals excluding zero is at most
    ``alpha + 2.5 sqrt(alpha (1 - alpha) / n_simulations) + 1 / n_simulations`` (a correct
    interval fails this with about 1% chance). No refit (see the module docstring).
    """
    start = time.perf_counter()
    rng = _rng(seed)
    t = sc.arm.astype(float) if sc.discrete else sc.t  # type: ignore[union-attr]
    assert t is not None
    y_res = sc.y - sc.m
    groups = sc.groups
    effects = np.empty(n_simulations)
    excl = 0
    for s in range(n_simulations):
        tp = rng.permutation(t)
        r = _plr(y_res, tp - tp.mean(), groups, alpha)
        effects[s] = r.effect
        excl += int(r.effect_ci_lower > 0 or r.effect_ci_upper < 0)
    share = excl / n_simulations
    limit = alpha + 2.5 * math.sqrt(alpha * (1 - alpha) / n_simulations) + 1 / n_simulations
    est = sc.estimate(alpha).effect
    passed = share <= limit
    detail = (
        f"{excl}/{n_simulations} placebo intervals excluded zero (expected {alpha:.0%}, limit "
        f"{limit:.0%}); mean placebo effect {effects.mean():.4g} vs estimate {est:.4g}."
    )
    pval = float(stats.binom.sf(excl - 1, n_simulations, alpha)) if excl else 1.0
    return RefutationResult(
        "placebo_treatment",
        passed,
        detail,
        est,
        float(effects.mean()),
        pval,
        n_simulations,
        time.perf_counter() - start,
    )


def _resample_index(
    sc: EffectScores, rng: np.random.Generator, *, fraction: float, replace: bool
) -> np.ndarray:
    n = sc.n
    if sc.groups is None:
        if replace:
            return rng.integers(0, n, n)
        return rng.choice(n, size=max(2, int(round(fraction * n))), replace=False)
    codes, inv = np.unique(sc.groups, return_inverse=True)
    G = codes.size
    order = np.argsort(inv, kind="stable")
    starts = np.searchsorted(inv[order], np.arange(G))
    ends = np.append(starts[1:], n)
    picked = (
        rng.integers(0, G, G)
        if replace
        else rng.choice(G, max(2, int(round(fraction * G))), replace=False)
    )
    return np.concatenate([order[starts[g] : ends[g]] for g in picked])


def data_subset_refuter(
    sc: EffectScores,
    *,
    n_simulations: int = 100,
    fraction: float = 0.8,
    alpha: float = 0.05,
    seed: Any = 0,
) -> RefutationResult:
    """Data subset: re-estimate on random ``fraction`` subsets (whole clusters with groups).

    Passes when the estimate lies inside the central ``1 - alpha`` range of the subset
    estimates and — if its interval excludes zero — at least ``1 - alpha`` of the subset
    estimates keep its sign. No refit (see the module docstring); DoWhy refits per subset.
    """
    start = time.perf_counter()
    rng = _rng(seed)
    full = sc.estimate(alpha)
    est = float(full.effect)
    vals = np.array(
        [
            _recompute(sc, _resample_index(sc, rng, fraction=fraction, replace=False), alpha).effect
            for _ in range(n_simulations)
        ]
    )
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    significant = full.effect_ci_lower > 0 or full.effect_ci_upper < 0
    same_sign = float(np.mean(np.sign(vals) == np.sign(est))) if est != 0 else 1.0
    passed = bool(lo <= est <= hi) and (not significant or same_sign >= 1 - alpha)
    detail = (
        f"{n_simulations} subsets of {fraction:.0%}: estimates {lo:.4g} to {hi:.4g} "
        f"(central {1 - alpha:.0%}), estimate {est:.4g}; same sign in {same_sign:.0%}."
    )
    return RefutationResult(
        "data_subset",
        passed,
        detail,
        est,
        float(vals.mean()),
        math.nan,
        n_simulations,
        time.perf_counter() - start,
    )


def bootstrap_refuter(
    sc: EffectScores, *, n_simulations: int = 100, alpha: float = 0.05, seed: Any = 0
) -> RefutationResult:
    """Bootstrap stability: resample rows (clusters with groups) with replacement.

    Passes when the bootstrap SE is within a factor ``BOOTSTRAP_SE_RATIO`` of the
    influence-function SE and — if the interval excludes zero — at least ``1 - alpha`` of the
    resampled estimates keep the sign. No refit (see the module docstring).
    """
    start = time.perf_counter()
    rng = _rng(seed)
    full = sc.estimate(alpha)
    est, se = float(full.effect), float(full.se)
    vals = np.array(
        [
            _recompute(sc, _resample_index(sc, rng, fraction=1.0, replace=True), alpha).effect
            for _ in range(n_simulations)
        ]
    )
    boot_se = float(vals.std(ddof=1))
    ratio = boot_se / se if se > 0 else math.inf
    significant = full.effect_ci_lower > 0 or full.effect_ci_upper < 0
    same_sign = float(np.mean(np.sign(vals) == np.sign(est))) if est != 0 else 1.0
    passed = (1 / BOOTSTRAP_SE_RATIO <= ratio <= BOOTSTRAP_SE_RATIO) and (
        not significant or same_sign >= 1 - alpha
    )
    detail = (
        f"bootstrap SE {boot_se:.4g} vs analytic {se:.4g} (ratio {ratio:.2f}, allowed "
        f"{1 / BOOTSTRAP_SE_RATIO:.2f}-{BOOTSTRAP_SE_RATIO:.2f}); same sign in {same_sign:.0%} "
        f"of {n_simulations} resamples."
    )
    return RefutationResult(
        "bootstrap",
        passed,
        detail,
        est,
        float(vals.mean()),
        math.nan,
        n_simulations,
        time.perf_counter() - start,
    )


def refit_refuters(
    est: Any,
    sc: EffectScores,
    *,
    alpha: float = 0.05,
    seed: Any = 0,
) -> tuple[RefutationResult, RefutationResult]:
    """Random common cause and dummy outcome, from one shared nuisance refit.

    The refit uses :class:`estimators.LinearDML` without modifiers (its ATE only needs the
    nuisances) with the original estimator's ``cv``, ``clip``, ``nuisance_params``,
    ``random_state`` and ``n_jobs``, on the original adjustment columns plus one N(0, 1)
    column, and two outcomes: ``Y`` and the dummy ``E^[Y|Z] + permuted residual``.

    - random_common_cause passes when the estimate moves by at most
      ``RANDOM_CAUSE_MAX_SHIFT_SE`` standard errors.
    - dummy_outcome passes when the dummy's ``1 - DUMMY_ALPHA`` interval contains zero.
    """
    import estimators

    start = time.perf_counter()
    rng = _rng(seed)
    d = fitted_nuisances(est)
    j = list(d.outcome_names).index(sc.outcome)
    y = d.y[:, j]
    m = d.outcome_mean[:, j]
    resid = y - m
    dummy = m + resid[rng.permutation(d.n)]
    Z = d.Z.copy()
    name = "_random_common_cause"
    while name in Z.columns:
        name += "_"
    Z[name] = rng.standard_normal(d.n)
    T = np.array(list(d.levels))[d.t_codes] if d.discrete else d.t
    Y = pd.DataFrame({"y": y, "dummy": dummy})
    params = {
        k: getattr(est, k)
        for k in ("cv", "clip", "nuisance_params", "random_state", "n_jobs")
        if hasattr(est, k)
    }
    refit = estimators.LinearDML(
        discrete_treatment=d.discrete, control=d.levels[0] if d.discrete else None, **params
    ).fit(Y, T, W=Z, sample_weight=d.sample_weight, groups=d.groups)
    T1 = sc.arm_label if d.discrete else None
    orig = sc.estimate(alpha)
    new = refit.ate_inference(alpha=alpha, T1=T1, outcome="y")
    dum = refit.ate_inference(alpha=DUMMY_ALPHA, T1=T1, outcome="dummy")
    seconds = time.perf_counter() - start
    shift = abs(new.effect - orig.effect) / orig.se if orig.se > 0 else math.inf
    rcc = RefutationResult(
        "random_common_cause",
        bool(shift <= RANDOM_CAUSE_MAX_SHIFT_SE),
        f"adding a random common cause moved the estimate from {orig.effect:.4g} to "
        f"{new.effect:.4g} ({shift:.2f} SE; allowed {RANDOM_CAUSE_MAX_SHIFT_SE}).",
        float(orig.effect),
        float(new.effect),
        math.nan,
        1,
        seconds / 2,
    )
    covers = dum.effect_ci_lower <= 0 <= dum.effect_ci_upper
    dmy = RefutationResult(
        "dummy_outcome",
        bool(covers),
        f"effect on a dummy outcome with no true effect: {dum.effect:.4g} "
        f"[{dum.effect_ci_lower:.4g}, {dum.effect_ci_upper:.4g}] ({1 - DUMMY_ALPHA:.0%} interval; "
        f"{'contains' if covers else 'excludes'} zero).",
        float(orig.effect),
        float(dum.effect),
        float(dum.pvalue),
        1,
        seconds / 2,
    )
    return rcc, dmy


def overlap(
    sc: EffectScores,
    *,
    lower: float = 0.05,
    upper: float = 0.95,
    trim: bool = True,
    alpha: float = 0.05,
) -> Overlap:
    """Propensity distribution per arm, the share outside ``[lower, upper]``, trimmed estimate.

    The propensity is the arm's probability among arm-or-control units,
    ``e1 / (e1 + e0)`` (``e1`` for a binary treatment). Trimming (Crump et al. 2009) keeps
    the units inside ``[lower, upper]`` and averages their doubly-robust scores (reused, not
    refitted): it estimates the average effect **in that sub-population**, not the ATE.
    """
    if not sc.discrete:
        raise ConfigError("overlap() needs a discrete treatment (propensities); T is continuous.")
    if not 0 <= lower < upper <= 1:
        raise ConfigError(f"Need 0 <= lower < upper <= 1; got lower={lower}, upper={upper}.")
    assert sc.e1 is not None and sc.e0 is not None and sc.arm is not None and sc.psi is not None
    p = sc.e1 / np.maximum(sc.e1 + sc.e0, 1e-12)
    qs = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
    arms = {str(sc.arm_label): p[sc.arm], str(sc.control_label): p[~sc.arm]}
    quantiles = {
        a: {f"q{int(q * 100):02d}": float(np.quantile(v, q)) for q in qs} if v.size else {}
        for a, v in arms.items()
    }
    edges = np.linspace(0, 1, 21)
    hist: dict[str, list[float]] = {"edges": edges.tolist()}
    for a, v in arms.items():
        hist[a] = np.histogram(v, bins=edges)[0].astype(float).tolist()
    outside = (p < lower) | (p > upper)
    share = float(outside.mean())
    est = sc.estimate(alpha)
    keep = ~outside
    t_est = t_lo = t_hi = math.nan
    note = "No trimming requested."
    if trim:
        if keep.sum() >= 10 and sc.arm[keep].any() and (~sc.arm[keep]).any():
            g = None if sc.groups is None else sc.groups[keep]
            r = _mean(sc.psi[keep], g, alpha)
            t_est, t_lo, t_hi = float(r.effect), float(r.effect_ci_lower), float(r.effect_ci_upper)
            note = (
                f"Trimmed to the {keep.mean():.1%} of units (n={int(keep.sum())}) with propensity "
                f"in [{lower:g}, {upper:g}]: the trimmed estimate is the average effect in that "
                "sub-population (Crump et al. 2009), not the ATE of all units."
            )
        else:
            note = "Too few units inside the bounds to re-estimate after trimming."
    return Overlap(
        quantiles=quantiles,
        share_outside=share,
        lower=lower,
        upper=upper,
        histogram=hist,
        estimate=float(est.effect),
        trimmed_estimate=t_est,
        trimmed_ci_lower=t_lo,
        trimmed_ci_upper=t_hi,
        n=sc.n,
        n_trimmed=int(keep.sum()),
        estimand_note=note,
        ok=share <= 0.05,
    )


def _numeric_columns(Z: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for c in Z.columns:
        s = Z[c]
        if isinstance(s.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
        ):
            dummies = pd.get_dummies(
                s.astype("category"), prefix=str(c), prefix_sep="=", dtype=float
            )
            parts.append(dummies)
        else:
            parts.append(s.astype(float).rename(str(c)).to_frame())
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=Z.index)


def smd(x: np.ndarray, arm: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Standardized mean differences of the columns of ``x`` between arm and control.

    ``(mean_arm - mean_control) / sqrt((var_arm + var_control) / 2)``, means weighted by
    ``weights`` when given; the denominator always uses the unweighted variances (so before and
    after weighting share one scale, as in Austin 2009).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [2.0], [1.0], [3.0]]); arm = np.array([False, False, True, True])
    >>> smd(x, arm).round(4).tolist()
    [0.7071]
    """
    w = np.ones(len(arm)) if weights is None else weights
    m1 = np.average(x[arm], axis=0, weights=w[arm])
    m0 = np.average(x[~arm], axis=0, weights=w[~arm])
    sd = np.sqrt((x[arm].var(axis=0, ddof=1) + x[~arm].var(axis=0, ddof=1)) / 2)
    return np.where(sd > 0, (m1 - m0) / np.where(sd > 0, sd, 1.0), 0.0)


def balance(sc: EffectScores, *, threshold: float = 0.1) -> Balance:
    """Covariate balance before and after inverse-propensity (ATE) weighting.

    Weights ``1 / e1`` for the arm and ``1 / e0`` for control (propensities clipped as in the
    estimate); categorical covariates are compared level by level. A covariate is flagged when
    its absolute SMD after weighting exceeds ``threshold`` (0.1, Austin 2009).
    """
    if not sc.discrete:
        raise ConfigError("balance() needs a discrete treatment; T is continuous.")
    assert sc.arm is not None and sc.e1 is not None and sc.e0 is not None
    X = _numeric_columns(sc.Z)
    x = X.to_numpy(dtype=float)
    w = np.where(
        sc.arm,
        1 / np.clip(sc.e1, sc.clip, 1 - sc.clip),
        1 / np.clip(sc.e0, sc.clip, 1 - sc.clip),
    )
    before = smd(x, sc.arm) if x.shape[1] else np.empty(0)
    after = smd(x, sc.arm, w) if x.shape[1] else np.empty(0)
    table = tuple(
        {
            "covariate": str(c),
            "smd_before": float(b),
            "smd_after": float(a),
            "flagged": bool(abs(a) > threshold),
        }
        for c, b, a in zip(X.columns, before, after, strict=True)
    )
    return Balance(
        table=table,
        threshold=threshold,
        n_flagged_before=int(np.sum(np.abs(before) > threshold)),
        n_flagged_after=int(np.sum(np.abs(after) > threshold)),
    )


def robustness(
    est: Any,
    *,
    outcome: str | None = None,
    T1: Any = None,
    refuters: tuple[str, ...] = REFUTERS,
    n_simulations: int = 100,
    alpha: float = 0.05,
    trim: bool = True,
    seed: Any = 0,
    progress: bool | Callable[[str], None] = False,
    treatment: str | None = None,
) -> Robustness:
    """The full robustness suite for one effect of a fitted ``estimators`` model.

    Refutations (placebo treatment, random common cause, data subset, bootstrap, dummy
    outcome), sensitivity to an unobserved confounder, overlap and covariate balance. The
    cross-fitted nuisances of ``est`` are reused wherever the mathematics allows; the only
    refit is one nuisance cross-fit shared by random-common-cause and dummy-outcome (see the
    module docstring for what each refuter reuses and what DoWhy would refit instead).

    Parameters
    ----------
    est : fitted estimators model
        E.g. ``estimators.AutoCate().fit(Y, T, X=X, W=W)``; its adjustment columns are X and W.
    outcome : str, optional
        The outcome (needed when ``est`` was fitted on several).
    T1 : optional
        The arm, for a multi-valued treatment.
    refuters : tuple of str
        A subset of :data:`REFUTERS`.
    n_simulations : int
        Permutations / subsets / resamples of the no-refit refuters.
    alpha : float
    trim : bool
        Re-estimate on the units with propensity in [0.05, 0.95] (the estimand changes).
    seed : int or Generator
    progress : bool or callable
        Print one line per step to stderr (or pass a function taking the message).
    treatment : str, optional
        The treatment's name, for labels (default: ``"<arm> vs <control>"`` or ``"T"``).

    Returns
    -------
    Robustness

    Examples
    --------
    >>> import numpy as np, pandas as pd, estimators
    >>> rng = np.random.default_rng(0)
    >>> W = pd.DataFrame({"w": rng.normal(size=2000)})
    >>> T = (rng.random(2000) < 1 / (1 + np.exp(-W["w"]))).astype(int)
    >>> Y = 2 * T + W["w"] + rng.normal(size=2000)
    >>> est = estimators.LinearDML(random_state=0, n_jobs=1).fit(Y, T, W=W)
    >>> rob = robustness(est, refuters=("placebo_treatment", "bootstrap"), n_simulations=20)
    >>> [r.name for r in rob.refutations], rob.passed
    (['placebo_treatment', 'bootstrap'], True)
    """
    unknown = [r for r in refuters if r not in REFUTERS]
    if unknown:
        raise ConfigError(f"Unknown refuters {unknown}; choose from {list(REFUTERS)}.")
    if int(n_simulations) < 2:
        raise ConfigError(f"n_simulations must be >= 2; got {n_simulations!r}.")
    say = _progress(progress)
    t0 = time.perf_counter()
    sc = scores_of(est, outcome=outcome, T1=T1)
    rng = _rng(seed)
    seeds = rng.integers(0, 2**31 - 1, size=5)
    base = sc.estimate(alpha)
    timings: dict[str, float] = {}
    results: dict[str, RefutationResult] = {}
    steps = [r for r in refuters if r not in ("random_common_cause", "dummy_outcome")]
    refit_needed = [r for r in refuters if r in ("random_common_cause", "dummy_outcome")]
    total = len(steps) + (1 if refit_needed else 0) + 3
    k = 0
    runners: dict[str, Callable[[], RefutationResult]] = {
        "placebo_treatment": lambda: placebo_refuter(
            sc, n_simulations=n_simulations, alpha=alpha, seed=int(seeds[0])
        ),
        "data_subset": lambda: data_subset_refuter(
            sc, n_simulations=n_simulations, alpha=alpha, seed=int(seeds[1])
        ),
        "bootstrap": lambda: bootstrap_refuter(
            sc, n_simulations=n_simulations, alpha=alpha, seed=int(seeds[2])
        ),
    }
    for name in steps:
        k += 1
        say(f"[robustness {k}/{total}] {name} ({n_simulations} simulations, no refit) ...")
        results[name] = runners[name]()
        timings[name] = results[name].seconds
        say(
            f"[robustness {k}/{total}] {name}: {'passed' if results[name].passed else 'FAILED'} ({timings[name]:.1f} s)"
        )
    if refit_needed:
        k += 1
        say(
            f"[robustness {k}/{total}] random_common_cause + dummy_outcome (one nuisance refit) ..."
        )
        t1 = time.perf_counter()
        rcc, dmy = refit_refuters(est, sc, alpha=alpha, seed=int(seeds[3]))
        timings["refit"] = time.perf_counter() - t1
        results["random_common_cause"], results["dummy_outcome"] = rcc, dmy
        say(f"[robustness {k}/{total}] refit done ({timings['refit']:.1f} s)")
    k += 1
    say(f"[robustness {k}/{total}] sensitivity ...")
    t1 = time.perf_counter()
    sens = sensitivity(sc, alpha=alpha)
    timings["sensitivity"] = time.perf_counter() - t1
    ov = bal = None
    if sc.discrete:
        k += 1
        say(f"[robustness {k}/{total}] overlap ...")
        t1 = time.perf_counter()
        ov = overlap(sc, trim=trim, alpha=alpha)
        timings["overlap"] = time.perf_counter() - t1
        k += 1
        say(f"[robustness {k}/{total}] balance ...")
        t1 = time.perf_counter()
        bal = balance(sc)
        timings["balance"] = time.perf_counter() - t1
    seconds = time.perf_counter() - t0
    say(f"[robustness] done in {seconds:.1f} s")
    return Robustness(
        treatment=treatment
        or (f"{sc.arm_label} vs {sc.control_label}" if sc.discrete else sc.treatment),
        outcome=sc.outcome,
        estimate=float(base.effect),
        se=float(base.se),
        effect_ci_lower=float(base.effect_ci_lower),
        effect_ci_upper=float(base.effect_ci_upper),
        refutations=tuple(results[r] for r in refuters),
        sensitivity=sens,
        overlap=ov,
        balance=bal,
        seconds=seconds,
        timings=timings,
    )
