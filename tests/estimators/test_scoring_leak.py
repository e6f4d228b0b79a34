"""Why AutoCate's loss leans towards some candidates: which out-of-fold scores saw the scored rows.

AutoCate scores candidate ``c`` on fold ``k`` with a final stage fitted on the other folds. The
nuisances of *those* rows were cross-fitted on folds that include ``k``, so a candidate whose
final stage reads nuisance values (residuals, pseudo-outcomes, the T-learner's contrast projected
on X when ``W`` was given, before this was fixed) depends on the outcomes of the rows it is
scored on. Perturbing only
fold ``k``'s outcomes shows it exactly: the fold-``k`` scores of such candidates move; those of
the T-learner (its score is the out-of-fold contrast itself, or with ``W`` its projection on
X fitted on the contrasts of the scored fold's own out-of-fold models) and the S-learner (fitted
on raw outcomes) do not. ``bench/bench_scoring_oracle.py`` measures the resulting bias of
the loss with oracle nuisances.
"""

from __future__ import annotations

import numpy as np
import pytest

import estimators
from tests.estimators._estimator_sim import simulate

#: Scores that must not depend on the scored fold's outcomes agree to float noise.
SAME_ATOL = 1e-9
#: Scores that read the nuisances move visibly when the fold's outcomes move by ~5 SD.
MOVED_MIN = 1e-3
NUISANCE = {"n_estimators": 30, "outcome_library": ["lightgbm"]}


def _fold0_scores(name: str, y: np.ndarray, d: dict, with_w: bool) -> np.ndarray:
    X, W = (d["X"], d["W"]) if with_w else (d["X"].join(d["W"]), None)
    extra = {"final": "linear"} if name == "DRLearner" else {}
    est = getattr(estimators, name)(random_state=0, cv=3, nuisance_params=NUISANCE, **extra)
    est.fit(y, d["T"], X=X, W=W)
    ctx = est._ctx
    folds = ctx.nuis.folds
    state = est._final_fit(ctx, np.flatnonzero(folds != 0))
    return est._final_predict_rows(state, ctx, np.flatnonzero(folds == 0))[0][:, 0, 0], folds


@pytest.mark.parametrize(
    ("name", "with_w", "leaks"),
    [
        ("TLearner", False, False),
        ("SLearner", False, False),
        ("TLearner", True, False),  # its projection on X uses the left-out fold's models
        ("LinearDML", False, True),
        ("DRLearner", False, True),
    ],
)
def test_which_scores_depend_on_the_scored_rows(name: str, with_w: bool, leaks: bool) -> None:
    d = simulate(600, seed=3)
    before, folds = _fold0_scores(name, d["Y"], d, with_w)
    y = d["Y"].copy()
    rng = np.random.default_rng(0)
    y[folds == 0] += 5.0 * rng.normal(size=int((folds == 0).sum()))
    after, folds_after = _fold0_scores(name, y, d, with_w)
    np.testing.assert_array_equal(folds_after, folds)  # folds do not depend on Y
    moved = float(np.max(np.abs(after - before)))
    if leaks:
        assert moved > MOVED_MIN
    else:
        assert moved < SAME_ATOL
