"""The offline final report: headlines, evidence checks and gaps across the specialists."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from scout_service.agents.analysis.parse import parse_plan
from scout_service.agents.analysis.patterns import OFFLINE_NOTICE
from scout_service.agents.analysis.pick import bullets
from scout_service.agents.analysis.writer import _NOTHING, _section
from scout_service.agents.prompts import agent_title, outline
from scout_service.domain import SPECIALISTS, ReportKind

# -- synthesis -------------------------------------------------------------------------


def report_sections(report: str) -> dict[str, list[str]]:
    """A Markdown report's ``## `` sections: heading text → content lines (non-empty)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in report.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        elif current is not None and line.strip() and not line.startswith("### "):
            current.append(line.rstrip())
    return sections


def _section_of(sections: Mapping[str, list[str]], pattern: str) -> list[str]:
    for heading, lines in sections.items():
        if re.search(pattern, heading, re.IGNORECASE):
            return lines
    return []


def _bullets_of(lines: Sequence[str]) -> list[str]:
    return [line[2:].strip() for line in lines if line.startswith("- ")]


def _has_evidence(lines: Sequence[str]) -> bool:
    return any(
        (line.startswith("- ") or line.startswith("|")) and not line.startswith("| ---")
        for line in lines
    ) and not all(_NOTHING in line for line in lines)


def synthesise(
    reports: Mapping[ReportKind, str], missing: Mapping[ReportKind, str], documents: str
) -> str:
    """The final report from the saved specialist reports (and the plan for context)."""
    plan = parse_plan(documents)
    parsed = {kind: report_sections(text) for kind, text in reports.items()}
    headings = outline(ReportKind.FINAL)
    out = [
        headings[0],
        "",
        OFFLINE_NOTICE.format(about=" and what the specialist reports quoted from it"),
        "",
        f"Built from {len(reports)} of 4 specialist reports"
        + (f" ({', '.join(k.title.lower() for k in SPECIALISTS if k in reports)})."
           if reports else "."),
        "",
    ]

    # 1. Executive summary
    summary_passages = [
        p for p in plan.passages
        if re.search(r"summary|overview|introduction", p.section, re.I) and not p.is_row
    ][:3] or [p for p in plan.passages if not p.is_row][:2]
    summary = ["**The plan, in its own words:**", ""]
    summary += bullets(summary_passages, plan) or ["- (no summary found in the plan)"]
    summary += ["", "**What the specialist reports found:**", ""]
    summary += _headlines(parsed) or ["- No specialist report was available."]
    out += _section(headings[1], summary, "")

    # 2. Recommendation
    checks = evidence_checks(parsed)
    passed = sum(ok for _, ok in checks)
    if passed == len(checks):
        verdict = "GO to the next stage of due diligence (conditional go)"
    elif passed >= len(checks) - 2:
        verdict = "CONDITIONAL GO: close the gaps marked ✗ before deciding"
    else:
        verdict = "NO-GO for now: the plan lacks too much of the evidence a decision needs"
    rec = [
        f"**Offline heuristic, not a recommendation by a model: {verdict}.**",
        "",
        f"The heuristic only counts which kinds of evidence the plan and the saved reports "
        f"contain ({passed} of {len(checks)} checks passed); it does not judge whether that "
        "evidence is credible or whether the business is attractive.",
        "",
        *[f"- {'✓' if ok else '✗'} {label}" for label, ok in checks],
    ]
    out += _section(headings[2], rec, "")

    # 3. Key findings
    findings: list[str] = []
    for kind in SPECIALISTS:
        if kind not in parsed:
            continue
        findings += [f"### {kind.title}", ""]
        picked = []
        for heading, lines in parsed[kind].items():
            if re.search(r"gaps|not legal advice", heading, re.I):
                continue
            finding = _first_finding(lines)
            if finding:
                picked.append(f"- {heading.split('. ', 1)[-1]}: {finding}")
            if len(picked) >= 4:
                break
        findings += (picked or ["- (no findings)"]) + [""]
    out += _section(headings[3], findings, "_No specialist report was available._")

    # 4. Key risks
    risks: list[str] = []
    risk_rows = [
        p for p in plan.passages if re.search(r"risk", p.section, re.I)
    ][:6]
    if risk_rows:
        risks += ["Risks the plan itself lists:", "", *bullets(risk_rows, plan), ""]
    for kind in SPECIALISTS:
        if kind in missing:
            risks.append(
                f"- **No {kind.title.lower()}** ({missing[kind]}): every conclusion about this "
                "area rests on no analysis."
            )
    gaps = _all_gaps(parsed)
    if gaps:
        risks += ["", "Evidence the plan does not give (from the reports' gap sections):", ""]
        risks += [f"- {area}: {gap}" for area, gap in gaps[:8]]
    out += _section(headings[4], risks, "_No risk found by the analyser._")

    # 5. Next steps
    steps: list[str] = []
    for kind in SPECIALISTS:
        if kind in missing:
            steps.append(f"Re-run the research to obtain the {kind.title.lower()} "
                         f"(it is missing: {missing[kind]}).")
    steps += [f"Find evidence for the gap in {area.lower()}: {gap}" for area, gap in gaps[:5]]
    steps.append("Check every quoted figure against an independent source before relying on it.")
    if ReportKind.LEGAL in parsed:
        steps.append("Have a lawyer qualified in each target jurisdiction review the legal "
                     "report.")
    steps.append("Run Scout with a model provider (bedrock, anthropic, openai or ollama) for an "
                 "analytical rather than extractive dossier.")
    out += _section(headings[5], [f"{i}. {s}" for i, s in enumerate(steps, 1)], "")

    # 6. Missing specialist reports
    missing_lines = [
        f"- **{kind.title}** (`{kind.value}`): {missing[kind]}"
        for kind in SPECIALISTS if kind in missing
    ]
    out += _section(
        headings[6], missing_lines,
        "None: all four specialist reports were saved for this run.",
    )
    return "\n".join(out).rstrip() + "\n"


def _first_finding(lines: Sequence[str]) -> str | None:
    """A section's lead: its summary line, else its table in brief, else its first bullet."""
    for line in lines:
        if not line.startswith(("- ", "|", "_", "1.")) and not line.endswith(":"):
            return line
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| ---")]
    if len(rows) > 1:
        cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:4]]
        return "; ".join(" ".join(c for c in row[:3] if c) for row in cells) + (
            " …" if len(rows) > 4 else "")
    found = _bullets_of(lines)
    return found[0] if found else None


def _headlines(parsed: Mapping[ReportKind, Mapping[str, list[str]]]) -> list[str]:
    lines: list[str] = []
    market = parsed.get(ReportKind.MARKET)
    if market is not None:
        size = _section_of(market, r"size")
        rows = [line for line in size if line.startswith("| ") and not line.startswith("| ---")]
        if len(rows) > 1:
            lines.append("- Market: " + "; ".join(
                " ".join(c.strip() for c in row.strip("|").split("|")) for row in rows[1:4]
            ) + ".")
        elif _bullets_of(size):
            lines.append(f"- Market: {_bullets_of(size)[0]}")
        rates = [line for line in _section_of(market, r"trend") if line.startswith("Growth")]
        if rates:
            lines.append(f"- {rates[0]}")
    competition = parsed.get(ReportKind.COMPETITION)
    if competition is not None:
        names = re.findall(r"^- \*\*(.+?)\*\*", "\n".join(_section_of(competition, r"direct")),
                           re.M)
        if names:
            lines.append(f"- Competitors named: {', '.join(names)}.")
    price = parsed.get(ReportKind.PRICE)
    if price is not None:
        spread = [b for b in _bullets_of(_section_of(price, r"price points"))
                  if b.startswith("Amounts")]
        if spread:
            lines.append(f"- Prices: {spread[0]}")
    legal = parsed.get(ReportKind.LEGAL)
    if legal is not None:
        refs = [b for b in _bullets_of(_section_of(legal, r"jurisdiction"))
                if not b.startswith("Jurisdictions") and not b.startswith("No law")]
        lines.append(f"- Legal: {len(refs)} laws, regulations or authorities named in the plan.")
    return lines


def evidence_checks(
    parsed: Mapping[ReportKind, Mapping[str, list[str]]],
) -> list[tuple[str, bool]]:
    """The kinds of evidence a decision needs, and whether the reports hold each."""
    def has(kind: ReportKind, pattern: str) -> bool:
        sections = parsed.get(kind)
        return sections is not None and _has_evidence(_section_of(sections, pattern))

    legal = parsed.get(ReportKind.LEGAL, {})
    legal_points = sum(
        len(_bullets_of(lines)) for heading, lines in legal.items()
        if not re.search(r"jurisdiction|gaps|advice", heading, re.I)
    )
    return [
        ("all four specialist reports were saved", len(parsed) == 4),
        ("the market size is quantified", has(ReportKind.MARKET, r"size")),
        ("growth or demand trends are stated", has(ReportKind.MARKET, r"trend")),
        ("competitors are named", has(ReportKind.COMPETITION, r"direct")),
        ("price points are stated", has(ReportKind.PRICE, r"price points")),
        ("unit economics are stated", has(ReportKind.PRICE, r"unit economics")),
        ("regulatory points are identified", legal_points >= 3),
    ]


def _all_gaps(parsed: Mapping[ReportKind, Mapping[str, list[str]]]) -> list[tuple[str, str]]:
    gaps: list[tuple[str, str]] = []
    for kind in SPECIALISTS:
        sections = parsed.get(kind)
        if sections is None:
            continue
        for gap in _bullets_of(_section_of(sections, r"gaps"))[:2]:
            if not gap.startswith("No gap detected"):
                gaps.append((agent_title(kind).replace(" analyst", ""), gap))
    return gaps
