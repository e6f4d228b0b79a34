"""read_table / open_table: every source reads to the same values; names are quoted, never pasted.

Reference: the in-memory DataFrame the files were written from (and pandas' own groupby for the
grouped query on a DuckDB handle).
"""

import duckdb
import numpy as np
import pandas as pd
import pytest

from causal import ConfigError, MissingColumnError
from causal.data import open_table, quote_ident, read_table, simulate_experiment

# Parquet round-trips doubles exactly; CSV prints 17 significant digits, parsed back exactly too,
# but DuckDB's and pandas' text parsers may differ in the last ulp.
CSV_RTOL = 1e-15
COLUMNS = ["user_id", "variant", "country", "saves", "revenue"]


@pytest.fixture(scope="module")
def frame():
    return simulate_experiment(n_users=500, seed=3)


@pytest.fixture(scope="module")
def files(frame, tmp_path_factory):
    d = tmp_path_factory.mktemp("readers")
    frame.to_parquet(d / "e.parquet")
    frame.to_csv(d / "e.csv", index=False)
    return d


def _check(got: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(got.columns) == list(ref.columns)
    for c in ref.columns:
        if pd.api.types.is_numeric_dtype(ref[c]):
            np.testing.assert_allclose(got[c].to_numpy(float), ref[c].to_numpy(float),
                                       rtol=CSV_RTOL)  # fmt: skip
        else:
            assert got[c].astype(str).tolist() == ref[c].astype(str).tolist()


@pytest.mark.parametrize("name", ["e.parquet", "e.csv"])
@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_files_read_the_same_as_the_frame(frame, files, name, engine):
    got = read_table(files / name, columns=COLUMNS, engine=engine)
    _check(got, frame[COLUMNS])
    full = read_table(str(files / name), engine=engine)
    assert list(full.columns) == list(frame.columns) and len(full) == len(frame)


def test_duckdb_table_and_glob(frame, files):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA s")
    con.execute("CREATE TABLE s.exp AS SELECT * FROM read_parquet(?)", [str(files / "e.parquet")])
    _check(read_table("s.exp", columns=COLUMNS, connection=con), frame[COLUMNS])
    _check(read_table("exp", columns=COLUMNS, connection=con), frame[COLUMNS])
    _check(read_table(str(files / "*.parquet"), columns=COLUMNS), frame[COLUMNS])
    con.close()


def test_dataframe_source_is_copied_not_modified(frame):
    before = frame.copy()
    got = read_table(frame, columns=["saves", "user_id"])
    assert list(got.columns) == ["saves", "user_id"]
    got.loc[:, "saves"] = -1
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"columns": ["savs"]}, MissingColumnError, "Did you mean 'saves'?"),
        ({"columns": ["savs"], "engine": "pandas"}, MissingColumnError, "Did you mean 'saves'?"),
        ({"engine": "spark"}, ConfigError, "'engine'"),
    ],
)
def test_bad_columns_and_engine(files, kwargs, exc, needle):
    with pytest.raises(exc, match=needle):
        read_table(files / "e.parquet", **kwargs)


def test_bad_paths_and_tables(files, frame):
    with pytest.raises(ConfigError, match=r"does not exist\. Did you mean .*e\.parquet"):
        read_table(files / "e.parquett.parquet")
    with pytest.raises(ConfigError, match=r"give a \.parquet or \.csv file"):
        read_table(files / "e.json")
    with pytest.raises(ConfigError, match="No file matches"):
        read_table(str(files / "*.nothing.parquet"))
    with pytest.raises(ConfigError, match="engine='duckdb'"):
        read_table("exp", engine="pandas")
    with pytest.raises(ConfigError, match="type list"):
        read_table([1, 2])
    broken = files / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(ConfigError, match="Cannot read"):
        read_table(broken)
    con = duckdb.connect()
    con.register("pins", frame)
    with pytest.raises(ConfigError, match="No table or view named 'pinz'.*Did you mean 'pins'"):
        read_table("pinz", connection=con)
    # a name crafted as SQL is a (missing) name, never executed
    with pytest.raises(ConfigError, match="No table or view"):
        read_table('pins"; DROP VIEW pins; --', connection=con)
    assert con.execute('SELECT count(*) FROM "pins"').fetchone()[0] == len(frame)


def test_open_table_runs_one_grouped_query_without_pandas(frame, files):
    ref = frame.groupby("variant")["saves"].agg(["count", "mean"])
    for source in (frame, files / "e.parquet", files / "e.csv"):
        with open_table(source) as t:
            assert t.columns == tuple(frame.columns)
            assert t.types["saves"] in ("BIGINT", "INTEGER")
            rows = t.connection.execute(
                f"SELECT {quote_ident('variant')}, count(*), avg({quote_ident('saves')}) "
                f"FROM {t.name} GROUP BY 1 ORDER BY 1"
            ).fetchall()
        got = pd.DataFrame(rows, columns=["variant", "count", "mean"]).set_index("variant")
        np.testing.assert_array_equal(got["count"], ref["count"])
        np.testing.assert_allclose(got["mean"], ref["mean"], rtol=CSV_RTOL)
    with pytest.raises(MissingColumnError, match="Did you mean 'saves'"):
        t.require(["savez"])


def test_open_table_cleans_up_views_and_connections(frame, files):
    con = duckdb.connect()
    with open_table(files / "e.parquet", connection=con) as t:
        t.connection.execute(f"SELECT * FROM {t.name}").fetchone()  # leave a result half-read
    with open_table(frame, connection=con) as t2:
        pass
    views = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    assert not [v for (v,) in views if v.startswith("__causal_src_")]
    assert con.execute("SELECT 42").fetchone()[0] == 42  # the caller's connection stays open
    with pytest.raises(duckdb.Error):
        con.execute(f"SELECT * FROM {t2.name}")
    private = open_table(frame)
    private.close()
    with pytest.raises(duckdb.Error):
        private.connection.execute("SELECT 1")


def test_odd_identifiers_and_paths_are_safe(tmp_path):
    df = pd.DataFrame({'we"ird col': [1, 2], "it's": [3.0, 4.0]})
    path = tmp_path / "it's a 'file'.parquet"
    df.to_parquet(path)
    got = read_table(path, columns=['we"ird col', "it's"])
    pd.testing.assert_frame_equal(got, df, check_dtype=False)
    assert quote_ident('a"b') == '"a""b"'
    with pytest.raises(ConfigError):
        quote_ident("")
