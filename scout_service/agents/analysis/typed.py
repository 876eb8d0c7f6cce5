"""The offline model's typed findings, read extractively from the passages it retrieved.

Every value comes from one retrieved passage (a sentence or a table row) and
carries that passage's source id; nothing is inferred beyond what a pattern
reads off the text: an amount with its currency and scale, the year it is
for, a price with what it is per, a regulation with the sentence that names
it. Where the passages hold no such value, the finding is left out. The
verdict is the offline heuristic of the final report (how much of the
evidence a decision needs the reports contain), never a judgement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scout_service.agents.analysis import extract
from scout_service.agents.analysis.amounts import (
    _CODE,
    _COMPETITOR_HEADER,
    _ECONOMICS,
    _GROWTH,
    _LAYERS,
    _NOT_APPLICABLE,
    _OFFER_HEADER,
    _PERCENT,
    _POSITION_HEADER,
    _PRICE_HEADER,
    _STALE,
    _STRENGTH_HEADER,
    _UNIT,
    _WEAKNESS_HEADER,
    _YEAR_RANGE,
    _billing,
    _cap,
    _drop_none,
    _header_currency,
    _number,
    _year,
    amounts,
)
from scout_service.agents.analysis.extract import _context, competitors, legal_references
from scout_service.agents.analysis.flat_tables import (
    FlatTable,
    _flat_layers,
    _flat_prices,
    flat_tables,
)
from scout_service.agents.analysis.parse import Passage, Plan, parse_plan
from scout_service.agents.analysis.synthesis import evidence_checks
from scout_service.domain import ReportKind


def findings(kind: ReportKind, documents: str, *, verdict: tuple[str, float, list[str]] | None
             = None) -> dict[str, Any]:
    """``kind``'s findings (the model's JSON) from retrieved passages under Source headers."""
    plan = parse_plan(documents)
    passages = [p for p in plan.passages if p.source_id]
    tables = flat_tables(documents)
    if kind is ReportKind.MARKET:
        return _market(passages, tables)
    if kind is ReportKind.COMPETITION:
        return {"competitors": _competitors(plan, passages, tables)}
    if kind is ReportKind.PRICE:
        return _price(plan, passages, tables)
    if kind is ReportKind.LEGAL:
        return {"obligations": _obligations(plan, passages)}
    label, confidence, conditions = verdict or ("NO_GO", 0.0, [])
    return {"verdict": label, "confidence": confidence, "conditions": conditions,
            "risks": _risks(passages)}


# -- market -----------------------------------------------------------------------------


def _market(passages: Sequence[Passage], tables: Sequence[FlatTable] = ()) -> dict[str, Any]:
    out: dict[str, Any] = dict(_flat_layers(tables))
    for layer, pattern in _LAYERS.items():
        if layer in out:
            continue
        candidates: list[tuple[int, int, dict[str, Any]]] = []
        for p in passages:
            if p.is_row:
                if not pattern.search(p.cells[0]):
                    continue
                cells = p.cells[1:]
                header = p.header[1:] if p.header else ()
                text = " | ".join(cells)
                money = [a for a in amounts(
                    cells[-1] if cells else "", default_currency=_header_currency(header))
                    if a[1] is not None]
                basis = cells[0] if len(cells) > 1 else None
                context = " ".join((*p.header, *p.cells))
            else:
                hit = pattern.search(p.text)
                if hit is None:
                    continue
                text = p.text[hit.start():]
                # Up to the next layer's name: a figure further on is not this layer's.
                following = [m.start() for other in _LAYERS.values()
                             for m in other.finditer(text, hit.end() - hit.start())]
                text = text[:min(following, default=len(text))][:240]
                money = [a for a in amounts(text) if a[1] is not None]
                # What the figure covers: the words between the layer's name and its amount.
                span = text[hit.end():money[0][2]] if money else ""
                basis = span.strip(" :–-|,") or None
                context = text[:money[0][2] + 40] if money else text
            if not money or _STALE.search(context):
                continue
            if not p.is_row:
                context = basis or ""  # the year the figure is for sits next to it
            value, currency, _ = money[0]
            year = _year(context)
            candidates.append((year or 0, -len(candidates), {
                "amount": value, "currency": currency, "year": year,
                "basis": _cap(basis or text, 300), "source_ids": [p.source_id],
            }))
        if candidates:
            out[layer] = max(candidates, key=lambda c: (c[0], c[1]))[2]
    out["growth_rates"] = _growth(passages)
    out["segments"] = _segments(passages)
    return _drop_none(out)


def _growth(passages: Sequence[Passage]) -> list[dict[str, Any]]:
    rates: list[dict[str, Any]] = []
    for p in passages:
        if p.is_row or not _GROWTH.search(p.text) or _STALE.search(p.text):
            continue
        for match in _PERCENT.finditer(p.text):
            value = _number(match.group("num").lstrip("+"))
            if value is None:
                continue
            # A growth rate says its period right after it ("6.5 % per year between
            # 2021 and 2025", "a CAGR of 12 % (2024–2030)"); other shares are not rates.
            after = p.text[match.end():match.end() + 60]
            before = p.text[max(0, match.start() - 40):match.start()]
            if not re.search(r"^\W{0,3}(?:per year|a year|annually|per annum|yearly|CAGR|"
                             r"year[- ]on[- ]year|p\.a\.)", after, re.I) and not re.search(
                                 r"CAGR|grow\w* (?:by|at)", before, re.I):
                continue
            years = _YEAR_RANGE.search(after) or re.search(
                r"between ((?:19|20)\d\d) and ((?:19|20)\d\d)", after)
            period = f"{years.group(1)}–{years.group(2)}" if years else "per year"
            rates.append({"rate_percent": value, "period": period,
                          "metric": _cap(p.text, 200), "source_ids": [p.source_id]})
            break
        if len(rates) >= 6:
            break
    return rates


def _segments(passages: Sequence[Passage]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in passages:
        if not (p.is_row and p.header and re.search(r"segment|customer group|persona",
                                                     p.header[0], re.I)):
            continue
        out.append({"name": _cap(p.cells[0], 200),
                    "description": _cap(" · ".join(p.cells[1:]), 600) or None,
                    "source_ids": [p.source_id]})
    return out[:12]


# -- competition ------------------------------------------------------------------------


def _competitors(plan: Plan, passages: Sequence[Passage], tables: Sequence[FlatTable] = ()
                 ) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    own = _own_names(plan)
    for table in tables:
        if not _COMPETITOR_HEADER.match(table.header) or re.match(r"plan|tier|package",
                                                                  table.header, re.I):
            continue
        for name, price in _flat_prices(table, name_is_tier=True):
            if any(name.startswith(o) for o in own) or name.casefold() in found:
                continue
            found[name.casefold()] = {
                "name": _cap(name, 200), "kind": "direct", "price_points": [price],
                "strengths": [], "weaknesses": [], "source_ids": [table.source_id]}
    for p in passages:
        if not (p.is_row and p.header and _COMPETITOR_HEADER.search(p.header[0])):
            continue
        name = re.sub(r"\s*\(.*?\)\s*", " ", p.cells[0]).strip(" *")
        if not name or name.casefold() in ("total", "others", "n/a") or any(
                name.startswith(o) for o in own):
            continue  # the plan's own offer listed next to its competitors is not one
        entry = found.setdefault(name.casefold(), {
            "name": _cap(name, 200), "kind": "direct", "price_points": [],
            "strengths": [], "weaknesses": [], "source_ids": []})
        if p.source_id not in entry["source_ids"]:
            entry["source_ids"].append(p.source_id)
        default = _header_currency(p.header)
        for column, cell in zip(p.header[1:], p.cells[1:], strict=False):
            if _PRICE_HEADER.search(column):
                entry["price_points"] += _prices(name, column, cell, default, p.source_id)
            elif _STRENGTH_HEADER.search(column):
                entry["strengths"].append(_cap(cell, 600))
            elif _WEAKNESS_HEADER.search(column):
                entry["weaknesses"].append(_cap(cell, 600))
            elif _OFFER_HEADER.search(column) and "offer" not in entry:
                entry["offer"] = _cap(cell, 600)
            elif _POSITION_HEADER.search(column) and "positioning" not in entry:
                entry["positioning"] = _cap(cell, 600)
        if re.search(r"indirect|substitute", " ".join(p.cells), re.I):
            entry["kind"] = "indirect"
    texts = [] if found else competitors(
        Plan(passages=[p for p in passages if not p.is_row]))
    for name in texts:
        if (name.casefold() in found or len(found) >= 40 or len(name) < 3
                or re.fullmatch(_CODE, name) or any(name.startswith(o) for o in own)
                or any(name in other for other in texts if other != name)):
            continue
        named = _competitor_in_text(name, passages)
        if named is not None:
            found[name.casefold()] = named
    for entry in found.values():
        entry["price_points"] = _unique_prices(entry["price_points"])[:12]
        entry["strengths"] = [s for s in entry["strengths"] if s][:12]
        entry["weaknesses"] = [s for s in entry["weaknesses"] if s][:12]
    return [_drop_none(e) for e in found.values()][:40]


def _competitor_in_text(name: str, passages: Sequence[Passage]) -> dict[str, Any] | None:
    """A competitor named in running text (or a table flattened by PDF extraction).

    Kept only with a price: the first amount with a currency within a line's
    reach after the name (``Nordic Herb Co. Greenhouse herbs DKK 52 per tray``).
    """
    for p in passages:
        at = p.text.find(name)
        if p.is_row or at < 0:
            continue
        reach = p.text[at + len(name):at + len(name) + 90]
        money = [a for a in amounts(reach) if a[1] is not None]
        if not money:
            continue
        value, currency, offset = money[0]
        tail = reach[offset:offset + 40]
        unit = re.search(r"per [\w²-]+|/\w+", tail)
        offer = reach[:offset].strip(" :–-|,(") or None
        return _drop_none({
            "name": _cap(name, 200), "kind": "direct", "offer": _cap(offer, 600) or None,
            "price_points": [_drop_none({
                "tier": _cap(name, 200), "amount": value, "currency": currency,
                "billing_period": _billing(tail), "unit": unit.group(0) if unit else None,
                "source_ids": [p.source_id]})],
            "strengths": [], "weaknesses": [], "source_ids": [p.source_id]})
    return None


def _own_names(plan: Plan) -> set[str]:
    """The plan's own company as it names itself (``Nordbox Meal Kits AB ("Nordbox")``).

    Retrieved passages rarely hold the plan's title, so only such an alias counts.
    """
    return {alias.split()[0] for alias in
            re.findall(r"\(\s*[\"“]([^\"”]{2,40})[\"”]\s*\)", plan.text)}


def _prices(tier: str, column: str, cell: str, default: str | None, source_id: str
            ) -> list[dict[str, Any]]:
    out = []
    for value, currency, _ in amounts(cell, default_currency=default):
        if currency is None:
            continue
        unit = (re.search(_UNIT, cell) or re.search(_UNIT, column))
        out.append({"tier": _cap(tier, 200), "amount": value, "currency": currency,
                    "billing_period": _billing(f"{cell} {column}"),
                    "unit": unit.group(0) if unit else None, "source_ids": [source_id]})
    return out


def _unique_prices(points: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, float, str]] = set()
    out = []
    for point in points:
        key = (point["tier"], point["amount"], point["currency"])
        if key not in seen:
            seen.add(key)
            out.append(_drop_none(point))
    return out


# -- price ------------------------------------------------------------------------------


def _price(plan: Plan, passages: Sequence[Passage], tables: Sequence[FlatTable] = ()
           ) -> dict[str, Any]:
    points: list[dict[str, Any]] = []
    for p in passages:
        if not p.is_row:
            continue
        if p.header and _COMPETITOR_HEADER.search(p.header[0]) and not re.search(
                r"plan|tier|package|offer", p.header[0], re.I):
            continue
        default = _header_currency(p.header)
        for column, cell in zip(p.header[1:], p.cells[1:], strict=False):
            if _PRICE_HEADER.search(column) and not re.search(r"cost|margin", column, re.I):
                points += _prices(p.cells[0], column, cell, default, p.source_id)
    if not points:  # a price table flattened by PDF extraction
        for table in tables:
            if re.match(r"plan|tier|package|product|service|offer", table.header, re.I):
                points += [price for _, price in _flat_prices(table, name_is_tier=True)]
    if not points:
        # No price table at all: prices in running text,
        # leaving out market sizes (scaled amounts) and the competitors' prices.
        rivals = competitors(Plan(passages=[p for p in passages if not p.is_row]))
        for p in passages:
            if p.is_row or _STALE.search(p.text):
                continue
            for value, currency, at in amounts(p.text):
                after = p.text[at:at + 60]
                if currency is None or _billing(after) == "other" or re.match(
                        r"\D*\d[\d.,\s]*(?:thousand|million|billion|bn|mn|m|k)\b", after):
                    continue
                if any(name in p.text[max(0, at - 90):at] for name in rivals):
                    continue
                points.append({"tier": _cap(_context(p.text, at, at + 20), 200),
                               "amount": value, "currency": currency,
                               "billing_period": _billing(after), "source_ids": [p.source_id]})
    economics: dict[str, Any] = {}
    for p in passages:
        if _STALE.search(p.text):
            continue
        for name, pattern in _ECONOMICS:
            hit = pattern.search(p.text)
            if name in economics or hit is None:
                continue
            rest = p.text[hit.start():]
            if name == "gross_margin":
                percent = _PERCENT.search(rest)
                share = _number(percent.group("num").lstrip("+")) if percent else None
                if share is not None:
                    economics[name] = {"percent": share, "source_ids": [p.source_id]}
            elif name == "payback":
                months = re.search(r"(\d+(?:[.,]\d+)?)\s?months?", rest)
                count = _number(months.group(1)) if months else None
                if count is not None:
                    economics[name] = {"months": count, "source_ids": [p.source_id]}
            else:
                money = [a for a in amounts(rest) if a[1] is not None]
                if money:
                    economics[name] = {"amount": money[0][0], "currency": money[0][1],
                                       "source_ids": [p.source_id]}
    out: dict[str, Any] = {"price_points": _unique_prices(points)[:40]}
    if economics:
        out["unit_economics"] = economics
    return out


# -- legal ------------------------------------------------------------------------------

_EU_LAW = re.compile(r"\bEU\b|\(EU\)|\bEC\b|Union|GDPR|Directive|2016/679", re.IGNORECASE)


def _obligations(plan: Plan, passages: Sequence[Passage]) -> list[dict[str, Any]]:
    sub = Plan(passages=list(passages))
    laws, _ = legal_references(sub)
    places = extract.places(plan)
    out = []
    for law in laws:
        mentions = [p for p in passages if law in p.text]
        if not mentions or all(_NOT_APPLICABLE.search(p.text) for p in mentions):
            continue
        first = next(p for p in mentions if not _NOT_APPLICABLE.search(p.text))
        severity = ("high" if re.search(r"\bmust\b|required|requires|licen[cs]e|permit|"
                                        r"prohibit|authori[sz]ation|approval", first.text, re.I)
                    else "medium")
        deadline = re.search(r"\bby (?:\d{1,2} )?(?:[A-Z][a-z]+ )?(?:19|20)\d\d\b|"
                             r"\bbefore (?:\d{1,2} )?(?:[A-Z][a-z]+ )?(?:19|20)\d\d\b",
                             first.text)
        out.append(_drop_none({
            "regulation": _cap(law, 200),
            "jurisdiction": "EU" if _EU_LAW.search(law) else (places[0] if places
                                                              else "not stated"),
            "requirement": _cap(first.text, 600),
            "severity": severity,
            "deadline": deadline.group(0) if deadline else None,
            "source_ids": list(dict.fromkeys(p.source_id for p in mentions))[:12],
        }))
    return out[:40]


# -- final ------------------------------------------------------------------------------


def _risks(passages: Sequence[Passage]) -> list[dict[str, Any]]:
    out = []
    for p in passages:
        if not re.search(r"risk", p.section, re.I):
            continue
        text = p.cells[0] if p.is_row else p.text
        levels = [c.lower() for c in p.cells[1:] if c.lower() in ("low", "medium", "high")]
        mitigation = p.cells[-1] if p.is_row and len(p.cells) > 2 else None
        out.append(_drop_none({
            "risk": _cap(text, 600),
            "likelihood": levels[0] if levels else "medium",
            "impact": levels[1] if len(levels) > 1 else (levels[0] if levels else "medium"),
            "mitigation": _cap(mitigation, 600) if mitigation else None,
            "source_ids": [p.source_id],
        }))
    return out[:12]


def verdict(parsed: Mapping[ReportKind, Mapping[str, list[str]]]) -> tuple[str, float, list[str]]:
    """The offline heuristic's verdict, confidence (share of checks passed) and conditions."""
    checks = evidence_checks(parsed)
    passed = sum(ok for _, ok in checks)
    label = ("GO_WITH_CONDITIONS" if passed >= len(checks) - 2 else "NO_GO")
    conditions = [f"Close the gap: {name} (not in the reports)." for name, ok in checks if not ok]
    # Half at most: a count of evidence kinds is no judgement of the business.
    return label, round(0.5 * passed / len(checks), 2), conditions


# -- helpers ----------------------------------------------------------------------------
