"""Page tokens and key formats: round trips, and garbage is always InvalidArgument."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scout_service.errors import InvalidArgument
from scout_service.store import _keys as keys

texts = st.text(min_size=1, max_size=40)


@given(session_id=texts, name=st.text(max_size=40))
def test_file_token_round_trip(session_id: str, name: str) -> None:
    key = {"session_id": session_id, "sk": keys.file_sk(name)}
    token = keys.encode_token(keys.LIST_FILES, session_id, key)
    assert token.isascii() and "=" not in token and "/" not in token and "+" not in token
    assert keys.decode_token(token, keys.LIST_FILES, session_id) == key


@given(owner=texts, session_id=texts, created=st.floats(min_value=0, max_value=4e9))
def test_session_token_round_trip_and_owner_scope(
    owner: str, session_id: str, created: float
) -> None:
    key = {
        "session_id": session_id,
        "sk": keys.SESSION_SK,
        "gsi1pk": keys.owner_pk(owner),
        "gsi1sk": keys.session_gsi_sk(created, session_id),
    }
    token = keys.encode_token(keys.LIST_SESSIONS, owner, key)
    assert keys.decode_token(token, keys.LIST_SESSIONS, owner) == key
    with pytest.raises(InvalidArgument):
        keys.decode_token(token, keys.LIST_SESSIONS, owner + "x")


@given(garbage=st.text(max_size=200))
def test_any_text_decodes_or_is_invalid_argument(garbage: str) -> None:
    try:
        keys.decode_token(garbage, keys.LIST_RUNS, "s")
    except InvalidArgument as error:
        assert error.message == keys.INVALID_TOKEN


@given(a=st.integers(1, keys.MAX_SEQUENCE), b=st.integers(1, keys.MAX_SEQUENCE))
def test_event_keys_sort_like_sequences(a: int, b: int) -> None:
    assert (keys.event_sk("r", a) < keys.event_sk("r", b)) == (a < b)


@given(a=st.floats(0, 4e9), b=st.floats(0, 4e9))
def test_millis_sort_like_times(a: float, b: float) -> None:
    if int(a * 1000) < int(b * 1000):
        assert keys.millis(a) < keys.millis(b)


def test_limit_messages_name_the_limit() -> None:
    assert "25 MB" in keys.file_too_large("a.pdf", 25 * 1024 * 1024).message
    error = keys.report_too_large("final_report", 5 * 1024 * 1024, 4 * 1024 * 1024)
    assert error.reason == "REPORT_TOO_LARGE" and "4 MB" in error.message
