"""DynamoDB faults under load: whatever the server acknowledged survives, intact.

A ``FaultyProxy`` sits between a server replica and moto's DynamoDB server
(the replica's ``DYNAMODB_ENDPOINT_URL`` is the proxy) and, on a seeded
schedule, drops connections, loses replies of requests it did forward,
delays requests, and answers HTTP 500 ``InternalServerError`` or HTTP 400
``ThrottlingException`` / ``ProvisionedThroughputExceededException``, now and
then several requests in a row (an outage) so that some calls fail for good.

Through it, sessions are created, files of many sizes uploaded (inline ones
and multi-chunk ones past 350 KB, some replaced), reports put, and research
runs started and followed, by a few callers at once. Every call either
succeeds or fails with a code a caller can act on (never UNKNOWN or
INTERNAL). Then a second replica that talks to moto directly reads back
everything the first one acknowledged: an OK to CreateSession, UploadFile or
PutReport, a run reported SUCCEEDED. Each must be there with the bytes that
were acknowledged (sha256), or — when the same caller later tried to replace
it and that attempt's fate is unknown — with those bytes. And no file that is
visible at all may be corrupt. The counts are printed at the end.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest

from scout.v1 import report_pb2, research_pb2, session_pb2, types_pb2
from tests.support.faulty_proxy import KINDS, FaultyProxy
from tests.trust._api import PLAN, TERMINAL_RUN_STATES, Api, C, Outcome, outcome, sha256
from tests.trust.conftest import Deployment, SpawnedServer, deploy, shut

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(200)]

SEED = int(os.environ.get("SCOUT_FAULT_SEED", "20240611"))
SESSIONS = 14
WORKERS = 4
CALL_TIMEOUT = 30.0
RUN_WAIT = 60.0
WORKLOAD_S = 110.0  # the whole load phase; it usually takes 25-45 s
# Sizes around the store's edges: inline up to 300,000 bytes, chunks of 350,000.
FILE_SIZES = (1, 777, 64_000, 299_999, 300_001, 349_999, 350_001, 720_000, 1_100_000)
REPORT_SIZES = (120, 5_000, 300_001, 400_000, 760_000)
KINDS_PB = (types_pb2.REPORT_KIND_MARKET, types_pb2.REPORT_KIND_COMPETITION,
            types_pb2.REPORT_KIND_PRICE, types_pb2.REPORT_KIND_LEGAL, types_pb2.REPORT_KIND_FINAL)
# What a failed call may answer while its store misbehaves.
FAILURE_CODES = frozenset({C.UNAVAILABLE, C.ABORTED, C.DEADLINE_EXCEEDED, C.RESOURCE_EXHAUSTED,
                           C.FAILED_PRECONDITION, C.NOT_FOUND, C.ALREADY_EXISTS, C.CANCELLED})


@dataclass
class Ledger:
    """What was attempted and what was acknowledged, per key, in order."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ops: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    bad_codes: list[str] = field(default_factory=list)
    sessions: set[str] = field(default_factory=set)
    # (kind, session, name) -> [(sha256, acknowledged)] in the order they were attempted.
    writes: dict[tuple[str, str, str], list[tuple[str, bool]]] = field(
        default_factory=lambda: defaultdict(list))
    runs: dict[tuple[str, str], dict[int, str]] = field(default_factory=dict)
    unfinished_runs: list[tuple[str, str]] = field(default_factory=list)
    run_states: Counter[str] = field(default_factory=Counter)
    agent_states: Counter[str] = field(default_factory=Counter)

    def record(self, rpc: str, got: Outcome) -> None:
        with self.lock:
            self.ops[rpc] += 1
            if not got.ok:
                self.failures[f"{rpc}:{got.code.name}"] += 1
                if got.code not in FAILURE_CODES:
                    self.bad_codes.append(f"{rpc}: {got.code.name} {got.details!r}")

    def attempt(self, key: tuple[str, str, str], digest: str) -> int:
        with self.lock:
            self.writes[key].append((digest, False))
            return len(self.writes[key]) - 1

    def acknowledge(self, key: tuple[str, str, str], index: int) -> None:
        with self.lock:
            digest, _ = self.writes[key][index]
            self.writes[key][index] = (digest, True)

    def acceptable(self, key: tuple[str, str, str]) -> set[str] | None:
        """Contents the key may hold now: the last acknowledged one or any later attempt
        (None when nothing was acknowledged)."""
        history = self.writes.get(key, [])
        acked = [i for i, (_, ok) in enumerate(history) if ok]
        if not acked:
            return None
        return {digest for digest, _ in history[acked[-1]:]}

    @property
    def acknowledged(self) -> Counter[str]:
        counts: Counter[str] = Counter(session=len(self.sessions), run=len(self.runs))
        for (kind, _, _), history in self.writes.items():
            counts[kind] += sum(1 for _, ok in history if ok)
        return counts


def _call(ledger: Ledger, rpc: str, send: Callable[[], Any]) -> Outcome:
    got = outcome(send)
    ledger.record(rpc, got)
    return got


def _retrying(ledger: Ledger, rpc: str, send: Callable[[], Any], attempts: int = 3) -> Outcome:
    got = Outcome(C.UNAVAILABLE)
    for attempt in range(attempts):
        got = _call(ledger, rpc, send)
        if got.ok or got.code not in (C.UNAVAILABLE, C.ABORTED, C.DEADLINE_EXCEEDED):
            return got
        time.sleep(0.2 * (attempt + 1))
    return got


def _content(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def _report_text(rng: random.Random, size: int) -> str:
    words = ("market", "price", "churn", "EUR", "Oslo", "kits", "margin", "legal", "GDPR")
    text = "# Edited report\n\n"
    while len(text) < size:
        text += " ".join(rng.choice(words) for _ in range(12)) + "\n"
    return text[:size]


def _write(ledger: Ledger, rpc: str, key: tuple[str, str, str], digest: str,
           send: Callable[[], Any]) -> Outcome:
    """A write a caller retries while it fails for a passing reason; acknowledged on OK."""
    got = Outcome(C.UNAVAILABLE)
    for _ in range(3):
        at = ledger.attempt(key, digest)  # before the call: a failed attempt may still land
        got = _call(ledger, rpc, send)
        if got.ok:
            ledger.acknowledge(key, at)
            return got
        if got.code not in (C.UNAVAILABLE, C.ABORTED, C.DEADLINE_EXCEEDED):
            return got
    return got


def work_on_session(api: Api, ledger: Ledger, index: int) -> None:
    """One caller's session: create, upload, replace, then put reports or run research."""
    rng = random.Random(SEED * 1000 + index)
    created = _retrying(ledger, "CreateSession", partial(
        api.call, "CreateSession",
        session_pb2.CreateSessionRequest(request_id=f"fault-{SEED}-{index}"),
        timeout=CALL_TIMEOUT))
    if not created.ok:
        return
    sid = created.value.session.session_id
    with ledger.lock:
        ledger.sessions.add(sid)

    names = ["plan.md"] + [f"doc-{j}.bin" for j in range(rng.randint(1, 2))]
    uploads = [(name, PLAN if name == "plan.md" else _content(rng, rng.choice(FILE_SIZES)))
               for name in names]
    # Replace one of them with other content of another size.
    uploads.append((names[-1], _content(rng, rng.choice(FILE_SIZES))))
    for name, data in uploads:
        piece = rng.choice((64 * 1024, 256 * 1024, 1024 * 1024))
        got = _write(ledger, "UploadFile", ("file", sid, name), sha256(data),
                     partial(api.upload, sid, name, data, piece=piece, timeout=CALL_TIMEOUT))
        if got.ok:  # what the server says it stored is what was sent
            assert (got.value.sha256, got.value.size_bytes) == (sha256(data), len(data)), name

    if index % 2 == 0:
        _research(api, ledger, sid, index)
        return
    for n in range(rng.randint(1, 3)):
        kind = rng.choice(KINDS_PB)
        text = _report_text(rng, rng.choice(REPORT_SIZES))
        request = report_pb2.PutReportRequest(session_id=sid, kind=kind, content=text,
                                              request_id=f"put-{SEED}-{index}-{n}")
        got = _write(ledger, "PutReport", ("report", sid, str(kind)), sha256(text),
                     partial(api.call, "PutReport", request, timeout=CALL_TIMEOUT))
        if got.ok:
            assert got.value.report.sha256 == sha256(text)


def _research(api: Api, ledger: Ledger, sid: str, index: int) -> None:
    started = _retrying(ledger, "StartResearch", partial(
        api.call, "StartResearch", research_pb2.StartResearchRequest(
            session_id=sid, request_id=f"run-{SEED}-{index}", file_names=["plan.md"]),
        timeout=CALL_TIMEOUT))
    if not started.ok:
        return
    run_id = started.value.run.run_id
    deadline = time.monotonic() + RUN_WAIT
    state = None
    run = None
    while time.monotonic() < deadline:
        got = _call(ledger, "GetRun", partial(api.get_run, sid, run_id, timeout=CALL_TIMEOUT))
        if got.ok and got.value.state in TERMINAL_RUN_STATES:
            run = got.value
            state = run.state
            break
        time.sleep(0.3)
    with ledger.lock:
        ledger.run_states[research_pb2.RunState.Name(state) if state else "NOT_TERMINAL"] += 1
    if state is None:
        with ledger.lock:
            ledger.unfinished_runs.append((sid, run_id))
        return
    if state != research_pb2.RUN_STATE_SUCCEEDED:
        return
    # Acknowledged: the run SUCCEEDED, with the reports of the agents that succeeded (a
    # specialist may fail without failing the run; the synthesis may not). Note them as the
    # caller saw them.
    assert run is not None
    saved = [a.kind for a in run.agents if a.state == research_pb2.AGENT_STATE_SUCCEEDED]
    with ledger.lock:
        ledger.agent_states.update(research_pb2.AgentState.Name(a.state) for a in run.agents)
    assert types_pb2.REPORT_KIND_FINAL in saved, "a SUCCEEDED run without its final report"
    seen: dict[int, str] = {}
    for kind in saved:
        got = _retrying(ledger, "GetReport", partial(
            api.call, "GetReport", report_pb2.GetReportRequest(session_id=sid, kind=kind),
            timeout=CALL_TIMEOUT), attempts=5)
        if got.ok:
            report = got.value.report
            assert report.run_id == run_id and report.sha256 == sha256(report.content)
            seen[kind] = report.sha256
        elif got.code != C.UNAVAILABLE:
            with ledger.lock:
                ledger.bad_codes.append(f"report {kind} of SUCCEEDED run {run_id}: "
                                        f"{got.code.name} {got.details}")
    with ledger.lock:
        ledger.runs[(sid, run_id)] = seen


@dataclass
class Audit:
    """What the clean replica found."""

    losses: list[str] = field(default_factory=list)
    corrupt_visible: list[str] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)


def _read(api: Api, send: Callable[[], Any]) -> Outcome:
    """A read on the clean replica (no faults): retried only on UNAVAILABLE."""
    got = outcome(send)
    for _ in range(3):
        if got.code != C.UNAVAILABLE:
            break
        time.sleep(0.5)
        got = outcome(send)
    return got


def _get_report(api: Api, sid: str, kind: int) -> Any:
    return api.call("GetReport", report_pb2.GetReportRequest(session_id=sid, kind=kind))


def _events(api: Api, sid: str, run_id: str) -> list[Any]:
    """The run's stored events as a stream delivers them (heartbeats are not stored events)."""
    return [m.event for m in api.call("StreamProgress", research_pb2.StreamProgressRequest(
        session_id=sid, run_id=run_id), timeout=CALL_TIMEOUT)
        if m.event.type != research_pb2.PROGRESS_EVENT_TYPE_HEARTBEAT]


def audit(clean: Api, ledger: Ledger) -> Audit:
    """Read every acknowledged write back through the replica that has no faults."""
    result = Audit()
    for sid in sorted(ledger.sessions):
        got = _read(clean, partial(clean.call, "GetSession",
                                   session_pb2.GetSessionRequest(session_id=sid)))
        result.checked["session"] += 1
        if not got.ok or got.value.session.owner != "alice":
            result.losses.append(f"session {sid}: {got.code.name} {got.details}")
            continue
        # Nothing visible may be corrupt, acknowledged or not.
        listed = _read(clean, partial(clean.call, "ListFiles", session_pb2.ListFilesRequest(
            session_id=sid, page_size=1000)))
        if not listed.ok:
            result.losses.append(f"ListFiles {sid}: {listed.code.name} {listed.details}")
            continue
        for info in listed.value.files:
            read = _read(clean, partial(clean.download, sid, info.file_name))
            if not read.ok:
                result.corrupt_visible.append(f"file {sid}/{info.file_name}: listed but "
                                              f"{read.code.name} {read.details}")
            elif sha256(read.value[1]) != info.sha256 or len(read.value[1]) != info.size_bytes:
                result.corrupt_visible.append(f"file {sid}/{info.file_name}: bytes do not "
                                              "match its sha256/size")
    for (kind, sid, name) in sorted(ledger.writes):
        allowed = ledger.acceptable((kind, sid, name))
        if allowed is None:
            continue
        result.checked[kind] += 1
        if kind == "file":
            got = _read(clean, partial(clean.download, sid, name))
            digest = sha256(got.value[1]) if got.ok else None
        else:
            got = _read(clean, partial(_get_report, clean, sid, int(name)))
            digest = sha256(got.value.report.content) if got.ok else None
        if digest is None:
            result.losses.append(f"{kind} {sid}/{name}: {got.code.name} {got.details}")
        elif digest not in allowed:
            result.losses.append(f"{kind} {sid}/{name}: content is none of the acknowledged "
                                 "or later attempted versions")
    for (sid, run_id), reports in sorted(ledger.runs.items()):
        result.checked["run"] += 1
        got = _read(clean, partial(clean.get_run, sid, run_id))
        if not got.ok or got.value.state != research_pb2.RUN_STATE_SUCCEEDED:
            result.losses.append(f"run {run_id}: {got.code.name} "
                                 f"{got.value.state if got.ok else got.details}")
            continue
        for kind, digest in reports.items():
            read = _read(clean, partial(_get_report, clean, sid, kind))
            if not read.ok or sha256(read.value.report.content) != digest:
                result.losses.append(f"run {run_id} report {kind}: {read.code.name}")
        stream = _read(clean, partial(_events, clean, sid, run_id))
        events = stream.value if stream.ok else []
        if (not events or [e.sequence for e in events] != list(range(1, len(events) + 1))
                or events[-1].type != research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED):
            result.losses.append(f"run {run_id}: progress events are not 1..n ending with "
                                 f"RUN_COMPLETED ({stream.code.name})")
    return result


@pytest.fixture
def faulty_setup(dynamodb_endpoint: str) -> Iterator[tuple[FaultyProxy, Deployment]]:
    """A proxy on moto and a replica behind it (faults armed once it is up)."""
    proxy = FaultyProxy(dynamodb_endpoint, seed=SEED, fault_rate=0.08, outage_rate=0.004,
                        outage_s=(1.0, 4.0), max_faults=800, delay_s=(0.05, 0.6))
    deployment = deploy(proxy.url, {"SCOUT_OFFLINE_DELAY_MS": "0"}, "faults")
    yield proxy, Deployment(deployment.server, dynamodb_endpoint, deployment.table)
    proxy.disarm()
    shut(deployment)
    proxy.close()


def test_acknowledged_writes_survive_injected_faults(
    faulty_setup: tuple[FaultyProxy, Deployment], capsys: pytest.CaptureFixture[str]
) -> None:
    proxy, faulty = faulty_setup
    ledger = Ledger()
    started = time.monotonic()
    apis = [Api(faulty.address, "alice") for _ in range(WORKERS)]
    proxy.arm()
    pool = ThreadPoolExecutor(WORKERS)
    try:
        futures = [pool.submit(work_on_session, apis[i % WORKERS], ledger, i)
                   for i in range(SESSIONS)]
        deadline = started + WORKLOAD_S
        for future in futures:
            future.result(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        proxy.disarm()
        for api in apis:
            api.close()
    workload_s = time.monotonic() - started

    # A run the caller stopped watching under faults must still end once they stop.
    if ledger.unfinished_runs:
        watcher = Api(faulty.address, "alice")
        try:
            for sid, run_id in ledger.unfinished_runs:
                watcher.wait_run(sid, run_id, timeout=30)
        finally:
            watcher.close()

    clean_server = SpawnedServer(faulty.endpoint, faulty.table,
                                 {"SCOUT_AUTH_TOKENS": faulty.server.env["SCOUT_AUTH_TOKENS"],
                                  "SCOUT_ADMIN_PRINCIPALS": "root"}).start()
    try:
        clean = Api(clean_server.address, "alice")
        result = audit(clean, ledger)
        clean.close()
    finally:
        clean_server.stop(timeout=20)

    faults = proxy.summary()
    with capsys.disabled():
        print(f"\n--- fault injection (seed {SEED}, {workload_s:.0f}s of load) ---")
        print(f"operations: {sum(ledger.ops.values())} {dict(sorted(ledger.ops.items()))}")
        print(f"failed operations: {sum(ledger.failures.values())} "
              f"{dict(sorted(ledger.failures.items()))}")
        print(f"DynamoDB requests: {faults['requests']} (forwarded {faults['forwarded']}, "
              f"outages {faults['outages']}, transaction tokens replayed "
              f"{faults['token_replays']})")
        print("injected faults: " + ", ".join(f"{k}={faults[k]}" for k in KINDS)
              + f" (total {sum(faults[k] for k in KINDS)})")
        busiest = ", ".join(f"{k}={v}" for k, v in proxy.faults_by_operation.most_common(6))
        print(f"most faulted (operation:fault): {busiest}")
        print(f"runs: {dict(ledger.run_states)}; agents of succeeded runs: "
              f"{dict(ledger.agent_states)}")
        print(f"acknowledged writes: {dict(ledger.acknowledged)}")
        print(f"verified on a clean replica: {dict(result.checked)}")
        print(f"losses: {len(result.losses)}; corrupt visible files: "
              f"{len(result.corrupt_visible)}")
        for line in (result.losses + result.corrupt_visible)[:20]:
            print(f"  {line}")

    assert sum(faults[k] for k in KINDS) > 0, "no fault was injected: the test proved nothing"
    assert ledger.acknowledged["file"] > 0 and ledger.acknowledged["run"] > 0
    assert not ledger.bad_codes, "failed calls with codes a caller cannot act on:\n" + "\n".join(
        ledger.bad_codes[:20])
    assert not result.losses, "acknowledged writes lost or changed:\n" + "\n".join(
        result.losses)
    assert not result.corrupt_visible, "visible but corrupt:\n" + "\n".join(
        result.corrupt_visible)
