"""Runs survive their replica (issues 4 and 5), on real server processes.

- SIGTERM mid-run: the replica hands the run back and ends its streams with
  UNAVAILABLE; a new replica on the same table finishes it, and a stream
  that followed through a TCP proxy (retargeted to the new replica) resumes
  after its last sequence: events 1..N, none lost, none sent twice.
- SIGKILL mid-run: once the lease runs out, a new replica resumes the run
  and re-runs only the specialists whose report was not saved; saved
  reports are left as they were (same run_id, sha256, update time).
- StartResearch while a run is in progress: FAILED_PRECONDITION on every
  replica, unless it is a retry with the first call's request_id.
- CancelRun mid-run, through the executing replica or another one: the run
  is CANCELLED within seconds, reports saved before stay, the stream ends
  with RUN_CANCELLED.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
import pytest

from scout.v1 import research_pb2, research_pb2_grpc, types_pb2
from scout_client import AsyncScoutClient, FailedPreconditionError
from scout_service.store import DynamoStore
from tests.support.faulty_proxy import DROP, FaultyProxy
from tests.support.proxy import TcpProxy
from tests.support.server import ROOT, TOKENS, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PLAN = ROOT / "examples" / "nordic-meal-kits.md"
TOKEN = TOKENS["alice"]
# ms per streamed chunk of the offline model. With the example plan the
# specialists stream 8-11 chunks (competition, market, then price and legal)
# plus a one-chunk closing turn each, the synthesis ~17: a run takes ~7 s.
DELAY_MS = "250"
# Replicas that only finish what others started can go faster.
FAST_DELAY_MS = "40"
# Reconnect fast once the proxy points at a live replica again.
FAST_RECONNECT = [("grpc.initial_reconnect_backoff_ms", 100),
                  ("grpc.min_reconnect_backoff_ms", 100),
                  ("grpc.max_reconnect_backoff_ms", 500)]

T = research_pb2
REPORT_SAVED = T.PROGRESS_EVENT_TYPE_REPORT_SAVED
RUN_STARTED = T.PROGRESS_EVENT_TYPE_RUN_STARTED
AGENT_STARTED = T.PROGRESS_EVENT_TYPE_AGENT_STARTED
HEARTBEAT = T.PROGRESS_EVENT_TYPE_HEARTBEAT
TERMINAL = {T.PROGRESS_EVENT_TYPE_RUN_COMPLETED, T.PROGRESS_EVENT_TYPE_RUN_FAILED,
            T.PROGRESS_EVENT_TYPE_RUN_CANCELLED}
NAMES: dict[int, str] = {types_pb2.REPORT_KIND_MARKET: "market_report",
         types_pb2.REPORT_KIND_COMPETITION: "competition_report",
         types_pb2.REPORT_KIND_PRICE: "price_report",
         types_pb2.REPORT_KIND_LEGAL: "legal_report",
         types_pb2.REPORT_KIND_FINAL: "final_report"}
SPECIALISTS = {n for n in NAMES.values() if n != "final_report"}

Event = research_pb2.ProgressEvent


def key(e: Event) -> tuple[Any, ...]:
    return (e.run_id, e.sequence, e.type, e.agent, e.display_message, e.tool_name,
            tuple(sorted(e.attributes.items())), e.create_time.ToNanoseconds())


def sequences_ok(events: list[Event]) -> None:
    assert [e.sequence for e in events] == list(range(1, len(events) + 1)), (
        [e.sequence for e in events])


def resumed_starts(events: list[Event]) -> list[Event]:
    return [e for e in events if e.type == RUN_STARTED and e.attributes.get("resumed") == "true"]


async def new_session(client: AsyncScoutClient) -> str:
    sid = (await client.create_session()).session_id
    await client.upload_file(sid, PLAN.read_bytes(), file_name=PLAN.name)
    return sid


async def follow(client: AsyncScoutClient, sid: str, run_id: str,
                 on_event: Callable[[Event], None] | None = None, **kwargs: Any) -> list[Event]:
    events = []
    async for event in client.stream_progress(sid, run_id=run_id, **kwargs):
        events.append(event)
        if on_event is not None:
            on_event(event)
    return events


class SavedWatch:
    """Collects a stream's events; ``reached`` is set after ``count`` REPORT_SAVED."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.events: list[Event] = []
        self.reached = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if sum(e.type == REPORT_SAVED for e in self.events) >= self.count:
            self.reached.set()

    def saved(self) -> set[str]:
        return {NAMES[e.agent] for e in self.events if e.type == REPORT_SAVED}


async def wait_terminal(client: AsyncScoutClient, sid: str, run_id: str,
                        timeout: float) -> research_pb2.Run:
    deadline = time.monotonic() + timeout
    while True:
        run = await client.get_run(sid, run_id)
        if run.state in (T.RUN_STATE_SUCCEEDED, T.RUN_STATE_FAILED, T.RUN_STATE_CANCELLED):
            return run
        assert time.monotonic() < deadline, f"run still {T.RunState.Name(run.state)}"
        await asyncio.sleep(0.1)


class RawFollower:
    """Follows a run with a resume loop of its own and no de-duplication.

    Records every event exactly as the servers sent it, so a replica that
    replays from the wrong place shows up as a repeat, and every status a
    connection ended with.
    """

    def __init__(self, address: str, sid: str, run_id: str) -> None:
        self.address, self.sid, self.run_id = address, sid, run_id
        self.events: list[Event] = []
        self.errors: list[tuple[grpc.StatusCode, str]] = []

    async def run(self) -> None:
        metadata = (("authorization", f"Bearer {TOKEN}"),)
        async with grpc.aio.insecure_channel(self.address, options=FAST_RECONNECT) as channel:
            stub = research_pb2_grpc.ResearchServiceStub(channel)  # type: ignore[no-untyped-call]
            while True:
                after = self.events[-1].sequence if self.events else 0
                call = stub.StreamProgress(research_pb2.StreamProgressRequest(
                    session_id=self.sid, run_id=self.run_id, after_sequence=after),
                    metadata=metadata)
                try:
                    async for response in call:
                        if response.event.type == HEARTBEAT:
                            continue
                        self.events.append(response.event)
                        if response.event.type in TERMINAL:
                            return
                    self.errors.append((grpc.StatusCode.OK, "ended before the terminal event"))
                except grpc.aio.AioRpcError as error:
                    self.errors.append((error.code(), error.details() or ""))
                await asyncio.sleep(0.1)


async def durable_state(server: ServerProcess, sid: str, run_id: str
                        ) -> tuple[dict[str, Any], dict[str, str]]:
    """What the table holds right now (read directly, not through a replica).

    The reports ``run_id`` wrote, by name, and the stored state of each agent.
    """
    store = DynamoStore.from_config(
        table_name=server.env["DYNAMODB_TABLE_NAME"], region=server.env["DYNAMODB_REGION"],
        endpoint_url=server.env["DYNAMODB_ENDPOINT_URL"], aws_access_key_id="testing",
        aws_secret_access_key="testing", max_workers=2,
    )
    try:
        page = await store.list_reports(sid, page_size=100)
        run = await store.get_run(sid, run_id)
        return ({r.kind.value: r for r in page.items if r.run_id == run_id},
                {a.kind.value: a.state.value for a in run.agents})
    finally:
        await store.close()


def test_sigterm_mid_run_resumes_on_a_new_replica_and_the_stream_follows(start_server) -> None:  # type: ignore[no-untyped-def]
    a = start_server({"SCOUT_OFFLINE_DELAY_MS": DELAY_MS})
    proxy = TcpProxy(a.port)

    async def scenario() -> None:
        async with AsyncScoutClient(a.address, token=TOKEN) as on_a:
            sid = await new_session(on_a)
            run_id = (await on_a.start_research(sid)).run_id
        watch = SavedWatch(2)
        raw = RawFollower(proxy.address, sid, run_id)
        async with AsyncScoutClient(proxy.address, token=TOKEN, options=FAST_RECONNECT) as via:
            client_task = asyncio.create_task(
                follow(via, sid, run_id, watch, max_reconnects=500, max_backoff=0.5))
            raw_task = asyncio.create_task(raw.run())
            await asyncio.wait_for(watch.reached.wait(), 60)
            at_sigterm = len(watch.events)
            raw_at_sigterm = len(raw.events)
            exit_code = await asyncio.to_thread(a.stop)
            c = await asyncio.to_thread(start_server, {"SCOUT_OFFLINE_DELAY_MS": FAST_DELAY_MS})
            proxy.retarget(c.port)
            events = await asyncio.wait_for(client_task, 120)
            await asyncio.wait_for(raw_task, 60)
        async with AsyncScoutClient(c.address, token=TOKEN) as on_c:
            run = await wait_terminal(on_c, sid, run_id, 30)
            full = await follow(on_c, sid, run_id)
            final = await on_c.get_report(sid, "final")

        assert exit_code == 0, a.output()[-3000:]
        assert all(e.type not in TERMINAL for e in events[:at_sigterm]), "SIGTERM came too late"
        assert run.state == T.RUN_STATE_SUCCEEDED, run
        sequences_ok(full)
        assert full[-1].type == T.PROGRESS_EVENT_TYPE_RUN_COMPLETED
        assert run.last_sequence == full[-1].sequence
        # The client's stream: everything exactly once, in order, to RUN_COMPLETED.
        assert [key(e) for e in events] == [key(e) for e in full]
        # The servers themselves sent nothing twice: the resumed stream started
        # right after the last sequence delivered before the SIGTERM.
        assert [key(e) for e in raw.events] == [key(e) for e in full]
        assert raw.errors and raw.errors[0][0] == grpc.StatusCode.UNAVAILABLE, raw.errors[:3]
        assert raw_at_sigterm < len(raw.events)
        # The new replica resumed the run (A stopped its agents and handed it back).
        resumed = resumed_starts(full)
        assert len(resumed) == 1 and resumed[0].sequence > events[at_sigterm - 1].sequence
        assert final.run_id == run_id and final.content
        print(f"\nSIGTERM after {at_sigterm} of {len(full)} events; "
              f"raw stream ended with {[c.name for c, _ in raw.errors[:3]]}…")

    try:
        asyncio.run(asyncio.wait_for(scenario(), 170))
    finally:
        proxy.close()


def test_sigkill_mid_run_resumes_without_rerunning_saved_specialists(start_server) -> None:  # type: ignore[no-untyped-def]
    a = start_server({"SCOUT_OFFLINE_DELAY_MS": DELAY_MS})

    async def scenario() -> None:
        watch = SavedWatch(2)
        async with AsyncScoutClient(a.address, token=TOKEN) as on_a:
            sid = await new_session(on_a)
            run_id = (await on_a.start_research(sid)).run_id
            follower = asyncio.create_task(follow(on_a, sid, run_id, watch))
            await asyncio.wait_for(watch.reached.wait(), 60)
            a.kill()
            killed_at = time.monotonic()
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        # Exactly what was stored when the process died.
        before, agents_at_kill = await durable_state(a, sid, run_id)
        saved = {name for name in before if name in SPECIALISTS}
        assert watch.saved() <= saved
        b = await asyncio.to_thread(start_server, {"SCOUT_OFFLINE_DELAY_MS": FAST_DELAY_MS})
        async with AsyncScoutClient(b.address, token=TOKEN) as on_b:
            run = await wait_terminal(on_b, sid, run_id, 90)
            finished_after = time.monotonic() - killed_at
            events = await follow(on_b, sid, run_id)
            after = {name: await on_b.get_report(sid, name) for name in before}
            final = await on_b.get_report(sid, "final")

        assert len(saved) >= 2, before
        assert "final_report" not in before, "the kill came too late"
        assert run.state == T.RUN_STATE_SUCCEEDED, run
        sequences_ok(events)
        assert events[-1].type == T.PROGRESS_EVENT_TYPE_RUN_COMPLETED
        assert len(resumed_starts(events)) == 1
        invocations = {NAMES[agent.kind]: agent.invocations for agent in run.agents}
        starts = {name: sum(e.type == AGENT_STARTED and NAMES.get(e.agent) == name
                            for e in events) for name in NAMES.values()}
        for name in SPECIALISTS:
            if name in saved:  # saved before the kill: not run again
                assert invocations[name] == 1, (
                    f"{name} was run again although its report was saved before the kill "
                    f"(its stored agent state then: {agents_at_kill[name]}); "
                    f"invocations {invocations}")
                assert starts[name] == 1, (name, starts)
                was, now = before[name], after[name]
                assert (now.run_id, now.sha256) == (run_id, was.sha256), name
                assert abs(now.update_time.ToNanoseconds() / 1e9 - was.updated_at) < 0.002, (
                    f"{name} was written again after the kill")
            else:  # started on A, started again on B
                assert invocations[name] == 2, (name, invocations)
        assert invocations["final_report"] >= 1
        assert final.run_id == run_id and final.content
        print(f"\nkilled with {sorted(saved)} saved (stored agent states then: "
              f"{ {n: agents_at_kill[n] for n in sorted(saved)} }); resumed run finished "
              f"{finished_after:.1f} s after the kill; invocations {invocations}")

    asyncio.run(asyncio.wait_for(scenario(), 170))


def test_start_research_while_a_run_is_in_progress(start_server) -> None:  # type: ignore[no-untyped-def]
    a = start_server({"SCOUT_OFFLINE_DELAY_MS": DELAY_MS})
    b = start_server({"SCOUT_OFFLINE_DELAY_MS": DELAY_MS})

    async def scenario() -> None:
        async with AsyncScoutClient(a.address, token=TOKEN) as on_a, \
                AsyncScoutClient(b.address, token=TOKEN) as on_b:
            sid = await new_session(on_a)
            first = await on_a.start_research(sid, request_id="e2e-busy-1")
            for client in (on_a, on_b):  # the replica executing it, and another one
                with pytest.raises(FailedPreconditionError) as busy:
                    await client.start_research(sid, request_id="e2e-busy-2")
                assert busy.value.reason == "RUN_IN_PROGRESS", busy.value
                with pytest.raises(FailedPreconditionError):
                    await client.start_research(sid)  # a fresh request_id
                again = await client.start_research(sid, request_id="e2e-busy-1")
                assert again.run_id == first.run_id
            during = await on_b.get_run(sid, first.run_id)
            assert during.state in (T.RUN_STATE_QUEUED, T.RUN_STATE_RUNNING), (
                "the run ended before the checks were done")
            assert [r.run_id for r in (await on_a.list_runs(sid)).runs] == [first.run_id]
            await on_a.cancel_run(sid, first.run_id)
            await wait_terminal(on_a, sid, first.run_id, 10)
            # Once it ended, the session takes a new run again.
            second = await on_b.start_research(sid, request_id="e2e-busy-3")
            assert second.run_id != first.run_id
            await on_b.cancel_run(sid, second.run_id)

    asyncio.run(asyncio.wait_for(scenario(), 120))


@pytest.mark.parametrize("through", ["owner", "other-replica"])
def test_cancel_mid_run(start_server, through: str) -> None:  # type: ignore[no-untyped-def]
    a = start_server({"SCOUT_OFFLINE_DELAY_MS": DELAY_MS})
    other = start_server({"SCOUT_OFFLINE_DELAY_MS": DELAY_MS}) if through != "owner" else a
    # Another replica records the request; the owner obeys at its next lease
    # renewal (every SCOUT_LEASE_SECONDS / 3 = 1 s in these tests).
    limit = 2.0 if through == "owner" else 3.0

    async def scenario() -> None:
        watch = SavedWatch(1)
        async with AsyncScoutClient(a.address, token=TOKEN) as on_a, \
                AsyncScoutClient(other.address, token=TOKEN) as canceller:
            sid = await new_session(on_a)
            run_id = (await on_a.start_research(sid)).run_id
            follower = asyncio.create_task(follow(on_a, sid, run_id, watch))
            await asyncio.wait_for(watch.reached.wait(), 60)
            kept = {r.name: r for r in (await canceller.list_reports(sid)).reports}
            started = time.monotonic()
            await canceller.cancel_run(sid, run_id)
            while (run := await canceller.get_run(sid, run_id)).state != T.RUN_STATE_CANCELLED:
                assert run.state == T.RUN_STATE_RUNNING, run
                assert time.monotonic() - started < limit + 10, "not cancelled"
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            events = await asyncio.wait_for(follower, 30)
            reports = {r.name: r for r in (await on_a.list_reports(sid)).reports}

        print(f"\ncancelled through {through} in {elapsed:.2f} s, "
              f"{len(kept)} report(s) saved before")
        assert elapsed <= limit, f"CANCELLED after {elapsed:.2f} s"
        assert kept, "no report was saved before the cancel"
        for name, report in kept.items():  # intact: the very same version
            assert reports[name].sha256 == report.sha256
            assert reports[name].update_time == report.update_time
            assert reports[name].run_id == run_id
        assert "final_report" not in reports
        states = {NAMES[agent.kind]: agent.state for agent in run.agents}
        for name, state in states.items():
            if name in kept:
                assert state == T.AGENT_STATE_SUCCEEDED, (name, states)
            else:
                assert state in (T.AGENT_STATE_CANCELLED, T.AGENT_STATE_SUCCEEDED), (name, states)
        assert states["final_report"] == T.AGENT_STATE_CANCELLED
        sequences_ok(events)
        assert events[-1].type == T.PROGRESS_EVENT_TYPE_RUN_CANCELLED
        assert run.last_sequence == events[-1].sequence

    asyncio.run(asyncio.wait_for(scenario(), 120))


def test_sigkill_between_a_runs_end_and_its_last_event_still_ends_every_stream(  # type: ignore[no-untyped-def]
    start_server, dynamodb_endpoint: str,
) -> None:
    """The replica stores SUCCEEDED, loses the store before RUN_COMPLETED, and is killed.

    Nothing resumes a run that has ended, so only a reader can store its last
    event: a stream opened on another replica gets RUN_COMPLETED once the
    dead replica's lease has run out, and ends.
    """
    table = f"scout-e2e-{uuid.uuid4().hex[:10]}"
    cut = threading.Event()

    def cut_before_last_event(operation: str, body: bytes) -> tuple[str | None, float] | None:
        if operation == "PutItem" and b'"RUN_COMPLETED"' in body:
            cut.set()
        return (DROP, 0.0) if cut.is_set() else None

    with FaultyProxy(dynamodb_endpoint, seed=0, fault_rate=0.0, outage_rate=0.0) as proxy:
        proxy.rule = cut_before_last_event
        a = ServerProcess(proxy.url, table, {"SCOUT_OFFLINE_DELAY_MS": "1",
                                             "SCOUT_LEASE_SECONDS": "3"}).start()
        try:
            async def start_and_cut() -> tuple[str, str]:
                async with AsyncScoutClient(a.address, token=TOKEN) as on_a:
                    sid = await new_session(on_a)
                    run_id = (await on_a.start_research(sid)).run_id
                    assert await asyncio.to_thread(cut.wait, 60), "the run never ended"
                    return sid, run_id

            sid, run_id = asyncio.run(asyncio.wait_for(start_and_cut(), 90))
            a.kill()
        finally:
            a.kill()
    b = start_server({"SCOUT_HEARTBEAT_INTERVAL_S": "0.5"}, table_name=table)

    async def stream_to_the_end() -> tuple[research_pb2.Run, list[Event]]:
        async with AsyncScoutClient(b.address, token=TOKEN) as on_b:
            run = await on_b.get_run(sid, run_id)
            assert run.state == T.RUN_STATE_SUCCEEDED, run  # stored before the cut
            return run, await follow(on_b, sid, run_id)

    run, events = asyncio.run(asyncio.wait_for(stream_to_the_end(), 60))
    sequences_ok(events)
    assert events[-1].type == T.PROGRESS_EVENT_TYPE_RUN_COMPLETED
    assert events[-1].sequence == len(events)
    assert events[-1].display_message.startswith("Research completed"), events[-1]
    assert [e.type for e in events].count(T.PROGRESS_EVENT_TYPE_RUN_COMPLETED) == 1
    assert "stored the last event" in b.output()
