"""Relative lift is undefined (NaN, noted) whenever the raw control mean is 0 — also with CUPED,
where the adjusted control mean is only the adjustment term (issue 8, item 2)."""

from __future__ import annotations

import math

import numpy as np

from causal.stats import Moments, mean_effect, ratio_effect


def _arms(seed: int = 3, n: int = 2000):
    rng = np.random.default_rng(seed)
    x_c, x_t = rng.normal(5, 1, n), rng.normal(5, 1, n)
    y_c = np.zeros(n)  # the control metric is 0 for everyone
    y_t = (rng.random(n) < 0.01).astype(float)
    names = ("y", "x", "num", "den", "x_pre")
    c = Moments.from_array(np.column_stack([y_c, x_c, y_c, x_c + 1, x_c + 2]), names)
    t = Moments.from_array(np.column_stack([y_t, x_t, y_t, x_t + 1, x_t + 2]), names)
    return c, t


def test_cuped_mean_with_zero_control_has_no_relative_lift():
    c, t = _arms()
    plain = mean_effect(c, t, column="y")
    cuped = mean_effect(c, t, column="y", covariates=["x"])
    for r in (plain, cuped):
        assert math.isfinite(r.effect)
        assert math.isnan(r.rel_effect) and math.isnan(r.rel_effect_ci_lower)
        assert math.isnan(r.rel_effect_ci_upper) and math.isnan(r.rel_se)
        assert "relative lift undefined: the control mean is 0" in r.notes


def test_ratio_with_zero_control_numerator_has_no_relative_lift():
    c, t = _arms()
    r = ratio_effect(c, t, numerator="num", denominator="den")
    assert math.isnan(r.rel_effect) and "relative lift undefined: the control mean is 0" in r.notes
    r2 = ratio_effect(c, t, numerator="y", denominator="den", covariates=["x", "x_pre"])
    assert math.isnan(r2.rel_effect)
