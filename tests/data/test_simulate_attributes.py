"""simulate_content(attribute_effects=True): the extension leaves the rest alone and its
expected-outcome formulas match the simulated outcomes."""

from __future__ import annotations

import numpy as np
import pytest

import causal
from causal.data._simulate_content import (
    CAPTION_EFFECT,
    CATEGORIES,
    CONTENT_OUTCOMES,
    FORMATS,
    _expected_outcomes,
)

N = 40_000
Z_TOL = 4.5  # |mean observed - mean expected| within 4.5 standard errors (per outcome)


def test_default_output_unchanged_and_only_outcomes_move():
    a = causal.simulate_content(n=3000, seed=5)
    b = causal.simulate_content(n=3000, seed=5, attribute_effects=True)
    assert "caption_length" not in a.columns and "true_attribute_effects" not in a.attrs
    assert list(b.columns) == [*list(a.columns[:10]), "caption_length", *list(a.columns[10:])]
    moved = {c for c in a.columns if not a[c].equals(b[c])}
    assert moved <= set(CONTENT_OUTCOMES)
    assert b.attrs["attribute_references"] == {"format": "image", "category": "home_decor"}


def test_truth_layout_and_exact_parts():
    df = causal.simulate_content(n=5000, seed=2, attribute_effects=True)
    truth = df.attrs["true_attribute_effects"]
    labels = {"text_overlay", "shoppable", "caption_length"}
    labels |= {f"format={f}" for f in FORMATS[1:]} | {f"category={c}" for c in CATEGORIES[1:]}
    assert set(truth) == labels
    assert all(set(v) == set(CONTENT_OUTCOMES) for v in truth.values())
    assert truth["caption_length"]["saves"] == CAPTION_EFFECT["saves"]
    # what an attribute does not cause has a zero effect (text overlay: nothing on saves;
    # carousel: no prior impressions, no targeting, so nothing on impressions)
    assert truth["text_overlay"]["saves"] == 0.0
    assert truth["format=carousel"]["impressions"] == pytest.approx(0.0, abs=1e-9)
    assert truth["shoppable"]["outbound_clicks"] > 0 and truth["text_overlay"]["hides"] > 0
    # a null boost leaves only the baseline paths
    null = causal.simulate_content(n=5000, seed=2, attribute_effects=True, effect_scale=0.0)
    assert null.attrs["true_attribute_effects"]["text_overlay"]["outbound_clicks"] == 0.0


def test_expected_outcomes_match_simulated_means():
    """The truth is computed from _expected_outcomes; its mean at the observed attributes and
    the observed boost must equal the mean simulated outcome (E[u] = 1, u independent)."""
    df = causal.simulate_content(n=N, seed=11, attribute_effects=True)
    q = df["quality_score"].to_numpy()
    fmt = df["format"].cat.codes.to_numpy()
    log_f = np.log10(df["creator_followers"].to_numpy())
    exp = _expected_outcomes(
        q,
        np.exp(-df["age_days"].to_numpy() / 14.0),
        log_f,
        (fmt == 1).astype(float),
        (fmt == 2).astype(float),
        df["text_overlay"].to_numpy(float),
        df["shoppable"].to_numpy(float),
        df["category"].cat.codes.to_numpy(),
        np.ones(N),
        df["boosted"].to_numpy(float),
        1.0,
    )
    creator = df["creator_id"].to_numpy()
    for name in CONTENT_OUTCOMES:
        y = df[name].to_numpy(float)
        pred = exp[name] + CAPTION_EFFECT.get(name, 0.0) * df["caption_length"].to_numpy()
        diff = y - pred
        # pins of a creator share its random effect: cluster-robust SE of the mean difference
        tot = np.bincount(creator, weights=diff - diff.mean())
        se = float(np.sqrt(np.sum(tot**2))) / N
        assert abs(diff.mean()) < Z_TOL * se, name
