"""validate / validate_experiment: every documented problem -> one CausalError naming the column.

The happy path is checked against the source columns themselves (the reference: validation
copies and encodes, it never changes a value), and the caller's DataFrame is never modified.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from causal import (
    CausalError,
    ColumnRoleError,
    ConfigError,
    ConstantColumnError,
    DuplicateUnitError,
    InsufficientDataError,
    MissingColumnError,
    MissingValuesError,
    NonBinaryTreatmentError,
    NonNumericColumnError,
    UnknownVariantError,
)
from causal.data import (
    MISSING_LEVEL,
    Design,
    ExperimentDesign,
    HighCardinalityWarning,
    Mean,
    Proportion,
    Ratio,
    simulate_content,
    simulate_experiment,
    validate,
    validate_experiment,
)

MODIFIERS = ["format", "category", "quality_score", "text_overlay"]
CONFOUNDERS = ["creator_followers", "prior_impressions", "quality_score"]


@pytest.fixture(scope="module")
def content():
    return simulate_content(n=600, seed=0)


@pytest.fixture
def df(content):
    return content.copy()


def _design(**kw):
    base = dict(unit="pin_id", treatment="boosted", outcomes=["saves", "revenue"],
                modifiers=MODIFIERS, confounders=CONFOUNDERS)  # fmt: skip
    base.update(kw)
    return Design(**base)


def _raises(exc, df, design=None, **kw):
    with pytest.raises(exc) as info:
        validate(df, design or _design(), **kw)
    msg = str(info.value)
    assert isinstance(info.value, CausalError)
    assert "\n" not in msg  # one line
    return msg


# ----------------------------------------------------------------------------- happy path


def test_validate_prepares_arrays_without_touching_the_data(df):
    before = df.copy()
    v = validate(df, _design())
    pd.testing.assert_frame_equal(df, before)  # the user's frame is unchanged
    assert v.n == len(df) and v.treatment_kind == "binary" and v.treatment_levels == (0, 1)
    np.testing.assert_array_equal(v.t, df["boosted"].to_numpy(float))
    np.testing.assert_array_equal(v.y["saves"], df["saves"].to_numpy(float))
    np.testing.assert_array_equal(v.unit, df["pin_id"].to_numpy())
    # stable encoded names: levels sorted as text, first level is the reference
    assert v.x_names == (
        "format=image", "format=video",
        "category=beauty", "category=diy", "category=fashion", "category=fitness",
        "category=food", "category=home_decor", "category=travel",
        "quality_score", "text_overlay",
    )  # fmt: skip
    assert v.encodings["format"].reference == "carousel"
    # a modifier that is also a confounder is adjusted for once (it is in X)
    assert v.w_names == ("creator_followers", "prior_impressions")
    np.testing.assert_array_equal(
        v.x["format=video"].to_numpy(), (df["format"] == "video").to_numpy(float)
    )
    # arrays are read-only copies: writing fails and the source does not share memory
    with pytest.raises(ValueError, match="read-only"):
        v.y["saves"][0] = 1.0
    assert not np.shares_memory(v.y["saves"], df["saves"].to_numpy())
    with pytest.raises(AttributeError):
        v.n = 3  # frozen


def test_categorical_encoding_is_stable_across_dtypes_order_and_readers(df, tmp_path):
    design = _design()
    a = validate(df, design)
    as_text = df.assign(format=df["format"].astype(str), category=df["category"].astype(str))
    b = validate(as_text, design)
    shuffled = df.sample(frac=1.0, random_state=1)
    c = validate(shuffled, design)
    path = tmp_path / "c.parquet"
    df.to_parquet(path)
    d = validate(path, design)  # read through DuckDB, categories come back as text
    for other in (b, c, d):
        assert other.x_names == a.x_names and other.w_names == a.w_names
    pd.testing.assert_frame_equal(b.x, a.x)
    pd.testing.assert_frame_equal(d.x, a.x)
    # shuffling permutes rows, not columns
    pd.testing.assert_frame_equal(
        c.x.set_index(c.unit).sort_index(), a.x.set_index(a.unit).sort_index(), check_names=False
    )


def test_missing_category_is_its_own_level(df):
    df["format"] = df["format"].astype(object)
    df.loc[df.index[:5], "format"] = None
    v = validate(df, _design())
    assert v.encodings["format"].levels[-1] == MISSING_LEVEL
    assert v.x[f"format={MISSING_LEVEL}"].sum() == 5


def test_high_cardinality_categorical_warns(df):
    df["creator"] = "c" + df["creator_id"].astype(str)
    with pytest.warns(HighCardinalityWarning, match="'creator' has"):
        v = validate(df, _design(modifiers=["creator"]), max_levels=20)
    assert v.warnings and "levels" in v.warnings[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate(df, _design(modifiers=["format"]), max_levels=20)  # few levels: silent


def test_treatment_kinds_are_inferred(df):
    dose = simulate_content(n=400, seed=1, intensity=True)
    v = validate(dose, _design(treatment="boost_intensity"))
    assert v.treatment_kind == "continuous" and v.treatment_levels == ()
    df["tier"] = np.where(df["boosted"] == 1, np.where(df["pin_id"] % 2, "gold", "silver"), "none")
    m = validate(df, _design(treatment="tier"))
    assert m.treatment_kind == "multi" and m.treatment_levels == ("gold", "none", "silver")
    np.testing.assert_array_equal(np.array(m.treatment_levels)[m.t], df["tier"].to_numpy())
    df["boost_bool"] = df["boosted"].astype(bool)
    assert validate(df, _design(treatment="boost_bool")).treatment_kind == "binary"


def test_optional_roles(df):
    df["w"] = 1.0 + df["pin_id"] % 3
    v = validate(df, _design(cluster="creator_id", weight="w", segments=["format"]))
    np.testing.assert_array_equal(v.cluster, df["creator_id"].to_numpy())
    np.testing.assert_array_equal(v.weight, df["w"].to_numpy())
    assert list(v.segments.columns) == ["format"]


# ----------------------------------------------------------------------------- each problem


def test_missing_column_suggests_the_nearest_name(df):
    msg = _raises(MissingColumnError, df, _design(treatment="boostd"))
    assert "treatment column 'boostd'" in msg and "Did you mean 'boosted'?" in msg
    msg = _raises(MissingColumnError, df, _design(outcomes=["Saves"]))
    assert "Did you mean 'saves'?" in msg
    msg = _raises(MissingColumnError, df, _design(treatment="boostd", modifiers=["fromat"]))
    assert "2 columns" in msg and "treatment 'boostd' (did you mean 'boosted'?)" in msg
    assert "modifier 'fromat' (did you mean 'format'?)" in msg


def test_non_numeric_outcome(df):
    df["saves"] = df["saves"].astype(str)
    msg = _raises(NonNumericColumnError, df)
    assert "outcome column 'saves'" in msg and "convert it to numbers" in msg


@pytest.mark.parametrize("column", ["saves", "boosted"])
def test_nan_and_inf_counted(df, column):
    df[column] = df[column].astype(float)
    df.loc[df.index[:3], column] = np.nan
    df.loc[df.index[3:5], column] = np.inf
    msg = _raises(MissingValuesError, df)
    assert f"column '{column}'" in msg and "3 missing (NaN) and 2 infinite" in msg


def test_nan_in_numeric_modifier(df):
    df["quality_score"] = df["quality_score"].where(df["pin_id"] > 9)
    msg = _raises(MissingValuesError, df)
    assert "modifier column 'quality_score' has 10 missing" in msg


def test_nullable_integer_outcome_with_na(df):
    df["saves"] = df["saves"].astype("Int64")
    df.loc[df.index[0], "saves"] = pd.NA
    assert "1 missing (NaN)" in _raises(MissingValuesError, df)


def test_constant_treatment(df):
    df["boosted"] = 1
    msg = _raises(ConstantColumnError, df)
    assert "treatment column 'boosted' is constant" in msg


def test_non_binary_treatment_when_binary_required(df):
    df["boosted"] = df["pin_id"] % 3
    msg = _raises(NonBinaryTreatmentError, df, require_binary=True)
    assert "'boosted' must be binary (0/1)" in msg and "3 distinct values: 0, 1, 2" in msg
    msg = _raises(NonBinaryTreatmentError, df, _design(treatment_kind="binary"))
    assert "Recode it" in msg
    df["arm"] = np.where(df["pin_id"] % 2, "yes", "no")
    msg = _raises(NonBinaryTreatmentError, df, _design(treatment="arm"), require_binary=True)
    assert "'no', 'yes'" in msg


def test_duplicate_unit_ids(df):
    df.loc[df.index[1], "pin_id"] = df.loc[df.index[0], "pin_id"]
    df.loc[df.index[3], "pin_id"] = df.loc[df.index[2], "pin_id"]
    msg = _raises(DuplicateUnitError, df)
    assert "unit column 'pin_id' repeats 2 id(s)" in msg and "one row per unit" in msg


def test_too_few_treated_or_control_units(df):
    df["boosted"] = (df["pin_id"] < 3).astype(int)
    msg = _raises(InsufficientDataError, df, min_units_per_arm=10)
    assert "Only 3 treated units ('boosted' = 1)" in msg
    df["boosted"] = (df["pin_id"] >= 4).astype(int)
    assert "Only 4 control units" in _raises(InsufficientDataError, df, min_units_per_arm=5)
    validate(df, _design(), min_units_per_arm=4)  # exactly enough


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"confounders": ["boosted"]}, "'boosted' is used as treatment and confounder"),
        ({"modifiers": ["saves"]}, "'saves' is used as outcome and modifier"),
        ({"outcomes": ["saves", "saves"]}, "'saves' is used as outcome (listed twice)"),
        ({"weight": "pin_id"}, "'pin_id' is used as unit and weight"),
        ({"cluster": "boosted"}, "'boosted' is used as treatment and cluster"),
    ],
)
def test_column_in_two_incompatible_roles(df, kw, needle):
    assert needle in _raises(ColumnRoleError, df, _design(**kw))


def test_non_numeric_weight_negative_weight_and_dates(df):
    df["w"] = "x"
    assert "weight column 'w'" in _raises(NonNumericColumnError, df, _design(weight="w"))
    df["w"] = -1.0
    assert "negative" in _raises(ConfigError, df, _design(weight="w"))
    df["posted"] = pd.Timestamp("2024-01-01")
    assert "holds dates" in _raises(NonNumericColumnError, df, _design(modifiers=["posted"]))
    df["mixed"] = ["a", 1] * (len(df) // 2)
    assert "mixes text" in _raises(NonNumericColumnError, df, _design(modifiers=["mixed"]))


def test_bad_arguments(df):
    with pytest.raises(ConfigError, match="'design'"):
        validate(df, {"unit": "pin_id"})
    with pytest.raises(ConfigError, match="'min_units_per_arm'"):
        validate(df, _design(), min_units_per_arm=0)
    assert "no rows" in _raises(InsufficientDataError, df.iloc[:0])
    dup = pd.concat([df[["pin_id"]], df[["pin_id"]]], axis=1)
    with pytest.raises(ConfigError, match="duplicate column names"):
        validate(dup, _design())


# ----------------------------------------------------------------------------- experiments


@pytest.fixture(scope="module")
def exp_df():
    return simulate_experiment(n_users=3_000, seed=0, variants=["control", "a", "b"])


def _exp(**kw):
    base = dict(
        variant="variant", control="control", unit="user_id",
        metrics=[Mean("saves", "saves", covariate="saves_pre"),
                 Proportion("conversion", "converted"),
                 Ratio("ctr", "clicks", "impressions", covariate=("clicks_pre", "impressions_pre"))],
        segments=["country"],
    )  # fmt: skip
    base.update(kw)
    return ExperimentDesign(**base)


def _exp_raises(exc, df, design=None, **kw):
    with pytest.raises(exc) as info:
        validate_experiment(df, design or _exp(), **kw)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_validate_experiment_happy_path(exp_df):
    before = exp_df.copy()
    v = validate_experiment(exp_df, _exp())
    pd.testing.assert_frame_equal(exp_df, before)
    assert v.variants == ("control", "a", "b") and v.control == "control"
    assert v.counts == exp_df["variant"].value_counts().to_dict()
    assert v.n == len(exp_df) and v.warnings == ()


def test_experiment_missing_metric_column(exp_df):
    msg = _exp_raises(
        MissingColumnError, exp_df, _exp(metrics=[Ratio("ctr", "clickz", "impressions")])
    )
    assert "metric 'ctr' numerator column 'clickz'" in msg and "Did you mean 'clicks'?" in msg


def test_experiment_unknown_control_and_stray_labels(exp_df):
    msg = _exp_raises(UnknownVariantError, exp_df, _exp(control="Control"))
    assert "control label 'Control'" in msg and "Did you mean 'control'?" in msg
    msg = _exp_raises(UnknownVariantError, exp_df, _exp(expected_split={"control": 1, "a": 1}))
    assert "not in expected_split: 'b'" in msg
    split = {"control": 1, "a": 1, "b": 1, "c": 1}
    assert "['c']" in _exp_raises(UnknownVariantError, exp_df, _exp(expected_split=split))


def test_experiment_metric_values(exp_df):
    df = exp_df.copy()
    df["converted"] = df["converted"] * 2
    assert "must hold only 0 and 1" in _exp_raises(ConfigError, df)
    df = exp_df.copy()
    df["saves"] = df["saves"].astype(float)
    df.loc[df.index[:4], "saves"] = np.nan
    msg = _exp_raises(MissingValuesError, df)
    assert "metric 'saves' column 'saves' has 4 missing" in msg
    df = exp_df.copy()
    df["impressions"] = -df["impressions"]
    assert "denominator column 'impressions'" in _exp_raises(ConfigError, df)
    df = exp_df.copy()
    df["saves"] = df["saves"].astype(str)
    assert "'saves' must be numeric" in _exp_raises(NonNumericColumnError, df)


def test_experiment_missing_covariate_only_warns(exp_df):
    df = exp_df.copy()
    df["saves_pre"] = df["saves_pre"].astype(float)
    df.loc[df.index[:7], "saves_pre"] = np.nan
    with pytest.warns(UserWarning, match="'saves_pre' is missing for 7 rows"):
        v = validate_experiment(df, _exp())
    assert len(v.warnings) == 1
    df.loc[df.index[:7], "saves_pre"] = np.inf
    assert "infinite" in _exp_raises(MissingValuesError, df)


def test_experiment_units_and_variants(exp_df):
    df = exp_df.copy()
    df.loc[df.index[1], "user_id"] = df.loc[df.index[0], "user_id"]
    df.loc[df.index[1], "variant"] = "b" if df.loc[df.index[0], "variant"] != "b" else "a"
    assert "more than one variant" in _exp_raises(DuplicateUnitError, df)
    only = exp_df[exp_df["variant"] == "control"]
    assert "at least two variants" in _exp_raises(InsufficientDataError, only)
    few = pd.concat([exp_df[exp_df["variant"] != "b"], exp_df[exp_df["variant"] == "b"].head(1)])
    msg = _exp_raises(InsufficientDataError, few, min_units_per_arm=5)
    assert "Variant 'b' has only 1 unit(s)" in msg
    df = exp_df.copy()
    df["variant"] = df["variant"].where(df["user_id"] > 1)
    assert "empty for 2 rows" in _exp_raises(MissingValuesError, df)


def test_experiment_from_parquet_and_repeated_unit_rows(exp_df, tmp_path):
    path = tmp_path / "e.parquet"
    exp_df.to_parquet(path)
    v = validate_experiment(path, _exp())
    assert v.counts == exp_df["variant"].value_counts().to_dict()
    # several rows per user are fine when the design names the unit (rows are summed)
    doubled = pd.concat([exp_df, exp_df])
    assert validate_experiment(doubled, _exp()).n == len(exp_df)


def test_validate_reads_a_duckdb_table(df):
    import duckdb

    con = duckdb.connect()
    con.register("pins", df)
    v = validate("pins", _design(), connection=con)
    ref = validate(df, _design())
    assert v.x_names == ref.x_names
    np.testing.assert_array_equal(v.y["saves"], ref.y["saves"])
    with pytest.raises(MissingColumnError, match="treatment column 'boostd'.*'boosted'"):
        validate("pins", _design(treatment="boostd"), connection=con)
    con.close()


#: Peak Python-side memory (tracemalloc: numpy and pandas buffers) allowed while validating a
#: 2M-row table held by DuckDB. Loading even one of its columns into pandas takes 16 MB.
VALIDATE_PEAK_BYTES = 4_000_000


@pytest.mark.parametrize("kind", ["table", "parquet"])
def test_validate_experiment_never_loads_the_table_into_pandas(kind, tmp_path):
    import tracemalloc

    import duckdb

    con = duckdb.connect()
    n = 2_000_000
    con.execute(
        "CREATE TABLE big AS SELECT i AS user_id, "
        "CASE WHEN i % 2 = 0 THEN 'control' ELSE 'treatment' END AS arm, "
        "CAST(i % 7 AS DOUBLE) AS y, CAST(i % 5 AS DOUBLE) AS y_pre, "
        "CAST(i % 3 = 0 AS INTEGER) AS conv, i % 4 AS clicks, 1 + i % 9 AS views "
        "FROM range(?) t(i)",
        [n],
    )
    source: object = "big"
    if kind == "parquet":
        path = tmp_path / "big.parquet"
        con.execute(f"COPY big TO '{path}' (FORMAT parquet)")
        source, con = str(path), None
    design = ExperimentDesign(
        "arm", "control",
        [Mean("y", "y", covariate="y_pre"), Proportion("conv", "conv"),
         Ratio("ctr", "clicks", "views")],
        unit="user_id",
    )  # fmt: skip
    tracemalloc.start()
    try:
        v = validate_experiment(source, design, connection=con)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert v.counts == {"control": n // 2, "treatment": n // 2}
    assert peak < VALIDATE_PEAK_BYTES, f"validation allocated {peak / 1e6:.1f} MB in Python"
