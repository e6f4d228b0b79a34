"""The speed paths change no number: threads, batched prediction, the BLAS thread limit.

Models are fitted side by side in threads (``n_jobs``), LightGBM and BLAS run single-threaded,
and ``effect`` predicts in row batches. Each test compares against the plain path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import estimators
from estimators import _base
from tests.estimators._estimator_sim import simulate

NUISANCE = {"n_estimators": 30}
FOREST = {"n_estimators": 24}
#: econml's forests accumulate tree predictions from several threads in arrival order, so
#: sums may differ in the last bits between thread counts (float addition is not associative).
FOREST_RTOL = 1e-10
FOREST_ATOL = 1e-12
#: LightGBM runs single-threaded with a fixed seed per model: results must be bit-identical
#: whatever the number of side-by-side tasks.
EXACT = 0.0

ALL = ["CausalForest", "LinearDML", "DRLearner", "XLearner", "TLearner", "SLearner"]


def _make(name: str, n_jobs: int) -> Any:
    kw = FOREST if name in ("CausalForest", "DRLearner") else {}
    cls = getattr(estimators, name)
    return cls(cv=2, random_state=3, nuisance_params=NUISANCE, n_jobs=n_jobs, **kw)


@pytest.fixture(scope="module")
def data() -> dict[str, object]:
    return simulate(900, seed=5)


@pytest.mark.parametrize("name", ALL)
def test_thread_count_does_not_change_estimates(name: str, data: dict[str, object]) -> None:
    one = _make(name, 1).fit(data["Y"], data["T"], X=data["X"])
    two = _make(name, 2).fit(data["Y"], data["T"], X=data["X"])
    forest = name in ("CausalForest", "DRLearner")
    rtol, atol = (FOREST_RTOL, FOREST_ATOL) if forest else (EXACT, EXACT)
    np.testing.assert_allclose(two.effect(data["X"]), one.effect(data["X"]), rtol=rtol, atol=atol)
    # the nuisances (hence the doubly-robust ATE) never depend on the thread count
    np.testing.assert_array_equal(two.propensity_, one.propensity_)
    assert two.ate() == one.ate()


@pytest.mark.parametrize("name", ALL)
def test_batched_prediction_equals_one_pass(
    name: str, data: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    est = _make(name, 1).fit(data["Y"], data["T"], X=data["X"], W=data["W"])
    X = data["X"]
    whole = est.effect(X)
    intervals = est._supports_intervals
    if intervals:
        lo, hi = est.effect_interval(X)
    monkeypatch.setattr(_base, "PREDICT_BATCH_ROWS", 97)  # 900 rows -> 10 uneven batches
    np.testing.assert_array_equal(est.effect(X), whole)
    if intervals:
        lo_b, hi_b = est.effect_interval(X)
        np.testing.assert_array_equal(lo_b, lo)
        np.testing.assert_array_equal(hi_b, hi)
    # pandas in -> pandas out keeps the caller's index across batches
    assert est.effect(X.set_index(X.index + 1000)).index[0] == 1000


def test_blas_thread_limit_is_restored(data: dict[str, object]) -> None:
    import threadpoolctl

    before = [i["num_threads"] for i in threadpoolctl.threadpool_info()]
    _make("LinearDML", 2).fit(data["Y"], data["T"], X=data["X"]).effect(data["X"])
    after = [i["num_threads"] for i in threadpoolctl.threadpool_info()]
    assert after[: len(before)] == before


def test_run_tasks_keeps_order_and_raises() -> None:
    from estimators._nuisance import run_tasks

    tasks = [lambda i=i: i * i for i in range(7)]
    assert run_tasks(tasks, n_jobs=2) == [i * i for i in range(7)]

    def boom() -> None:
        raise estimators.EstimatorInputError("bad column 'x'")

    with pytest.raises(estimators.EstimatorInputError, match="bad column"):
        run_tasks([lambda: 1, boom], n_jobs=2)


def _forest_fit_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of rows of every forest final-stage fit."""
    sizes: list[int] = []
    for cls in (estimators.CausalForest, estimators.DRLearner):
        original = cls._final_fit

        def spy(self: Any, ctx: Any, rows: np.ndarray, _orig: Any = original) -> Any:
            sizes.append(len(rows))
            return _orig(self, ctx, rows)

        monkeypatch.setattr(cls, "_final_fit", spy)
    return sizes


@pytest.mark.parametrize("max_score_samples", [None, 600])
def test_autocate_blend_refits_forests_only_on_a_scoring_subsample(
    max_score_samples: int | None, data: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row scored (the default up to 20,000 rows): a blend's forest members are the
    average of their scoring forests and no forest is fitted on all rows; on a subsample
    (``max_score_samples`` < n) the forest members are refitted on all rows."""
    from estimators._auto import SCORE_ALL_ROWS_UP_TO, _FoldAverage

    sizes = _forest_fit_rows(monkeypatch)
    kw = {} if max_score_samples is None else {"max_score_samples": max_score_samples}
    est = estimators.AutoCate(
        candidates=[estimators.CausalForest(**FOREST), estimators.DRLearner(**FOREST)],
        cv=2,
        random_state=3,
        nuisance_params=NUISANCE,
        n_jobs=1,
        **kw,
    ).fit(data["Y"], data["T"], X=data["X"])
    n = len(data["Y"])
    members = est._members
    assert len(members) == 2  # a blend of both forests (this seed)
    reused = [isinstance(state, _FoldAverage) for _, state, _ in members]
    if max_score_samples is None:
        assert est.max_score_samples is None and n <= SCORE_ALL_ROWS_UP_TO
        assert all(reused) and n not in sizes
    else:
        assert not any(reused) and sizes.count(n) == 2
    tau = est.effect(data["X"])
    assert np.all(np.isfinite(tau))


@pytest.mark.parametrize(
    ("n", "limit", "expected"),
    [(20_000, None, 20_000), (20_001, None, 10_000), (1_000_000, None, 10_000), (900, 600, 600)],
)
def test_autocate_scoring_rows(n: int, limit: int | None, expected: int) -> None:
    """Default: every row up to 20,000 rows, else a 10,000-row subsample; an int caps it."""
    from types import SimpleNamespace

    est = estimators.AutoCate(max_score_samples=limit)
    ctx = SimpleNamespace(data=SimpleNamespace(n=n, groups=None))
    rows = est._score_rows(ctx, np.random.default_rng(0))
    assert len(rows) == expected and len(np.unique(rows)) == expected
