"""The live progress board of `--follow` (rich), and its line-by-line fallback."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from typing import Any

from scout.v1 import research_pb2
from scout_client.cli.output import _kind, format_event, print_json, to_dict
from scout_client.client import ScoutClient
from scout_client.kinds import (
    REPORT_KINDS,
)

_AGENTS: tuple[str, ...] = REPORT_KINDS  # market, competition, price, legal, final
_DONE_STATES = frozenset({"saved", "finished", "failed", "cancelled"})
_STATE_STYLE = {
    "pending": "dim",
    "running": "yellow",
    "saved": "green",
    "finished": "green",
    "failed": "bold red",
    "cancelled": "magenta",
}
_STATE_ICON = {"pending": "·", "saved": "✔", "finished": "✔", "failed": "✘", "cancelled": "■"}


def _seconds(timestamp: Any) -> float:
    """Return a Timestamp as epoch seconds; now when it is unset."""
    if not timestamp.seconds and not timestamp.nanos:
        return time.time()
    seconds: float = timestamp.seconds + timestamp.nanos / 1e9
    return seconds


class AgentBoard:
    """Where each agent of a followed run stands, derived from its events.

    pending → running → saved (or finished without a report, failed,
    cancelled); times come from the events, so a replayed run shows the
    durations it really took.
    """

    def __init__(self) -> None:
        self.states: dict[str, str] = dict.fromkeys(_AGENTS, "pending")
        self.details: dict[str, str] = dict.fromkeys(_AGENTS, "")
        self.started: dict[str, float | None] = dict.fromkeys(_AGENTS, None)
        self.ended: dict[str, float | None] = dict.fromkeys(_AGENTS, None)
        self.status = "waiting for the run to start"

    def apply(self, event: research_pb2.ProgressEvent) -> None:
        """Update the board from one event."""
        types = research_pb2
        agent = _kind(event.agent) if event.agent else None
        if event.type == types.PROGRESS_EVENT_TYPE_HEARTBEAT:
            return
        if agent in self.states:
            at = _seconds(event.create_time)
            if self.started[agent] is None:
                self.started[agent] = at
            state = self.states[agent]
            if event.type in (
                types.PROGRESS_EVENT_TYPE_AGENT_STARTED,
                types.PROGRESS_EVENT_TYPE_TOOL_CALL,
            ):
                state = "running" if state not in _DONE_STATES else state
            elif event.type == types.PROGRESS_EVENT_TYPE_REPORT_SAVED:
                state = "saved"
            elif event.type == types.PROGRESS_EVENT_TYPE_AGENT_FINISHED:
                state = state if state in ("saved", "failed") else "finished"
            elif event.type == types.PROGRESS_EVENT_TYPE_AGENT_FAILED:
                state = "failed"
            if state in _DONE_STATES and self.ended[agent] is None:
                self.ended[agent] = at
            self.states[agent] = state
            detail = event.display_message or (event.tool_name and f"tool {event.tool_name}")
            if event.type == types.PROGRESS_EVENT_TYPE_AGENT_FAILED:
                detail = event.attributes.get("error") or detail
            self.details[agent] = detail or self.details[agent]
        else:
            self.status = event.display_message or self.status
        if event.type == types.PROGRESS_EVENT_TYPE_RUN_CANCELLED:
            for name, state in self.states.items():
                if state in ("pending", "running"):
                    self.states[name] = "cancelled"

    def elapsed(self, agent: str) -> str:
        """Return how long the agent has worked, as m:ss; "" before it started."""
        started = self.started[agent]
        if started is None:
            return ""
        ended = self.ended[agent]
        seconds = max(0, int((ended if ended is not None else time.time()) - started))
        return f"{seconds // 60}:{seconds % 60:02d}"

    @property
    def done(self) -> int:
        """How many agents are done, one way or another."""
        return sum(state in _DONE_STATES for state in self.states.values())


def _follow_plain(events: Iterable[research_pb2.ProgressEvent]) -> None:
    for event in events:
        print(format_event(event), flush=True)


def _follow_rich(events: Iterable[research_pb2.ProgressEvent]) -> bool:
    """Show the board live with rich; return False when rich is not installed."""
    try:
        from rich.console import Console, RenderableType
        from rich.live import Live
        from rich.progress_bar import ProgressBar
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        return False

    board = AgentBoard()
    spinners = {name: Spinner("dots", style="yellow") for name in _AGENTS}

    def render() -> RenderableType:
        table = Table.grid(padding=(0, 1))
        for name in _AGENTS:
            state = board.states[name]
            icon: RenderableType = spinners[name]
            if state != "running":
                icon = Text(_STATE_ICON[state], style=_STATE_STYLE[state])
            table.add_row(
                icon,
                Text(name.ljust(12), style="bold"),
                Text(state.ljust(9), style=_STATE_STYLE[state]),
                Text(board.elapsed(name).rjust(5), style="cyan"),
                Text(board.details[name], style="dim", no_wrap=True, overflow="ellipsis"),
            )
        bar = ProgressBar(total=len(_AGENTS), completed=board.done, width=12)
        table.add_row(
            Text(" "), Text("run".ljust(12), style="bold"), bar, Text(""), Text(board.status)
        )
        return table

    with Live(get_renderable=render, console=Console(), refresh_per_second=8) as live:
        for event in events:
            board.apply(event)
            live.refresh()
    return True


def follow(
    client: ScoutClient, args: argparse.Namespace, session_id: str, run_id: str
) -> research_pb2.Run:
    """Follow a run's progress to its terminal event; return the run as it ended."""
    events = client.stream_progress(session_id, run_id)
    if args.json:
        for event in events:
            print_json({"event": to_dict(event)}, compact=True)
    elif not (sys.stdout.isatty() and _follow_rich(events)):
        _follow_plain(events)
    return client.get_run(session_id, run_id)
