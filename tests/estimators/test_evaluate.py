"""estimators.evaluate and the score statistics behind it: references and known-truth checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import estimators
from estimators._scores import (
    blp_test,
    descending_order,
    gate_table,
    rank_weights,
    rate_table,
    sup_t_critical,
    uplift_curve,
)
from tests.estimators._estimator_sim import simulate

#: Our HC1 uses n/(n-1) for every one-parameter fit; statsmodels' two-parameter HC1 uses
#: n/(n-2): at n = 2000 the SEs differ by a factor sqrt(1999/1998) ~ 1 + 2.5e-4.
HC1_DOF_RTOL = 1e-3
#: Exact algebra (sums in a different order).
EXACT_RTOL = 1e-9
#: Our Qini/TOC SE vs econml's calc_uplift: different (both consistent) variance estimators.
UPLIFT_SE_RTOL = 1e-2
#: Monte Carlo error of the sup-t critical value with BAND_DRAWS draws (SE ~ 0.01).
SUPT_ATOL = 0.04


def _scores_sim(rng: np.random.Generator, n: int, n_seg: int, hetero: bool = True):
    seg = rng.integers(0, n_seg, n)
    tau_seg = np.linspace(-1, 1, n_seg)
    tau = tau_seg[seg] if hetero else np.zeros(n)
    scores = tau + rng.normal(scale=1 + 0.5 * (seg % 2), size=n) * 3
    return seg, tau, scores


# ------------------------------------------------------------------ references
def test_gate_matches_statsmodels_hc1_and_cluster():
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    seg, _, scores = _scores_sim(rng, 2000, 4)
    clusters = np.repeat(np.arange(200), 10)
    table, _ = gate_table(scores, pd.DataFrame({"s": seg}))
    table_c, _ = gate_table(scores, pd.DataFrame({"s": seg}), groups=clusters)
    for k in range(4):
        m = seg == k
        ref = sm.OLS(scores[m], np.ones(m.sum())).fit(cov_type="HC1")
        row = table[table["value"] == k].iloc[0]
        assert row["effect"] == pytest.approx(ref.params[0], rel=EXACT_RTOL)
        assert row["se"] == pytest.approx(ref.bse[0], rel=EXACT_RTOL)
        assert row["n"] == m.sum()
        # clustered: CR2 with unequal cluster sizes inside a segment is close to CR1
        ref_c = sm.OLS(scores[m], np.ones(m.sum())).fit(
            cov_type="cluster", cov_kwds={"groups": clusters[m]}, use_t=True
        )
        row_c = table_c[table_c["value"] == k].iloc[0]
        assert row_c["se"] == pytest.approx(ref_c.bse[0], rel=0.05)


def test_blp_matches_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(2)
    n = 2000
    tau = rng.normal(size=n)
    tau_hat = tau + rng.normal(size=n)
    scores = 1 + tau + rng.normal(scale=2, size=n)
    b = blp_test(scores, tau_hat, groups=None, alpha=0.05)
    ref = sm.OLS(scores, sm.add_constant(tau_hat - tau_hat.mean())).fit(cov_type="HC1")
    assert b["mean"].effect == pytest.approx(ref.params[0], rel=EXACT_RTOL)
    assert b["heterogeneity"].effect == pytest.approx(ref.params[1], rel=EXACT_RTOL)
    assert b["heterogeneity"].se == pytest.approx(ref.bse[1], rel=HC1_DOF_RTOL)


def test_rank_weights_equal_brute_force_autoc_and_qini():
    rng = np.random.default_rng(3)
    n = 500
    tau_hat = rng.normal(size=n)
    scores = tau_hat + rng.normal(size=n)
    order = descending_order(tau_hat, rng)
    sorted_scores = scores[order]
    ate = scores.mean()
    k = np.arange(1, n + 1)
    toc = np.cumsum(sorted_scores) / k - ate
    autoc = float(np.mean(toc))
    qini = float(np.mean(k / n * toc))
    assert float(np.sum(rank_weights(order, tau_hat, "autoc") * scores)) == pytest.approx(
        autoc, rel=EXACT_RTOL
    )
    assert float(np.sum(rank_weights(order, tau_hat, "qini") * scores)) == pytest.approx(
        qini, rel=EXACT_RTOL
    )
    table = rate_table(scores, order, tau_hat, groups=None, alpha=0.05).set_index("metric")
    assert table.at["AUTOC", "effect"] == pytest.approx(autoc, rel=EXACT_RTOL)


def test_rank_weights_average_over_ties():
    tau_hat = np.array([1.0, 1.0, 0.0, 0.0])
    order = descending_order(tau_hat, np.random.default_rng(0))
    w = rank_weights(order, tau_hat, "autoc")
    assert w[0] == pytest.approx(w[1]) and w[2] == pytest.approx(w[3])
    assert float(w.sum()) == pytest.approx(0.0, abs=1e-12)


def test_qini_and_toc_match_econml_drtester_formula():
    from econml.validate.utils import calc_uplift

    rng = np.random.default_rng(4)
    n = 2000
    tau_hat = rng.normal(size=n)
    scores = tau_hat + rng.normal(size=n)
    order = descending_order(tau_hat, rng)
    ours = uplift_curve(scores, order, [0.5, 0.25], groups=None, alpha=0.05)
    for metric, col in (("qini", "qini"), ("toc", "toc")):
        _, _, curve = calc_uplift(tau_hat, tau_hat, scores, np.array([50.0, 75.0]), metric, 10)
        assert ours[col].to_numpy() == pytest.approx(curve["value"].to_numpy(), rel=1e-9)
        # SEs agree to UPLIFT_SE_RTOL: econml's influence term centres the scores on the ATE,
        # (s - ate)(1[S] - p), and uses sqrt(mean(psi^2)/n); ours is the HC1 SE of the mean of
        # s (1[S] - p), conditional on the ranking (the weights 1[S] - p sum to zero, so the
        # estimates are identical and only the variance estimators differ).
        assert ours[f"{col}_se"].to_numpy() == pytest.approx(
            curve["err"].to_numpy(), rel=UPLIFT_SE_RTOL
        )


def test_sup_t_critical_independent_is_sidak():
    for s in (1, 5, 20):
        sidak = stats.norm.ppf((1 + 0.95 ** (1 / s)) / 2)
        crit = sup_t_critical(np.eye(s), 0.05, np.random.default_rng(s))
        assert crit == pytest.approx(sidak, abs=SUPT_ATOL)
    # perfectly correlated: the pointwise value
    crit = sup_t_critical(np.ones((4, 4)), 0.05, np.random.default_rng(0))
    assert crit == pytest.approx(1.96, abs=SUPT_ATOL)


# ------------------------------------------------------------------ known-truth simulations
REPS = 300


def test_gate_pointwise_and_simultaneous_coverage():
    """Pointwise intervals cover at ~95%; the band covers all 12 segments together >= 95%."""
    rng = np.random.default_rng(10)
    point, simul, point_total = 0, 0, 0
    reps = 200
    for _ in range(reps):
        seg, tau, scores = _scores_sim(rng, 3000, 12)
        t, _ = gate_table(scores, pd.DataFrame({"s": seg}), rng=rng)
        truth = np.linspace(-1, 1, 12)[t["value"].to_numpy().astype(int)]
        inside = (t["effect_ci_lower"] <= truth) & (truth <= t["effect_ci_upper"])
        point += int(inside.sum())
        point_total += len(t)
        simul += int(((t["band_lower"] <= truth) & (truth <= t["band_upper"])).all())
    # 2,400 intervals: SE of the rate 0.0045; 200 bands: SE 0.015 at 0.95
    assert 0.935 <= point / point_total <= 0.965
    assert simul / reps >= 0.95 - 2 * 0.015


def test_overlapping_segment_columns_band_uses_their_correlation():
    rng = np.random.default_rng(11)
    seg, _, scores = _scores_sim(rng, 4000, 4)
    frame = pd.DataFrame({"a": seg, "a_copy": seg})  # identical columns: perfectly correlated
    _, crit_dup = gate_table(scores, frame, rng=rng)
    _, crit_one = gate_table(scores, frame[["a"]], rng=rng)
    assert crit_dup == pytest.approx(crit_one, abs=SUPT_ATOL)


def test_calibration_test_size_and_power_with_honest_predictions():
    """No heterogeneity: the one-sided BLP test rejects at most at its level (grf's two-sided
    test over-rejected at 26-33%); real heterogeneity: it rejects nearly always."""
    rng = np.random.default_rng(12)
    reps, n = 600, 2000
    rej_null, rej_alt = 0, 0
    for _ in range(reps):
        x = rng.normal(size=n)
        tau_hat = x + rng.normal(scale=0.5, size=n)  # some model's honest prediction
        null = 1.0 + rng.normal(scale=3, size=n)
        alt = 1.0 + 0.5 * x + rng.normal(scale=3, size=n)
        for scores, count in ((null, "null"), (alt, "alt")):
            b = blp_test(scores, tau_hat, groups=None, alpha=0.05)["heterogeneity"]
            p = stats.norm.sf(b.effect / b.se)
            if count == "null":
                rej_null += p < 0.05
            else:
                rej_alt += p < 0.05
    # 600 reps: SE of a 5% rate 0.009
    assert rej_null / reps <= 0.05 + 2 * 0.009
    assert rej_alt / reps >= 0.9


def test_policy_value_interval_covers_true_value():
    """The value of boosting the top 20% by a noisy ranking: interval covers mean(pi * tau)."""
    rng = np.random.default_rng(13)
    covered = 0
    for _ in range(REPS):
        n = 2000
        x = rng.normal(size=n)
        tau = 0.5 + x
        scores = tau + rng.normal(scale=3, size=n)
        tau_hat = x + rng.normal(size=n)
        order = descending_order(tau_hat, rng)
        curve = uplift_curve(scores, order, [0.2], groups=None, alpha=0.05).iloc[0]
        pi = np.zeros(n, dtype=bool)
        pi[order[:400]] = True
        truth = float(np.mean(pi * tau))
        covered += curve["value_ci_lower"] <= truth <= curve["value_ci_upper"]
    assert covered / REPS >= 0.95 - 2 * 0.013


# ------------------------------------------------------------------ the entry point
@pytest.fixture(scope="module")
def fitted():
    sim = simulate(3000, 0)
    est = estimators.LinearDML(random_state=0).fit(sim["Y"], sim["T"], X=sim["X"], W=sim["W"])
    return sim, est


def test_evaluate_end_to_end_recovers_segment_effects(fitted):
    sim, est = fitted
    ev = estimators.evaluate(
        est, sim["Y"], sim["T"], segments=sim["X"]["topic"], n_splits=2, random_state=0
    )
    truth = pd.Series(sim["tau"]).groupby(sim["X"]["topic"].to_numpy()).mean()
    g = ev.gate.set_index("value")
    assert list(g.index) == ["a", "b", "c", "d"]
    assert ((g["band_lower"] <= truth) & (truth <= g["band_upper"])).all()
    assert (g["band_upper"] - g["band_lower"] > g["effect_ci_upper"] - g["effect_ci_lower"]).all()
    assert ev.heterogeneity_pvalue < 1e-6  # tau = 1 + x1 + ...: strong heterogeneity
    b2 = ev.blp.set_index("term").at["heterogeneity", "effect"]
    assert 0.7 < b2 < 1.3  # LinearDML is well specified: calibrated
    gates = ev.gates.set_index("group")["effect"]
    assert gates["5"] > gates["1"]
    assert ev.rate.set_index("metric").at["AUTOC", "pvalue"] < 1e-6
    assert ev.clan.set_index("feature").at["x1", "effect"] > 1.0  # top group has high x1
    assert ev.n_splits == 2
    assert ev.ate.effect == pytest.approx(est.ate(), rel=EXACT_RTOL)


def test_evaluate_reuses_out_of_fold_refits_across_outcomes(monkeypatch):
    """Outcome after outcome (as what_works runs it), the final stages are refitted once per
    split, and the numbers equal a fresh evaluation."""
    from estimators import _evaluate

    sim = simulate(1500, 3)
    Y = pd.DataFrame({"a": sim["Y"], "b": 2 * np.asarray(sim["Y"]) + 1})
    est = estimators.LinearDML(random_state=0).fit(Y, sim["T"], X=sim["X"], W=sim["W"])
    calls = []
    original = _evaluate.honest_cate_all
    monkeypatch.setattr(
        _evaluate, "honest_cate_all", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    kw = {"segments": sim["X"]["topic"], "n_splits": 2, "random_state": 0}
    ev_a = estimators.evaluate(est, Y, sim["T"], outcome="a", **kw)
    ev_b = estimators.evaluate(est, Y, sim["T"], outcome="b", **kw)
    assert len(calls) == 2  # two splits, shared by both outcomes
    _evaluate._HONEST_CACHE.clear()
    fresh_b = estimators.evaluate(est, Y, sim["T"], outcome="b", **kw)
    assert len(calls) == 4
    pd.testing.assert_frame_equal(ev_b.blp, fresh_b.blp)
    pd.testing.assert_frame_equal(ev_b.gates, fresh_b.gates)
    assert ev_a.outcome == "a" and ev_b.outcome == "b"
    est.fit(Y, sim["T"], X=sim["X"], W=sim["W"])  # a refit invalidates what was kept
    estimators.evaluate(est, Y, sim["T"], outcome="a", **kw)
    assert len(calls) == 6


def test_evaluate_clusters_and_outputs(fitted):
    sim, est = fitted
    clusters = np.arange(3000) // 15
    ev = estimators.evaluate(
        est, sim["Y"], sim["T"], groups=clusters, segments=sim["X"][["topic"]], n_splits=1
    )
    assert ev.ate.n_clusters == 200
    tidy = ev.to_pandas()
    assert {"ate", "gate", "blp", "gates", "rate", "policy_value", "clan"} <= set(tidy["section"])
    d = ev.to_dict()
    import json

    json.dumps(d)
    html = ev._repr_html_()
    assert "topic=a" in html and "<script" not in html
    from matplotlib.figure import Figure

    for fig in (ev.plot_gate(), ev.plot_qini(), ev.plot_gates(), ev.plot_policy_values()):
        assert isinstance(fig, Figure)
    pv = ev.policy_values
    assert pv["share"].iloc[-1] == 1.0
    # boosting everyone is worth the ATE per unit
    assert pv["value"].iloc[-1] == pytest.approx(ev.ate.effect, rel=1e-9)


def test_evaluate_held_out_rows():
    sim = simulate(4000, 1)
    tr, te = np.arange(2000), np.arange(2000, 4000)
    X, W = sim["X"], sim["W"]
    est = estimators.DRLearner(random_state=0).fit(
        sim["Y"][tr], sim["T"][tr], X=X.iloc[tr], W=W.iloc[tr]
    )
    ev = estimators.evaluate(
        est, sim["Y"][te], sim["T"][te], X=X.iloc[te], W=W.iloc[te], random_state=0
    )
    assert "not used to fit" in ev.cate_source and ev.n == 2000 and ev.n_splits == 1
    assert ev.heterogeneity_pvalue < 1e-3


def test_evaluate_given_cate_and_constant_model(fitted):
    sim, est = fitted
    ev = estimators.evaluate(est, sim["Y"], sim["T"], cate=sim["tau"])
    assert ev.cate_source.startswith("given")
    est0 = estimators.LinearDML(random_state=0).fit(sim["Y"], sim["T"], W=sim["W"])
    ev0 = estimators.evaluate(est0, sim["Y"], sim["T"], segments=sim["X"]["topic"])
    assert ev0.blp is None and ev0.rate is None and len(ev0.gate) == 4


def test_evaluate_bad_input(fitted):
    sim, est = fitted
    with pytest.raises(estimators.EstimatorInputError, match="segments has 10 rows"):
        estimators.evaluate(est, sim["Y"], sim["T"], segments=np.zeros(10))
    with pytest.raises(estimators.EstimatorInputError, match="alpha"):
        estimators.evaluate(est, sim["Y"], sim["T"], alpha=1.5)
    with pytest.raises(estimators.EstimatorInputError, match="shares"):
        estimators.evaluate(est, sim["Y"], sim["T"], shares=[0.0])
    with pytest.raises(estimators.NotFittedError):
        estimators.evaluate(estimators.LinearDML(), sim["Y"], sim["T"])
    with pytest.raises(estimators.EstimatorInputError, match="X"):
        estimators.evaluate(est, sim["Y"][:100], sim["T"][:100])
    with pytest.raises(estimators.EstimatorInputError, match="fitted estimator"):
        estimators.evaluate(object(), sim["Y"], sim["T"])  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    Xc = rng.normal(size=(500, 2))
    Tc = rng.normal(size=500)
    estc = estimators.LinearDML(random_state=0).fit(Xc[:, 0] + Tc, Tc, X=Xc)
    with pytest.raises(estimators.EstimatorInputError, match="continuous"):
        estimators.evaluate(estc, Xc[:, 0] + Tc, Tc)
    seg = pd.Series(np.where(np.arange(3000) % 2, "a", None))
    with pytest.raises(estimators.EstimatorInputError, match="missing"):
        estimators.evaluate(est, sim["Y"], sim["T"], segments=seg)


def test_evaluate_does_not_mutate_inputs(fitted):
    sim, est = fitted
    seg = sim["X"][["topic"]].copy()
    before = seg.copy()
    estimators.evaluate(est, sim["Y"], sim["T"], segments=seg, n_splits=1)
    pd.testing.assert_frame_equal(seg, before)


def calibration_rejections(reps: int, n: int, hetero: float) -> tuple[float, float]:
    """Rejection rate of the one-sided calibration test at 5% for a DRLearner: with its
    out-of-fold predictions (ours) and with its in-sample predictions (what a naive check on
    the training rows would use)."""
    rej_oof, rej_in = 0, 0
    for seed in range(reps):
        rng = np.random.default_rng(1000 + seed)
        X = pd.DataFrame(rng.normal(size=(n, 4)), columns=[f"x{i}" for i in range(4)])
        e = 1 / (1 + np.exp(-0.5 * X["x0"].to_numpy()))
        T = (rng.random(n) < e).astype(int)
        tau = 1.0 + hetero * X["x1"].to_numpy()
        Y = X["x0"].to_numpy() + T * tau + rng.normal(scale=2, size=n)
        est = estimators.DRLearner(random_state=seed).fit(Y, T, X=X)
        ev = estimators.evaluate(est, Y, T, n_splits=1, random_state=seed)
        rej_oof += ev.heterogeneity_pvalue < 0.05
        ev_in = estimators.evaluate(est, Y, T, cate=est.effect(X), random_state=seed)
        rej_in += ev_in.heterogeneity_pvalue < 0.05
    return rej_oof / reps, rej_in / reps


@pytest.mark.slow
def test_calibration_size_end_to_end():
    """No heterogeneity, a flexible CATE model (forest final stage): the out-of-fold test keeps
    its level; 100 datasets, SE of a 5% rate 0.022."""
    oof, _ = calibration_rejections(100, 2000, hetero=0.0)
    assert oof <= 0.05 + 2 * 0.022


@pytest.mark.slow
def test_calibration_power_end_to_end():
    oof, _ = calibration_rejections(30, 2000, hetero=0.5)
    assert oof >= 0.8


@pytest.mark.slow
def test_gate_band_coverage_end_to_end():
    """GATEs of a fitted model on the simulator: band covers all topics >= 95% of datasets."""
    covered, point, total = 0, 0, 0
    reps = 100
    for seed in range(reps):
        sim = simulate(2000, 500 + seed)
        est = estimators.LinearDML(random_state=seed).fit(
            sim["Y"], sim["T"], X=sim["X"], W=sim["W"]
        )
        ev = estimators.evaluate(est, sim["Y"], sim["T"], segments=sim["X"]["topic"], n_splits=1)
        truth = pd.Series(sim["tau"]).groupby(sim["X"]["topic"].to_numpy()).mean()
        g = ev.gate.set_index("value")
        covered += bool(((g["band_lower"] <= truth) & (truth <= g["band_upper"])).all())
        point += int(((g["effect_ci_lower"] <= truth) & (truth <= g["effect_ci_upper"])).sum())
        total += len(g)
    assert covered / reps >= 0.95 - 2 * 0.022
    assert point / total >= 0.93


@pytest.mark.parametrize(
    "make",
    [
        lambda: estimators.CausalForest(random_state=0),
        lambda: estimators.DRLearner(random_state=0),
        lambda: estimators.TLearner(random_state=0),
        lambda: estimators.SLearner(random_state=0),
        lambda: estimators.XLearner(random_state=0),
        lambda: estimators.AutoCate(random_state=0, candidates=["LinearDML", "TLearner"]),
    ],
    ids=["CausalForest", "DRLearner", "TLearner", "SLearner", "XLearner", "AutoCate"],
)
def test_evaluate_runs_for_every_estimator(make):
    sim = simulate(1500, 3)
    est = make().fit(sim["Y"], sim["T"], X=sim["X"], W=sim["W"])
    ev = estimators.evaluate(est, sim["Y"], sim["T"], segments=sim["X"]["topic"], n_splits=1)
    assert ev.blp is not None and len(ev.gate) == 4
    assert ev.gates.set_index("group").at["top - bottom", "effect"] > 0


def test_evaluate_multi_arm_needs_and_uses_T1():
    sim = simulate(2000, 4, arms=3)
    est = estimators.LinearDML(random_state=0).fit(sim["Y"], sim["T"], X=sim["X"], W=sim["W"])
    with pytest.raises(estimators.EstimatorInputError, match="T1"):
        estimators.evaluate(est, sim["Y"], sim["T"])
    ev1 = estimators.evaluate(est, sim["Y"], sim["T"], T1=1, n_splits=1)
    ev2 = estimators.evaluate(est, sim["Y"], sim["T"], T1=2, n_splits=1)
    assert ev1.treatment == "1 vs 0" and ev2.ate.effect < ev1.ate.effect  # arm 2: half the effect


@pytest.mark.parametrize("make", [estimators.DRLearner, estimators.CausalForest])
def test_forest_models_are_ranked_by_out_of_bag_cate_without_refit(make, monkeypatch):
    """A forest final stage needs no refit per fold: its out-of-bag predictions (econml's
    oob_predict, each row from the trees that did not sample it) are the held-out CATEs."""
    from estimators._evaluate import honest_cate_all

    sim = simulate(1500, 4)
    est = make(random_state=0).fit(sim["Y"], sim["T"], X=sim["X"], W=sim["W"])
    calls: list[int] = []
    original = make._final_fit
    monkeypatch.setattr(
        make, "_final_fit", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    ev = estimators.evaluate(est, sim["Y"], sim["T"])
    assert calls == [] and ev.n_splits == 1 and "out-of-bag" in ev.cate_source
    ctx = est._fitted()
    forest = est._state[1][0] if isinstance(est._state, tuple) else est._state[0]
    oob = forest.oob_predict(ctx.features("num", 0, rows=np.arange(ctx.data.n)))[:, 0]
    np.testing.assert_allclose(honest_cate_all(est, ctx, ctx.nuis.folds)[:, 0, 0], oob)
    # out of bag is not in sample: the in-sample predictions differ
    assert not np.allclose(oob, np.asarray(est.effect(sim["X"])).reshape(-1))
    given = estimators.evaluate(est, sim["Y"], sim["T"], cate=oob)
    pd.testing.assert_frame_equal(ev.blp, given.blp)
    # other fold splits still refit (n_splits=2: one random split on top)
    ev2 = estimators.evaluate(est, sim["Y"], sim["T"], n_splits=2)
    assert len(calls) == int(np.unique(ctx.nuis.folds).size) and ev2.n_splits == 2


def test_autocate_forest_blend_reuses_its_fold_predictions(monkeypatch):
    """A blend of fold-averaged forests is ranked by its model-selection fold predictions (each
    row from the fold state that left it out): no final-stage fit during evaluate."""
    from estimators._evaluate import honest_cate_all

    rng = np.random.default_rng(1)
    n = 2000
    X = rng.normal(size=(n, 3))
    T = rng.integers(0, 2, n)
    tau = 1 + 2 * np.abs(X[:, 1]) + (X[:, 0] > 0)
    Y = X[:, 0] + T * tau + rng.normal(size=n)
    est = estimators.AutoCate(
        random_state=0, candidates=["CausalForest", "DRLearner", "LinearDML"], n_jobs=1
    ).fit(Y, T, X=X)
    members = est._members
    assert len(members) == 2 and all(type(st).__name__ == "_FoldAverage" for _, st, _ in members)
    calls: list[int] = []
    for cls in (estimators.CausalForest, estimators.DRLearner):
        original = cls._final_fit
        monkeypatch.setattr(
            cls,
            "_final_fit",
            lambda self, *a, _o=original, **k: calls.append(1) or _o(self, *a, **k),
        )
    ev = estimators.evaluate(est, Y, T)
    assert calls == [] and ev.n_splits == 1
    ctx = est._fitted()
    expected = sum(w * st.oof for _, st, w in members)
    np.testing.assert_allclose(honest_cate_all(est, ctx, ctx.nuis.folds), expected)
    assert np.corrcoef(expected[:, 0, 0], tau)[0, 1] > 0.9
