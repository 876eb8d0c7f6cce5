"""What every offline specialist report shares: its notice, scope line and sections."""

from __future__ import annotations

from collections.abc import Sequence

from scout_service.agents.analysis.parse import Plan
from scout_service.agents.analysis.patterns import MAX_PASSAGES_PER_SECTION, OFFLINE_NOTICE, _rx
from scout_service.agents.analysis.pick import Topic, bullets, pick
from scout_service.agents.prompts import outline
from scout_service.domain import ReportKind

# -- writing the reports ----------------------------------------------------------------


def _section(heading: str, lines: Sequence[str], empty: str) -> list[str]:
    return [heading, "", *(lines or [empty]), ""]


_NOTHING = "_The analyser found nothing on this in the plan._"


class _Writer:
    """Builds one specialist report section by section."""

    def __init__(self, kind: ReportKind, plan: Plan, about: str) -> None:
        self.kind = kind
        self.plan = plan
        self.headings = outline(kind)
        self.used: set[int] = set()
        self.gaps: list[str] = []
        self.lines: list[str] = [
            self.headings[0],
            "",
            OFFLINE_NOTICE.format(about=f" about {about}"),
            "",
            _scope_line(plan),
            "",
        ]
        self._next = 1

    def section(self, lines: Sequence[str], gap: str | None = None) -> None:
        heading = self.headings[self._next]
        self._next += 1
        if not lines and gap:
            self.gaps.append(gap)
        self.lines += _section(heading, lines, _NOTHING)

    def topic(self, topic: Topic, gap: str, *, limit: int = MAX_PASSAGES_PER_SECTION,
              before: Sequence[str] = ()) -> None:
        chosen = bullets(pick(self.plan, topic, self.used, limit=limit), self.plan)
        lines = [*before, *([""] if before and chosen else []), *chosen]
        self.section(lines, gap if not lines else None)

    def finish(self, extra_gaps: Sequence[str] = (), tail: Sequence[str] = ()) -> str:
        gaps = [*self.gaps, *extra_gaps]
        self.section([f"- {g}" for g in gaps] or ["- No gap detected by the analyser's checks."])
        for heading in self.headings[self._next :]:
            self.lines += [heading, "", *tail, ""]
        return "\n".join(self.lines).rstrip() + "\n"


def _scope_line(plan: Plan) -> str:
    docs = ", ".join(plan.documents) if plan.documents else "the uploaded plan"
    if any(p.source_id for p in plan.passages):
        return (
            f"Source: {docs} ({len(plan.passages)} passages retrieved by searching the "
            "documents). Each bullet quotes a retrieved passage word for word and cites its "
            "source id in brackets; the Sources list at the end says where each one is."
        )
    return (
        f"Source: {docs} ({len(plan.passages)} passages read). Each bullet quotes the plan; "
        "the section it comes from is in brackets."
    )


_LEGAL_SECTION = _rx(r"regulat|legal|compliance")
