"""AutoCate's scoring is leak-free: a candidate scored on fold ``k`` never saw fold ``k``'s outcomes.

AutoCate scores candidate ``c`` on fold ``k`` with a final stage fitted on the other folds. With
the ordinary cross-fitted nuisances, *those* rows' residuals / pseudo-outcomes come from models
trained on folds that include ``k``, so residual-based candidates (LinearDML, DRLearner,
CausalForest) carried fold ``k``'s noise and their loss was optimistic
(``bench/bench_scoring_oracle.py``). AutoCate now scores on nested nuisances
(``estimators._nuisance.nested_crossfit``). Perturbing only fold ``k``'s outcomes shows it
exactly: no candidate's fold-``k`` scores move. With the nesting switched off
(``nested_scoring=False``, the code before the fix) the residual-based candidates' scores do
move, so the check can fail.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import estimators
from tests.estimators._estimator_sim import simulate

#: Scores that must not depend on the scored fold's outcomes agree to float noise.
SAME_ATOL = 1e-9
#: Scores that read leaky nuisances move visibly when the fold's outcomes move by ~5 SD.
MOVED_MIN = 1e-3
NUISANCE = {"n_estimators": 30, "outcome_library": ["lightgbm"]}
#: Candidates whose final stage reads residuals / pseudo-outcomes (leaky without nesting).
RESIDUAL_BASED = {"CausalForest", "LinearDML", "DRLearner"}


def _candidates(discrete: bool) -> list[Any]:
    forest = {"n_estimators": 24}
    out = [estimators.CausalForest(**forest), estimators.LinearDML()]
    if discrete:
        out += [estimators.DRLearner(**forest), estimators.TLearner(), estimators.SLearner()]
    return out


def _fold_scores(
    d: dict, y: np.ndarray, t: np.ndarray, case: str, nested: bool
) -> tuple[dict, np.ndarray]:
    X, W = (d["X"], d["W"]) if case != "no_w" else (d["X"].join(d["W"]), None)
    kw: dict[str, Any] = {"cv": 2 if case == "cv2" else 3}
    if case == "target_encoded":  # the 4-level topic becomes a pseudo-outcome-ranked code
        kw["max_onehot_levels"] = 2
    auto = estimators.AutoCate(
        random_state=0,
        candidates=_candidates(case != "continuous"),
        nuisance_params=NUISANCE,
        nested_scoring=nested,
        **kw,
    ).fit(y, t, X=X, W=W)
    names, rows, preds = auto._scoring
    folds = auto.folds_[rows]
    return {n: preds[c, folds == 0, 0, 0] for c, n in enumerate(names)}, folds


def _perturbed_moves(case: str, nested: bool = True) -> dict[str, float]:
    d = simulate(600, seed=3)
    t = d["T"]
    if case == "continuous":
        rng = np.random.default_rng(1)
        t = d["X"]["x0"].to_numpy() + rng.normal(size=600)
    before, folds = _fold_scores(d, d["Y"], t, case, nested)
    y = d["Y"].copy()
    rng = np.random.default_rng(0)
    y[folds == 0] += 5.0 * rng.normal(size=int((folds == 0).sum()))
    after, folds_after = _fold_scores(d, y, t, case, nested)
    np.testing.assert_array_equal(folds_after, folds)  # folds do not depend on Y
    return {n: float(np.max(np.abs(after[n] - before[n]))) for n in before}


@pytest.mark.parametrize("case", ["w", "no_w", "target_encoded", "cv2", "continuous"])
def test_scored_fold_outcomes_do_not_reach_any_candidate(case: str) -> None:
    moves = _perturbed_moves(case)
    assert moves, "no candidate scored"
    for name, moved in moves.items():
        assert moved < SAME_ATOL, f"{name}: fold-0 scores moved by {moved:.3g} ({case})"


def test_without_nesting_the_residual_candidates_leak() -> None:
    """The check has teeth: the shared nuisances (the code before the fix) fail it."""
    moves = _perturbed_moves("w", nested=False)
    for name, moved in moves.items():
        if name in RESIDUAL_BASED:
            assert moved > MOVED_MIN, f"{name} did not move ({moved:.3g})"
        else:  # T-learner (left-out fold's own models) and S-learner (raw outcomes)
            assert moved < SAME_ATOL, f"{name} moved by {moved:.3g}"
