"""The readout page (issue 8, item 8; issue 10, item 4): a red banner marking the lifts
untrustworthy when the sample-ratio check fails, guardrails, power/MDE, segments as plots,
numbers formatted by causal.experiments._format, everything escaped and self-contained."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

from causal.experiments import ExperimentDesign, Mean, Proportion, Ratio, readout
from causal.experiments._format import format_value as _format_value
from causal.report import write_readout_page
from causal.stats._power import mde_from_se


def format_value(field, value):
    """As shown in the page: formatted by causal.experiments._format, then escaped."""
    return html.escape(_format_value(field, value))


EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)


def _data(split=(0.5, 0.5), n=6000, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "treatment"], n, p=list(split))
    t = arm == "treatment"
    return pd.DataFrame(
        {
            "arm": arm,
            "y": rng.normal(size=n) + 5 + 0.2 * t,
            "clicks": rng.poisson(3, n),
            "views": rng.poisson(30, n) + 1,
            "conv": (rng.random(n) < 0.1).astype(int),
            "zero": np.where(t, rng.poisson(1, n), 0),
            "platform": rng.choice(["ios", "android", "<script>x</script>"], n),
            "country": rng.choice(["us", "de", "fr", "jp", "br"], n),
        }
    )


DESIGN = ExperimentDesign(
    "arm", "control",
    [Mean("y", "y"), Ratio("ctr", "clicks", "views"), Proportion("conv", "conv"),
     Mean("zero", "zero")],
    guardrails=[Mean("clicks", "clicks")], segments=["platform", "country"],
    expected_split={"control": 0.5, "treatment": 0.5},
)  # fmt: skip


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    d = tmp_path_factory.mktemp("pages")
    ok = readout(_data(), DESIGN, margins={"clicks": 0.05})
    bad = readout(_data(split=(0.45, 0.55)), DESIGN, margins={"clicks": 0.05})
    return (
        ok, write_readout_page(ok, d / "ok.html").read_text(),
        bad, write_readout_page(bad, d / "bad.html").read_text(),
    )  # fmt: skip


def test_srm_failure_shows_a_red_banner_and_marks_the_lifts(pages):
    ok, ok_page, bad, bad_page = pages
    assert not bad.srm.ok and ok.srm.ok
    assert 'role="alert"' in bad_page and "#c81e1e" in bad_page
    assert "Sample ratio mismatch" in bad_page and "UNTRUSTWORTHY" in bad_page
    assert "untrustworthy" in bad_page.split("<h2>Lifts</h2>")[1].split("<h2>")[0]
    assert 'role="alert"' not in ok_page and "UNTRUSTWORTHY" not in ok_page
    assert "Sample ratio check passed" in ok_page


def test_guardrails_power_and_segments_sections(pages):
    ok, page, _, _ = pages
    for h in ("Decision", "Lifts", "Guardrails (non-inferiority)",
              "Power: the smallest lift this sample could detect", "Segments"):  # fmt: skip
        assert f"<h2>{h}" in page, h
    # power figures are mde_from_se of each row, formatted by the one formatting module
    for r in ok.metrics:
        assert format_value("mde", mde_from_se(r.se, alpha=ok.alpha)) in page
    # segments are plots, not raw rows: one SVG per metric with segment rows (+ the lift plot)
    seg = page.split("<h2>Segments")[1]
    assert "<td>" not in seg
    plottable = {r.metric for r in ok.segments if np.isfinite(r.rel_effect)}
    assert seg.count("<svg") == len(plottable) == 4  # 'zero' has no relative lift anywhere
    assert "8 segment row(s) without a relative lift" in seg
    assert len(ok.segments) == 8 * 5  # 40 segment rows would have been a 40-row table


def test_numbers_formatted_by_one_module(pages):
    ok, page, _, _ = pages
    y = ok.metrics[0]
    assert format_value("rel_effect", y.rel_effect) in page  # e.g. +4.12%
    assert format_value("pvalue_adjusted", y.pvalue_adjusted) in page
    assert format_value("effect_ci_lower", y.effect_ci_lower) in page


def test_undefined_relative_lift_is_explained(pages):
    _, page, _, _ = pages
    assert "zero / treatment: relative lift undefined: the control mean is 0" in page


def test_page_is_self_contained_and_escaped(pages):
    _, page, _, bad_page = pages
    for p in (page, bad_page):
        assert not EXTERNAL.search(p)
        assert "<script" not in p.lower()
        assert "<!DOCTYPE svg" not in p


def test_sequential_section(tmp_path):
    ro = readout(_data(), ExperimentDesign("arm", "control", [Mean("y", "y")]),
                 sequential={"method": "always_valid", "planned_units": 12_000})  # fmt: skip
    page = write_readout_page(ro, tmp_path / "s.html").read_text()
    assert "<h2>Sequential monitoring" in page and "50%" in page
    assert format_value("seq_pvalue", ro.metrics[0].sequential.pvalue) in page


def test_notebook_view_warns_in_red_too(pages):
    ok, _, bad, _ = pages
    assert 'role="alert"' in bad._repr_html_() and 'role="alert"' not in ok._repr_html_()
