"""Readouts of two public experiments match their published figures.

The data ship with the repository (``tests/data/*.parquet``; source, licence and the published
numbers in ``tests/data/README.md``), so these tests always run: a missing file is a failure,
never a skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from causal.experiments import ExperimentDesign, Mean, Proportion, readout

DATA = Path(__file__).resolve().parents[1] / "data"
HILLSTROM = DATA / "hillstrom.parquet"
COOKIE = DATA / "cookie_cats.parquet"

# The READMEs print lifts in percentage points to 2 decimals (half a unit: 0.005 pp = 5e-5)
# and dollars to 3 decimals (5e-4); s.e.s to 2 decimals of a pp (5e-5) or 3 of a dollar.
PP_ATOL = 5e-5 + 1e-12
USD_ATOL = 5e-4 + 1e-12


def test_the_data_ship_with_the_repository():
    for path, rows in ((HILLSTROM, 64_000), (COOKIE, 90_189)):
        assert path.is_file(), f"{path} is missing: it ships with the repository (tests/data)"
        import pyarrow.parquet as pq

        assert pq.ParquetFile(path).metadata.num_rows == rows


def _get(ro, metric, variant):
    return next(r for r in ro.metrics if r.metric == metric and r.variant == variant)


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_hillstrom_lifts_match_readme(engine):
    design = ExperimentDesign(
        variant="segment",
        control="No E-Mail",
        metrics=[
            Proportion("visit", "visit"),
            Proportion("conversion", "conversion"),
            Mean("spend", "spend"),
        ],
    )
    ro = readout(str(HILLSTROM), design, engine=engine)
    assert ro.srm.ok
    assert ro.srm.observed == {"Mens E-Mail": 21307, "No E-Mail": 21306, "Womens E-Mail": 21387}
    published = {  # metric, arm: (lift, s.e., atol)
        ("visit", "Mens E-Mail"): (0.0766, 0.0034, PP_ATOL),
        ("conversion", "Mens E-Mail"): (0.0068, 0.0009, PP_ATOL),
        ("spend", "Mens E-Mail"): (0.770, 0.145, USD_ATOL),
        ("visit", "Womens E-Mail"): (0.0452, 0.0032, PP_ATOL),
        ("conversion", "Womens E-Mail"): (0.0031, 0.0008, PP_ATOL),
        ("spend", "Womens E-Mail"): (0.424, 0.130, USD_ATOL),
    }
    for (metric, arm), (lift, se, atol) in published.items():
        r = _get(ro, metric, arm)
        assert r.effect == pytest.approx(lift, abs=atol), (metric, arm)
        assert r.se == pytest.approx(se, abs=atol), (metric, arm)
    # arm means: 18.28 % / 15.14 % / 10.62 % visit
    assert _get(ro, "visit", "Mens E-Mail").treatment_mean == pytest.approx(0.1828, abs=PP_ATOL)
    assert _get(ro, "visit", "Womens E-Mail").treatment_mean == pytest.approx(0.1514, abs=PP_ATOL)
    assert _get(ro, "visit", "Mens E-Mail").control_mean == pytest.approx(0.1062, abs=PP_ATOL)
    assert ro.decision == "ship"


def test_hillstrom_segment_heterogeneity_matches_readme():
    import pandas as pd

    df = pd.read_parquet(HILLSTROM)
    df["bought"] = df["mens"].astype(str) + df["womens"].astype(str)  # "01", "10", "11"
    design = ExperimentDesign(
        "segment", "No E-Mail", [Proportion("visit", "visit")], segments=["bought"]
    )
    ro = readout(df, design)
    seg = {(r.variant, r.segment_value): r.effect for r in ro.segments}
    # README: Mens +7.1 / +6.9 / +13.4 pp; Womens +7.4 / +1.1 / +7.1 pp (1 decimal: 5e-4)
    atol = 5e-4 + 1e-12
    assert seg[("Mens E-Mail", "01")] == pytest.approx(0.071, abs=atol)
    assert seg[("Mens E-Mail", "10")] == pytest.approx(0.069, abs=atol)
    assert seg[("Mens E-Mail", "11")] == pytest.approx(0.134, abs=atol)
    assert seg[("Womens E-Mail", "01")] == pytest.approx(0.074, abs=atol)
    assert seg[("Womens E-Mail", "10")] == pytest.approx(0.011, abs=atol)
    assert seg[("Womens E-Mail", "11")] == pytest.approx(0.071, abs=atol)


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_cookie_cats_retention_matches_readme(engine):
    design = ExperimentDesign(
        variant="version",
        control="gate_30",
        metrics=[
            Proportion("retention_1", "retention_1"),
            Proportion("retention_7", "retention_7"),
        ],
        guardrails=[Mean("gamerounds", "sum_gamerounds")],
    )
    ro = readout(str(COOKIE), design, engine=engine, margins={"gamerounds": 0.05})
    r1, r7 = _get(ro, "retention_1", "gate_40"), _get(ro, "retention_7", "gate_40")
    assert r1.control_mean == pytest.approx(0.4482, abs=PP_ATOL)
    assert r1.treatment_mean == pytest.approx(0.4423, abs=PP_ATOL)
    assert r1.effect == pytest.approx(-0.0059, abs=PP_ATOL)
    assert r1.se == pytest.approx(0.0033, abs=PP_ATOL)
    assert r1.effect / r1.se == pytest.approx(-1.78, abs=0.005 + 1e-12)
    assert r7.control_mean == pytest.approx(0.1902, abs=PP_ATOL)
    assert r7.treatment_mean == pytest.approx(0.1820, abs=PP_ATOL)
    assert r7.effect == pytest.approx(-0.0082, abs=PP_ATOL)
    assert r7.se == pytest.approx(0.0026, abs=PP_ATOL)
    assert r7.effect / r7.se == pytest.approx(-3.16, abs=0.005 + 1e-12)
    g = _get(ro, "gamerounds", "gate_40")
    assert g.control_mean == pytest.approx(52.46, abs=0.005 + 1e-12)
    assert g.treatment_mean == pytest.approx(51.30, abs=0.005 + 1e-12)
    # moving the gate lowers 7-day retention significantly: do not ship
    assert ro.decision == "no_ship"
    assert ro.decisions["gate_40"].losers == ("retention_7",)


def test_cookie_cats_cap_tames_the_outlier():
    """One player with 49,854 rounds: capping at the 99.9th percentile shrinks the SE."""
    raw = Mean("rounds", "sum_gamerounds")
    capped = Mean("rounds_capped", "sum_gamerounds", cap=0.999)
    ro = readout(str(COOKIE), ExperimentDesign("version", "gate_30", [raw, capped]))
    a, b = _get(ro, "rounds", "gate_40"), _get(ro, "rounds_capped", "gate_40")
    assert b.se < 0.5 * a.se
    assert any("capped" in n for n in ro.notes)
