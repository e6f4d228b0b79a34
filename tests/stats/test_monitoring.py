"""Daily monitoring through the public API cannot inflate false positives (issue 8, item 4).

``group_sequential_test`` needs the planned horizon (planned sample size or final SE) unless
``final=True``; an A/A test monitored every day for 20 days, each day calling the public
function on all looks so far with the planned size, rejects at most 5.5% of the time.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest

from causal import ConfigError
from causal.stats import group_sequential_design, group_sequential_test

DAYS = 20
PER_DAY = 100  # units per arm per day
# The bar for daily monitoring of an A/A test (nominal 5%).
MAX_FALSE_POSITIVE = 0.055


def _daily_looks(reps: int, seed: int, shift: float = 0.0):
    """Cumulative (effect, se, units) per day for ``reps`` A/A tests on exponential data."""
    rng = np.random.default_rng(seed)
    effect = np.empty((reps, DAYS))
    se = np.empty((reps, DAYS))
    for lo in range(0, reps, 1000):
        k = min(1000, reps - lo)
        x = rng.exponential(1.0, size=(k, DAYS, 2, PER_DAY))
        x[:, :, 1] += shift
        n = PER_DAY * np.arange(1, DAYS + 1)[None, :, None]
        s1 = np.cumsum(x.sum(axis=3), axis=1)
        s2 = np.cumsum((x**2).sum(axis=3), axis=1)
        mean = s1 / n
        var = (s2 - s1 * mean) / (n - 1)
        effect[lo : lo + k] = mean[..., 1] - mean[..., 0]
        se[lo : lo + k] = np.sqrt(var[..., 0] / n[..., 0] + var[..., 1] / n[..., 0])
    units = 2 * PER_DAY * np.arange(1, DAYS + 1)
    return effect, se, units


def _monitor_daily(effect, se, units, planned_n) -> float:
    """Share of tests rejected at some day, calling the public function once per day."""
    rejected = 0
    for e, s in zip(effect, se, strict=True):
        for day in range(1, DAYS + 1):
            r = group_sequential_test(e[:day], s[:day], n=units[:day], planned_n=planned_n)
            if r.rejects_null:
                rejected += 1
                break
    return rejected / len(effect)


def test_horizon_is_required_unless_final():
    e, s = [0.3, 0.2, 0.25], [0.3, 0.2, 0.15]
    with pytest.raises(ConfigError, match="planned horizon.*'planned_n'.*'horizon_se'"):
        group_sequential_test(e, s)
    ended = group_sequential_test(e, s, final=True)  # the last look is the final analysis
    assert ended.design.information_fractions[-1] == 1.0
    with pytest.raises(ConfigError, match="not both"):
        group_sequential_test(e, s, horizon_se=0.1, n=[1, 2, 3], planned_n=10)
    with pytest.raises(ConfigError, match="give 'n'"):
        group_sequential_test(e, s, planned_n=10)
    with pytest.raises(ConfigError, match="one positive count per look"):
        group_sequential_test(e, s, n=[1, 2], planned_n=10)
    with pytest.raises(ConfigError, match="'planned_n'"):
        group_sequential_test(e, s, n=[1, 2, 3], planned_n=0)


def test_planned_n_gives_sample_size_fractions():
    r = group_sequential_test([0.1, 0.2], [0.2, 0.1], n=[250, 600], planned_n=1000)
    np.testing.assert_array_equal(r.design.information_fractions, [0.25, 0.6])
    want = group_sequential_design([0.25, 0.6]).boundaries
    np.testing.assert_array_equal(r.design.boundaries, want)
    # beyond the plan the fraction is capped at 1 (all alpha spent)
    r = group_sequential_test([0.1, 0.2], [0.2, 0.1], n=[600, 1200], planned_n=1000)
    assert r.design.information_fractions[-1] == 1.0


def _timed_rate(reps: int, seed: int) -> float:
    effect, se, units = _daily_looks(reps, seed)
    t0 = time.perf_counter()
    rate = _monitor_daily(effect, se, units, planned_n=units[-1])
    print(f"{reps} A/A tests x {DAYS} daily calls: {rate:.4f} rejected "
          f"({time.perf_counter() - t0:.1f}s, load {os.getloadavg()[0]:.1f})")  # fmt: skip
    return rate


def test_daily_monitoring_of_an_aa_test_holds_alpha():
    rate = _timed_rate(2000, seed=40)
    assert rate <= MAX_FALSE_POSITIVE


@pytest.mark.slow
def test_daily_monitoring_of_an_aa_test_holds_alpha_large():
    rate = _timed_rate(20_000, seed=41)
    assert rate <= MAX_FALSE_POSITIVE
    # and it is not trivially conservative: OBF over 20 planned looks spends all 5%
    assert rate >= 0.05 - 3 * math.sqrt(0.05 * 0.95 / 20_000)


def test_daily_monitoring_still_detects_a_real_effect():
    # 0.09 on unit-variance data: ~80% fixed-horizon power at day 20 with 2,000 units an arm
    effect, se, units = _daily_looks(300, seed=42, shift=0.09)
    assert _monitor_daily(effect, se, units, planned_n=units[-1]) > 0.65
