"""The specialist API of ``estimators.inference`` and ``estimators.rules``: what ``causal``
(weighted what-works tables, Spark segment effects, validation) uses instead of private modules.

The re-exports must be the very functions the estimators use (so tables rebuilt from them equal
the estimators' own), the new accessors must return exactly the fitted arrays, and every public
function must carry a running example.
"""

from __future__ import annotations

import doctest
import inspect
from typing import Any

import numpy as np
import pandas as pd
import pytest

import estimators
from estimators import _aipw, _evaluate, _inputs, _rules, _scores, inference, rules
from estimators.inference import dr_scores, frame_like, honest_cate, make_folds, nuisances
from tests.estimators._estimator_sim import simulate

NUISANCE = {"n_estimators": 20, "outcome_library": ["lightgbm"]}
#: The AIPW score formula recomputed from the public nuisances: same floating-point operations
#: up to association, so agreement to rounding.
SCORE_ATOL = 1e-12
#: Out-of-fold CATE of a linear final stage vs the simulation's true CATE (1 + x1 + 0.5[b]):
#: with 800 rows the correlation is about 0.97; 0.85 fails a ranking that is mostly noise.
MIN_TRUTH_CORRELATION = 0.85


#: y2 = 2 y1 + 1 fitted beside y1: out-of-fold CATEs of y2 vs twice those of y1.
AFFINE_ATOL = 1e-6


@pytest.fixture(scope="module")
def multi() -> tuple[estimators.LinearDML, dict[str, Any]]:
    """Three arms, two outcomes: the indices that the public names resolve must be right."""
    d: dict[str, Any] = simulate(800, seed=11, arms=3)
    Y = pd.DataFrame({"y1": d["Y"], "y2": 2.0 * d["Y"] + 1.0})
    est = estimators.LinearDML(random_state=0, nuisance_params=NUISANCE)
    return est.fit(Y, d["T"], X=d["X"], W=d["W"]), d


def test_reexports_are_the_estimators_own_functions() -> None:
    assert inference.cluster_cr2 is _aipw.cluster_cr2 is estimators.cluster_cr2
    assert inference.aipw_scores is _aipw.aipw_scores is estimators.aipw_scores
    assert inference.band_limits is _scores.band_limits
    assert inference.frame_like is _inputs.frame_like
    assert inference.Column is _inputs.Column
    assert inference.DEFAULT_SHARES == _evaluate.DEFAULT_SHARES
    for name in rules.__all__:
        assert getattr(rules, name) is getattr(_rules, name)


def test_dr_scores_are_the_fitted_scores_by_name(multi) -> None:
    est, d = multi
    ctx = est._ctx
    s = dr_scores(est, outcome="y2", T1=2)
    np.testing.assert_array_equal(s, ctx.dr[:, 1, 1])
    s[0] += 1.0  # a copy: the fitted scores are untouched
    assert ctx.dr[0, 1, 1] != s[0]
    np.testing.assert_array_equal(dr_scores(est, outcome="y1", T1=1), ctx.dr[:, 0, 0])
    # their mean is the doubly-robust ATE the estimator reports
    ate = est.ate_inference(outcome="y2", T1=2).effect
    assert dr_scores(est, outcome="y2", T1=2).mean() == pytest.approx(ate, abs=SCORE_ATOL)


def test_dr_scores_equal_aipw_scores_of_the_public_nuisances(multi) -> None:
    est, d = multi
    nu = nuisances(est)
    t = nu.t_codes
    assert nu.arm_means is not None and nu.propensity is not None
    ref = inference.aipw_scores(
        nu.y[:, 1], t == 2, t == 0, nu.arm_means[:, 1, 2], nu.arm_means[:, 1, 0],
        nu.propensity[:, 2], nu.propensity[:, 0], clip=nu.clip,
    )  # fmt: skip
    np.testing.assert_allclose(dr_scores(est, outcome="y2", T1=2), ref, rtol=0, atol=SCORE_ATOL)


def test_honest_cate_is_out_of_fold_and_tracks_the_truth(multi) -> None:
    est, d = multi
    ctx = est._ctx
    tau = honest_cate(est, outcome="y1", T1=1)
    np.testing.assert_array_equal(tau, _evaluate.honest_cate(est, ctx, ctx.nuis.folds, 0, 0))
    in_sample = np.asarray(est.effect(d["X"], T1=1))[:, 0]
    assert not np.allclose(tau, in_sample)  # not the in-sample fit
    assert np.corrcoef(tau, d["tau"])[0, 1] > MIN_TRUTH_CORRELATION
    # y2 = 2 y1 + 1: every effect doubles (LightGBM's splits do not change under an affine map
    # of y and its leaves follow it; 1.5e-8 measured), so the outcome index is the right one
    np.testing.assert_allclose(
        honest_cate(est, outcome="y2", T1=1), 2 * tau, rtol=0, atol=AFFINE_ATOL
    )
    # another split refits on it
    folds = make_folds(ctx.data.n, 4, strata=ctx.data.t_codes, groups=None, seed=5)
    other = honest_cate(est, outcome="y1", T1=1, folds=folds)
    np.testing.assert_array_equal(other, _evaluate.honest_cate(est, ctx, folds, 0, 0))
    assert not np.array_equal(other, tau)
    assert np.corrcoef(other, d["tau"])[0, 1] > MIN_TRUTH_CORRELATION


def test_schemas_rebuild_the_fitted_frames(multi) -> None:
    est, d = multi
    nu = nuisances(est)
    assert [c.name for c in nu.x_schema] == ["x0", "x1", "topic"]
    assert [c.name for c in nu.w_schema] == ["w0"]
    shuffled = d["X"][["topic", "x1", "x0"]]  # by name, whatever the order
    x = frame_like(shuffled, list(nu.x_schema), "X", "x")
    w = frame_like(d["W"], list(nu.w_schema), "W", "w")
    pd.testing.assert_frame_equal(pd.concat([x, w], axis=1), nu.Z)
    with pytest.raises(estimators.EstimatorInputError, match="'topic'.*not seen in fit"):
        frame_like(d["X"].assign(topic="zzz"), list(nu.x_schema), "X", "x")


def test_bad_input() -> None:
    d: dict[str, Any] = simulate(300, seed=2)
    with pytest.raises(estimators.NotFittedError, match="not fitted"):
        dr_scores(estimators.LinearDML())
    with pytest.raises(estimators.EstimatorInputError, match="fitted estimator"):
        honest_cate(object())
    est = estimators.LinearDML(random_state=0, nuisance_params=NUISANCE)
    est.fit(d["Y"], d["T"], X=d["X"], W=d["W"])
    with pytest.raises(estimators.EstimatorInputError, match="outcome='nope'"):
        dr_scores(est, outcome="nope")
    with pytest.raises(estimators.EstimatorInputError, match="T1=7 is not a treatment level"):
        honest_cate(est, T1=7)
    with pytest.raises(estimators.EstimatorInputError, match="300 integer fold codes"):
        honest_cate(est, folds=np.zeros(299, dtype=int))
    with pytest.raises(estimators.EstimatorInputError, match="at least two folds"):
        honest_cate(est, folds=np.zeros(300, dtype=int))
    no_x = estimators.LinearDML(random_state=0, nuisance_params=NUISANCE)
    no_x.fit(d["Y"], d["T"], W=d["W"])
    with pytest.raises(estimators.EstimatorInputError, match="fitted without X"):
        honest_cate(no_x)
    t = d["X"]["x0"].to_numpy() + np.random.default_rng(0).normal(size=300)
    cont = estimators.LinearDML(random_state=0, nuisance_params=NUISANCE)
    cont.fit(d["Y"], t, X=d["X"])
    with pytest.raises(estimators.EstimatorInputError, match="dose_response"):
        dr_scores(cont)
    with pytest.raises(estimators.EstimatorInputError, match="dose_response"):
        honest_cate(cont)


def _public_functions(module) -> list[str]:
    return [n for n in module.__all__ if inspect.isfunction(getattr(module, n))]


@pytest.mark.parametrize(
    ("module", "name"),
    [(m, n) for m in (inference, rules) for n in ["<module>", *_public_functions(m)]],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_every_public_function_has_a_running_example(module, name) -> None:
    obj = module if name == "<module>" else getattr(module, name)
    tests = doctest.DocTestFinder(recurse=False).find(
        obj, name, globs=dict(vars(inspect.getmodule(obj)))
    )
    examples = [t for t in tests if t.examples]
    assert examples, f"{module.__name__}.{name} has no example"
    for doc in examples:
        doc.globs.update(vars(module))  # as a user would: from the public module
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(doc)
        assert runner.failures == 0, f"{module.__name__}.{name}'s example fails"
    for part in ("Parameters", "Returns"):
        assert name == "<module>" or part in (obj.__doc__ or ""), f"{name}: no {part}"
