"""score_effects / segment_effects refuse a column that was numeric in fit but is text in the
table, before the job runs (found in the session 5 acceptance check: the error came from the
executor, buried in a Java stack trace)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import estimators
from causal import NonNumericColumnError
from causal.spark import score_effects, segment_effects


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({
        "id": np.arange(n), "a": rng.normal(size=n), "topic": rng.choice(["art", "diy"], n),
        "w": rng.normal(size=n), "t": rng.integers(0, 2, n),
    })  # fmt: skip
    df["y"] = df["a"] + df["t"] * (1 + df["a"]) + rng.normal(size=n)
    est = estimators.LinearDML(cv=2, random_state=0).fit(
        df["y"], df["t"], X=df[["a", "topic"]], W=df[["w"]]
    )
    return df, est


def test_score_effects_refuses_a_text_modifier(spark, fitted):
    df, est = fitted
    sdf = spark.createDataFrame(df.assign(a=df["a"].astype(str)))
    with pytest.raises(NonNumericColumnError, match="'a' was numeric when the model was fitted"):
        score_effects(est, sdf, spark=spark)


def test_segment_effects_refuses_a_text_confounder(spark, fitted):
    df, est = fitted
    sdf = spark.createDataFrame(df.assign(w=df["w"].astype(str)))
    with pytest.raises(NonNumericColumnError, match="'w' was numeric"):
        segment_effects(est, sdf, treatment="t", outcome="y", spark=spark)


def test_numeric_columns_still_score(spark, fitted):
    df, est = fitted
    got = score_effects(est, spark.createDataFrame(df), keep=["id"], spark=spark).toPandas()
    got = got.sort_values("id")
    np.testing.assert_allclose(got["effect"], est.effect(df[["a", "topic"]]), rtol=1e-12)
