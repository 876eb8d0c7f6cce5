"""Typed findings: what a calling service can act on, each value traced to its sources.

Every agent answers, next to its Markdown report, with one findings object
of its kind, produced through strands' structured output: the pydantic
models below are the schema the model fills in, and validating an instance
is the server's check. Validation refuses what cannot be stored — a
malformed amount, an unknown currency, a value without source ids, an id
that is not a source of the run (``bind`` closes a model over the run's
registry) — and strands hands those errors back to the model to retry.
What is consistent but suspicious (SOM above TAM, market layers in
different currencies) is kept and reported by ``warnings`` next to the
finding, never dropped.

Field names are those of ``protos/scout/v1/findings.proto``; enum values are
the proto values without their prefix, lower case (``direct`` for
``COMPETITOR_KIND_DIRECT``), except the verdict, which is spelled as in the
design (``GO``, ``GO_WITH_CONDITIONS``, ``NO_GO``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from scout_service.domain import ReportKind

# ISO 4217 codes in circulation (and the common precious-metal / fund codes left out).
CURRENCIES = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
""".split())

# A serialised findings object is kept well under DynamoDB's 400 KB item limit.
MAX_FINDINGS_BYTES = 96 * 1024
MAX_ITEMS = 40
_SOURCE_ID = re.compile(r"^S[1-9]\d{0,5}$")

SourceIds = Annotated[list[str], Field(
    min_length=1, max_length=12,
    description="Ids of the run's sources (S1, S2, …) that state this value, as the research "
                "tools returned them.",
)]
OptionalSourceIds = Annotated[list[str], Field(
    default_factory=list, max_length=12,
    description="Ids of the run's sources behind this, if any.",
)]
Text = Annotated[str, Field(min_length=1, max_length=600)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Level = Literal["low", "medium", "high"]
Severity = Literal["low", "medium", "high", "critical"]
BillingPeriod = Literal["one_time", "hour", "day", "week", "month", "quarter", "year", "unit",
                        "use", "other"]
Verdict = Literal["GO", "GO_WITH_CONDITIONS", "NO_GO"]


class _Finding(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("source_ids", mode="after", check_fields=False)
    @classmethod
    def _ids_are_ids(cls, ids: list[str]) -> list[str]:
        bad = [i for i in ids if not _SOURCE_ID.match(i)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a source id; use ids like S3 from the "
                             "research tools' results")
        return list(dict.fromkeys(ids))

    @field_validator("currency", mode="before", check_fields=False)
    @classmethod
    def _known_currency(cls, value: Any) -> Any:
        if value is None:
            return None
        code = str(value).strip().upper()
        if code not in CURRENCIES:
            raise ValueError(f"unknown currency {str(value)[:12]!r}; use an ISO 4217 code such "
                             "as EUR, USD or GBP")
        return code


class MarketSize(_Finding):
    """A market size: an amount of money (``currency``) or a count of something (``unit``)."""

    amount: float = Field(ge=0, description="The figure as a plain number, e.g. 62000000.")
    currency: str | None = Field(None, description="ISO 4217 code when the size is money.")
    unit: str | None = Field(None, max_length=80,
                             description="What is counted when it is not money, e.g. households.")
    year: int | None = Field(None, ge=1900, le=2100, description="The year the size is for.")
    basis: str | None = Field(None, max_length=300, description="What the figure covers.")
    source_ids: SourceIds

    @model_validator(mode="after")
    def _money_or_count(self) -> MarketSize:
        if self.currency is None and not self.unit:
            raise ValueError("a market size needs a currency (money) or a unit (a count)")
        return self


class GrowthRate(_Finding):
    """A growth rate over a period."""

    rate_percent: float = Field(ge=-100, le=10_000, description="E.g. 12.5 for 12.5 %.")
    period: ShortText = Field(description="The period, e.g. 'per year 2024–2030'.")
    metric: str | None = Field(None, max_length=200, description="What grows.")
    source_ids: SourceIds


class Segment(_Finding):
    """A customer segment."""

    name: ShortText
    description: str | None = Field(None, max_length=600)
    size: MarketSize | None = None
    source_ids: SourceIds


class MarketFindings(_Finding):
    """Market findings: TAM, SAM and SOM, growth rates and customer segments."""

    tam: MarketSize | None = Field(None, description="Total addressable market.")
    sam: MarketSize | None = Field(None, description="Serviceable addressable market.")
    som: MarketSize | None = Field(None, description="Serviceable obtainable market.")
    growth_rates: list[GrowthRate] = Field(default_factory=list, max_length=MAX_ITEMS)
    segments: list[Segment] = Field(default_factory=list, max_length=MAX_ITEMS)


class PricePoint(_Finding):
    """A price: what a tier costs, per what."""

    tier: ShortText = Field(description="The offer or tier, e.g. 'Plus' or 'per consult'.")
    amount: float = Field(ge=0, description="The price as a plain number, e.g. 24.0.")
    currency: str = Field(description="ISO 4217 code, e.g. EUR.")
    billing_period: BillingPeriod = Field(
        description="How often it is paid: one_time, month, year …; unit or use for per-item.")
    unit: str | None = Field(None, max_length=80, description="What it is per, as stated.")
    source_ids: SourceIds


class Competitor(_Finding):
    """A competitor with its offer and prices."""

    name: ShortText
    kind: Literal["direct", "indirect"] = "direct"
    offer: str | None = Field(None, max_length=600)
    price_points: list[PricePoint] = Field(default_factory=list, max_length=MAX_ITEMS)
    positioning: str | None = Field(None, max_length=600)
    strengths: list[Text] = Field(default_factory=list, max_length=12)
    weaknesses: list[Text] = Field(default_factory=list, max_length=12)
    source_ids: SourceIds


class CompetitionFindings(_Finding):
    """Competition findings: the competitors the documents name."""

    competitors: list[Competitor] = Field(default_factory=list, max_length=MAX_ITEMS)


class Money(_Finding):
    """An amount of money."""

    amount: float = Field(ge=0)
    currency: str
    source_ids: SourceIds


class Percentage(_Finding):
    """A share in percent."""

    percent: float = Field(ge=-1000, le=1000)
    source_ids: SourceIds


class Months(_Finding):
    """A duration in months."""

    months: float = Field(ge=0, le=1200)
    source_ids: SourceIds


class UnitEconomics(_Finding):
    """Unit economics, where the documents state them."""

    unit_cost: Money | None = None
    gross_margin: Percentage | None = None
    cac: Money | None = Field(None, description="Customer acquisition cost.")
    ltv: Money | None = Field(None, description="Customer lifetime value.")
    payback: Months | None = Field(None, description="CAC payback period.")


class PriceFindings(_Finding):
    """Price findings: the plan's own price points and its unit economics."""

    price_points: list[PricePoint] = Field(default_factory=list, max_length=MAX_ITEMS)
    unit_economics: UnitEconomics | None = None


class Obligation(_Finding):
    """A legal obligation the plan must meet."""

    regulation: ShortText = Field(description="The regulation or standard, e.g. 'GDPR'.")
    jurisdiction: ShortText = Field(description="Where it applies, e.g. 'EU' or 'Netherlands'.")
    requirement: Text = Field(description="What it requires of the business.")
    severity: Severity = "medium"
    deadline: str | None = Field(None, max_length=200)
    source_ids: SourceIds


class LegalFindings(_Finding):
    """Legal findings: the obligations that apply."""

    obligations: list[Obligation] = Field(default_factory=list, max_length=MAX_ITEMS)


class Risk(_Finding):
    """A key risk."""

    risk: Text
    likelihood: Level = "medium"
    impact: Level = "medium"
    mitigation: str | None = Field(None, max_length=600)
    source_ids: OptionalSourceIds


class Answer(_Finding):
    """The answer to one of the brief's questions."""

    question: Text
    answer: Annotated[str, Field(min_length=1, max_length=2000)]
    source_ids: SourceIds


class FinalFindings(_Finding):
    """The final verdict with its conditions and key risks."""

    verdict: Verdict = Field(description="GO, GO_WITH_CONDITIONS or NO_GO.")
    confidence: float = Field(ge=0, le=1, description="0 to 1.")
    conditions: list[Text] = Field(default_factory=list, max_length=12)
    risks: list[Risk] = Field(default_factory=list, max_length=12)
    answers: list[Answer] = Field(default_factory=list, max_length=20)


MODELS: dict[ReportKind, type[_Finding]] = {
    ReportKind.MARKET: MarketFindings,
    ReportKind.COMPETITION: CompetitionFindings,
    ReportKind.PRICE: PriceFindings,
    ReportKind.LEGAL: LegalFindings,
    ReportKind.FINAL: FinalFindings,
}


def tool_name(kind: ReportKind) -> str:
    """The name of the structured-output tool of ``kind`` (its model's class name)."""
    return MODELS[kind].__name__


def source_ids(value: Any) -> Iterator[str]:
    """Every source id cited anywhere in a findings object."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            item = getattr(value, name)
            if name == "source_ids":
                yield from item
            else:
                yield from source_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from source_ids(item)


def bind(kind: ReportKind, known: Callable[[], Collection[str]],
         blocked: Callable[[], str | None] = lambda: None) -> type[_Finding]:
    """``kind``'s model, refusing source ids that ``known()`` (the run's sources) lacks.

    ``blocked()`` says why findings cannot be taken yet (the report they
    belong to was not accepted), or None.
    """
    base = MODELS[kind]

    def sources_of_the_run(self: _Finding) -> _Finding:
        why = blocked()
        if why is not None:
            raise ValueError(why)
        ids = set(known())
        unknown = sorted({i for i in source_ids(self) if i not in ids},
                         key=lambda i: int(i[1:]))
        if unknown:
            raise ValueError(
                f"source id(s) {', '.join(unknown[:8])} are not sources of this run; cite only "
                "ids the research tools returned, or leave a value out")
        if len(self.model_dump_json(exclude_none=True)) > MAX_FINDINGS_BYTES:
            raise ValueError(f"the findings exceed {MAX_FINDINGS_BYTES // 1024} KB; keep the "
                             "key values only")
        return self

    validators: dict[str, Any] = {
        "sources_of_the_run": model_validator(mode="after")(sources_of_the_run)}
    return create_model(base.__name__, __base__=base, __doc__=base.__doc__,
                        __validators__=validators)


@dataclass(frozen=True)
class FindingWarning:
    """Something consistent but suspicious about a finding, kept beside it."""

    field: str
    message: str


def warnings(findings: _Finding) -> list[FindingWarning]:
    """Inconsistencies the server keeps next to the findings instead of refusing them."""
    found: list[FindingWarning] = []
    if isinstance(findings, MarketFindings):
        layers = [(name, size) for name, size in
                  (("tam", findings.tam), ("sam", findings.sam), ("som", findings.som))
                  if size is not None]
        measures = {(size.currency, size.unit if size.currency is None else None)
                    for _, size in layers}
        if len(measures) > 1:
            found.append(FindingWarning(
                "tam/sam/som", "the market layers are measured differently: "
                + ", ".join(f"{n.upper()} in {_measure(s)}" for n, s in layers)))
        else:
            for (outer, big), (inner, small) in zip(layers, layers[1:], strict=False):
                if small.amount > big.amount:
                    found.append(FindingWarning(
                        inner, f"{inner.upper()} ({small.amount:,.0f}) exceeds "
                        f"{outer.upper()} ({big.amount:,.0f})"))
    if isinstance(findings, CompetitionFindings):
        names = [c.name.casefold() for c in findings.competitors]
        for name in sorted({n for n in names if names.count(n) > 1}):
            found.append(FindingWarning("competitors", f"{name!r} is listed more than once"))
    if isinstance(findings, PriceFindings):
        currencies = sorted({p.currency for p in findings.price_points})
        if len(currencies) > 1:
            found.append(FindingWarning(
                "price_points", "the plan's prices are in several currencies: "
                + ", ".join(currencies)))
    return found


def _measure(size: MarketSize) -> str:
    return size.currency or size.unit or "?"


def parse(kind: ReportKind, data: str) -> _Finding:
    """A stored findings object (JSON) of ``kind``, validated again by its model."""
    return MODELS[kind].model_validate_json(data)


def describe_error(error: ValidationError) -> str:
    """A validation error in one line per problem (what strands hands back, too)."""
    return "; ".join(
        f"{' -> '.join(str(p) for p in e['loc']) or 'findings'}: {e['msg']}"
        for e in error.errors()[:8]
    )
