import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from scout.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BillingPeriod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BILLING_PERIOD_UNSPECIFIED: _ClassVar[BillingPeriod]
    BILLING_PERIOD_ONE_TIME: _ClassVar[BillingPeriod]
    BILLING_PERIOD_HOUR: _ClassVar[BillingPeriod]
    BILLING_PERIOD_DAY: _ClassVar[BillingPeriod]
    BILLING_PERIOD_WEEK: _ClassVar[BillingPeriod]
    BILLING_PERIOD_MONTH: _ClassVar[BillingPeriod]
    BILLING_PERIOD_QUARTER: _ClassVar[BillingPeriod]
    BILLING_PERIOD_YEAR: _ClassVar[BillingPeriod]
    BILLING_PERIOD_UNIT: _ClassVar[BillingPeriod]
    BILLING_PERIOD_USE: _ClassVar[BillingPeriod]
    BILLING_PERIOD_OTHER: _ClassVar[BillingPeriod]

class CompetitorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPETITOR_KIND_UNSPECIFIED: _ClassVar[CompetitorKind]
    COMPETITOR_KIND_DIRECT: _ClassVar[CompetitorKind]
    COMPETITOR_KIND_INDIRECT: _ClassVar[CompetitorKind]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_LOW: _ClassVar[Severity]
    SEVERITY_MEDIUM: _ClassVar[Severity]
    SEVERITY_HIGH: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_GO: _ClassVar[Verdict]
    VERDICT_GO_WITH_CONDITIONS: _ClassVar[Verdict]
    VERDICT_NO_GO: _ClassVar[Verdict]

class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEVEL_UNSPECIFIED: _ClassVar[Level]
    LEVEL_LOW: _ClassVar[Level]
    LEVEL_MEDIUM: _ClassVar[Level]
    LEVEL_HIGH: _ClassVar[Level]
BILLING_PERIOD_UNSPECIFIED: BillingPeriod
BILLING_PERIOD_ONE_TIME: BillingPeriod
BILLING_PERIOD_HOUR: BillingPeriod
BILLING_PERIOD_DAY: BillingPeriod
BILLING_PERIOD_WEEK: BillingPeriod
BILLING_PERIOD_MONTH: BillingPeriod
BILLING_PERIOD_QUARTER: BillingPeriod
BILLING_PERIOD_YEAR: BillingPeriod
BILLING_PERIOD_UNIT: BillingPeriod
BILLING_PERIOD_USE: BillingPeriod
BILLING_PERIOD_OTHER: BillingPeriod
COMPETITOR_KIND_UNSPECIFIED: CompetitorKind
COMPETITOR_KIND_DIRECT: CompetitorKind
COMPETITOR_KIND_INDIRECT: CompetitorKind
SEVERITY_UNSPECIFIED: Severity
SEVERITY_LOW: Severity
SEVERITY_MEDIUM: Severity
SEVERITY_HIGH: Severity
SEVERITY_CRITICAL: Severity
VERDICT_UNSPECIFIED: Verdict
VERDICT_GO: Verdict
VERDICT_GO_WITH_CONDITIONS: Verdict
VERDICT_NO_GO: Verdict
LEVEL_UNSPECIFIED: Level
LEVEL_LOW: Level
LEVEL_MEDIUM: Level
LEVEL_HIGH: Level

class MarketSize(_message.Message):
    __slots__ = ("amount", "currency", "unit", "year", "basis", "source_ids")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    amount: float
    currency: str
    unit: str
    year: int
    basis: str
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, amount: _Optional[float] = ..., currency: _Optional[str] = ..., unit: _Optional[str] = ..., year: _Optional[int] = ..., basis: _Optional[str] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GrowthRate(_message.Message):
    __slots__ = ("rate_percent", "period", "metric", "source_ids")
    RATE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    rate_percent: float
    period: str
    metric: str
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rate_percent: _Optional[float] = ..., period: _Optional[str] = ..., metric: _Optional[str] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("name", "description", "size", "source_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    size: MarketSize
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., size: _Optional[_Union[MarketSize, _Mapping]] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class MarketFindings(_message.Message):
    __slots__ = ("tam", "sam", "som", "growth_rates", "segments")
    TAM_FIELD_NUMBER: _ClassVar[int]
    SAM_FIELD_NUMBER: _ClassVar[int]
    SOM_FIELD_NUMBER: _ClassVar[int]
    GROWTH_RATES_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    tam: MarketSize
    sam: MarketSize
    som: MarketSize
    growth_rates: _containers.RepeatedCompositeFieldContainer[GrowthRate]
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    def __init__(self, tam: _Optional[_Union[MarketSize, _Mapping]] = ..., sam: _Optional[_Union[MarketSize, _Mapping]] = ..., som: _Optional[_Union[MarketSize, _Mapping]] = ..., growth_rates: _Optional[_Iterable[_Union[GrowthRate, _Mapping]]] = ..., segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ...) -> None: ...

class PricePoint(_message.Message):
    __slots__ = ("tier", "amount", "currency", "billing_period", "unit", "source_ids")
    TIER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    tier: str
    amount: float
    currency: str
    billing_period: BillingPeriod
    unit: str
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tier: _Optional[str] = ..., amount: _Optional[float] = ..., currency: _Optional[str] = ..., billing_period: _Optional[_Union[BillingPeriod, str]] = ..., unit: _Optional[str] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Competitor(_message.Message):
    __slots__ = ("name", "kind", "offer", "price_points", "positioning", "strengths", "weaknesses", "source_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OFFER_FIELD_NUMBER: _ClassVar[int]
    PRICE_POINTS_FIELD_NUMBER: _ClassVar[int]
    POSITIONING_FIELD_NUMBER: _ClassVar[int]
    STRENGTHS_FIELD_NUMBER: _ClassVar[int]
    WEAKNESSES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: CompetitorKind
    offer: str
    price_points: _containers.RepeatedCompositeFieldContainer[PricePoint]
    positioning: str
    strengths: _containers.RepeatedScalarFieldContainer[str]
    weaknesses: _containers.RepeatedScalarFieldContainer[str]
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[CompetitorKind, str]] = ..., offer: _Optional[str] = ..., price_points: _Optional[_Iterable[_Union[PricePoint, _Mapping]]] = ..., positioning: _Optional[str] = ..., strengths: _Optional[_Iterable[str]] = ..., weaknesses: _Optional[_Iterable[str]] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CompetitionFindings(_message.Message):
    __slots__ = ("competitors",)
    COMPETITORS_FIELD_NUMBER: _ClassVar[int]
    competitors: _containers.RepeatedCompositeFieldContainer[Competitor]
    def __init__(self, competitors: _Optional[_Iterable[_Union[Competitor, _Mapping]]] = ...) -> None: ...

class Money(_message.Message):
    __slots__ = ("amount", "currency", "source_ids")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    amount: float
    currency: str
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, amount: _Optional[float] = ..., currency: _Optional[str] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Percentage(_message.Message):
    __slots__ = ("percent", "source_ids")
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    percent: float
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, percent: _Optional[float] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Months(_message.Message):
    __slots__ = ("months", "source_ids")
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    months: float
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, months: _Optional[float] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UnitEconomics(_message.Message):
    __slots__ = ("unit_cost", "gross_margin", "cac", "ltv", "payback")
    UNIT_COST_FIELD_NUMBER: _ClassVar[int]
    GROSS_MARGIN_FIELD_NUMBER: _ClassVar[int]
    CAC_FIELD_NUMBER: _ClassVar[int]
    LTV_FIELD_NUMBER: _ClassVar[int]
    PAYBACK_FIELD_NUMBER: _ClassVar[int]
    unit_cost: Money
    gross_margin: Percentage
    cac: Money
    ltv: Money
    payback: Months
    def __init__(self, unit_cost: _Optional[_Union[Money, _Mapping]] = ..., gross_margin: _Optional[_Union[Percentage, _Mapping]] = ..., cac: _Optional[_Union[Money, _Mapping]] = ..., ltv: _Optional[_Union[Money, _Mapping]] = ..., payback: _Optional[_Union[Months, _Mapping]] = ...) -> None: ...

class PriceFindings(_message.Message):
    __slots__ = ("price_points", "unit_economics")
    PRICE_POINTS_FIELD_NUMBER: _ClassVar[int]
    UNIT_ECONOMICS_FIELD_NUMBER: _ClassVar[int]
    price_points: _containers.RepeatedCompositeFieldContainer[PricePoint]
    unit_economics: UnitEconomics
    def __init__(self, price_points: _Optional[_Iterable[_Union[PricePoint, _Mapping]]] = ..., unit_economics: _Optional[_Union[UnitEconomics, _Mapping]] = ...) -> None: ...

class Obligation(_message.Message):
    __slots__ = ("regulation", "jurisdiction", "requirement", "severity", "deadline", "source_ids")
    REGULATION_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENT_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    regulation: str
    jurisdiction: str
    requirement: str
    severity: Severity
    deadline: str
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, regulation: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., requirement: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., deadline: _Optional[str] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class LegalFindings(_message.Message):
    __slots__ = ("obligations",)
    OBLIGATIONS_FIELD_NUMBER: _ClassVar[int]
    obligations: _containers.RepeatedCompositeFieldContainer[Obligation]
    def __init__(self, obligations: _Optional[_Iterable[_Union[Obligation, _Mapping]]] = ...) -> None: ...

class Risk(_message.Message):
    __slots__ = ("risk", "likelihood", "impact", "mitigation", "source_ids")
    RISK_FIELD_NUMBER: _ClassVar[int]
    LIKELIHOOD_FIELD_NUMBER: _ClassVar[int]
    IMPACT_FIELD_NUMBER: _ClassVar[int]
    MITIGATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    risk: str
    likelihood: Level
    impact: Level
    mitigation: str
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, risk: _Optional[str] = ..., likelihood: _Optional[_Union[Level, str]] = ..., impact: _Optional[_Union[Level, str]] = ..., mitigation: _Optional[str] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Answer(_message.Message):
    __slots__ = ("question", "answer", "source_ids")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    question: str
    answer: str
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, question: _Optional[str] = ..., answer: _Optional[str] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class FinalFindings(_message.Message):
    __slots__ = ("verdict", "confidence", "conditions", "risks", "answers")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    RISKS_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    verdict: Verdict
    confidence: float
    conditions: _containers.RepeatedScalarFieldContainer[str]
    risks: _containers.RepeatedCompositeFieldContainer[Risk]
    answers: _containers.RepeatedCompositeFieldContainer[Answer]
    def __init__(self, verdict: _Optional[_Union[Verdict, str]] = ..., confidence: _Optional[float] = ..., conditions: _Optional[_Iterable[str]] = ..., risks: _Optional[_Iterable[_Union[Risk, _Mapping]]] = ..., answers: _Optional[_Iterable[_Union[Answer, _Mapping]]] = ...) -> None: ...

class FindingWarning(_message.Message):
    __slots__ = ("field", "message")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    field: str
    message: str
    def __init__(self, field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Findings(_message.Message):
    __slots__ = ("kind", "run_id", "create_time", "warnings", "market", "competition", "price", "legal", "final")
    KIND_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    MARKET_FIELD_NUMBER: _ClassVar[int]
    COMPETITION_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    LEGAL_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    kind: _types_pb2.ReportKind
    run_id: str
    create_time: _timestamp_pb2.Timestamp
    warnings: _containers.RepeatedCompositeFieldContainer[FindingWarning]
    market: MarketFindings
    competition: CompetitionFindings
    price: PriceFindings
    legal: LegalFindings
    final: FinalFindings
    def __init__(self, kind: _Optional[_Union[_types_pb2.ReportKind, str]] = ..., run_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., warnings: _Optional[_Iterable[_Union[FindingWarning, _Mapping]]] = ..., market: _Optional[_Union[MarketFindings, _Mapping]] = ..., competition: _Optional[_Union[CompetitionFindings, _Mapping]] = ..., price: _Optional[_Union[PriceFindings, _Mapping]] = ..., legal: _Optional[_Union[LegalFindings, _Mapping]] = ..., final: _Optional[_Union[FinalFindings, _Mapping]] = ...) -> None: ...
