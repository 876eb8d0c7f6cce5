"""Fixed patterns of the offline analyser: amounts, percentages, places, laws, word lists."""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_PASSAGES_PER_SECTION = 8
MAX_PASSAGE_CHARS = 360
MAX_QUOTE_CHARS = 640

OFFLINE_NOTICE = (
    "> **Produced offline, without a language model.** Scout's extractive analyser wrote "
    "this report by selecting and counting passages of the uploaded plan with fixed rules; "
    "it does not understand, verify or add to them. Read it as an index of what the plan "
    "says{about}, and run Scout with a model provider for an actual analysis."
)
OFFLINE_MARKER = "Produced offline, without a language model"

_DOC_HEADER = re.compile(r"^===== Document: (.+?) \(.*\) =====$")
# A passage a research tool returned: its source id, file and section.
_SOURCE_HEADER = re.compile(r"^===== Source (S\d+): (.+?) \| (.*) =====$")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“(]?[A-Z0-9À-Þ])")
_ABBREVIATIONS = frozenset(
    "e.g i.e no art approx vs etc inc ltd co st dr mr ms fig cf al resp incl excl".split()
)

_CURRENCY = r"(?:EUR|USD|GBP|SEK|NOK|DKK|CHF|ISK|PLN|CZK|CAD|AUD|JPY|INR|€|\$|£|kr\.?)"
_NUMBER = r"\d{1,3}(?:[,\u202f\u00a0 ]\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?"
_SCALE = r"(?:\s?(?:thousand|million|billion|trillion|bn|mn|m|k)\b)?"
AMOUNT = re.compile(
    rf"(?:{_CURRENCY}\s?(?:{_NUMBER}){_SCALE}|(?:{_NUMBER}){_SCALE}\s?{_CURRENCY}(?![A-Za-z]))"
)
PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s?%")
_PER_UNIT = re.compile(
    r"\bper (month|week|year|annum|box|portion|unit|seat|user|person|meal|order|drop|delivery|"
    r"customer|subscriber|hour|day|kg|m²|m2|licen[cs]e)\b|/(month|mo|week|wk|year|yr|unit|seat|"
    r"user)\b",
    re.IGNORECASE,
)
_CAPITALISED = r"[A-ZÀ-ÖØ-Þ][\w'’&.-]*"

_STOPWORDS = frozenset(
    """A An And Are As At Be But By Each Every For From Has Have He Her His How If In Into Is It
    Its Most Much Not Of On Or Our Ours She So Some Such That The Their Them Then There These
    They This Those To Under Up Us We What When Where Which While Who Why With Within Without
    You Your All Any Both Existing Industry Price Prices Pricing Table Competitor Competitors
    Competition Market Markets Offer Notes Note Plan Plans Global Large Smaller Small Online
    Swedish Nordic European Norwegian Danish Finnish German French British American Strong
    Weak Their Whose Also Only Other Others Customers Customer Source Sources Total Key Per
    Q1 Q2 Q3 Q4 January February March April May June July August September October November
    December Monday Tuesday Wednesday Thursday Friday Saturday Sunday TAM SAM SOM VAT EBITDA
    CAC LTV GDPR EU EEA Box Boxes Weekly Monthly Free Delivery""".split()
)

_COUNTRIES = (
    "Sweden Norway Denmark Finland Iceland Estonia Latvia Lithuania Germany France Spain Portugal "
    "Italy Netherlands Belgium Luxembourg Austria Switzerland Poland Czechia Slovakia Hungary "
    "Slovenia Croatia Romania Bulgaria Greece Cyprus Malta Ireland United Kingdom UK England "
    "Scotland Wales United States USA US Canada Mexico Brazil Argentina Chile Colombia India "
    "China Japan Korea Singapore Australia New Zealand South Africa Nigeria Kenya Egypt Turkey "
    "Israel United Arab Emirates UAE Saudi Arabia Ukraine"
).split()
_MULTIWORD_COUNTRIES = (
    "United Kingdom",
    "United States",
    "New Zealand",
    "South Africa",
    "United Arab Emirates",
    "Saudi Arabia",
)
_REGIONS = (
    "Nordics",
    "Nordic countries",
    "Scandinavia",
    "Baltics",
    "Europe",
    "European Union",
    "EU",
    "EEA",
    "DACH",
    "Benelux",
    "EMEA",
    "North America",
    "Latin America",
    "Asia",
    "APAC",
)
_PLACE_AFTER_PREPOSITION = re.compile(
    rf"\b(?:in|to|from|across|throughout|around|into)\s+({_CAPITALISED}(?:\s{_CAPITALISED})?"
    rf"(?:\s*(?:,|and|&)\s*{_CAPITALISED}(?:\s{_CAPITALISED})?)*)"
)

_LAW_PATTERNS = (
    re.compile(r"\bRegulation \((?:EU|EC|EEC)\) (?:No\.? )?\d+/\d+"),
    re.compile(r"\bDirective (?:\((?:EU|EC)\) )?\d{2,4}/\d+(?:/(?:EU|EC|EEC))?"),
    re.compile(r"\b\d{4}/\d+/(?:EU|EC|EEC)\b"),
    re.compile(r"\bSFS \d{4}:\d+"),
    re.compile(r"\bGDPR\b"),
    re.compile(
        r"\b(?:the )?(?:[A-Z][\w-]+ ){1,5}(?:Act|Code|Law|Regulation)\b(?: \(?\d{4}:\d+\)?)?"
    ),
    re.compile(r"\b[A-ZÅÄÖ][a-zåäöæø]+(?:lagen|lag|loven|förordningen)\b(?: \d{4}:\d+)?"),
    # German, Dutch and French names of laws and the standards they point to.
    re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]+(?:verordnung|gesetz)\b"),
    re.compile(r"\bWet [a-z]{3,}\b"),
    re.compile(r"\bDécret n° ?\d{2,4}-\d+\b"),
    re.compile(r"\b(?:NF|DIN|EN|ISO|IEC) (?:[A-Z] )?\d{2,5}(?:-\d{1,4})*\b"),
)
_AUTHORITY_PATTERNS = (
    re.compile(
        r"\b(?:[A-Z][\w-]+ ){1,5}(?:Agency|Authority|Commission|Inspectorate|Ombudsman|Board|"
        r"Ministry|Supervisory|Administration)\b"
    ),
    re.compile(r"\b[A-ZÅÄÖ][a-zåäöæø]+(?:verket|myndigheten|inspektionen|tilsynet|styrelsen)\b"),
    re.compile(r"\b[A-Z][a-zåäö]+ municipality\b"),
)


# -- picking passages --------------------------------------------------------------


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _names_rx(names: Sequence[str]) -> re.Pattern[str] | None:
    if not names:
        return None
    return re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in names))
