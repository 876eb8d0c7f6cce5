"""The fleet-wide run queue (issue 23), on three real replica processes and one table.

- Every StartResearch goes to replica A; each replica runs two at once. The
  runs spread over all three (each executes at least a quarter of them),
  every run completes, none has more than one RUN_STARTED event, and no
  report is written twice (each agent ran once, each kind saved once).
  Queued runs show their place in the queue and stream "queued" first, then
  "started on <replica>".
- SIGKILL of a replica holding claimed runs: once their leases run out the
  other replicas take them over and each completes.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import pytest

from scout.v1 import research_pb2
from scout_client import AsyncScoutClient, ResourceExhaustedError
from tests.support.server import ROOT, TOKENS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PLAN = ROOT / "examples" / "nordic-meal-kits.md"
TOKEN = TOKENS["alice"]
T = research_pb2
RUN_QUEUED = T.PROGRESS_EVENT_TYPE_RUN_QUEUED
RUN_STARTED = T.PROGRESS_EVENT_TYPE_RUN_STARTED
REPORT_SAVED = T.PROGRESS_EVENT_TYPE_REPORT_SAVED
TERMINAL = {T.PROGRESS_EVENT_TYPE_RUN_COMPLETED, T.PROGRESS_EVENT_TYPE_RUN_FAILED,
            T.PROGRESS_EVENT_TYPE_RUN_CANCELLED}
SLOTS = 2


def replica_env(name: str, delay_ms: str) -> dict[str, str]:
    return {
        "SCOUT_REPLICA_ID": name,
        "SCOUT_OFFLINE_DELAY_MS": delay_ms,
        "SCOUT_MAX_CONCURRENT_RUNS": str(SLOTS),
        "SCOUT_MAX_RUNS_PER_PRINCIPAL": "100",
        "SCOUT_MAX_QUEUED_RUNS": "100",
        "SCOUT_CLAIM_INTERVAL_S": "0.3",
    }


async def new_session(client: AsyncScoutClient) -> str:
    sid = (await client.create_session()).session_id
    await client.upload_file(sid, PLAN.read_bytes(), file_name=PLAN.name)
    return sid


async def wait_all_terminal(client: AsyncScoutClient, runs: list[tuple[str, str]],
                            timeout: float) -> list[research_pb2.Run]:
    deadline = time.monotonic() + timeout
    while True:
        got = [await client.get_run(sid, run_id) for sid, run_id in runs]
        if all(r.state in (T.RUN_STATE_SUCCEEDED, T.RUN_STATE_FAILED, T.RUN_STATE_CANCELLED)
               for r in got):
            return got
        left = collections.Counter(T.RunState.Name(r.state) for r in got)
        assert time.monotonic() < deadline, f"runs not finished: {dict(left)}"
        await asyncio.sleep(0.3)


async def events_of(client: AsyncScoutClient, sid: str, run_id: str) -> list[Any]:
    return [e async for e in client.stream_progress(sid, run_id=run_id)]


def executed_on(events: list[Any]) -> str:
    """The replica named by the run's last RUN_STARTED (where it finished)."""
    return [e for e in events if e.type == RUN_STARTED][-1].attributes["replica"]


def check_run(run: research_pb2.Run, events: list[Any]) -> None:
    assert run.state == T.RUN_STATE_SUCCEEDED, run
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == T.PROGRESS_EVENT_TYPE_RUN_COMPLETED
    assert [e.type for e in events].count(RUN_QUEUED) <= 1
    if events[0].type == RUN_QUEUED:
        assert events[1].type == RUN_STARTED
    saved = collections.Counter(e.agent for e in events if e.type == REPORT_SAVED)
    assert len(saved) == 5 and set(saved.values()) == {1}, saved


def test_runs_sent_to_one_replica_spread_over_three(start_server) -> None:  # type: ignore[no-untyped-def]
    runs_total = 12
    a = start_server(replica_env("a", "120"))
    b = start_server(replica_env("b", "120"))
    c = start_server(replica_env("c", "120"))

    async def scenario() -> None:
        async with AsyncScoutClient(a.address, token=TOKEN) as on_a:
            sids = [await new_session(on_a) for _ in range(runs_total)]
            started = [await on_a.start_research(sid) for sid in sids]
            runs = [(r.session_id, r.run_id) for r in started]
            queued = [r for r in started if r.state == T.RUN_STATE_QUEUED]
            done = await wait_all_terminal(on_a, runs, 180)
            events = [await events_of(on_a, sid, run_id) for sid, run_id in runs]

        assert len(queued) >= runs_total - SLOTS, [T.RunState.Name(r.state) for r in started]
        assert all(r.queue_position >= 1 for r in queued), [r.queue_position for r in queued]
        where = collections.Counter(executed_on(e) for e in events)
        print(f"\n{runs_total} runs sent to a, executed on {dict(where)}")
        for run, run_events in zip(done, events, strict=True):
            check_run(run, run_events)
            assert [e.type for e in run_events].count(RUN_STARTED) == 1
            assert all(agent.invocations == 1 for agent in run.agents), run.agents
        for name in ("a", "b", "c"):
            assert where[name] >= runs_total / 4, where
        queued_ids = {r.run_id for r in queued}
        for run_events in events:
            if run_events[0].run_id in queued_ids:
                assert run_events[0].type == RUN_QUEUED
                assert run_events[1].display_message.startswith(
                    f"Research started on {executed_on(run_events)}:")
        for server in (a, b, c):
            assert "Traceback" not in server.output(), server.output()[-3000:]

    asyncio.run(asyncio.wait_for(scenario(), 220))


def test_sigkill_of_a_replica_holding_claimed_runs(start_server) -> None:  # type: ignore[no-untyped-def]
    a = start_server(replica_env("a", "250"))
    b = start_server(replica_env("b", "250"))
    start_server(replica_env("c", "250"))

    async def scenario() -> None:
        async with AsyncScoutClient(a.address, token=TOKEN) as on_a:
            sids = [await new_session(on_a) for _ in range(3 * SLOTS)]
            started = [await on_a.start_research(sid) for sid in sids]
            runs = [(r.session_id, r.run_id) for r in started]

            deadline = time.monotonic() + 60
            held: list[tuple[str, str]] = []
            while not held:
                assert time.monotonic() < deadline, "b never claimed a run"
                for sid, run_id in runs:
                    events = await first_events(on_a, sid, run_id)
                    started_on = [e.attributes.get("replica") for e in events
                                  if e.type == RUN_STARTED]
                    if started_on == ["b"]:
                        held.append((sid, run_id))
                await asyncio.sleep(0.2)
            b.kill()
            done = await wait_all_terminal(on_a, runs, 180)
            events = {run_id: await events_of(on_a, sid, run_id) for sid, run_id in runs}

        print(f"\nb held {len(held)} run(s) when killed")
        by_id = {r.run_id: r for r in done}
        for _, run_id in held:
            run_events = events[run_id]
            assert by_id[run_id].state == T.RUN_STATE_SUCCEEDED, by_id[run_id]
            assert [e.sequence for e in run_events] == list(range(1, len(run_events) + 1))
            assert run_events[-1].type == T.PROGRESS_EVENT_TYPE_RUN_COMPLETED
            assert executed_on(run_events) in ("a", "c"), run_events
        for run in done:
            assert run.state == T.RUN_STATE_SUCCEEDED, run

    asyncio.run(asyncio.wait_for(scenario(), 220))


async def first_events(client: AsyncScoutClient, sid: str, run_id: str) -> list[Any]:
    """The events a run has stored so far (a stream cut after a short while)."""
    got: list[Any] = []

    async def read() -> None:
        async for event in client.stream_progress(sid, run_id=run_id):
            got.append(event)
            if event.type in TERMINAL:
                return

    try:
        await asyncio.wait_for(read(), 0.5)
    except TimeoutError:
        pass
    return got



def test_queued_runs_show_their_place_cancel_where_they_wait_and_the_queue_has_a_bound(  # type: ignore[no-untyped-def]
    start_server,
) -> None:
    env = {**replica_env("solo", "250"), "SCOUT_MAX_CONCURRENT_RUNS": "1",
           "SCOUT_MAX_QUEUED_RUNS": "3"}
    a = start_server(env)

    async def scenario() -> None:
        async with AsyncScoutClient(a.address, token=TOKEN) as alice, \
                AsyncScoutClient(a.address, token=TOKENS["bob"]) as bob:
            mine = [await new_session(alice) for _ in range(3)]
            running, second, third = [await alice.start_research(sid) for sid in mine]
            late = await bob.start_research(await new_session(bob))
            assert running.state == T.RUN_STATE_RUNNING
            assert [r.state for r in (second, third, late)] == [T.RUN_STATE_QUEUED] * 3
            # bob came last but takes his turn before alice's second waiting run.
            places = {name: (await client.get_run(r.session_id, r.run_id)).queue_position
                      for name, client, r in (("second", alice, second),
                                              ("third", alice, third), ("late", bob, late))}
            assert places == {"second": 1, "late": 2, "third": 3}, places
            with pytest.raises(ResourceExhaustedError) as full:
                await bob.start_research(await new_session(bob))
            assert full.value.reason == "RUN_QUEUE_FULL"
            assert full.value.metadata["queue_depth"] == "3", full.value.metadata

            cancelled = await alice.cancel_run(third.session_id, third.run_id)
            assert cancelled.state == T.RUN_STATE_CANCELLED
            events = await events_of(alice, third.session_id, third.run_id)
            assert [e.type for e in events] == [RUN_QUEUED, T.PROGRESS_EVENT_TYPE_RUN_CANCELLED]
            assert events[0].attributes["queue_position"] == "2"  # then: behind second only
            assert (await bob.get_run(late.session_id, late.run_id)).queue_position == 2
            for client, r in ((alice, running), (alice, second), (bob, late)):
                await client.cancel_run(r.session_id, r.run_id)

    asyncio.run(asyncio.wait_for(scenario(), 120))
