"""Both reports render in headless Chromium with no external request, sections visible.

Chromium is Debian's ``chromium`` package: ``make chromium`` installs it (``make test`` does so
first). The network check reads Chromium's own net log: every request whose top frame is the
report (network isolation key ``file://``) must be a ``file:`` or ``data:`` URL. A positive
control (the report plus one remote image) proves the check can fail. Screenshots for the
README come from ``make screenshots``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import causal

pytestmark = pytest.mark.browser

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_S = 120


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("headless Chromium is needed: run `make chromium` (apt-get install chromium)")
    return exe


def _render(page: Path, tmp: Path, *extra: str) -> tuple[str, list[str]]:
    """(the DOM after load, the URLs the page requested)."""
    netlog = tmp / f"{page.stem}.netlog.json"
    profile = tmp / f"profile-{page.stem}-{len(extra)}"  # a fresh --user-data-dir each run
    cmd = [_chromium(), *FLAGS, f"--user-data-dir={profile}", f"--log-net-log={netlog}", *extra]
    res = subprocess.run(
        [*cmd, "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for ev in log["events"]:
        params = ev.get("params") or {}
        if names.get(ev["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        if str(params.get("network_isolation_key", "")).startswith("file://"):
            urls.append(params["url"])
    return res.stdout, urls


def _external(urls: list[str]) -> list[str]:
    return [u for u in urls if not u.startswith(("file:", "data:", "blob:", "about:"))]


BAD = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """A readout page and a what-works page whose outcome and a category are named BAD."""
    from causal.experiments import readout
    from causal.experiments._config import parse_config
    from causal.report import write_readout_page

    out = tmp_path_factory.mktemp("pages")
    cfg = parse_config(
        {
            "variant": "variant",
            "control": "control",
            "unit": "user_id",
            "metrics": [{"name": "saves", "type": "mean", "column": "saves"}],
            "segments": ["platform"],
        }
    )
    ro = readout(causal.simulate_experiment(n_users=4_000, seed=1), cfg.design, **cfg.options)
    write_readout_page(ro, out / "readout.html")
    df = causal.simulate_content(n=900, seed=4).rename(columns={"saves": BAD})
    df["format"] = df["format"].astype(str).replace({"video": BAD})
    design = causal.Design(
        unit="pin_id",
        treatment="boosted",
        outcomes=[BAD],
        modifiers=["quality_score", "format"],
        confounders=["creator_followers"],
        segments=["format"],
    )
    ww = causal.what_works(df, design, estimator="LinearDML", progress=False)
    ww.report(out / "report.html")
    return out


def test_whatworks_report_renders_offline(reports, tmp_path):
    dom, urls = _render(reports / "report.html", tmp_path)
    assert not _external(urls), _external(urls)
    for title in ("Key findings", "Effect per outcome", "Methods"):
        assert f"<h2>{title}</h2>" in dom
    assert dom.count("<svg") >= 2


def test_readout_report_renders_offline(reports, tmp_path):
    dom, urls = _render(reports / "readout.html", tmp_path)
    assert not _external(urls), _external(urls)
    assert "<h2>" in dom and "<svg" in dom


def test_the_network_check_can_fail(reports, tmp_path):
    page = tmp_path / "control.html"
    text = (reports / "report.html").read_text()
    page.write_text(text.replace("<body>", '<body><img src="http://example.invalid/p.png">', 1))
    _, urls = _render(page, tmp_path, "--host-resolver-rules=MAP * ~NOTFOUND")
    assert _external(urls) == ["http://example.invalid/p.png"]


def test_script_names_are_text_in_the_browser(reports, tmp_path):
    source = (reports / "report.html").read_text()
    assert BAD not in source and "&lt;script&gt;alert(1)&lt;/script&gt;" in source
    dom, _ = _render(reports / "report.html", tmp_path)
    assert "<script" not in dom  # the browser built no script element
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # shown as text
