"""Write the frozen evaluation set: every dossier's files and its answer key.

The content lives in ``eval/content.py``; this module renders it the way
``examples/make_examples.py`` renders the demo plans (WeasyPrint for PDF,
python-docx for .docx) with fixed metadata, fixed ZIP timestamps and a fixed
``SOURCE_DATE_EPOCH``, so the output is byte-for-byte reproducible::

    .venv/bin/python -m eval.generate            # rewrite eval/dossiers/
    .venv/bin/python -m eval.generate --out DIR  # write elsewhere (the regeneration test)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.document import Document as DocxDocument
from docx.shared import Pt
from docx.text.paragraph import Paragraph
from markdown_it import MarkdownIt
from markdown_it.token import Token

from eval.content import DOSSIERS, Document, Dossier

HERE = Path(__file__).resolve().parent
DOSSIERS_DIR = HERE / "dossiers"
FIXED_TIME = datetime(2025, 10, 1, 9, 0, tzinfo=UTC)

PDF_CSS = """
@page { size: A4; margin: 20mm 18mm 22mm;
        @bottom-center { content: "page " counter(page) " of " counter(pages);
                         font-size: 8pt; color: #666; } }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
       font-size: 10pt; line-height: 1.45; color: #1d1d1f; }
h1 { font-size: 18pt; color: #203a5c; margin: 0 0 4pt; }
h2 { font-size: 13pt; color: #203a5c; margin: 14pt 0 6pt; }
table { border-collapse: collapse; width: 100%; margin: 6pt 0 10pt; font-size: 8.5pt; }
th, td { border: 1px solid #c8d3e6; padding: 3pt 5pt; vertical-align: top; }
th { background: #eef2f9; text-align: left; }
tr { break-inside: avoid; }
"""


def render_pdf(doc: Document) -> bytes:
    """Render a Markdown document to PDF bytes with WeasyPrint, fixed metadata."""
    import weasyprint

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(doc.markdown)
    created = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{doc.title}</title><meta name='author' content='{doc.author}'>"
        f"<meta name='dcterms.created' content='{created}'>"
        f"<meta name='dcterms.modified' content='{created}'>"
        f"<style>{PDF_CSS}</style></head><body>{body}</body></html>"
    )
    pdf: bytes = weasyprint.HTML(string=page).write_pdf(uncompressed_pdf=False)
    return pdf


def render_docx(doc: Document) -> bytes:
    """Write a Markdown document as .docx with real headings, lists and tables."""
    document = docx.Document()
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(11)
    properties = document.core_properties
    properties.title = doc.title
    properties.author = doc.author
    properties.created = FIXED_TIME.replace(tzinfo=None)
    properties.modified = FIXED_TIME.replace(tzinfo=None)
    properties.last_modified_by = doc.author
    properties.revision = 1

    tokens = MarkdownIt("commonmark").enable("table").parse(doc.markdown)
    index = 0
    list_style: str | None = None
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open":
            document.add_heading(_inline_text(tokens[index + 1]), level=int(token.tag[1]))
            index += 3
            continue
        if token.type in ("bullet_list_open", "ordered_list_open"):
            list_style = "List Bullet" if token.type == "bullet_list_open" else "List Number"
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_style = None
        elif token.type == "inline" and tokens[index - 1].type == "paragraph_open":
            _add_runs(document.add_paragraph(style=list_style), token)
        elif token.type == "table_open":
            index = _add_table(document, tokens, index)
            continue
        index += 1
    buffer = io.BytesIO()
    document.save(buffer)
    return _with_fixed_zip_times(buffer.getvalue())


def _inline_text(token: Token) -> str:
    return "".join(child.content for child in token.children or [] if child.type == "text")


def _add_runs(paragraph: Paragraph, inline: Token) -> None:
    bold = italic = False
    for child in inline.children or []:
        if child.type in ("strong_open", "strong_close"):
            bold = child.type == "strong_open"
        elif child.type in ("em_open", "em_close"):
            italic = child.type == "em_open"
        elif child.type in ("text", "code_inline"):
            run = paragraph.add_run(child.content)
            run.bold, run.italic = bold, italic
        elif child.type == "softbreak":
            paragraph.add_run(" ")


def _add_table(document: DocxDocument, tokens: list[Token], index: int) -> int:
    rows: list[list[str]] = []
    while tokens[index].type != "table_close":
        token = tokens[index]
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline":
            rows[-1].append(token.content)
        index += 1
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Light Grid Accent 1"
    for row_cells, row in zip(table.rows, rows, strict=True):
        for cell, text in zip(row_cells.cells, row, strict=True):
            cell.text = text.replace("**", "")
    return index + 1


def _with_fixed_zip_times(data: bytes) -> bytes:
    """Rewrite the .docx ZIP with one fixed timestamp on every entry (reproducible)."""
    stamp = FIXED_TIME.timetuple()[:6]
    output = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(entry.filename))
    return output.getvalue()


def render(doc: Document) -> bytes:
    """The bytes of one document in its format."""
    if doc.format == "pdf":
        return render_pdf(doc)
    if doc.format == "docx":
        return render_docx(doc)
    return doc.markdown.encode("utf-8")


def write_dossier(dossier: Dossier, out: Path) -> list[Path]:
    """Write one dossier's files and ``key.json`` under ``out/<id>/``."""
    folder = out / dossier.id
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in dossier.documents:
        path = folder / doc.name
        path.write_bytes(render(doc))
        written.append(path)
    key = folder / "key.json"
    key.write_text(json.dumps(dossier.key(), indent=2, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    written.append(key)
    return written


def generate(out: Path = DOSSIERS_DIR) -> list[Path]:
    """Write every dossier; returns the files written."""
    # fontTools, which WeasyPrint uses to subset fonts, stamps the embedded
    # font with the current time unless this is set.
    os.environ["SOURCE_DATE_EPOCH"] = str(int(FIXED_TIME.timestamp()))
    written: list[Path] = []
    for dossier in DOSSIERS:
        written += write_dossier(dossier, out)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m eval.generate``."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DOSSIERS_DIR, help="output folder")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
