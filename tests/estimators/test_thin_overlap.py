"""Thin overlap: the plain ATE is flagged, trimming and overlap weights are the way out (issue 9).

On ``causal.simulate_content(overlap=0.005, confounding=2)`` (true propensities down to 0.005
and up to 0.995; about 45% of units outside [0.05, 0.95]) the doubly-robust ATE's 95% interval
covered 0.89-0.94 per outcome over 100 datasets (revenue 0.89, SD of z 1.20; saves and clicks
off-centre by +0.45 of a z), against 0.92-0.96 on the default design (session 4); the same
AIPW with the true nuisances covers 0.97-0.98 (bench/RESULTS_estimators.md, session 5). The interval's own
variance is not what fails (CR3 and a weight-based CR2 leverage change the SE by under 1% on
the same nuisances; the clip binds for 2% of units): the fitted nuisances' error at the
extremes is. So the estimators say so: above ``UNRELIABLE_ATE_SHARE`` units at extreme
propensities the ``OverlapWarning`` and ``ATEResult.note`` call the ATE interval unreliable,
with those numbers, and name the overlap-weighted and trimmed alternatives, whose estimand the
result records (ATO coverage 0.89-0.97, trimmed 0.90-0.98).

- Always-on: the share and the note (closed form); on one thin-design dataset the warning,
  the note on the ATE and none on the trimmed ATE / ATO, their estimands; on one default-design
  dataset no flag.
- ``@pytest.mark.slow``: the 100-dataset study (``bench/bench_coverage_content.py --overlap
  0.005 --confounding 2`` prints the same table).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import causal
import estimators
from estimators._base import UNRELIABLE_ATE_SHARE, extreme_propensity_share

OUTCOMES = ["saves", "outbound_clicks", "hides", "revenue"]
MODIFIERS = ["quality_score", "format", "category", "shoppable", "text_overlay"]
CONFOUNDERS = ["creator_followers", "prior_impressions", "age_days"]
ROWS = 3000
THIN = {"overlap": 0.005, "confounding": 2.0}
DEFAULT = {"overlap": 0.02, "confounding": 1.0}


def _fit(seed: int, design: dict) -> tuple[estimators.LinearDML, object, list]:
    df = causal.simulate_content(n=ROWS, seed=seed, **design)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = estimators.LinearDML(random_state=seed).fit(
            df[OUTCOMES],
            df["boosted"].to_numpy(),
            X=df[MODIFIERS],
            W=df[CONFOUNDERS],
            groups=df["creator_id"].to_numpy(),
        )
    overlap = [str(w.message) for w in caught if issubclass(w.category, estimators.OverlapWarning)]
    return est, df, overlap


def test_extreme_share_and_the_note_render() -> None:
    e = np.array([0.01, 0.04, 0.05, 0.5, 0.95, 0.99])
    assert extreme_propensity_share(e) == pytest.approx(3 / 6)  # 0.05 and 0.95 are inside
    assert extreme_propensity_share(np.array([])) == 0.0
    plain = estimators.mean_effect_from_scores(np.array([1.0, 2.0, 3.0, 2.0]))
    assert plain.note == "" and "Note" not in str(plain) and "note" not in plain._repr_html_()
    from dataclasses import replace

    noted = replace(plain, note="interval <unreliable> & so on")
    assert str(noted).endswith("Note: interval <unreliable> & so on")
    assert "interval &lt;unreliable&gt; &amp; so on" in noted._repr_html_()
    assert noted.to_dict()["note"] == "interval <unreliable> & so on"
    assert noted.to_pandas().loc[0, "note"] == "interval <unreliable> & so on"


def test_thin_design_flags_the_ate_and_records_the_estimands() -> None:
    est, df, overlap = _fit(50_000, THIN)
    e = est.propensity_[:, 1]
    share = extreme_propensity_share(e)
    assert share > UNRELIABLE_ATE_SHARE
    assert len(overlap) == 1
    msg = overlap[0]
    assert "interval is unreliable" in msg and f"{share:.0%} of units" in msg
    assert "trim='crump'" in msg and "overlap_weights=True" in msg
    lo = estimators.crump_threshold(e)
    kept = int(((e >= lo) & (e <= 1 - lo)).sum())
    for o in OUTCOMES:
        ate = est.ate_inference(outcome=o)
        assert ate.estimand == "ATE"
        assert "interval is unreliable" in ate.note and f"{share:.0%} of units" in ate.note
        tr = est.ate_inference(outcome=o, trim="crump")
        assert tr.estimand.startswith("ATE trimmed to") and tr.note == ""
        assert tr.n == kept and f"({ROWS - kept:,} units dropped)" in tr.estimand
        ato = est.ate_inference(outcome=o, overlap_weights=True)
        assert ato.estimand == "ATO (overlap weights)" and ato.note == ""
    # the Crump rule drops a large share here (measured about half the units)
    assert 0.25 < 1 - kept / ROWS < 0.75


def test_default_design_is_not_flagged() -> None:
    est, _, overlap = _fit(50_000, DEFAULT)
    assert extreme_propensity_share(est.propensity_[:, 1]) < UNRELIABLE_ATE_SHARE
    assert not any("unreliable" in m for m in overlap)
    assert all(est.ate_inference(outcome=o).note == "" for o in OUTCOMES)


# ------------------------------------------------------------------------ slow: 100 sets
#: The 100-dataset study of bench/RESULTS_estimators.md (session 5), seeds 50,000-50,099.
N_SLOW = 100
#: Nominal 95% minus two binomial SEs over N_SLOW datasets (0.906).
FLOOR = 0.95 - 2 * np.sqrt(0.95 * 0.05 / N_SLOW)
#: Regression floors where the measured coverage is short of FLOOR (measured value minus
#: about two binomial SEs of it), per (outcome, estimand); everything else is held to FLOOR.
SHORT = {
    ("revenue", "ATE"): 0.83,  # measured 0.89
    ("revenue", "trimmed"): 0.84,  # measured 0.90
    ("revenue", "ATO"): 0.83,  # measured 0.89
}
#: The note says the plain ATE's interval is unreliable here: at least one outcome's
#: coverage is below this (measured: saves 0.94, outbound clicks 0.93, hides 0.93,
#: revenue 0.89).
ATE_SHORT_OF = 0.93


@pytest.mark.slow
def test_thin_overlap_coverage_100_datasets() -> None:
    cover: dict[tuple[str, str], list[bool]] = {}
    for r in range(N_SLOW):
        seed = 50_000 + r
        est, df, _ = _fit(seed, THIN)
        e_hat = est.propensity_[:, 1]
        lo = estimators.crump_threshold(e_hat)
        kept = (e_hat >= lo) & (e_hat <= 1 - lo)
        e_true = df["true_propensity"].to_numpy()
        h = e_true * (1 - e_true)
        for o in OUTCOMES:
            tau = df[f"true_cate_{o}"].to_numpy()
            truths = {
                "ATE": float(tau.mean()),
                "trimmed": float(tau[kept].mean()),
                "ATO": float(np.sum(h * tau) / np.sum(h)),
            }
            results = {
                "ATE": est.ate_inference(outcome=o),
                "trimmed": est.ate_inference(outcome=o, trim="crump"),
                "ATO": est.ate_inference(outcome=o, overlap_weights=True),
            }
            assert "interval is unreliable" in results["ATE"].note
            for k, res in results.items():
                ok = res.effect_ci_lower <= truths[k] <= res.effect_ci_upper
                cover.setdefault((o, k), []).append(ok)
    rates = {key: float(np.mean(v)) for key, v in cover.items()}
    print("coverage over", N_SLOW, "thin-overlap datasets:", rates)
    for key, rate in rates.items():
        if key[1] != "ATE":
            assert rate >= SHORT.get(key, FLOOR), (key, rate)
    assert min(rates[(o, "ATE")] for o in OUTCOMES) < ATE_SHORT_OF
    assert all(rates[(o, "ATE")] >= SHORT.get((o, "ATE"), FLOOR) for o in OUTCOMES)
