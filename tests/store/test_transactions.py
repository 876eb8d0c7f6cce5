"""A cancelled transaction says which named item failed, not only its position."""

from __future__ import annotations

from scout_service.store._access import TransactionCancelled


def test_a_cancellation_names_the_items_that_failed() -> None:
    cancelled = TransactionCancelled("cancelled", ["None", "ConditionalCheckFailed", "None"])
    cancelled.names = ["session", "item", "idempotency"]
    assert cancelled.failed("item") and cancelled.failed(1)
    assert not cancelled.failed("session") and not cancelled.failed("idempotency")
    assert not cancelled.failed("unknown")
    assert cancelled.failed_names == ["item"]
    assert not cancelled.collided
