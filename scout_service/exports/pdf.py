"""HTML to PDF with WeasyPrint, imported lazily and rendered one at a time."""

from __future__ import annotations

import threading
from types import ModuleType

from scout_service.exports.model import ExportUnavailableError

INSTALL_HINT = (
    "PDF export needs WeasyPrint and the Pango library: "
    "apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core "
    "/ pip install 'scout-service[pdf]'"
)

# WeasyPrint drives Pango, fontconfig and HarfBuzz through cffi, and crashes
# under concurrent rendering have been reported; PDFs are rare and fast enough
# (well under a second for a dossier) that serialising them costs little.
_RENDER_LOCK = threading.Lock()


def load_weasyprint() -> ModuleType:
    """Import WeasyPrint on first use (about half a second), or explain what is missing.

    A missing Python package raises ImportError; missing system libraries
    make WeasyPrint's cffi loader raise OSError at import time.
    """
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise ExportUnavailableError(INSTALL_HINT) from exc
    module: ModuleType = weasyprint
    return module


def html_to_pdf(html: str) -> bytes:
    """Render a self-contained HTML document to PDF bytes.

    The fetcher allows ``data:`` URLs only (the charts' SVG images, decoded
    in memory), so nothing in the document can make the server read a local
    file or call a network address.
    """
    weasyprint = load_weasyprint()
    fetcher = weasyprint.URLFetcher(allowed_protocols=frozenset({"data"}),
                                    allow_redirects=False)
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher)
    with _RENDER_LOCK:
        pdf = document.write_pdf()
    if not isinstance(pdf, bytes):  # pragma: no cover - write_pdf without target returns bytes
        raise TypeError("WeasyPrint returned no PDF bytes")
    return pdf
