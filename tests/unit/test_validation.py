"""Input validation: good values pass, bad ones name their field."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf import duration_pb2
from hypothesis import given
from hypothesis import strategies as st

from scout_service.api import validation as v
from scout_service.errors import InvalidArgument


@given(st.uuids())
def test_any_uuid_is_a_session_id(value: uuid.UUID) -> None:
    assert v.session_id(str(value)) == str(value)


@given(st.text(max_size=80))
def test_session_id_accepts_only_canonical_uuids(text: str) -> None:
    try:
        parsed = str(uuid.UUID(text))
    except ValueError:
        parsed = None
    if parsed == text:
        assert v.session_id(text) == text
    else:
        with pytest.raises(InvalidArgument, match="session_id"):
            v.session_id(text)


@given(st.text(min_size=1, max_size=300))
def test_file_names_never_carry_paths_or_controls(name: str) -> None:
    try:
        clean = v.file_name(name)
    except InvalidArgument as exc:
        assert exc.message.startswith("file_name")
        return
    assert "/" not in clean and "\\" not in clean and clean not in (".", "..")
    assert len(clean.encode("utf-8")) <= 255
    assert all(ord(c) >= 32 and ord(c) != 127 for c in clean)


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "a/b",
        "a\\b",
        "..",
        ".",
        "a\x00b",
        "x" * 256,
        " lead",
        "trail ",
        "\u202egnp.exe",
    ],
)
def test_file_name_rejects(name: str) -> None:
    with pytest.raises(InvalidArgument, match="file_name"):
        v.file_name(name)


@pytest.mark.parametrize("name", ["plan.pdf", "Business plan v2 (final).docx", "市场.md"])
def test_file_name_accepts(name: str) -> None:
    assert v.file_name(name) == name


def test_page_bounds() -> None:
    assert v.page(0, "") == (v.DEFAULT_PAGE_SIZE, None)
    assert v.page(1000, "tok") == (1000, "tok")
    for bad in (-1, 1001, 10**9):
        with pytest.raises(InvalidArgument, match="page_size"):
            v.page(bad, "")


def test_ttl_bounds() -> None:
    d = duration_pb2.Duration
    assert v.ttl_seconds(d(), False, 86400, 7 * 86400) == 86400
    assert v.ttl_seconds(d(seconds=3600), True, 86400, 7 * 86400) == 3600
    for bad in (d(seconds=0), d(seconds=-3), d(seconds=8 * 86400)):
        with pytest.raises(InvalidArgument, match="ttl"):
            v.ttl_seconds(bad, True, 86400, 7 * 86400)


def test_labels_and_request_ids() -> None:
    assert v.labels({"team": "growth", "cost-center": "42"}) == {
        "team": "growth",
        "cost-center": "42",
    }
    for bad in ({"Team": "x"}, {"": "x"}, {"k": "v" * 300}, {f"k{i}": "v" for i in range(33)}):
        with pytest.raises(InvalidArgument, match="labels"):
            v.labels(bad)
    assert v.request_id("") is None
    with pytest.raises(InvalidArgument, match="request_id"):
        v.request_id("x" * 129)


def test_chunk_limit() -> None:
    assert v.chunk(b"x" * v.MAX_CHUNK_BYTES)
    with pytest.raises(InvalidArgument, match="chunk"):
        v.chunk(b"x" * (v.MAX_CHUNK_BYTES + 1))


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_report_versions(value: int) -> None:
    if value < 0:
        with pytest.raises(InvalidArgument, match="version") as refused:
            v.report_version(value)
        assert refused.value.metadata["field"] == "version"
    else:
        assert v.report_version(value) == (value or None)
