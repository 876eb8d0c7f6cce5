"""Fixtures of the client tests: a fake Scout service in this process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_server import FakeScout, FakeServer


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A started fake service; stopped after the test."""
    with FakeServer() as running:
        yield running


@pytest.fixture
def fake(server: FakeServer) -> FakeScout:
    """The fake service's state, recordings and failure knobs."""
    return server.fake
