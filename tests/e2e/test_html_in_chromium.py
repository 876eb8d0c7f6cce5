"""The HTML export renders in a real browser: headless Chromium shows all five headings.

The export is produced by a real server (PutReport for each kind, or a
research run for the charts, then ExportReports) and loaded from a file with
networking disabled, the way a reader opens it offline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from scout.v1 import research_pb2
from scout_client import ScoutClient
from scout_service.exports.charts import COMPETITOR_COLOUR, MARKET_COLOURS
from tests.support.server import ROOT, TOKENS, ServerProcess

pytestmark = pytest.mark.e2e

TITLES = ["Final report", "Market report", "Competition report", "Price report",
          "Legal report"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is needed (scripts/system-deps.sh installs Debian's chromium)"
    return path


def _headless(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=/tmp/scout-chromium-profile"]
    return subprocess.run([_chromium(), *flags, *args], capture_output=True, text=True,
                          timeout=timeout)


def test_html_export_renders_five_report_headings(shared_server: ServerProcess,
                                                  tmp_path: Path) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        for kind in ("market", "competition", "price", "legal", "final"):
            scout.put_report(sid, kind, f"# {kind} heading\n\nBody of the {kind} report, "
                                        "with <script>alert(1)</script> in it.\n")
        html = scout.export_reports(sid, "html")
    page = tmp_path / "export.html"
    page.write_bytes(html)

    dom = _headless("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", dom.stdout, flags=re.S)
    rendered = [re.sub(r"<[^>]+>", "", h).strip() for h in headings]
    for title in TITLES:
        assert title in rendered, f"{title!r} not rendered; h2s: {rendered}"
    # The report's own <script> is text on the page, never an element.
    assert "<script>alert(1)</script>" not in dom.stdout
    assert "alert(1)" in dom.stdout

    shot = tmp_path / "export.png"
    done = _headless(f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri())
    assert done.returncode == 0 and shot.stat().st_size > 10_000


def _pixels_of(shot: Path, colour: str) -> int:
    """How many pixels of the screenshot are (within rounding) ``colour`` (#rrggbb)."""
    want = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        return sum(count for count, pixel in rgb.getcolors(maxcolors=1 << 20) or []
                   if all(abs(a - b) <= 3 for a, b in zip(pixel, want, strict=True)))


def test_html_export_draws_the_price_and_market_charts(shared_server: ServerProcess,
                                                       tmp_path: Path) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        scout.upload_file(sid, ROOT / "examples" / "nordic-meal-kits.md")
        run = scout.start_research(sid)
        events = list(scout.stream_progress(sid, run_id=run.run_id))
        assert events[-1].type == research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED
        html = scout.export_reports(sid, "html")
    page = tmp_path / "export.html"
    page.write_bytes(html)

    dom = _headless("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('<img src="data:image/svg+xml;base64,') == 2
    assert "EUR per portion" in dom.stdout and "TAM (2025) EUR 4.1 bn" in dom.stdout

    shot = tmp_path / "charts.png"
    done = _headless(f"--screenshot={shot}", "--window-size=1000,2000", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    # The competitors' grey bars and the TAM bar are colours nothing else on the page
    # uses: they are there only if Chromium drew the SVG images.
    assert _pixels_of(shot, COMPETITOR_COLOUR) > 3000
    assert _pixels_of(shot, MARKET_COLOURS["tam"]) > 3000
