"""Count outcomes on the project simulator: log features in the linear design (issue 9 item 6).

The linear members of the nuisance library now also see ``log1p`` of highly skewed,
non-negative columns (``estimators._library.LinearDesign``). References: statsmodels' GLM on
the same design (closed form of the member), and seeded ``causal.simulate_content`` datasets
with known propensity, outcome means and ATE.

- Always-on: the design (which columns get a log), the Poisson member against statsmodels on
  a power law, the opt-out and bad input; the opt-in logistic propensity on that design
  (chosen by log-loss, slope near 1, but tails past the true floor: why it stays opt-in); a
  seeded coverage / bias study of 12 datasets.
- ``@pytest.mark.slow``: the 100-dataset study (``bench/bench_coverage_content.py``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import causal
import estimators
from estimators._errors import EstimatorInputError
from estimators._library import LOG_SKEW, LinearDesign, LinearOutcome

OUTCOMES = ["saves", "outbound_clicks", "hides", "revenue"]
MODIFIERS = ["quality_score", "format", "category", "shoppable", "text_overlay"]
CONFOUNDERS = ["creator_followers", "prior_impressions", "age_days"]
ROWS = 3000
#: The Poisson member has a 1e-4 ridge penalty on standardised columns; statsmodels' GLM none.
POISSON_VS_GLM_RTOL = 5e-3
#: On a power law E[Y] = exp(0.5 + 0.3 log1p(f)) with log-normal f (4,000 rows), the RMSE of
#: the member's prediction around the true mean, relative to the mean's SD: measured 0.013-0.035
#: with the log column (estimation noise; seeds 3-5) and 1.00-1.08 on the raw design (worse
#: than a constant: a shape it cannot express). Bounds far from both.
POWER_LAW_GOOD, POWER_LAW_BAD = 0.1, 0.5
#: simulate_content: the recalibrated logistic propensity's log-odds slope on the true
#: log-odds was 1.02 on average over 20 datasets (LightGBM 0.88); within 0.1 of 1 here. Its
#: smallest propensity was 0.0007-0.006 on those datasets, under the true floor
#: (``overlap=0.02``) by a factor of 3 or more.
SLOPE_TOL = 0.1
TRUE_FLOOR = 0.02
#: Always-on coverage study of the opt-in log features: N_FAST datasets (fresh seeds 70,000+),
#: outcome library reduced to the linear members (LightGBM outcome models cost ~3 CPU s a dataset; the linear members are
#: the ones chosen on most datasets). Bands that a correct 95% interval passes with
#: probability > 99%: at least 9 of 12 cover (P(fewer) = 0.2%), |mean z| < 3 of its s.e.
N_FAST = 12
MIN_COVER_FAST = 9
MEAN_Z_SES = 3.0
#: Slow: over 100 datasets (seeds 50,000-50,099) outbound clicks meets the issue's 93%; the
#: others are held to the nominal 95% minus two binomial SEs (saves measured 0.92).
N_SLOW = 100
TARGET_COVERAGE = 0.93
FLOOR_COVERAGE = 0.95 - 2 * np.sqrt(0.95 * 0.05 / N_SLOW)


def test_log_column_only_for_skewed_non_negative_numbers() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    Z = pd.DataFrame(
        {
            "followers": np.round(10 ** rng.normal(3.6, 0.8, n)),  # heavy right tail
            "signed": rng.standard_t(3, n) ** 3,  # skewed but negative values
            "uniform": rng.uniform(0, 3, n),  # not skewed
            "rare": (rng.uniform(size=n) < 0.05).astype(float),  # binary, skewness > 4
            "flag": rng.uniform(size=n) < 0.05,
        }
    )
    design = LinearDesign(log_skewed=True).fit(Z)
    assert [c for c, _, _ in design.log_] == ["followers"]
    A = design.transform(Z)
    assert A.shape == (n, 6)
    logged = np.log1p(Z["followers"].to_numpy())
    np.testing.assert_allclose(A[:, -1], (logged - logged.mean()) / logged.std())
    assert LinearDesign().fit(Z).transform(Z).shape == (n, 5)  # opt-in: off by default
    # unseen negative values: log1p of 0, no NaN
    assert np.isfinite(design.transform(Z.assign(followers=-5.0))).all()
    assert LOG_SKEW == 1.0


def test_poisson_member_fits_a_power_law_like_statsmodels_glm() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    n = 4000
    f = np.round(10 ** rng.normal(3.6, 0.8, n))
    Z = pd.DataFrame({"f": f})
    mean = np.exp(0.5 + 0.3 * np.log1p(f))
    y = rng.poisson(mean).astype(float)
    A = np.column_stack(
        [
            np.ones(n),
            (f - f.mean()) / f.std(),
            (np.log1p(f) - np.log1p(f).mean()) / np.log1p(f).std(),
        ]
    )
    glm = sm.GLM(y, A, family=sm.families.Poisson()).fit()
    pred = LinearOutcome("poisson", seed=0, log_skewed=True).fit(Z, y, None).predict(Z)
    np.testing.assert_allclose(pred, glm.predict(A), rtol=POISSON_VS_GLM_RTOL)
    raw = LinearOutcome("poisson", seed=0, log_skewed=False).fit(Z, y, None).predict(Z)

    def rel_rmse(p: np.ndarray) -> float:
        return float(np.sqrt(np.mean((p - mean) ** 2)) / mean.std())

    assert rel_rmse(pred) < POWER_LAW_GOOD < POWER_LAW_BAD < rel_rmse(raw)


def test_log_features_opt_out_and_bad_input() -> None:
    rng = np.random.default_rng(1)
    n = 600
    X = pd.DataFrame({"f": np.round(10 ** rng.normal(3, 1, n))})
    T = rng.integers(0, 2, n)
    Y = np.log1p(X["f"].to_numpy()) + T + rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        on = estimators.TLearner(
            cv=2, random_state=0, nuisance_params={"linear_log_features": True}
        ).fit(Y, T, X=X)
        off = estimators.TLearner(cv=2, random_state=0).fit(Y, T, X=X)  # the default
    err = on.outcome_models_.query("member == 'linear' and model == 'E[Y|Z]'")["oof_error"]
    err_off = off.outcome_models_.query("member == 'linear' and model == 'E[Y|Z]'")["oof_error"]
    assert float(err.iloc[0]) < float(err_off.iloc[0])  # Y is linear in log1p(f)
    with pytest.raises(EstimatorInputError, match="linear_log_features"):
        estimators.TLearner(nuisance_params={"linear_log_features": "yes"}).fit(Y, T, X=X)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _fit(seed: int, params: dict | None) -> tuple[pd.DataFrame, estimators.LinearDML]:
    df = causal.simulate_content(n=ROWS, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = estimators.LinearDML(random_state=seed, nuisance_params=params).fit(
            df[OUTCOMES],
            df["boosted"].to_numpy(),
            X=df[MODIFIERS],
            W=df[CONFOUNDERS],
            groups=df["creator_id"].to_numpy(),
        )
    return df, est


def test_opt_in_logistic_propensity_wins_log_loss_but_extrapolates() -> None:
    params = {
        "outcome_library": ["linear"],
        "propensity_library": ["lightgbm", "logistic"],
        "linear_log_features": True,
    }
    df, est = _fit(50_000, params)
    table = est.outcome_models_.query("model == 'P(T|Z)'").set_index("member")
    assert bool(table.loc["logistic", "chosen"]), table
    assert table.loc["logistic", "oof_error"] < table.loc["lightgbm", "oof_error"]
    e = est.propensity_[:, 1]
    slope = np.polyfit(_logit(df["true_propensity"].to_numpy()), _logit(e), 1)
    assert abs(slope[0] - 1.0) < SLOPE_TOL, slope
    # ...but its logistic tails go past the true floor: weights at the clip (why opt-in)
    assert min(e.min(), 1 - e.max()) < TRUE_FLOOR / 3
    default = _fit(50_000, {"outcome_library": ["linear"]})[1].propensity_[:, 1]
    assert min(default.min(), 1 - default.max()) > TRUE_FLOOR / 3


def test_ate_interval_coverage_and_bias_on_fresh_seeds() -> None:
    """The opt-in configuration (log features), AIPW and TMLE from the same fits."""
    zs: dict[tuple[str, str], list[float]] = {}
    covers: dict[tuple[str, str], int] = {}
    for r in range(N_FAST):
        df, est = _fit(
            70_000 + r, {"outcome_library": ["linear", "poisson"], "linear_log_features": True}
        )
        for o in OUTCOMES:
            truth = float(df[f"true_cate_{o}"].mean())
            for method in ("aipw", "tmle"):
                a = est.ate_inference(outcome=o, method=method)
                zs.setdefault((o, method), []).append((a.effect - truth) / a.se)
                covers[(o, method)] = covers.get((o, method), 0) + int(
                    a.effect_ci_lower <= truth <= a.effect_ci_upper
                )
    for key, z_list in zs.items():
        z = np.array(z_list)
        assert covers[key] >= MIN_COVER_FAST, (key, covers[key], z)
        assert abs(z.mean()) < MEAN_Z_SES * z.std(ddof=1) / np.sqrt(N_FAST), (key, z)


@pytest.mark.slow
def test_log_features_and_tmle_coverage_on_simulate_content_100_datasets() -> None:
    """The opt-in configuration over seeds 50,000-50,099 (bench/RESULTS_estimators.md,
    session 5: saves 0.92, outbound clicks 0.96, hides 0.94, revenue 0.97)."""
    covers: dict[str, list[bool]] = {o: [] for o in OUTCOMES}
    zs: dict[str, list[float]] = {o: [] for o in OUTCOMES}
    for r in range(N_SLOW):
        df, est = _fit(50_000 + r, {"linear_log_features": True})
        for o in OUTCOMES:
            a = est.ate_inference(outcome=o, method="tmle")
            truth = float(df[f"true_cate_{o}"].mean())
            covers[o].append(a.effect_ci_lower <= truth <= a.effect_ci_upper)
            zs[o].append((a.effect - truth) / a.se)
    rates = {o: float(np.mean(v)) for o, v in covers.items()}
    print("coverage over", N_SLOW, "datasets:", rates)
    assert rates["outbound_clicks"] >= TARGET_COVERAGE, rates
    for o in OUTCOMES:
        z = np.array(zs[o])
        assert rates[o] >= FLOOR_COVERAGE, (o, rates[o])
        assert abs(z.mean()) < MEAN_Z_SES * z.std(ddof=1) / np.sqrt(N_SLOW), (o, z.mean())


#: The default estimator over 150 datasets: seeds 50,000-50,099 (the block of the earlier
#: studies) and the fresh block 60,000-60,049. Measured (session 5, the lead's run):
#: AIPW 0.953 / 0.933 / 0.947 / 0.967 (saves, outbound clicks, hides, revenue), TMLE on the
#: same fits 0.940 / 0.940 / 0.940 / 0.967. Binomial s.e. of a 95% coverage over 150: 0.018.
DEFAULT_SEEDS = [*range(50_000, 50_100), *range(60_000, 60_050)]


@pytest.mark.slow
def test_default_ate_interval_meets_the_target_on_150_datasets() -> None:
    """The default nuisances, AIPW (``ate_inference()``) and TMLE (``method="tmle"``)."""
    covers: dict[tuple[str, str], list[bool]] = {}
    zs: dict[tuple[str, str], list[float]] = {}
    for seed in DEFAULT_SEEDS:
        df, est = _fit(seed, None)
        for o in OUTCOMES:
            truth = float(df[f"true_cate_{o}"].mean())
            for method in ("aipw", "tmle"):
                a = est.ate_inference(outcome=o, method=method)
                covers.setdefault((o, method), []).append(
                    a.effect_ci_lower <= truth <= a.effect_ci_upper
                )
                zs.setdefault((o, method), []).append((a.effect - truth) / a.se)
    rates = {k: float(np.mean(v)) for k, v in covers.items()}
    print("default nuisances, coverage over", len(DEFAULT_SEEDS), "datasets:", rates)
    n = len(DEFAULT_SEEDS)
    for key, z_list in zs.items():
        z = np.array(z_list)
        assert rates[key] >= TARGET_COVERAGE, (key, rates[key])
        assert abs(z.mean()) < MEAN_Z_SES * z.std(ddof=1) / np.sqrt(n), (key, z.mean())
