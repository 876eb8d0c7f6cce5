"""The HTML export renders in a real browser: headless Chromium shows all five headings.

The export is produced by a real server (PutReport for each kind, then
ExportReports) and loaded from a file with networking disabled, the way a
reader opens it offline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scout_client import ScoutClient
from tests.support.server import TOKENS, ServerProcess

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
