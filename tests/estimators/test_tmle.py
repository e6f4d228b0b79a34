"""The targeted (TMLE) update of the outcome means: against statsmodels' GLM with an offset.

``estimators.targeted_outcome_means`` fits one fluctuation per arm along the clever covariate
``1/e``: a Poisson GLM with offset ``log mu`` (log link) or least squares through the origin on
the residual (identity link). statsmodels fits the same models; the updated means must then
solve the efficient-influence-function equation, so the AIPW scores at them average to the
plug-in difference.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import estimators
from estimators._errors import EstimatorInputError

#: statsmodels' IRLS and our Newton iterations both converge to machine precision on 400 rows.
EPS_RTOL = 1e-6
#: The score equations hold to floating-point accuracy.
SCORE_ATOL = 1e-8


def _case(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    e = 1 / (1 + np.exp(-(0.8 * x)))
    t = rng.uniform(size=n) < e
    mean0 = np.exp(1.0 + 0.5 * x)
    y = rng.poisson(np.where(t, 1.5 * mean0, mean0)).astype(float)
    # deliberately wrong initial means (too flat), so the fluctuation has work to do
    mu0 = np.exp(1.2 + 0.2 * x)
    mu1 = 1.3 * mu0
    return y, t, mu1, mu0, e


def test_log_link_is_a_poisson_glm_with_offset_per_arm() -> None:
    import statsmodels.api as sm

    y, t, mu1, mu0, e = _case(0)
    m1, m0, link = estimators.targeted_outcome_means(y, t, ~t, mu1, mu0, e, 1 - e)
    assert link == "log"
    for arm, mu, h, star in ((t, mu1, 1 / e, m1), (~t, mu0, 1 / (1 - e), m0)):
        glm = sm.GLM(y[arm], h[arm][:, None], family=sm.families.Poisson(), offset=np.log(mu[arm]))
        eps = float(glm.fit(tol=1e-12).params[0])
        np.testing.assert_allclose(star, mu * np.exp(eps * h), rtol=EPS_RTOL)


def test_identity_link_is_least_squares_on_the_clever_covariate() -> None:
    import statsmodels.api as sm

    y, t, mu1, mu0, e = _case(1)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=len(y))
    m1, m0, link = estimators.targeted_outcome_means(
        y, t, ~t, mu1, mu0, e, 1 - e, link="identity", sample_weight=w
    )
    assert link == "identity"
    for arm, mu, h, star in ((t, mu1, 1 / e, m1), (~t, mu0, 1 / (1 - e), m0)):
        eps = float(sm.WLS(y[arm] - mu[arm], h[arm][:, None], weights=w[arm]).fit().params[0])
        np.testing.assert_allclose(star, mu + eps * h, rtol=EPS_RTOL)


@pytest.mark.parametrize("link", ["log", "identity"])
def test_updated_means_solve_the_influence_function_equation(link: str) -> None:
    y, t, mu1, mu0, e = _case(3)
    m1, m0, _ = estimators.targeted_outcome_means(y, t, ~t, mu1, mu0, e, 1 - e, link=link)
    scores = estimators.aipw_scores(y, t, ~t, m1, m0, e, 1 - e)
    assert scores.mean() == pytest.approx(float(np.mean(m1 - m0)), abs=SCORE_ATOL)
    # the initial means do not: the AIPW correction term is not zero there
    raw = estimators.aipw_scores(y, t, ~t, mu1, mu0, e, 1 - e)
    assert abs(raw.mean() - float(np.mean(mu1 - mu0))) > 0.1


def test_negative_outcomes_default_to_identity_and_bad_link_raises() -> None:
    y, t, mu1, mu0, e = _case(4)
    _, _, link = estimators.targeted_outcome_means(y - 5.0, t, ~t, mu1, mu0, e, 1 - e)
    assert link == "identity"
    with pytest.raises(EstimatorInputError, match="non-negative"):
        estimators.targeted_outcome_means(y - 5.0, t, ~t, mu1, mu0, e, 1 - e, link="log")
    with pytest.raises(EstimatorInputError, match="link"):
        estimators.targeted_outcome_means(y, t, ~t, mu1, mu0, e, 1 - e, link="logit")


def test_ate_inference_method_is_recorded_and_matches_the_function() -> None:
    rng = np.random.default_rng(5)
    n = 1500
    X = rng.normal(size=(n, 2))
    T = (rng.uniform(size=n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    Y = rng.poisson(np.exp(0.5 + 0.4 * X[:, 0] + 0.3 * T)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = estimators.LinearDML(cv=3, random_state=0).fit(Y, T, X=X)
    aipw = est.ate_inference(method="aipw")
    tmle = est.ate_inference(method="tmle")
    assert aipw.method == "AIPW" and tmle.method == "TMLE (log link)"
    nu = est._ctx.nuis
    m1, m0, _ = estimators.targeted_outcome_means(
        Y, T == 1, T == 0, nu.mu[:, 0, 1], nu.mu[:, 0, 0], nu.e[:, 1], nu.e[:, 0]
    )
    assert tmle.effect == pytest.approx(float(np.mean(m1 - m0)), rel=1e-9)
    assert abs(tmle.effect - aipw.effect) < aipw.se  # asymptotically equivalent
    assert est.ate_inference(overlap_weights=True).method == "overlap weights"
    assert est.att_inference().method == "ATT score"
    with pytest.raises(EstimatorInputError, match="method"):
        est.ate_inference(method="ipw")
