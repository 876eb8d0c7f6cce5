"""Scout's domain values: what the store keeps and the servicers convert.

Everything here is plain, frozen data with no gRPC and no DynamoDB in it, so
the store, the agent runner and the servicers share one vocabulary and the
proto converters (``scout_service.api.converters``) are the only place that
knows both sides. Times are epoch seconds as ``float`` (expiry as ``int``,
the unit DynamoDB's TTL uses).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class ReportKind(enum.Enum):
    """The five reports; values are the seed's storage names."""

    MARKET = "market_report"
    COMPETITION = "competition_report"
    PRICE = "price_report"
    LEGAL = "legal_report"
    FINAL = "final_report"

    @property
    def title(self) -> str:
        """Human title, e.g. ``Market report``."""
        return _TITLES[self]

    @property
    def is_specialist(self) -> bool:
        """True for the four reports written in parallel before the synthesis."""
        return self is not ReportKind.FINAL


_TITLES = {
    ReportKind.MARKET: "Market report",
    ReportKind.COMPETITION: "Competition report",
    ReportKind.PRICE: "Price report",
    ReportKind.LEGAL: "Legal report",
    ReportKind.FINAL: "Final report",
}

SPECIALISTS: tuple[ReportKind, ...] = (
    ReportKind.MARKET,
    ReportKind.COMPETITION,
    ReportKind.PRICE,
    ReportKind.LEGAL,
)
# Run.agents always lists the agents in this order.
ALL_AGENTS: tuple[ReportKind, ...] = (*SPECIALISTS, ReportKind.FINAL)


class ReportSource(enum.Enum):
    """Who wrote a report version."""

    AGENT = "agent"
    CALLER = "caller"


class RunState(enum.Enum):
    """Lifecycle of a research run."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """True once the run can no longer change."""
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)


class AgentState(enum.Enum):
    """Lifecycle of one agent within a run."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class EventType(enum.Enum):
    """Kinds of progress events; the last three are terminal."""

    RUN_QUEUED = "RUN_QUEUED"
    RUN_STARTED = "RUN_STARTED"
    AGENT_STARTED = "AGENT_STARTED"
    TOOL_CALL = "TOOL_CALL"
    REPORT_SAVED = "REPORT_SAVED"
    AGENT_FINISHED = "AGENT_FINISHED"
    AGENT_FAILED = "AGENT_FAILED"
    RUN_COMPLETED = "RUN_COMPLETED"
    RUN_FAILED = "RUN_FAILED"
    RUN_CANCELLED = "RUN_CANCELLED"
    HEARTBEAT = "HEARTBEAT"

    @property
    def is_terminal(self) -> bool:
        """True for the event that ends a run's stream."""
        return self in (EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.RUN_CANCELLED)


@dataclass(frozen=True)
class Session:
    """A research session: the unit of ownership and expiry."""

    session_id: str
    owner: str
    created_at: float
    expires_at: int
    labels: Mapping[str, str] = field(default_factory=dict)
    latest_run_id: str | None = None
    # The run that holds the session's single "in progress" slot, if any.
    active_run_id: str | None = None


@dataclass(frozen=True)
class FileInfo:
    """Metadata of an uploaded file; the bytes are read separately."""

    session_id: str
    name: str
    content_type: str
    size: int
    sha256: str
    created_at: float


@dataclass(frozen=True)
class Report:
    """One report version. ``content`` is ``None`` in list results.

    Every save (an agent's or a caller's) is a new version; the store keeps
    the newest ``StoreLimits.max_report_versions`` of each kind.
    """

    session_id: str
    kind: ReportKind
    size: int
    sha256: str
    updated_at: float
    source: ReportSource
    author: str
    run_id: str | None = None
    content: str | None = None
    # The source ids the content cites ([S3]), checked when it was stored,
    # and the run they belong to.
    cited: tuple[str, ...] = ()
    sources_run_id: str | None = None
    # 1 for the kind's first save, one more for each save after it.
    version: int = 1


class SourceKind(enum.Enum):
    """What an agent read: a passage of an uploaded file or a web page."""

    DOCUMENT = "document"
    WEB = "web"


@dataclass(frozen=True)
class Source:
    """Something an agent read during a run, citable in its reports as ``[S3]``.

    ``source_id`` is ``S<n>``, numbered per run in the order first read.
    ``excerpt`` is exactly the text the agent was given; a quote next to a
    marker must occur in it. ``sha256`` is that of the file version (documents)
    or of the page text (web), so a reader can check the excerpt against it.
    """

    session_id: str
    run_id: str
    source_id: str
    kind: SourceKind
    excerpt: str
    retrieved_at: float
    sha256: str
    title: str = ""
    file_name: str = ""
    page: int | None = None
    section: str = ""
    start: int = 0
    end: int = 0
    url: str = ""
    first_read_by: ReportKind | None = None

    @property
    def number(self) -> int:
        """The n of ``S<n>``."""
        return int(self.source_id[1:])

    @property
    def label(self) -> str:
        """Where it is, for a Sources list: ``plan.pdf, p. 3 — Pricing`` or the URL."""
        if self.kind is SourceKind.WEB:
            return f"{self.title} — {self.url}" if self.title else self.url
        where = self.file_name + (f", p. {self.page}" if self.page else "")
        return f"{where} — {self.section}" if self.section else where


@dataclass(frozen=True)
class Question:
    """A follow-up question about a session's dossier and its verified answer.

    The answer's ``[S#]`` markers are sources stored under the question's own
    id (``Source.run_id == question_id``); ``cited`` lists them.
    """

    session_id: str
    question_id: str
    question: str
    answer: str
    created_at: float
    author: str
    cited: tuple[str, ...] = ()
    request_id: str | None = None


@dataclass(frozen=True)
class Findings:
    """One agent's typed findings, as validated JSON (``research/findings.py``).

    ``data`` is the JSON of the kind's findings model; ``warnings`` are
    ``(field, message)`` pairs of inconsistencies the server kept; the
    source ids in ``data`` are sources of run ``run_id``.
    """

    session_id: str
    kind: ReportKind
    run_id: str
    data: str
    created_at: float
    warnings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TokenUsage:
    """Model tokens read and written, and what they cost.

    ``input_tokens`` are the input tokens read at the full price; tokens read
    from the provider's prompt cache (``cache_read_tokens``) and written to it
    (``cache_write_tokens``) are counted apart, as Anthropic and Bedrock bill
    them. ``cost_usd`` is None when the model's prices are not known.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = 0.0

    @property
    def total_tokens(self) -> int:
        """Every token the model read (cached or not) and wrote."""
        return (self.input_tokens + self.output_tokens + self.cache_read_tokens
                + self.cache_write_tokens)

    @property
    def all_input_tokens(self) -> int:
        """Input tokens however they were billed."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        cost = (None if self.cost_usd is None or other.cost_usd is None
                else self.cost_usd + other.cost_usd)
        return TokenUsage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens, cost,
        )


@dataclass(frozen=True)
class AgentStatus:
    """Where one agent of a run stands."""

    kind: ReportKind
    state: AgentState = AgentState.PENDING
    error: str | None = None
    usage: TokenUsage = TokenUsage()
    started_at: float | None = None
    finished_at: float | None = None
    # How many times this agent was invoked for the run (resume re-invokes).
    invocations: int = 0


@dataclass(frozen=True)
class Brief:
    """What a caller asked of a run (validated by the API layer).

    ``agents`` are the specialists to run (empty: all four); ``web_search``
    None follows the server's configuration; ``max_tokens`` None means the
    server's default budget; ``language`` is a BCP-47 tag, "" for the
    documents' language.
    """

    questions: tuple[str, ...] = ()
    language: str = ""
    agents: tuple[ReportKind, ...] = ()
    web_search: bool | None = None
    max_tokens: int | None = None
    focus: str = ""
    geography: str = ""

    @property
    def specialists(self) -> tuple[ReportKind, ...]:
        """The specialists to run, in the dossier's order."""
        return tuple(k for k in SPECIALISTS if not self.agents or k in self.agents)

    @property
    def is_empty(self) -> bool:
        """True when the caller asked nothing beyond the defaults."""
        return self == Brief()


@dataclass(frozen=True)
class Run:
    """A research run and its lease.

    ``version`` increases on every stored change; updates are conditional on
    it, so two replicas can never both believe they own a run.
    """

    session_id: str
    run_id: str
    state: RunState
    created_at: float
    updated_at: float
    agents: tuple[AgentStatus, ...]
    model_provider: str
    file_names: tuple[str, ...] = ()
    request_id: str | None = None
    owner: str = ""
    error: str | None = None
    finished_at: float | None = None
    last_sequence: int = 0
    cancel_requested: bool = False
    # Replica that executes the run and until when its lease holds.
    lease_owner: str | None = None
    lease_expires_at: float = 0.0
    version: int = 0
    brief: Brief = field(default_factory=lambda: Brief())
    # The caller's turn in the fleet's queue: how many of the owner's runs were
    # waiting when this one was queued (``agents/queue.py``, fairness).
    queue_turn: int = 0
    # A QUEUED run's place in the fleet's queue (1: claimed next), worked out
    # when the run is read for a caller; 0 otherwise. Never stored.
    queue_position: int = field(default=0, compare=False)

    @property
    def usage(self) -> TokenUsage:
        """Tokens used by all agents of the run."""
        total = TokenUsage()
        for agent in self.agents:
            total = total + agent.usage
        return total

    def agent(self, kind: ReportKind) -> AgentStatus:
        """The status of one agent."""
        for status in self.agents:
            if status.kind is kind:
                return status
        raise KeyError(kind)


@dataclass(frozen=True)
class ProgressEvent:
    """One progress event of a run; ``sequence`` is 1, 2, 3 … per run."""

    session_id: str
    run_id: str
    sequence: int
    created_at: float
    type: EventType
    message: str
    agent: ReportKind | None = None
    tool_name: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


def usage_attributes(usage: TokenUsage) -> dict[str, str]:
    """A progress event's attributes for token usage (cost left out when unknown)."""
    attributes = {
        "input_tokens": str(usage.input_tokens), "output_tokens": str(usage.output_tokens),
        "cache_read_tokens": str(usage.cache_read_tokens),
        "cache_write_tokens": str(usage.cache_write_tokens),
    }
    if usage.cost_usd is not None:
        attributes["cost_usd"] = f"{usage.cost_usd:.6f}"
    return attributes


def run_ending(run: Run) -> tuple[EventType, str, dict[str, str]]:
    """Type, message and attributes of the event that ends a finished run's stream.

    Derived from the stored run alone, so the replica that finished the run
    and one that stores the event in its place (its replica died in between,
    ``ProgressBroker``) write the same thing.
    """
    if run.state is RunState.SUCCEEDED:
        missing = [a.kind.value for a in run.agents
                   if a.kind.is_specialist and a.state is not AgentState.SUCCEEDED]
        usage = run.usage
        return (
            EventType.RUN_COMPLETED,
            "Research completed: final report saved to session."
            + (f" Missing: {', '.join(missing)}." if missing else ""),
            usage_attributes(usage),
        )
    if run.state is RunState.FAILED:
        return EventType.RUN_FAILED, f"Research failed: {run.error or ''}", {}
    if run.state is RunState.CANCELLED:
        kept = sum(1 for a in run.agents if a.state is AgentState.SUCCEEDED)
        return EventType.RUN_CANCELLED, f"Research cancelled; {kept} saved report(s) kept.", {}
    raise ValueError(f"run {run.run_id} has not ended ({run.state.value})")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_token`` is ``None`` on the last page."""

    items: Sequence[T]
    next_token: str | None = None
