"""The store goes away mid-run and comes back: the run ends, health tells the truth.

A replica runs on a DynamoDB endpoint of this module's own (an
``EmbeddedDynamo``, so that freezing it hurts no other test). While a research
run is executing, the endpoint is frozen with SIGSTOP — connections hang
instead of being refused, the harder case — and thawed with SIGCONT after a
bounded while. Freezing rather than killing keeps moto's in-memory state (moto
has no persistence: a killed and restarted moto would come back without the
table and everything in it). Then:

- the run reaches a terminal state (failed, or resumed and finished), never
  stays hung, and its progress events still read 1..n with one terminal event;
- health went NOT_SERVING during the outage (the server probes its store
  every 5 s) and is SERVING again after it;
- calls made during the outage end within their deadline with a code a
  caller can act on, and work again afterwards.

The outage is observed once (module fixture); the tests check its record.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from grpc_health.v1 import health_pb2

from scout.v1 import research_pb2, session_pb2
from scout_service.store import EmbeddedDynamo
from tests.trust._api import PLAN, TERMINAL_RUN_STATES, Api, C, outcome
from tests.trust.conftest import deploy, shut

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# How long the store stays frozen at most: the 5 s probe interval plus a probe
# that gives up on a hung store within a few seconds, with room to spare.
MAX_FREEZE_S = 20.0
RECOVERY_S = 90.0


@dataclass
class Record:
    """What was seen around the outage."""

    health_during: list[int | str] = field(default_factory=list)
    not_serving_after_s: float | None = None
    serving_again_after_s: float | None = None
    calls_during: list[tuple[str, Any, float]] = field(default_factory=list)
    run_before: int = 0
    run_final: Any = None
    run_final_after_s: float | None = None
    events: list[Any] = field(default_factory=list)
    calls_after: list[Any] = field(default_factory=list)


def _status_name(status: int | str) -> str:
    if isinstance(status, str):
        return status
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(status))


def _health(api: Api) -> int | str:
    got = outcome(lambda: api.health_status(timeout=2))
    return int(got.value) if got.ok else got.code.name


def _probe_calls(api: Api, sid: str, record: Record, stop: threading.Event) -> None:
    """Ordinary calls while the store is frozen: each must end within its deadline."""
    while not stop.is_set():
        started = time.monotonic()
        got = outcome(lambda: api.call("GetSession", session_pb2.GetSessionRequest(
            session_id=sid), timeout=4))
        record.calls_during.append(("GetSession", got.code, time.monotonic() - started))
        stop.wait(1.0)


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Record]:
    record = Record()
    store = EmbeddedDynamo().start()
    # EmbeddedDynamo keeps its child process private; its pid is what we signal.
    moto_pid = store._process.pid  # type: ignore[union-attr]
    deployment = deploy(store.endpoint_url, {"SCOUT_OFFLINE_DELAY_MS": "80"}, "outage")
    alice = Api(deployment.address, "alice")
    frozen = False
    try:
        sid = alice.create_session()
        alice.upload(sid, "plan.md", PLAN)
        run_id = alice.start_research(sid).run_id
        deadline = time.monotonic() + 20
        while alice.get_run(sid, run_id).state != research_pb2.RUN_STATE_RUNNING:
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.1)
        time.sleep(0.5)  # agents at work, writing progress and reports
        record.run_before = alice.get_run(sid, run_id).state
        assert _health(alice) == SERVING

        os.kill(moto_pid, signal.SIGSTOP)
        frozen = True
        frozen_at = time.monotonic()
        stop = threading.Event()
        prober = threading.Thread(target=_probe_calls, args=(alice, sid, record, stop),
                                  daemon=True)
        prober.start()
        while time.monotonic() - frozen_at < MAX_FREEZE_S:
            status = _health(alice)
            record.health_during.append(status)
            if status == NOT_SERVING and record.not_serving_after_s is None:
                record.not_serving_after_s = time.monotonic() - frozen_at
                # Seen; keep it frozen a little longer so the run meets a dead store too.
                time.sleep(2.0)
                break
            time.sleep(0.5)
        stop.set()
        prober.join(timeout=10)

        os.kill(moto_pid, signal.SIGCONT)
        frozen = False
        thawed_at = time.monotonic()
        while time.monotonic() - thawed_at < RECOVERY_S:
            if record.serving_again_after_s is None and _health(alice) == SERVING:
                record.serving_again_after_s = time.monotonic() - thawed_at
            got = outcome(partial(alice.get_run, sid, run_id, timeout=5))
            if got.ok and got.value.state in TERMINAL_RUN_STATES:
                record.run_final = got.value
                record.run_final_after_s = time.monotonic() - thawed_at
                if record.serving_again_after_s is not None:
                    break
            time.sleep(0.5)
        if record.run_final is not None:
            stream = outcome(lambda: alice.call("StreamProgress",
                                                research_pb2.StreamProgressRequest(
                                                    session_id=sid, run_id=run_id), timeout=30))
            record.events = [m.event for m in stream.value] if stream.ok else [stream]
        record.calls_after = [
            outcome(lambda: alice.call("GetSession", session_pb2.GetSessionRequest(
                session_id=sid))).code,
            outcome(lambda: alice.create_session()).code,
        ]
        yield record
    finally:
        if frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(moto_pid, signal.SIGCONT)
        alice.close()
        shut(deployment)
        store.stop()


def test_the_run_ends_after_the_outage(outage: Record, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    final = outage.run_final
    def secs(value: float | None) -> str:
        return "never" if value is None else f"{value:.1f}s"

    with capsys.disabled():
        calls = Counter(f"{name}:{code.name}" for name, code, _ in outage.calls_during)
        longest = max((took for _, _, took in outage.calls_during), default=0.0)
        print(f"\n--- store outage (frozen up to {MAX_FREEZE_S:.0f}s) ---\n"
              f"health while frozen: {sorted(set(map(_status_name, outage.health_during)))}; "
              f"NOT_SERVING after {secs(outage.not_serving_after_s)}; SERVING "
              f"{secs(outage.serving_again_after_s)} after the thaw\n"
              f"calls while frozen: {dict(calls)}, longest {longest:.1f}s\n"
              f"run: {research_pb2.RunState.Name(final.state) if final else 'not terminal'} "
              f"{secs(outage.run_final_after_s)} after the thaw, {len(outage.events)} events")
    assert outage.run_before in (research_pb2.RUN_STATE_RUNNING,
                                 research_pb2.RUN_STATE_QUEUED), (
        "the run finished before the outage: slow it down (SCOUT_OFFLINE_DELAY_MS)")
    assert outage.run_final is not None, f"the run was not terminal {RECOVERY_S}s after the thaw"
    assert outage.run_final.state in (research_pb2.RUN_STATE_SUCCEEDED,
                                      research_pb2.RUN_STATE_FAILED)
    if outage.run_final.state == research_pb2.RUN_STATE_FAILED:
        assert outage.run_final.error, "a failed run says why"
    events = outage.events
    assert [e.sequence for e in events] == list(range(1, len(events) + 1)), events[-3:]
    terminal = {research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED,
                research_pb2.PROGRESS_EVENT_TYPE_RUN_FAILED,
                research_pb2.PROGRESS_EVENT_TYPE_RUN_CANCELLED}
    assert [e.type in terminal for e in events].count(True) == 1
    assert events[-1].type in terminal


def test_calls_during_the_outage_end_in_time_and_work_after_it(outage: Record) -> None:
    assert outage.calls_during, "no call was made during the outage"
    for name, code, took in outage.calls_during:
        assert code in (C.OK, C.UNAVAILABLE, C.DEADLINE_EXCEEDED), (name, code)
        assert took < 4 + 2, f"{name} took {took:.1f}s with a 4 s deadline"
    assert outage.calls_after == [C.OK, C.OK]


def test_health_is_serving_again_after_the_outage(outage: Record) -> None:
    assert outage.serving_again_after_s is not None, "health never came back to SERVING"
    assert outage.serving_again_after_s < 15, outage.serving_again_after_s


def test_health_goes_not_serving_during_the_outage(outage: Record) -> None:
    assert outage.not_serving_after_s is not None, (
        f"health stayed {sorted(set(map(_status_name, outage.health_during)))} for the "
        f"{MAX_FREEZE_S:.0f}s the store was frozen")
    assert outage.not_serving_after_s < MAX_FREEZE_S
