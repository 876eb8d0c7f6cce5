"""Charts of the typed findings for the HTML and PDF exports, drawn as SVG.

Two charts: the plan's price points against the competitors' (like with
like: one panel per currency and billing period/unit that both sides use),
and TAM/SAM/SOM. Each comes with a text alternative that states the values
and a caption that cites the findings' sources.

matplotlib draws them, through its SVG backend and the object-oriented
``Figure`` API only (pyplot's global state is not thread-safe; exports run
in worker threads). It is the best-kept Python charting library, draws in
pure Python with the fonts it ships (no network, no browser, no JavaScript
runtime, unlike Vega-Lite through vl-convert's embedded Deno), and keeps
text as ``<text>`` (``svg.fonttype: none``), so labels stay selectable in
the PDF and the SVG small. With a fixed ``svg.hashsalt`` and no date in the
metadata, the same findings give the same bytes. Labels come from documents
and model output; the SVG writer escapes them as XML text, math-text
parsing is off so ``$`` is just a character, and the SVG reaches the page
as a ``data:`` image, where nothing in it could run.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from scout_service.exports.model import ExportReport, ReportName

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PLAN_COLOUR: Final = "#1d5fb4"
COMPETITOR_COLOUR: Final = "#9aa5b1"
MARKET_COLOURS: Final = {"tam": "#b8cfee", "sam": "#6f9bd8", "som": "#1d5fb4"}

MAX_PANELS: Final = 3
MAX_BARS: Final = 14
MAX_TOTAL_BARS: Final = 24
"""More bars get unreadable, and the figure must fit one A4 page; the caption says how
many prices were left out."""
_LABEL_CHARS: Final = 40
_WIDTH_IN: Final = 6.9  # A4 less the PDF's side margins (178 mm), so print scale is 1:1

_PERIOD_WORDS: Final = {
    "hour": ("per hour", {"hour", "hours", "hourly", "hr", "h"}),
    "day": ("per day", {"day", "days", "daily"}),
    "week": ("per week", {"week", "weeks", "weekly", "wk"}),
    "month": ("per month", {"month", "months", "monthly", "mo"}),
    "quarter": ("per quarter", {"quarter", "quarters", "quarterly"}),
    "year": ("per year", {"year", "years", "yearly", "annual", "annually", "yr", "pa"}),
    "one_time": ("one-time", {"one", "time", "once", "onetime", "off"}),
    "unit": ("per unit", {"unit", "units"}),
    "use": ("per use", {"use", "uses"}),
    "other": ("", set()),
}
_FILLER: Final = {"per", "a", "an", "each", "price", "prices", "from", "about", "approx",
                  "approximately", "only", "the", "of", "for", "incl", "excl", "vat", "eur",
                  "usd", "gbp"}


@dataclass(frozen=True, slots=True)
class ChartSource:
    """A source a chart cites: which reports' findings cite it, its id and where it is."""

    reports: tuple[ReportName, ...]
    run_id: str
    source_id: str
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """One drawn chart: the SVG, its text alternative and what its caption says."""

    key: str  # "prices" or "market": an HTML id
    svg: str
    alt: str
    summary: str
    sources: tuple[ChartSource, ...]

    @property
    def caption(self) -> str:
        """The caption as plain text: what is shown, then the sources with their ids."""
        if not self.sources:
            return self.summary
        cited = "; ".join(f"[{s.source_id}] {s.label}".rstrip() for s in self.sources)
        return f"{self.summary} Sources: {cited}."


def dossier_charts(reports: Sequence[ExportReport]) -> list[Chart]:
    """Every chart the reports' findings allow, prices first; none without findings."""
    by_name = {report.name: report for report in reports}
    drawn = [price_chart(by_name.get("price_report"), by_name.get("competition_report")),
             market_chart(by_name.get("market_report"))]
    return [chart for chart in drawn if chart is not None]


# --- prices ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Bar:
    label: str
    amount: float
    is_plan: bool
    report: ReportName
    source_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Panel:
    title: str  # "EUR per portion"
    bars: tuple[_Bar, ...]
    left_out: int


def price_chart(price: ExportReport | None, competition: ExportReport | None) -> Chart | None:
    """The plan's prices against the competitors', one panel per comparable group.

    Prices compare only within a currency and a billing period/unit. Panels
    are the groups both sides price in, largest first; with none in common,
    the largest group of either side alone. None with fewer than two prices
    to draw.
    """
    groups: dict[tuple[str, str, str], tuple[str, list[_Bar]]] = {}
    plan = _findings(price)
    for point in _points(plan.get("price_points")):
        _add(groups, point, _Bar(_short(str(point["tier"])), float(point["amount"]), True,
                                 "price_report", _ids(point)))
    for competitor in _list(_findings(competition).get("competitors")):
        name = str(competitor.get("name") or "?")
        for point in _points(competitor.get("price_points")):
            tier = str(point["tier"])
            label = name if tier.casefold() in name.casefold() else f"{name} · {tier}"
            _add(groups, point, _Bar(_short(label), float(point["amount"]), False,
                                     "competition_report", _ids(point)))
    ranked = sorted(groups.items(), key=lambda item: -len(item[1][1]))  # stable: first seen
    shared = [g for g in ranked if {b.is_plan for b in g[1][1]} == {True, False}]
    chosen = shared[:MAX_PANELS] or [g for g in ranked[:1] if len(g[1][1]) >= 2]
    if not chosen:
        return None
    panels: list[_Panel] = []
    budget = MAX_TOTAL_BARS
    for index, (_, (title, group)) in enumerate(chosen):
        later = len(chosen) - index - 1
        panels.append(_panel(title, group, min(MAX_BARS, budget - 2 * later)))
        budget -= len(panels[-1].bars)
    bars = [bar for panel in panels for bar in panel.bars]
    sides = {bar.is_plan for bar in bars}
    if sides == {True, False}:
        what, note = "The plan's prices against the competitors'", ""
        coloured = "The plan's prices (blue) against the competitors' (grey)"
    elif sides == {True}:
        what, note = "The plan's prices", "the competitors' are not stated in a comparable unit"
        coloured = what
    else:
        what, note = "The competitors' prices", "the plan's are not stated in a comparable unit"
        coloured = what
    shown = sum(len(p.bars) for p in panels)
    left_out = sum(p.left_out for p in panels)
    notes = [note] if note else []
    if left_out:
        notes.append(f"{shown} of {shown + left_out} prices shown")
    summary = f"{coloured}, {_join([p.title for p in panels])}" + (
        f" ({'; '.join(notes)})." if notes else ".")
    alt = f"Bar chart. {what}{f' ({note})' if note else ''}. " + " ".join(
        _describe_panel(p) for p in panels)
    svg = _draw_prices(panels, sides)
    cited = [(bar.report, bar.source_ids) for bar in bars]
    return Chart("prices", svg, alt, summary, _chart_sources(
        cited, {"price_report": price, "competition_report": competition}))


def _add(groups: dict[tuple[str, str, str], tuple[str, list[_Bar]]], point: Mapping[str, Any],
         bar: _Bar) -> None:
    currency = str(point["currency"]).upper()
    period = str(point["billing_period"])
    shown, key = _unit_words(period, point.get("unit"))
    title = f"{currency} {_per(period, shown)}".strip()
    groups.setdefault((currency, period, key), (title, []))[1].append(bar)


def _unit_words(period: str, unit: Any) -> tuple[str, str]:
    """What a price is per beyond its period, as shown and as compared (singular)."""
    _, own = _PERIOD_WORDS.get(period, ("", set()))
    words = [w for w in re.findall(r"[^\W_]+", str(unit or "").lower())
             if w not in _FILLER and w not in own]
    key = " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
                   for w in words)
    return " ".join(words), key


def _per(period: str, unit: str) -> str:
    phrase, _ = _PERIOD_WORDS.get(period, ("", set()))
    if not unit:
        return phrase
    if period in ("unit", "use", "other"):
        return f"per {unit}"
    return f"per {unit} {phrase}" if phrase.startswith("per ") else f"per {unit}, {phrase}"


def _panel(title: str, bars: list[_Bar], cap: int) -> _Panel:
    """At most ``cap`` bars, half of them the plan's if both sides have more."""
    plan = [b for b in bars if b.is_plan]
    others = [b for b in bars if not b.is_plan]
    keep_plan = plan[:max(cap - len(others), cap // 2)]
    kept = keep_plan + others[:cap - len(keep_plan)]
    ordered = sorted(kept, key=lambda b: b.amount, reverse=True)  # stable for equal prices
    return _Panel(title, tuple(ordered), len(bars) - len(kept))


def _describe_panel(panel: _Panel) -> str:
    def side(bars: list[_Bar], who: str) -> str:
        if not bars:
            return ""
        low, high = min(b.amount for b in bars), max(b.amount for b in bars)
        span = _number(low, cents) if low == high else \
            f"{_number(low, cents)} to {_number(high, cents)}"
        return f"{who} {currency} {span}"

    currency = panel.title.split(" ", 1)[0]
    cents = _cents(panel.bars)
    plan = [b for b in panel.bars if b.is_plan]
    others = [b for b in panel.bars if not b.is_plan]
    ranges = "; ".join(s for s in (side(plan, "the plan's"), side(others, "competitors'")) if s)
    values = ", ".join(f"{'the plan: ' if b.is_plan else ''}{b.label} {_number(b.amount, cents)}"
                       for b in panel.bars)
    return f"{panel.title}: {ranges}. Highest first: {values}."


def _draw_prices(panels: Sequence[_Panel], sides: set[bool]) -> str:
    heights = [len(p.bars) * 0.3 + 0.55 for p in panels]
    with _drawing():
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch

        figure = Figure(figsize=(_WIDTH_IN, sum(heights) + 0.5))
        axes_list = figure.subplots(len(panels), 1, squeeze=False,
                                    gridspec_kw={"height_ratios": heights})[:, 0]
        for axes, panel in zip(axes_list, panels, strict=True):
            rows = list(range(len(panel.bars)))[::-1]  # the highest price at the top
            amounts = [b.amount for b in panel.bars]
            colours = [PLAN_COLOUR if b.is_plan else COMPETITOR_COLOUR for b in panel.bars]
            axes.barh(rows, amounts, height=0.66, color=colours)
            axes.set_yticks(rows, [b.label for b in panel.bars])
            for tick, bar in zip(axes.get_yticklabels(), panel.bars, strict=True):
                if bar.is_plan:
                    tick.set_fontweight("bold")
                    tick.set_color(PLAN_COLOUR)
            top = max(amounts) or 1.0
            cents = _cents(panel.bars)
            for row, amount in zip(rows, amounts, strict=True):
                axes.text(amount + top * 0.01, row, _number(amount, cents), va="center",
                          fontsize=8, color="#1c2430")
            axes.set_xlim(0, top * 1.15)
            axes.set_title(panel.title, loc="left", fontsize=9.5, color="#0f2f57")
            _tidy(axes)
        if len(sides) == 2:
            handles = [Patch(color=PLAN_COLOUR, label="The plan"),
                       Patch(color=COMPETITOR_COLOUR, label="Competitors")]
            figure.legend(handles=handles, loc="upper right", ncols=2, fontsize=8,
                          frameon=False)
        return _svg(figure)


# --- market size -------------------------------------------------------------------------


def market_chart(market: ExportReport | None) -> Chart | None:
    """TAM, SAM and SOM as bars, on a log scale when they span more than a decade.

    Only layers measured alike (one currency, or one counted unit) share an
    axis: the measure most layers use is drawn. None with fewer than two.
    """
    found = _findings(market)
    layers = [(name, size) for name in ("tam", "sam", "som")
              if isinstance(size := found.get(name), Mapping) and _is_number(size.get("amount"))]
    measures = [_measure(size) for _, size in layers]
    common = max(measures, key=measures.count, default="")
    drawn = [(name, size) for name, size in layers if _measure(size) == common]
    if len(drawn) < 2:
        return None
    amounts = [float(size["amount"]) for _, size in drawn]
    log = min(amounts) > 0 and max(amounts) / min(amounts) > 10
    labels = [_layer_label(name, size) for name, size in drawn]
    values = [_amount(size) for _, size in drawn]
    scale = ", log scale" if log else ""
    skipped = [name.upper() for name, size in layers if _measure(size) != common]
    summary = (f"Market size in {common}{scale}: "
               + ", ".join(f"{label} {value}" for label, value in zip(labels, values, strict=True))
               + (f" ({_join(skipped)} measured differently, not drawn)." if skipped else "."))
    flagged = [message for field, message in (market.findings_warnings if market else ())
               if field in ("tam", "sam", "som")]
    if flagged:
        summary += f" Check: {'; '.join(flagged)}."
    described = "; ".join(
        f"{label} {value}" + (f", {_short(str(size['basis']), 120)}" if size.get("basis") else "")
        for label, value, (_, size) in zip(labels, values, drawn, strict=True))
    alt = f"Bar chart of the market size in {common}{scale}. {described}."
    svg = _draw_market(drawn, labels, values, log)
    cited: list[tuple[ReportName, Sequence[str]]] = [("market_report", _ids(size))
                                                     for _, size in drawn]
    return Chart("market", svg, alt, summary,
                 _chart_sources(cited, {"market_report": market}))


def _draw_market(drawn: Sequence[tuple[str, Mapping[str, Any]]], labels: Sequence[str],
                 values: Sequence[str], log: bool) -> str:
    amounts = [float(size["amount"]) for _, size in drawn]
    rows = list(range(len(drawn)))[::-1]  # TAM at the top
    with _drawing():
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, NullFormatter

        figure = Figure(figsize=(_WIDTH_IN, 0.42 * len(drawn) + 0.9))
        axes = figure.subplots()
        if log:
            floor = 10 ** math.floor(math.log10(min(amounts)) - 0.5)
            axes.set_xscale("log")
            axes.barh(rows, [a - floor for a in amounts], left=floor, height=0.62,
                      color=[MARKET_COLOURS[name] for name, _ in drawn])
            axes.set_xlim(floor, max(amounts) * 6)
            axes.xaxis.set_minor_formatter(NullFormatter())
        else:
            axes.barh(rows, amounts, height=0.62,
                      color=[MARKET_COLOURS[name] for name, _ in drawn])
            axes.set_xlim(0, max(amounts) * 1.25 or 1.0)
        axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _compact(x)))
        for row, amount, value in zip(rows, amounts, values, strict=True):
            # Just right of the bar's end: a factor on a log axis, a share of it on a linear one.
            offset = amount * 1.08 if log else amount + max(amounts) * 0.01
            axes.text(offset, row, value, va="center", fontsize=8.5, color="#1c2430")
        axes.set_yticks(rows, labels)
        axes.set_title(f"Market size{' (log scale)' if log else ''}", loc="left",
                       fontsize=9.5, color="#0f2f57")
        _tidy(axes)
        return _svg(figure)


def _layer_label(name: str, size: Mapping[str, Any]) -> str:
    year = size.get("year")
    return f"{name.upper()} ({year})" if isinstance(year, int) else name.upper()


def _measure(size: Mapping[str, Any]) -> str:
    return str(size.get("currency") or "").upper() or _short(str(size.get("unit") or "?"), 30)


# --- shared ------------------------------------------------------------------------------


_LOCK = threading.Lock()
_configured = False


@contextmanager
def _drawing() -> Iterator[None]:
    """Hold matplotlib, configured on first use, for one chart at a time.

    matplotlib documents itself as not thread-safe even without pyplot, and
    the rcParams below are process-wide; a chart takes milliseconds, so
    drawing them one at a time costs nothing that matters.
    """
    global _configured
    with _LOCK:
        if not _configured:
            _configure()
            _configured = True
        yield


def _configure() -> None:
    """Import matplotlib (a few hundred ms) and set what makes its SVG small and stable."""
    import matplotlib

    matplotlib.rcParams.update({
        "svg.fonttype": "none",  # text as <text>, drawn with the reader's DejaVu Sans
        "svg.hashsalt": "scout-charts",  # stable clip-path ids instead of random ones
        "text.parse_math": False,  # "$" in a name is a dollar sign, not TeX
        "font.family": "DejaVu Sans",
        "font.size": 8.5,
        "axes.edgecolor": "#9aa5b1",
        "axes.labelcolor": "#1c2430",
        "xtick.color": "#5b6b80",
        "ytick.color": "#1c2430",
    })


def _svg(figure: Figure) -> str:
    figure.tight_layout()
    buffer = io.StringIO()
    # A figure made without pyplot has no GUI canvas: savefig switches to the SVG one.
    figure.savefig(buffer, format="svg",
                   metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    # The XML declaration and DOCTYPE add nothing to an image and name an external DTD.
    return text[text.index("<svg"):]


def _tidy(axes: Axes) -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(axis="y", length=0)
    axes.grid(axis="x", color="#e3e8ef", linewidth=0.6)
    axes.set_axisbelow(True)


def _chart_sources(cited: Iterable[tuple[ReportName, Sequence[str]]],
                   reports: Mapping[ReportName, ExportReport | None]) -> tuple[ChartSource, ...]:
    """The sources behind the drawn values, once each, labelled from the findings' sources.

    Ids are numbered per run: the price and competition findings usually come
    from one run, and then an id they share is one entry naming both reports.
    """
    entries: dict[tuple[str, str, str], list[ReportName]] = {}
    for name, ids in cited:
        report = reports.get(name)
        if report is None:
            continue
        known = {source.source_id: source for source in report.findings_sources}
        for source_id in ids:
            source = known.get(source_id)
            key = (source_id, source.run_id if source else report.findings_run_id,
                   source.label if source else "")
            names = entries.setdefault(key, [])
            if name not in names:
                names.append(name)
    ordered = sorted(entries.items(), key=lambda item: (int(item[0][0][1:]), *item[0][1:]))
    return tuple(ChartSource(tuple(names), run_id, source_id, label)
                 for (source_id, run_id, label), names in ordered)


def _findings(report: ExportReport | None) -> Mapping[str, Any]:
    if report is None or not isinstance(report.findings, Mapping):
        return {}
    return report.findings


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _points(value: Any) -> list[Mapping[str, Any]]:
    """Price points with what a chart needs; anything malformed is left out, not fatal."""
    return [p for p in _list(value) if _is_number(p.get("amount")) and p.get("tier")
            and isinstance(p.get("currency"), str) and p.get("billing_period")]


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def _ids(item: Mapping[str, Any]) -> tuple[str, ...]:
    ids = item.get("source_ids")
    return tuple(i for i in ids if isinstance(i, str) and re.fullmatch(r"S\d{1,6}", i)) \
        if isinstance(ids, list) else ()


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _number(amount: float, cents: bool | None = None) -> str:
    """A price as people write it: 7.98, 79, 8,232; ``cents`` keeps 79.00 beside 7.98."""
    if cents is None:
        cents = amount != int(amount)
    return f"{amount:,.2f}" if cents and amount < 1000 else f"{amount:,.0f}"


def _cents(bars: Sequence[_Bar]) -> bool:
    return any(b.amount != int(b.amount) for b in bars)


def _compact(amount: float) -> str:
    """A large figure with a word for its magnitude, three significant digits: 4.1 bn."""
    for size, word in ((1e12, "tn"), (1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(amount) >= size:
            return f"{amount / size:.3g} {word}"
    return f"{amount:.3g}"


def _amount(size: Mapping[str, Any]) -> str:
    """A market size for people: EUR 62 m, 410 k households."""
    amount = float(size["amount"])
    figure = _compact(amount) if amount >= 1e6 else f"{amount:,.0f}"
    return f"{_measure(size)} {figure}" if size.get("currency") else f"{figure} {_measure(size)}"
