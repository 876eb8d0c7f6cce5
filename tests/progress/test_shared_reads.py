"""SharedReads: callers of one key share reads, and each gets a read that started after it asked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from scout_service.progress.shared_reads import SharedReads

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]


class Gate:
    """A read function that records each call and waits until the test lets it finish."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.fail_next: Exception | None = None

    def release(self, key: str = "run") -> None:
        self.gates.setdefault(key, asyncio.Event()).set()

    async def read(self, key: str, args: Sequence[str]) -> str:
        self.calls.append((key, list(args)))
        number = len(self.calls)
        gate = self.gates.setdefault(key, asyncio.Event())
        await gate.wait()
        gate.clear()
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        return f"read {number} of {key}"


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_callers_during_a_read_share_the_next_one() -> None:
    gate = Gate()
    reads: SharedReads[str, str, str] = SharedReads(gate.read)
    first = asyncio.create_task(reads.get("run", "a"))
    await settle()
    assert gate.calls == [("run", ["a"])]
    # b and c ask while a's read is in flight: it may have missed what they need.
    later = [asyncio.create_task(reads.get("run", x)) for x in ("b", "c")]
    other = asyncio.create_task(reads.get("other-run", "z"))
    await settle()
    assert gate.calls == [("run", ["a"]), ("other-run", ["z"])]
    gate.release("other-run")
    gate.release()
    assert await first == "read 1 of run"
    await settle()
    assert gate.calls[2] == ("run", ["b", "c"])
    gate.release()
    assert [await t for t in later] == ["read 3 of run"] * 2
    assert await other == "read 2 of other-run"


async def test_a_failed_read_fails_its_batch_only() -> None:
    gate = Gate()
    reads: SharedReads[str, str, str] = SharedReads(gate.read)
    gate.fail_next = LookupError("run is gone")
    batch = [asyncio.create_task(reads.get("run", x)) for x in ("a", "b")]
    await settle()
    gate.release()
    for task in batch:
        with pytest.raises(LookupError, match="run is gone"):
            await task
    retry = asyncio.create_task(reads.get("run", "a"))
    await settle()
    gate.release()
    assert await retry == "read 2 of run"


async def test_a_caller_that_gives_up_leaves_the_read_to_the_others() -> None:
    gate = Gate()
    reads: SharedReads[str, str, str] = SharedReads(gate.read)
    quitter, stayer = (asyncio.create_task(reads.get("run", x)) for x in ("q", "s"))
    await settle()
    quitter.cancel()
    gate.release()
    assert await stayer == "read 1 of run"
    assert quitter.cancelled()
    # A batch whose callers all gave up before it started is never read.
    first = asyncio.create_task(reads.get("run", "a"))
    await settle()
    gone = asyncio.create_task(reads.get("run", "gone"))
    await settle()
    gone.cancel()
    gate.release()
    assert await first == "read 2 of run"
    await settle()
    assert len(gate.calls) == 2


async def test_close_lets_reads_in_flight_finish_then_cancels_the_rest() -> None:
    gate = Gate()
    reads: SharedReads[str, str, str] = SharedReads(gate.read)
    in_flight = asyncio.create_task(reads.get("run", "a"))
    await settle()
    asyncio.get_running_loop().call_later(0.05, gate.release)
    await reads.close(grace_s=1.0)  # the read ends within the grace: its caller is answered
    assert await in_flight == "read 1 of run"

    stuck = asyncio.create_task(reads.get("run", "b"))
    await settle()
    queued = asyncio.create_task(reads.get("run", "c"))
    await settle()
    await reads.close(grace_s=0.05)  # this one never ends: stopped, nobody left hanging
    for task in (stuck, queued):
        with pytest.raises(asyncio.CancelledError):
            await task
