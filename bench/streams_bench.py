"""1,000 progress streams on one replica: opening, live fan-out, errors, memory.

One client process opens ``streams`` ``StreamProgress`` calls over a few
channels (as a fleet of callers behind a few connections would) on a run
the replica executes with a long ``SCOUT_OFFLINE_DELAY_MS``, so the run is
still going once every stream is open, however long opening takes. Then:

- the replica's RSS is read (every stream open);
- the caller's hook runs — the benchmark cancels the run, which makes the
  replica publish its last events to every stream at once: the live
  fan-out, timed from the hook to the last stream's end;
- every stream must have received sequences 1…N with no gap and ended with
  the terminal event, without an RPC error (the issue's "zero errors"); an
  event created while its stream was open is a live one, and the time from
  its ``create_time`` to its receipt is its lag.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc

from bench.common import percentile
from scout.v1 import research_pb2, research_pb2_grpc

TERMINAL = frozenset({research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED,
                      research_pb2.PROGRESS_EVENT_TYPE_RUN_FAILED,
                      research_pb2.PROGRESS_EVENT_TYPE_RUN_CANCELLED})
HEARTBEAT = research_pb2.PROGRESS_EVENT_TYPE_HEARTBEAT


@dataclass
class StreamsResult:
    """What ``streams`` streams received."""

    streams: int
    delivered: int = 0
    errors: int = 0
    incomplete: int = 0
    seconds: float = 0.0
    open_seconds: float = 0.0
    events_per_run: int = 0
    lags: list[float] = field(default_factory=list)
    rss_open_kib: int | None = None
    live_delivered: int = 0
    live_seconds: float = 0.0
    # Per live sequence: (first receipt, last receipt, streams reached).
    spreads: dict[int, list[float]] = field(default_factory=dict)
    ended_before_open: bool = False
    error_samples: list[str] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        """Events received by all streams together per second."""
        return self.delivered / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        """Streams that errored or missed events."""
        return self.errors + self.incomplete

    @property
    def live_events_per_s(self) -> float:
        """Events received by all streams together per second after the hook."""
        return self.live_delivered / self.live_seconds if self.live_seconds else 0.0

    @property
    def fanout_reached(self) -> int:
        """Streams the most widely received live event reached."""
        return max((int(n) for _, _, n in self.spreads.values()), default=0)

    @property
    def fanout_seconds(self) -> float:
        """First to last receipt of the most widely received live event."""
        best = max(self.spreads.values(), key=lambda v: v[2], default=None)
        return best[1] - best[0] if best else 0.0

    @property
    def fanout_events_per_s(self) -> float:
        """Deliveries per second while one live event fans out to every stream.

        Timed from its first stream's receipt to its last one's, so the
        runner's own pace before publishing is left out.
        """
        return self.fanout_reached / self.fanout_seconds if self.fanout_seconds > 0 else 0.0

    def lag_ms(self, q: float) -> float | None:
        """Lag percentile in ms (None when nothing arrived live)."""
        return percentile(self.lags, q) * 1000 if self.lags else None


async def open_streams(
    address: str, token: str, session_id: str, run_id: str, streams: int, channels: int,
    *, rss: Callable[[], int] | None = None,
    on_all_open: Callable[[], Awaitable[object]] | None = None, timeout: float = 300.0,
) -> StreamsResult:
    """Run ``streams`` StreamProgress calls to their end and check what each received.

    Once every stream has received its first event, ``rss()`` is kept as
    ``rss_open_kib`` and ``on_all_open()`` is awaited; events received after
    it count as the live fan-out.
    """
    from scout_client._channel import channel_options

    result = StreamsResult(streams)
    chans = [grpc.aio.insecure_channel(address, options=channel_options())
             for _ in range(channels)]
    metadata = (("authorization", f"Bearer {token}"),)
    request = research_pb2.StreamProgressRequest(session_id=session_id, run_id=run_id)
    opened = 0
    all_open = asyncio.Event()
    live_from = float("inf")  # perf_counter when the hook returned
    last_receipt = 0.0
    finished: list[tuple[int, bool]] = []  # (last sequence, saw the terminal event)

    async def one(i: int) -> None:
        nonlocal opened, last_receipt
        stub = research_pb2_grpc.ResearchServiceStub(chans[i % channels])
        expected = 1
        first = True
        ended = False
        opened_at = float("inf")
        try:
            async for reply in stub.StreamProgress(request, metadata=metadata, timeout=timeout):
                event = reply.event
                now = time.time()
                if first:
                    first = False
                    opened_at = now
                    opened += 1
                    if opened == streams:
                        all_open.set()
                if event.type == HEARTBEAT:
                    continue
                result.delivered += 1
                receipt = time.perf_counter()
                if receipt >= live_from:
                    result.live_delivered += 1
                    last_receipt = max(last_receipt, receipt)
                    spread = result.spreads.setdefault(event.sequence, [receipt, receipt, 0])
                    spread[1] = receipt
                    spread[2] += 1
                if event.type in TERMINAL and not all_open.is_set():
                    result.ended_before_open = True
                if event.sequence != expected:
                    raise AssertionError(f"sequence {event.sequence}, expected {expected}")
                expected += 1
                created = event.create_time.ToNanoseconds() / 1e9
                if created > opened_at:  # created while the stream was open: a live event
                    result.lags.append(max(0.0, now - created))
                if event.type in TERMINAL:
                    ended = True
            finished.append((expected - 1, ended))
        except (grpc.RpcError, AssertionError) as exc:
            result.errors += 1
            if len(result.error_samples) < 3:
                detail = exc.details() if isinstance(exc, grpc.RpcError) else str(exc)
                result.error_samples.append(str(detail))
        finally:
            if first:  # never opened: do not keep the others waiting
                opened += 1
                if opened == streams:
                    all_open.set()

    t0 = time.perf_counter()
    try:
        tasks = [asyncio.create_task(one(i)) for i in range(streams)]
        waiter = asyncio.create_task(all_open.wait())
        await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED, timeout=timeout)
        if all_open.is_set():
            result.open_seconds = time.perf_counter() - t0
            if rss is not None:
                result.rss_open_kib = await asyncio.to_thread(rss)
            # Before the hook: its events may reach the streams before it returns.
            live_from = time.perf_counter()
            if on_all_open is not None:
                await on_all_open()
        else:
            live_from = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout)
        waiter.cancel()
        result.seconds = time.perf_counter() - t0
        result.live_seconds = max(0.0, last_receipt - live_from)
    finally:
        for chan in chans:
            await chan.close()
    result.events_per_run = max((last for last, _ in finished), default=0)
    # A stream without the terminal event, or with fewer events than the others, missed some.
    result.incomplete = sum(1 for last, ended in finished
                            if not ended or last < result.events_per_run)
    return result
