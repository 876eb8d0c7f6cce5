"""StreamProgress past the stored events ends when the run ends (issue 17, item 5).

A real server with a slow offline model: while the session's latest run is
in progress, a stream asks for events after a sequence far past those stored
so far. It must end within a poll interval (SCOUT_PROGRESS_POLL_MS, 100 ms
here) of the run's end instead of staying open on heartbeats; the same
request against the ended run ends at once with no events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from scout.v1 import research_pb2, research_pb2_grpc
from scout_client import ScoutClient
from tests.support.server import ROOT, TOKENS, ServerProcess, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MD = (("authorization", f"Bearer {TOKENS['alice']}"),)
HEARTBEAT = research_pb2.PROGRESS_EVENT_TYPE_HEARTBEAT
ENDED = {research_pb2.RUN_STATE_SUCCEEDED, research_pb2.RUN_STATE_FAILED,
         research_pb2.RUN_STATE_CANCELLED}
# A poll interval, plus the test's own GetRun polling and a loaded machine's slack.
SLACK_S = 0.1 + 1.5


def test_a_stream_past_the_stored_events_ends_when_the_run_ends(
    start_server: Callable[..., ServerProcess]
) -> None:
    server = start_server({"SCOUT_OFFLINE_DELAY_MS": "300"})
    channel = grpc.insecure_channel(server.address)
    research = research_pb2_grpc.ResearchServiceStub(channel)
    with ScoutClient(server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        scout.upload_file(sid, ROOT / "examples" / "nordic-meal-kits.md")
        run = scout.start_research(sid)
        seen = wait_for(lambda: scout.get_run(sid, run.run_id).last_sequence >= 3, timeout=60)
        assert seen
        stored = scout.get_run(sid, run.run_id).last_sequence
        after = stored + 10_000
        got: list[Any] = []
        ended_at: list[float] = []

        def follow() -> None:
            request = research_pb2.StreamProgressRequest(session_id=sid, after_sequence=after)
            try:
                for response in research.StreamProgress(request, metadata=MD, timeout=60):
                    got.append(response.event)
            finally:
                ended_at.append(time.monotonic())

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        time.sleep(0.5)  # the stream has replayed (nothing) and waits
        assert scout.get_run(sid, run.run_id).state not in ENDED, (
            "the run ended before the stream waited: make SCOUT_OFFLINE_DELAY_MS longer")
        assert reader.is_alive()
        while (state := scout.get_run(sid, run.run_id)).state not in ENDED:
            time.sleep(0.05)
        run_ended = time.monotonic()
        reader.join(SLACK_S + 5)
        assert not reader.is_alive(), "the stream stayed open after its run ended"
        assert ended_at[0] - run_ended < SLACK_S
        assert state.last_sequence <= after
        assert all(e.type == HEARTBEAT for e in got)  # nothing at or before `after` is resent

        # The same request once the run has ended: ends at once, with nothing.
        started = time.monotonic()
        request = research_pb2.StreamProgressRequest(session_id=sid, after_sequence=after)
        assert list(research.StreamProgress(request, metadata=MD, timeout=30)) == []
        assert time.monotonic() - started < 2.0
    channel.close()
