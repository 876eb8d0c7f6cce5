"""Several replicas on one DynamoDB table (issue 6): progress crosses replicas.

- A run started through replica A and followed live through replica B (which
  does not execute it) delivers exactly the events A's own streams deliver:
  same sequences, types, agents, messages, tool names, attributes and
  timestamps; heartbeats aside.
- 200 streams on one run through B all get the identical full list, while B
  reads the store about once per poll interval for all of them together
  (``scout_progress_store_reads``), not once per stream, and its
  ``scout_progress_streams`` gauge shows the 200 open streams.

Streams are single raw StreamProgress calls (no client-side resume or
de-duplication), so whatever a replica sends twice or out of order shows.
Both replicas are real ``scout-service serve`` processes (tests/support/server.py);
the offline model is slowed so a run lasts several seconds.
"""

from __future__ import annotations

import asyncio
import collections
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from scout.v1 import research_pb2, research_pb2_grpc
from scout_client import AsyncScoutClient
from tests.support.server import ROOT, TOKENS, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PLAN = ROOT / "examples" / "nordic-meal-kits.md"
TOKEN = TOKENS["alice"]
# ms per streamed chunk of the offline model: with the example plan a run is
# ~12 chunks of specialists then ~17 of synthesis, i.e. ~6-8 s here.
DELAY_MS = "220"
# Longer for the 200 streams: they must all be open while the run still goes.
MANY_DELAY_MS = "300"
POLL_MS = 100  # tests/support/server.py's SCOUT_PROGRESS_POLL_MS default
STREAMS = 200
CHANNELS = 4
STREAMS_TIMEOUT_S = 90
STREAM_DEADLINE_S = 120.0

RUN_STARTED = research_pb2.PROGRESS_EVENT_TYPE_RUN_STARTED
TERMINAL = {research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED,
            research_pb2.PROGRESS_EVENT_TYPE_RUN_FAILED,
            research_pb2.PROGRESS_EVENT_TYPE_RUN_CANCELLED}


def key(e: research_pb2.ProgressEvent) -> tuple[Any, ...]:
    """What two replicas must agree on for one event."""
    return (e.run_id, e.sequence, e.type, e.agent, e.display_message, e.tool_name,
            tuple(sorted(e.attributes.items())), e.create_time.ToNanoseconds())


def scrape(server: ServerProcess) -> dict[str, float]:
    """The replica's Prometheus samples: name{labels} → value."""
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            samples[s.name + (f"{{{labels}}}" if labels else "")] = s.value
    return samples


def gauge(samples: dict[str, float], name: str) -> float:
    assert name in samples, f"metric {name} is not exported; got {sorted(samples)[:40]}"
    return samples[name]


async def new_run(client: AsyncScoutClient) -> tuple[str, str]:
    session = await client.create_session()
    await client.upload_file(session.session_id, PLAN.read_bytes(), file_name=PLAN.name)
    run = await client.start_research(session.session_id)
    return session.session_id, run.run_id


async def follow(client: AsyncScoutClient, sid: str, run_id: str,
                 on_event: Callable[[research_pb2.ProgressEvent], None] | None = None
                 ) -> list[research_pb2.ProgressEvent]:
    """A run's events through the client (resumes, drops repeats and heartbeats)."""
    events = []
    async for event in client.stream_progress(sid, run_id=run_id, max_reconnects=20):
        events.append(event)
        if on_event is not None:
            on_event(event)
    return events


async def follow_raw(channel: grpc.aio.Channel, sid: str, run_id: str,
                     on_event: Callable[[research_pb2.ProgressEvent], None] | None = None
                     ) -> list[research_pb2.ProgressEvent]:
    """One StreamProgress call, as sent: no resume, no de-duplication; heartbeats dropped."""
    stub = research_pb2_grpc.ResearchServiceStub(channel)  # type: ignore[no-untyped-call]
    call = stub.StreamProgress(
        research_pb2.StreamProgressRequest(session_id=sid, run_id=run_id),
        metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=STREAM_DEADLINE_S,
    )
    events = []
    async for response in call:
        if response.event.type == research_pb2.PROGRESS_EVENT_TYPE_HEARTBEAT:
            continue
        events.append(response.event)
        if on_event is not None:
            on_event(response.event)
    return events


def check_complete(events: list[research_pb2.ProgressEvent]) -> None:
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED, events[-1]
    assert events[0].type == RUN_STARTED
    # Nobody took the run over from A: exactly one RUN_STARTED, not a resumed one.
    assert [e.type for e in events].count(RUN_STARTED) == 1
    assert "resumed" not in events[0].attributes


def test_run_followed_through_another_replica_matches_its_owner(start_server) -> None:  # type: ignore[no-untyped-def]
    a = start_server({"SCOUT_OFFLINE_DELAY_MS": DELAY_MS})
    b = start_server({"SCOUT_OFFLINE_DELAY_MS": DELAY_MS})

    async def scenario() -> None:
        async with AsyncScoutClient(a.address, token=TOKEN) as via_a, \
                AsyncScoutClient(b.address, token=TOKEN) as via_b, \
                grpc.aio.insecure_channel(a.address) as chan_a, \
                grpc.aio.insecure_channel(b.address) as chan_b:
            sid, run_id = await new_run(via_a)
            arrivals: dict[str, list[float]] = {"a": [], "b": []}
            started = time.monotonic()
            events_a, events_b = await asyncio.gather(
                follow_raw(chan_a, sid, run_id, lambda e: arrivals["a"].append(time.monotonic())),
                follow_raw(chan_b, sid, run_id, lambda e: arrivals["b"].append(time.monotonic())),
            )
            replay_b = await follow_raw(chan_b, sid, run_id)  # after the end: from the store
            client_b = await follow(via_b, sid, run_id)
            run = await via_b.get_run(sid, run_id)

        check_complete(events_a)
        assert [key(e) for e in events_b] == [key(e) for e in events_a]
        assert [key(e) for e in replay_b] == [key(e) for e in events_a]
        assert [key(e) for e in client_b] == [key(e) for e in events_a]
        assert run.state == research_pb2.RUN_STATE_SUCCEEDED
        assert run.last_sequence == events_a[-1].sequence
        # B followed the run live, not as a replay after it ended.
        assert arrivals["b"][0] < arrivals["a"][-1], "B's stream only started after the run"
        lag = arrivals["b"][-1] - arrivals["a"][-1]
        print(f"\n{len(events_a)} events in {arrivals['a'][-1] - started:.1f} s; "
              f"B received the terminal event {lag * 1000:.0f} ms after A")

    asyncio.run(asyncio.wait_for(scenario(), 150))
    # B's reads (session, run, its followers' queries) took the lean path, none fell back.
    samples = scrape(b)
    assert gauge(samples, 'scout_store_lean_reads{outcome="answered"}') > 10
    assert gauge(samples, 'scout_store_lean_reads{outcome="declined"}') == 0


def test_many_streams_through_one_replica_share_one_store_reader(start_server) -> None:  # type: ignore[no-untyped-def]
    a = start_server({"SCOUT_OFFLINE_DELAY_MS": MANY_DELAY_MS})
    b = start_server({"SCOUT_OFFLINE_DELAY_MS": MANY_DELAY_MS})

    async def scenario() -> None:
        channels = [grpc.aio.insecure_channel(b.address) for _ in range(CHANNELS)]
        streams: list[asyncio.Task[list[research_pb2.ProgressEvent]]] = []
        try:
            await asyncio.wait_for(asyncio.gather(*(c.channel_ready() for c in channels)), 30)
            async with AsyncScoutClient(a.address, token=TOKEN) as via_a:
                sid, run_id = await new_run(via_a)
                before = await asyncio.to_thread(scrape, b)
                reads_before = gauge(before, "scout_progress_store_reads")
                first_terminal: list[float] = []
                got: list[list[int]] = [[] for _ in range(STREAMS)]

                def on_event(i: int) -> Callable[[research_pb2.ProgressEvent], None]:
                    def record(e: research_pb2.ProgressEvent) -> None:
                        got[i].append(e.sequence)
                        if e.type in TERMINAL and not first_terminal:
                            first_terminal.append(time.monotonic())
                    return record

                started = time.monotonic()
                streams[:] = [
                    asyncio.create_task(
                        follow_raw(channels[i % CHANNELS], sid, run_id, on_event(i)))
                    for i in range(STREAMS)
                ]
                peak, peak_at = 0.0, None
                while not all(t.done() for t in streams):
                    samples = await asyncio.to_thread(scrape, b)
                    open_now = gauge(samples, "scout_progress_streams")
                    if open_now > peak:
                        peak = open_now
                    if peak_at is None and open_now >= STREAMS:
                        peak_at = time.monotonic()
                    if time.monotonic() - started > STREAMS_TIMEOUT_S:
                        run = await via_a.get_run(sid, run_id)
                        stuck = collections.Counter(
                            len(g) for g, t in zip(got, streams, strict=True) if not t.done())
                        pytest.fail(
                            f"{sum(not t.done() for t in streams)} of {STREAMS} streams "
                            f"unfinished after {STREAMS_TIMEOUT_S} s (events received → "
                            f"streams: {dict(stuck)}); the run is "
                            f"{research_pb2.RunState.Name(run.state)} with last_sequence "
                            f"{run.last_sequence}; B reports {open_now:.0f} open streams and "
                            f"{gauge(samples, 'scout_progress_store_reads'):.0f} store reads")
                    await asyncio.wait(streams, timeout=0.2)
                ended = time.monotonic()
                results = [t.result() for t in streams]  # raises a stream's error, if any
                after = await asyncio.to_thread(scrape, b)
                reads = gauge(after, "scout_progress_store_reads") - reads_before
                for _ in range(100):  # the server releases a stream just after its end
                    if gauge(after, "scout_progress_streams") == 0:
                        break
                    await asyncio.sleep(0.1)
                    after = await asyncio.to_thread(scrape, b)
                full = await follow(via_a, sid, run_id)  # through the client, from A
        finally:
            for task in streams:
                task.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
            await asyncio.gather(*(c.close() for c in channels))

        check_complete(full)
        expected = [key(e) for e in full]
        differing = [i for i, r in enumerate(results) if [key(e) for e in r] != expected]
        assert not differing, f"{len(differing)} streams differ, e.g. #{differing[0]}"
        assert peak >= STREAMS, f"scout_progress_streams peaked at {peak}"
        assert peak_at is not None and first_terminal and peak_at < first_terminal[0], (
            "the streams were not all open while the run was still going")
        duration = ended - started
        polls = duration / (POLL_MS / 1000)
        bound = polls * 1.5 + 10
        print(f"\n{STREAMS} streams × {len(full)} events over {CHANNELS} channels in "
              f"{duration:.1f} s; B read the store {reads:.0f} times (bound {bound:.0f}; "
              f"a reader per stream would make ~{STREAMS * polls:.0f})")
        assert 1 <= reads <= bound
        assert gauge(after, "scout_progress_streams") == 0, "streams still counted as open"

    asyncio.run(asyncio.wait_for(scenario(), 150))
