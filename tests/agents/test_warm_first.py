"""RunnerSettings.warm_cache_first: the other specialists wait for the first one's first answer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from scout_service.agents import OfflineModel
from scout_service.domain import SPECIALISTS, ReportKind, RunState
from scout_service.store import MemoryStore

from .support import FAST, make_runner, new_session, wait_terminal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_one_specialist_first_then_the_others_together() -> None:
    calls: list[tuple[str, ReportKind]] = []

    class Recording(OfflineModel):
        async def stream(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(("start", self.kind))
            async for event in super().stream(*args, **kwargs):
                yield event
            calls.append(("end", self.kind))

    store = MemoryStore()
    session = await new_session(store)
    runner = make_runner(store, factory=lambda kind: Recording(kind),
                         settings=replace(FAST, warm_cache_first=True))
    done = await wait_terminal(store, await runner.start_research(
        session, request_id=None, file_names=[]))
    assert done.state is RunState.SUCCEEDED, done.error
    first = SPECIALISTS[0]
    assert calls[0] == ("start", first)
    first_answer = calls.index(("end", first))
    for other in SPECIALISTS[1:]:
        assert calls.index(("start", other)) > first_answer
