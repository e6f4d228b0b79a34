"""Report pages: self-contained (no network), escaped, written atomically, plots inline."""

import re

import numpy as np
import pandas as pd

from causal.experiments import ExperimentDesign, Mean, readout
from causal.report import Section, render_page, write_page, write_readout_page

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)


def _assert_self_contained(page: str) -> None:
    assert not EXTERNAL.search(page), "the page loads something from the network"
    assert "<script" not in page.lower()
    assert "<!DOCTYPE svg" not in page  # the SVG prolog names a URL; it is stripped


def test_render_page_escapes_text():
    page = render_page("<script>alert(1)</script>", [Section("a & b", "<p>ok</p>")], lede="x < y")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &amp; b" in page and "x &lt; y" in page and "<p>ok</p>" in page
    _assert_self_contained(page)


def test_write_page_is_atomic_and_complete(tmp_path):
    path = write_page(tmp_path / "r.html", "T", [Section("S", "<p>1</p>")])
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_readout_page_has_plot_and_escaped_labels(tmp_path):
    rng = np.random.default_rng(3)
    n = 2000
    df = pd.DataFrame(
        {
            "arm": np.repeat(["control", "<b>new</b>"], n // 2),
            "y": rng.normal(size=n) + np.repeat([0.0, 0.3], n // 2),
            "seg": rng.choice(["ios", "web"], size=n),
        }
    )
    ro = readout(df, ExperimentDesign("arm", "control", [Mean("y & z", "y")], segments=["seg"]))
    page = write_readout_page(ro, tmp_path / "readout.html").read_text()
    _assert_self_contained(page)
    assert "<svg" in page  # the lift forest plot
    assert "<b>new</b>" not in page and "&lt;b&gt;new&lt;/b&gt;" in page
    assert "Segments" in page
