"""One validation rule set: the readout (both engines, every source) and validate_experiment
raise the same error, naming the column, the count of bad rows and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal import ConfigError, NonNumericColumnError
from causal.data import validate_experiment
from causal.experiments import ExperimentDesign, Mean, Proportion, Ratio, readout

ENGINES = ("duckdb", "pandas")


def _data(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "arm": np.where(np.arange(n) % 2 == 0, "control", "treatment"),
            "converted": rng.random(n) < 0.3,
            "clicks": rng.poisson(2, n),
            "views": rng.poisson(10, n) + 1,
            "rate": rng.random(n).round(0),  # floats 0.0 / 1.0: a valid proportion
            "label": rng.choice(["a", "b"], n),
        }
    )


def _design(*metrics) -> ExperimentDesign:
    return ExperimentDesign("arm", "control", list(metrics))


def _sources(df: pd.DataFrame, tmp_path) -> list[object]:
    path = tmp_path / "x.parquet"
    df.to_parquet(path)
    return [df, str(path)]


def _messages(df: pd.DataFrame, design: ExperimentDesign, exc, tmp_path) -> set[str]:
    """The error message of every path: both engines over a frame and a Parquet file, and
    validate_experiment."""
    out = set()
    for src in _sources(df, tmp_path):
        for engine in ENGINES:
            with pytest.raises(exc) as info:
                readout(src, design, engine=engine)
            out.add(str(info.value))
    with pytest.raises(exc) as info:
        validate_experiment(df, design)
    out.add(str(info.value))
    return out


def test_proportion_outside_0_1_is_an_error_everywhere(tmp_path):
    df = _data()
    df["converted"] = df["converted"].astype(int) * 4  # 0..4: was accepted by the readout
    n_bad = int((df["converted"] == 4).sum())
    msgs = _messages(df, _design(Proportion("conv", "converted")), ConfigError, tmp_path)
    assert len(msgs) == 1  # one rule, one message on every path
    msg = msgs.pop()
    assert "'converted'" in msg and f"{n_bad:,} row(s)" in msg and "0/1" in msg
    # a fractional value is caught too (floats need the counting pass)
    df2 = _data().assign(rate=lambda d: d["rate"].where(d.index != 5, 0.5))
    (msg2,) = _messages(df2, _design(Proportion("r", "rate")), ConfigError, tmp_path)
    assert "'rate'" in msg2 and "1 row(s)" in msg2


def test_negative_denominator_is_an_error_everywhere(tmp_path):
    df = _data()
    df.loc[df.index[:7], "views"] = -3
    (msg,) = _messages(df, _design(Ratio("ctr", "clicks", "views")), ConfigError, tmp_path)
    assert "'views'" in msg and "7 negative" in msg and "Fix or drop" in msg


def test_text_metric_column_same_message(tmp_path):
    df = _data()
    msgs = _messages(df, _design(Mean("m", "label")), NonNumericColumnError, tmp_path)
    assert all("Metric 'm': column 'label' must be numeric" in m for m in msgs)


def test_valid_data_passes_every_path(tmp_path):
    df = _data()
    design = _design(
        Proportion("conv", "converted"), Proportion("r", "rate"), Ratio("ctr", "clicks", "views")
    )
    for src in _sources(df, tmp_path):
        for engine in ENGINES:
            assert len(readout(src, design, engine=engine).metrics) == 3
    validate_experiment(df, design)


@pytest.mark.parametrize("role", ["success", "guardrail"])
def test_zero_denominator_total_per_arm_is_flagged_on_both_paths(role, tmp_path):
    """A ratio whose denominator sums to 0 in an arm is not an error on either path: the
    readout reports the row as not estimated (the other metrics are still read out) and
    cannot ship; validate_experiment returns the same reason (warned, ``not_estimable``)."""
    df = _data()
    df.loc[df["arm"] == "treatment", "views"] = 0
    ctr, clicks = Ratio("ctr", "clicks", "views"), Mean("clicks", "clicks")
    if role == "success":
        design = _design(ctr, clicks)
    else:
        design = ExperimentDesign("arm", "control", [clicks], guardrails=[ctr])
    margins = {"ctr": 0.01} if role == "guardrail" else None
    path = tmp_path / "x.parquet"
    df.to_parquet(path)
    for src in (df, str(path)):
        with pytest.warns(UserWarning, match="'views' sums to 0 in variant 'treatment'"):
            v = validate_experiment(src, design)
        assert list(v.not_estimable) == ["ctr"]
        assert "not estimated" in v.not_estimable["ctr"] and v.warnings == (v.not_estimable["ctr"],)
    for engine in ENGINES:
        ro = readout(df, design, engine=engine, margins=margins)
        row = next(r for r in ro.metrics if r.metric == "ctr")
        assert np.isnan(row.effect) and "sums to 0" in " ".join(row.notes)
        other = next(r for r in ro.metrics if r.metric == "clicks")
        assert np.isfinite(other.effect)
        if role == "success":
            assert ro.decision == "untrustworthy"
            assert ro.decisions["treatment"].not_estimated == ("ctr",)
        else:
            assert ro.decision != "ship"


def test_positive_denominator_totals_are_not_flagged():
    df = _data()
    df.loc[(df["arm"] == "treatment") & (df.index > 3), "views"] = 0  # sparse but > 0
    v = validate_experiment(df, _design(Ratio("ctr", "clicks", "views")))
    assert dict(v.not_estimable) == {} and v.warnings == ()
