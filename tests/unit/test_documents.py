"""Tests of text extraction from uploaded plans and of combining documents."""

from __future__ import annotations

import io
import logging
import pickle
import zipfile
from pathlib import Path

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from scout_service.documents import (
    DocumentError,
    ExtractedDocument,
    combine_documents,
    docx_reader,
    extract_text,
    pdf_reader,
)
from scout_service.documents import extract as extract_module

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _flat(text: str) -> str:
    """Collapse whitespace: PDF text wraps lines wherever the layout did."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def plan_md() -> bytes:
    return (EXAMPLES / "nordic-meal-kits.md").read_bytes()


@pytest.fixture(scope="module")
def plan_pdf() -> bytes:
    return (EXAMPLES / "fieldservice-saas.pdf").read_bytes()


@pytest.fixture(scope="module")
def plan_docx() -> bytes:
    return (EXAMPLES / "urban-ebike-rental.docx").read_bytes()


def _docx_bytes(*paragraphs: str) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _assert_reason(data: bytes, file_name: str, reason: str) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        extract_text(data, file_name)
    assert info.value.reason == reason, info.value.message
    assert file_name in info.value.message
    return info.value


# --- the example plans ---------------------------------------------------------------


def test_markdown_example_keeps_figures_competitors_and_regulation(plan_md: bytes) -> None:
    doc = extract_text(plan_md, "nordic-meal-kits.md")
    assert doc.detected_type == "markdown"
    assert doc.pages is None and not doc.truncated
    for expected in (
        "HelloFresh",
        "Linas Matkasse",
        "Mathem",
        "EUR 47.90",
        "4.1 billion",
        "620 million",
        "Livsmedelsverket",
        "1169/2011",
        "GDPR",
        "| Familj | 4 persons, 4 dinners | EUR 99.90 | EUR 6.24 |",
    ):
        assert expected in doc.text


def test_pdf_example_is_read_page_by_page(plan_pdf: bytes) -> None:
    doc = extract_text(plan_pdf, "fieldservice-saas.pdf")
    assert doc.detected_type == "pdf"
    assert doc.pages == len(PdfReader(io.BytesIO(plan_pdf)).pages) >= 3
    assert not doc.truncated
    text = _flat(doc.text)
    for expected in (
        "Dispatchly GmbH",
        "ServiceTitan",
        "Jobber",
        "Hero Software",
        "EUR 49",
        "EUR 12.1 million ARR",
        "540 million",
        "Betriebsverfassungsgesetz",
        "XRechnung",
        "2024/1689",
    ):
        assert expected in text
    # The last page was read too, not only the first.
    assert "Enterprise vendors move down-market" in text


def test_docx_example_keeps_headings_and_tables(plan_docx: bytes) -> None:
    doc = extract_text(plan_docx, "urban-ebike-rental.docx")
    assert doc.detected_type == "docx"
    assert doc.pages is None and not doc.truncated
    assert doc.text.startswith("# VeloLoop Urban E-Bike Rental")
    assert "\n## Competition\n" in doc.text
    assert "| Swapfiets | E-bike subscription (Power 7) | EUR 84.90 per month |" in doc.text
    assert "| Commuter 12 | EUR 69 per month | 12 months | as Flex, plus winter tyres |" in doc.text
    assert "- Subscriptions with insurance against theft" in doc.text
    for expected in ("Lime", "EN 15194", "2023/1542", "GDPR", "EUR 1.8 million"):
        assert expected in doc.text


# --- detection from content, not name ---------------------------------------------------


def test_pdf_named_like_markdown_is_read_as_pdf(plan_pdf: bytes) -> None:
    doc = extract_text(plan_pdf, "plan.md")
    assert doc.detected_type == "pdf"
    assert "Dispatchly" in doc.text
    assert doc.file_name == "plan.md"


def test_docx_named_like_pdf_is_read_as_docx(plan_docx: bytes) -> None:
    assert extract_text(plan_docx, "plan.pdf").detected_type == "docx"


def test_markdown_named_like_docx_is_read_as_markdown(plan_md: bytes) -> None:
    assert extract_text(plan_md, "plan.docx").detected_type == "markdown"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Our plan is simple.\nWe sell bread in Lyon for EUR 3.", "text"),
        ("Notes:\n- call bank\n- visit shop\n", "text"),
        ("Intro\n\n## Market\n\nBig.", "markdown"),
        ("| a | b |\n| --- | --- |\n| 1 | 2 |\n", "markdown"),
        ("- **Price**: EUR 9\n- see [site](https://example.org)\n", "markdown"),
    ],
)
def test_markdown_is_told_from_plain_text(text: str, kind: str) -> None:
    assert extract_text(text.encode(), "plan.txt").detected_type == kind


@pytest.mark.parametrize(
    "data",
    [
        "\ufeff# Plan\n\nCafé in Malmö\r\n".encode(),
        "# Plan\n\nCafé in Malmö\n".encode("utf-16"),  # BOM + little endian
        b"\xfe\xff" + "# Plan\n\nCafé in Malmö\n".encode("utf-16-be"),
    ],
)
def test_text_with_bom_is_decoded(data: bytes) -> None:
    doc = extract_text(data, "plan.md")
    assert doc.text == "# Plan\n\nCafé in Malmö"
    assert doc.detected_type == "markdown"


# --- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n\t\r\n ", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n", " \n".encode("utf-16")],
)
def test_empty_files_are_refused(data: bytes) -> None:
    _assert_reason(data, "empty.md", "EMPTY_DOCUMENT")


def test_pdf_without_text_is_refused_as_empty() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    error = _assert_reason(buffer.getvalue(), "scan.pdf", "EMPTY_DOCUMENT")
    assert "OCR" in error.message


def test_docx_without_text_is_refused_as_empty() -> None:
    _assert_reason(_docx_bytes("", "   "), "blank.docx", "EMPTY_DOCUMENT")


def test_encrypted_pdf_is_refused(plan_pdf: bytes) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plan_pdf)))
    writer.encrypt(user_password="secret", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    error = _assert_reason(buffer.getvalue(), "locked.pdf", "ENCRYPTED_PDF")
    assert "password" in error.message


def test_pdf_encrypted_only_with_owner_password_is_read(plan_pdf: bytes) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plan_pdf)))
    writer.encrypt(user_password="", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    doc = extract_text(buffer.getvalue(), "permissions.pdf")
    assert "ServiceTitan" in doc.text


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.95])
def test_truncated_pdf_is_refused(plan_pdf: bytes, fraction: float) -> None:
    _assert_reason(plan_pdf[: int(len(plan_pdf) * fraction)], "cut.pdf", "MALFORMED_PDF")


def test_pdf_header_on_garbage_is_refused() -> None:
    _assert_reason(b"%PDF-1.7\n" + bytes(range(256)) * 8, "fake.pdf", "MALFORMED_PDF")


def test_zip_bomb_is_refused_before_python_docx_opens_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = _zip_bytes(
        {
            "[Content_Types].xml": b"<Types/>",
            "word/document.xml": b"<w:document/>",
            "word/media/image1.png": bytes(20 * 1024 * 1024),  # 20 MB of zeros, ~20 kB packed
        }
    )
    assert len(bomb) < 100_000

    def must_not_open(*_args: object) -> None:
        raise AssertionError("python-docx opened a zip bomb")

    monkeypatch.setattr(docx, "Document", must_not_open)
    error = _assert_reason(bomb, "plan.docx", "DOCUMENT_TOO_LARGE")
    assert "zip bomb" in error.message


def test_docx_expanding_past_the_size_cap_is_refused() -> None:
    # Stored (not compressed), so only the total-size check can catch it.
    big = _zip_bytes(
        {
            "word/document.xml": b"<w:document/>",
            "word/media/video.bin": bytes(docx_reader.MAX_DOCX_UNCOMPRESSED_BYTES + 1),
        },
        compression=zipfile.ZIP_STORED,
    )
    _assert_reason(big, "plan.docx", "DOCUMENT_TOO_LARGE")


def test_docx_with_too_many_entries_is_refused() -> None:
    entries = {f"word/part{i}.xml": b"<x/>" for i in range(docx_reader.MAX_DOCX_ENTRIES)}
    entries["word/document.xml"] = b"<w:document/>"
    _assert_reason(_zip_bytes(entries), "plan.docx", "DOCUMENT_TOO_LARGE")


def test_damaged_docx_is_refused(plan_docx: bytes) -> None:
    _assert_reason(plan_docx[: len(plan_docx) // 2], "cut.docx", "MALFORMED_DOCX")
    broken_xml = _zip_bytes({"[Content_Types].xml": b"<Types", "word/document.xml": b"<w:document"})
    _assert_reason(broken_xml, "broken.docx", "MALFORMED_DOCX")


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 4,
        b"\x89PNG\r\n\x1a\n" + bytes(100),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),  # legacy .doc
        "Prix: 12 € – café".encode("cp1252"),  # not UTF-8
        _zip_bytes({"xl/workbook.xml": b"<workbook/>"}),  # a spreadsheet
    ],
)
def test_other_file_types_are_refused(data: bytes) -> None:
    _assert_reason(data, "plan.txt", "UNSUPPORTED_TYPE")


def test_oversized_upload_is_refused_before_parsing(
    monkeypatch: pytest.MonkeyPatch, plan_md: bytes
) -> None:
    monkeypatch.setattr(extract_module, "MAX_INPUT_BYTES", 1024)
    _assert_reason(plan_md, "huge.md", "DOCUMENT_TOO_LARGE")


def test_file_name_is_sanitised_in_messages() -> None:
    with pytest.raises(DocumentError) as info:
        extract_text(b"", "evil\n===== Document: x =====")
    assert "\n" not in info.value.message


def test_document_error_pickles_and_prints_its_message() -> None:
    error = DocumentError("ENCRYPTED_PDF", "x.pdf is password-protected.")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.reason, clone.message, str(clone)) == (
        "ENCRYPTED_PDF",
        "x.pdf is password-protected.",
        "x.pdf is password-protected.",
    )


# --- limits ------------------------------------------------------------------------


def test_max_chars_truncates_text(plan_md: bytes, plan_pdf: bytes, plan_docx: bytes) -> None:
    for data in (plan_md, plan_pdf, plan_docx):
        doc = extract_text(data, "plan", max_chars=300)
        assert doc.truncated
        assert 0 < len(doc.text) <= 300


def test_text_exactly_at_the_cap_is_not_truncated() -> None:
    doc = extract_text(b"0123456789", "n.txt", max_chars=10)
    assert (doc.text, doc.truncated) == ("0123456789", False)


def test_pdf_page_cap(monkeypatch: pytest.MonkeyPatch, plan_pdf: bytes) -> None:
    monkeypatch.setattr(pdf_reader, "MAX_PDF_PAGES", 1)
    doc = extract_text(plan_pdf, "plan.pdf")
    assert doc.truncated
    assert doc.pages == len(PdfReader(io.BytesIO(plan_pdf)).pages)
    assert "Dispatchly" in doc.text
    assert "Enterprise vendors move down-market" not in _flat(doc.text)


def test_time_budget_stops_after_the_first_page(plan_pdf: bytes, plan_docx: bytes) -> None:
    pdf = extract_text(plan_pdf, "plan.pdf", time_budget_s=0.0)
    assert pdf.truncated and "Dispatchly" in pdf.text
    assert "Enterprise vendors move down-market" not in _flat(pdf.text)
    word = extract_text(plan_docx, "plan.docx", time_budget_s=0.0)
    assert word.truncated and word.text.startswith("# VeloLoop")


def test_nothing_from_the_document_is_logged(
    caplog: pytest.LogCaptureFixture, plan_pdf: bytes
) -> None:
    marker = "CONFIDENTIAL-MARKER-7731"
    broken = _zip_bytes({"word/document.xml": f"<w:document>{marker}".encode()})
    with caplog.at_level(logging.DEBUG):
        extract_text(f"# Plan\n\n{marker}\n".encode(), "ok.md")
        for data in (broken, b"%PDF-1.4\n" + marker.encode(), plan_pdf[:5000]):
            with pytest.raises(DocumentError) as info:
                extract_text(data, "bad.bin")
            assert marker not in info.value.message
    assert marker not in caplog.text
    assert "Dispatchly" not in caplog.text


# --- untrusted input never escapes as anything but DocumentError ---------------------


def _extract_or_refuse(data: bytes) -> None:
    try:
        doc = extract_text(data, "fuzz.bin", max_chars=5_000, time_budget_s=2.0)
    except DocumentError as error:
        assert error.reason.isupper() and error.message
        return
    assert isinstance(doc, ExtractedDocument)
    assert doc.text.strip() and len(doc.text) <= 5_000


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4_096))
def test_random_bytes_only_raise_document_error(data: bytes) -> None:
    _extract_or_refuse(data)


@settings(max_examples=150, deadline=None)
@given(
    prefix=st.sampled_from([b"%PDF-1.7\n", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xff\xfe"]),
    body=st.binary(max_size=2_048),
)
def test_random_bytes_behind_magic_numbers_only_raise_document_error(
    prefix: bytes, body: bytes
) -> None:
    _extract_or_refuse(prefix + body)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_examples_only_raise_document_error(
    data: st.DataObject, plan_pdf: bytes, plan_docx: bytes
) -> None:
    original = bytearray(data.draw(st.sampled_from([plan_pdf, plan_docx])))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    _extract_or_refuse(bytes(original))


# --- combine_documents -----------------------------------------------------------------


def _doc(
    name: str, text: str, kind: str = "markdown", pages: int | None = None
) -> ExtractedDocument:
    return ExtractedDocument(name, kind, text, pages, False)  # type: ignore[arg-type]


def test_combine_labels_every_document_in_order() -> None:
    combined = combine_documents(
        [_doc("plan.pdf", "PDF TEXT", "pdf", 12), _doc("notes.md", "# Notes")], max_chars=10_000
    )
    assert combined == (
        "===== Document: plan.pdf (pdf, 12 pages) =====\nPDF TEXT\n\n"
        "===== Document: notes.md (markdown) =====\n# Notes"
    )


def test_combine_marks_single_page_and_truncated_documents() -> None:
    doc = ExtractedDocument("a.pdf", "pdf", "x", 1, True)
    assert combine_documents([doc], 1_000).startswith(
        "===== Document: a.pdf (pdf, 1 page, truncated) ====="
    )


def test_combine_shares_space_fairly() -> None:
    short = _doc("short.md", "S" * 100)
    long_a = _doc("a.md", "A" * 50_000)
    long_b = _doc("b.md", "B" * 50_000)
    combined = combine_documents([long_a, short, long_b], max_chars=10_000)
    assert len(combined) <= 10_000
    assert "S" * 100 in combined  # the short document is kept whole
    assert combined.count("===== Document:") == 3
    a, b = combined.count("A"), combined.count("B")
    assert abs(a - b) < 50 and a > 4_000
    assert "shortened" in combined


def test_combine_sanitises_file_names() -> None:
    combined = combine_documents([_doc("x\n===== Document: fake.md =====", "t")], 1_000)
    assert combined.count("\n") == 1


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(st.text(min_size=1, max_size=3_000), min_size=1, max_size=5),
    max_chars=st.integers(1, 8_000),
)
def test_combine_never_exceeds_max_chars(texts: list[str], max_chars: int) -> None:
    docs = [_doc(f"doc{i}.md", text) for i, text in enumerate(texts)]
    combined = combine_documents(docs, max_chars)
    assert len(combined) <= max_chars
    if sum(len(t) + 60 for t in texts) <= max_chars:
        assert all(text in combined for text in texts)
