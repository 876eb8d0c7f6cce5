"""The frozen evaluation set: four fictional business plans, their evidence and answer keys.

Every company, study, survey and price here is invented. Each dossier has a
plan and one to three evidence documents; the evidence holds the current
figures and, on purpose, three kinds of distractor:

- a **stale** market figure from an older, superseded edition of a study;
- a competitor **price that the plan contradicts** (the survey is current,
  the plan's figure is wrong);
- a **regulation that does not apply** (a memo says so).

The answer key of each dossier (``key.json``, written by ``generate.py``)
lists fact checkpoints per report kind, each with a matching rule and the
files it may be cited from, the distractors that must not be stated as
current, and the typed findings a ``GetFindings`` RPC should return.
"""

# ruff: noqa: E501 - documents hold Markdown tables, one row per line

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Format = Literal["md", "pdf", "docx"]


@dataclass(frozen=True)
class Document:
    """One file of a dossier: its name, the format it is written in, and its Markdown."""

    name: str
    format: Format
    title: str
    author: str
    markdown: str


@dataclass(frozen=True)
class Dossier:
    """A plan, its evidence, and the answer key."""

    id: str
    industry: str
    documents: tuple[Document, ...]
    checkpoints: tuple[dict[str, Any], ...]
    distractors: tuple[dict[str, Any], ...]
    findings: dict[str, Any] = field(default_factory=dict)

    def key(self) -> dict[str, Any]:
        """The answer key as JSON-ready data."""
        return {
            "dossier": self.id,
            "industry": self.industry,
            "files": [doc.name for doc in self.documents],
            "checkpoints": list(self.checkpoints),
            "distractors": list(self.distractors),
            "findings": self.findings,
        }


def amount(value: float, currency: str) -> dict[str, Any]:
    """A matching rule: a money amount, normalised (EUR 1.2 million == EUR 1,200,000)."""
    return {"type": "amount", "value": value, "currency": currency}


def name(*names: str) -> dict[str, Any]:
    """A matching rule: any of these names, case-insensitively, on word boundaries."""
    return {"type": "name", "any": list(names)}


def percent(value: float) -> dict[str, Any]:
    """A matching rule: a percentage."""
    return {"type": "percent", "value": value}


def check(id_: str, report: str, rule: dict[str, Any], cite: list[str], *,
          context: tuple[str, ...] = (), note: str = "") -> dict[str, Any]:
    """One fact checkpoint: ``rule`` (and every ``context`` word) in one statement of ``report``."""
    return {"id": id_, "report": report, "rule": rule, "context": list(context),
            "cite_files": cite, "note": note}


def distractor(id_: str, rule: dict[str, Any], why: str, *,
               context: tuple[str, ...] = ()) -> dict[str, Any]:
    """A value that must not be stated as current (in any report) unless flagged."""
    return {"id": id_, "rule": rule, "context": list(context), "why": why}


# -- 1. PawsNow: veterinary video consultations, the Netherlands (Markdown plan) -----------

PAWSNOW_PLAN = """\
# PawsNow B.V. — Business Plan 2026–2028

*Video consultations with licensed veterinarians for pet owners · Utrecht, October 2025*

## 1. Summary

PawsNow connects pet owners in the Netherlands with a licensed veterinarian by video
within 15 minutes, 7 days a week from 07:00 to 23:00. Vets triage the animal, advise on
care at home, and refer to a partner clinic when a physical examination is needed. We
start with dogs and cats and add rabbits and small mammals in 2027.

We are raising EUR 1.2 million to reach 38,000 consultations per year and break even in
2028.

## 2. The problem

There are about 2.9 million cats and 1.8 million dogs in Dutch households. Clinics are
closed in the evening, emergency services charge a night surcharge of EUR 60–90, and
about one in three out-of-hours visits turns out not to be urgent (our survey of 640 pet
owners, June 2025).

## 3. Product

- **PawsNow Consult**: a one-off 20-minute video consultation with a licensed vet.
- **PawsNow Plus**: a subscription with unlimited video consultations and a yearly
  health check reminder service.
- **Clinic Partner**: white-label out-of-hours video triage for veterinary clinics.

## 4. Market

| Layer | Definition | Size |
| --- | --- | --- |
| TAM | Veterinary telehealth spend in the Netherlands (2025) | EUR 62 million per year |
| SAM | Dog and cat owners aged 25–54 in the Randstad who use video calls | EUR 21 million per year |
| SOM | PawsNow revenue target for 2028 | EUR 1.9 million per year |

The telehealth segment is a small part of the Dutch veterinary services market, which is
worth about EUR 1.4 billion per year.

## 5. Competition

| Competitor | Model | Price |
| --- | --- | --- |
| VetLijn | Video consults with Dutch vets | EUR 19.50 per consult |
| DierDokter Online | Chat and video, vets in Belgium and the Netherlands | EUR 35 per consult |
| Local clinics | Physical consultation | EUR 45–65 per visit |

VetLijn undercuts us today, but its vets answer only in office hours.

## 6. Prices

| Plan | Price | Notes |
| --- | --- | --- |
| PawsNow Consult | EUR 24 per consult | pay as you go |
| PawsNow Plus | EUR 9.90 per month | 12-month minimum, unlimited consults |
| Clinic Partner | EUR 149 per month per clinic | plus EUR 12 per triaged call |

## 7. Regulation

- Vets must be registered in the Dutch register of veterinarians (Diergeneeskundigenregister)
  under the Animals Act (Wet dieren).
- Prescribing veterinary medicines remotely is restricted: the Veterinary Medicinal
  Products Regulation (EU) 2019/6 requires a clinical examination before a prescription.
- Health data of pets and contact data of owners are processed under the GDPR.

## 8. Financial plan

| EUR thousand | 2026 | 2027 | 2028 |
| --- | ---: | ---: | ---: |
| Consultations | 9,500 | 22,000 | 38,000 |
| Revenue | 410 | 1,050 | 1,900 |
| EBITDA | −520 | −160 | 90 |
"""

PAWSNOW_MARKET = """\
# Dutch Companion Animal Care — Market Note, 2025 edition

*Lindeboom Research · Amsterdam · published 2 September 2025*

## Key figures (2025 edition)

- The Dutch veterinary services market was worth EUR 1.4 billion in 2024.
- Veterinary telehealth in the Netherlands is estimated at EUR 62 million in 2025.
- Telehealth spend is growing by 18 % per year (2022–2025), driven by out-of-hours demand.
- 41 % of dog owners under 40 have used a video consultation at least once.

## Method

Estimates combine a survey of 2,150 pet owners (May 2025) with the revenue reported by 14
providers. All values are in current euros.

## Earlier editions

The 2019 edition of this note, now superseded, estimated veterinary telehealth at EUR 9
million per year; that figure predates video consultations becoming common and should
not be used.
"""

PAWSNOW_SURVEY = """\
# Competitor Price Survey — Veterinary Video Consultations

*Mystery-shopping survey by Lindeboom Research, prices checked on 15 September 2025*

## Results

| Provider | Channel | Price checked | Opening hours |
| --- | --- | --- | --- |
| VetLijn | Video | EUR 29 per consult | 08:00–18:00 |
| DierDokter Online | Chat and video | EUR 35 per consult | 07:00–22:00 |
| Pawtrol | Video, insurer-funded | free for insured pets | 24/7 |

## Notes

VetLijn raised its price from EUR 19.50 to EUR 29 per consult in March 2025. Pawtrol is
only available to customers of two pet insurers.
"""

PAWSNOW_MEMO = """\
# Regulatory Memo — PawsNow Video Consultations

*Van Dijk Advocaten · 20 September 2025 · for the management of PawsNow B.V.*

## Applicable rules

1. **Animals Act (Wet dieren)**: only registered veterinarians may practise veterinary
   medicine, including by video.
2. **Veterinary Medicinal Products Regulation (EU) 2019/6**: Article 105 requires a
   clinical examination or other proper assessment before a veterinary prescription.
3. **GDPR (Regulation (EU) 2016/679)**: owner data and payment data are personal data.

## Rules that do not apply

The Medical Device Regulation (EU) 2017/745 does not apply to PawsNow: it covers devices
for human use only, and veterinary software is outside its scope.
"""

PAWSNOW = Dossier(
    id="pawsnow",
    industry="veterinary telehealth",
    documents=(
        Document("pawsnow-plan.md", "md", "PawsNow business plan", "PawsNow B.V.", PAWSNOW_PLAN),
        Document("pawsnow-market-note.pdf", "pdf", "Dutch Companion Animal Care 2025",
                 "Lindeboom Research", PAWSNOW_MARKET),
        Document("pawsnow-price-survey.docx", "docx", "Competitor Price Survey",
                 "Lindeboom Research", PAWSNOW_SURVEY),
        Document("pawsnow-legal-memo.md", "md", "Regulatory memo", "Van Dijk Advocaten",
                 PAWSNOW_MEMO),
    ),
    checkpoints=(
        check("tam", "market", amount(62e6, "EUR"), ["pawsnow-market-note.pdf", "pawsnow-plan.md"],
              note="veterinary telehealth NL 2025"),
        check("sam", "market", amount(21e6, "EUR"), ["pawsnow-plan.md"]),
        check("som", "market", amount(1.9e6, "EUR"), ["pawsnow-plan.md"]),
        check("growth", "market", percent(18), ["pawsnow-market-note.pdf"], note="growth per year"),
        check("vetlijn", "competition", amount(29, "EUR"), ["pawsnow-price-survey.docx"],
              context=("VetLijn",), note="current price, the plan's EUR 19.50 is outdated"),
        check("dierdokter", "competition", amount(35, "EUR"),
              ["pawsnow-price-survey.docx", "pawsnow-plan.md"], context=("DierDokter",)),
        check("price-consult", "price", amount(24, "EUR"), ["pawsnow-plan.md"],
              context=("consult",)),
        check("price-plus", "price", amount(9.90, "EUR"), ["pawsnow-plan.md"]),
        check("price-clinic", "price", amount(149, "EUR"), ["pawsnow-plan.md"]),
        check("wet-dieren", "legal", name("Wet dieren", "Animals Act"),
              ["pawsnow-legal-memo.md", "pawsnow-plan.md"]),
        check("vmp", "legal", name("2019/6"), ["pawsnow-legal-memo.md", "pawsnow-plan.md"]),
        check("gdpr", "legal", name("GDPR", "2016/679"), ["pawsnow-legal-memo.md", "pawsnow-plan.md"]),
        check("final-tam", "final", amount(62e6, "EUR"),
              ["pawsnow-market-note.pdf", "pawsnow-plan.md"]),
    ),
    distractors=(
        distractor("stale-tam", amount(9e6, "EUR"), "2019 edition, superseded"),
        distractor("vetlijn-old-price", amount(19.50, "EUR"), "the survey found EUR 29",
                   context=("VetLijn",)),
        distractor("mdr", name("2017/745", "Medical Device Regulation"),
                   "human medical devices only; the memo says it does not apply"),
    ),
    findings={
        "market_sizes": [
            {"layer": "TAM", "value": 62e6, "currency": "EUR"},
            {"layer": "SAM", "value": 21e6, "currency": "EUR"},
            {"layer": "SOM", "value": 1.9e6, "currency": "EUR"},
        ],
        "competitors": [
            {"name": "VetLijn", "price": 29, "currency": "EUR", "per": "consult"},
            {"name": "DierDokter Online", "price": 35, "currency": "EUR", "per": "consult"},
        ],
        "price_points": [
            {"name": "PawsNow Consult", "price": 24, "currency": "EUR", "per": "consult"},
            {"name": "PawsNow Plus", "price": 9.90, "currency": "EUR", "per": "month"},
            {"name": "Clinic Partner", "price": 149, "currency": "EUR", "per": "month"},
        ],
        "regulations": ["Wet dieren", "Regulation (EU) 2019/6", "GDPR"],
        "not_applicable": ["Regulation (EU) 2017/745"],
        "verdict": "GO_WITH_CONDITIONS",
    },
)


# -- 2. GreenStack: vertical farm supplying restaurants, Copenhagen (PDF plan) --------------

GREENSTACK_PLAN = """\
# GreenStack ApS — Business Plan 2026–2028

*Vertical farming of herbs and microgreens for restaurants · Copenhagen, September 2025*

## 1. Summary

GreenStack grows herbs and microgreens in a 1,200 m² vertical farm in Copenhagen's
Nordhavn and delivers them to restaurants, hotels and canteens within 12 hours of
harvest. Produce is grown hydroponically under LED light, without pesticides, on
renewable electricity bought under a fixed-price contract.

We are raising DKK 18 million to build the farm (capacity 95 tonnes per year) and reach
break-even in 2028.

## 2. Market

| Layer | Definition | Size |
| --- | --- | --- |
| TAM | Fresh herbs and leafy greens bought by Danish foodservice (2025) | DKK 1.9 billion per year |
| SAM | Restaurants, hotels and canteens in Greater Copenhagen | DKK 240 million per year |
| SOM | GreenStack revenue target for 2028 | DKK 14 million per year |

Demand for locally grown herbs is rising: 62 % of Copenhagen chefs surveyed want
year-round Danish supply.

## 3. Competition

| Competitor | Offer | Price |
| --- | --- | --- |
| Nordic Herb Co. | Greenhouse herbs from Funen | DKK 52 per tray |
| Byens Grønt | Urban rooftop farm, seasonal | DKK 55 per tray |
| Imported herbs (wholesalers) | Herbs from Spain, Israel and Kenya | DKK 30–40 per tray |

## 4. Products and prices

| Product | Price | Notes |
| --- | --- | --- |
| Herb tray (100 g, 12 varieties) | DKK 45 per tray | minimum order 20 trays |
| Microgreens subscription | DKK 1,450 per month | weekly delivery, 8 varieties |
| Chef's box | DKK 690 per week | herbs, microgreens and edible flowers |

## 5. Regulation

- The farm must be registered as a food business with the Danish Veterinary and Food
  Administration (Fødevarestyrelsen) under the Food Hygiene Regulation (EC) No 852/2004.
- Labels follow the Food Information Regulation (EU) No 1169/2011.
- Hydroponic produce cannot be sold as organic in the EU.

## 6. Financial plan

| DKK thousand | 2026 | 2027 | 2028 |
| --- | ---: | ---: | ---: |
| Revenue | 3,100 | 8,600 | 14,000 |
| EBITDA | −4,200 | −1,100 | 600 |
"""

GREENSTACK_NOTE = """\
# Foodservice Greens in Denmark — Market Note

*Øresund Food Insights · Copenhagen · 2025 edition, published August 2025*

## Market size

- Danish foodservice bought fresh herbs and leafy greens for DKK 1.9 billion in 2025.
- Greater Copenhagen accounts for about DKK 240 million of that.
- The market grew by 6.5 % per year between 2021 and 2025.

## Prices paid by restaurants (wholesale, August 2025)

| Supplier | Product | Price |
| --- | --- | --- |
| Nordic Herb Co. | Herb tray, 100 g | DKK 38 per tray |
| Byens Grønt | Herb tray, 100 g | DKK 55 per tray |
| Wholesale import | Herb tray, 100 g | DKK 30–40 per tray |

Nordic Herb Co. cut its tray price to DKK 38 in spring 2025 after opening a second
greenhouse.

## Earlier editions

The 2018 edition of this note (superseded) put Danish foodservice greens at DKK 1.1
billion; it used a narrower definition and is out of date.
"""

GREENSTACK_MEMO = """\
# Regulatory Memo — GreenStack Vertical Farm

*Kromann & Holm Advokater · 1 September 2025*

## Applicable rules

1. **Food Hygiene Regulation (EC) No 852/2004**: registration as a primary producer and
   food business with Fødevarestyrelsen before the first sale.
2. **Food Information Regulation (EU) No 1169/2011**: labelling of trays and boxes.
3. **Organic Regulation (EU) 2018/848**: hydroponic produce may not carry the organic
   logo; marketing must not suggest it is organic.

## Rules that do not apply

The Novel Food Regulation (EU) 2015/2283 does not apply: basil, coriander, pea shoots and
the other varieties in the plan have a long history of consumption in the EU.
"""

GREENSTACK = Dossier(
    id="greenstack",
    industry="vertical farming",
    documents=(
        Document("greenstack-plan.pdf", "pdf", "GreenStack business plan", "GreenStack ApS",
                 GREENSTACK_PLAN),
        Document("greenstack-market-note.md", "md", "Foodservice Greens in Denmark",
                 "Øresund Food Insights", GREENSTACK_NOTE),
        Document("greenstack-legal-memo.docx", "docx", "Regulatory memo",
                 "Kromann & Holm Advokater", GREENSTACK_MEMO),
    ),
    checkpoints=(
        check("tam", "market", amount(1.9e9, "DKK"),
              ["greenstack-market-note.md", "greenstack-plan.pdf"]),
        check("sam", "market", amount(240e6, "DKK"),
              ["greenstack-market-note.md", "greenstack-plan.pdf"]),
        check("som", "market", amount(14e6, "DKK"), ["greenstack-plan.pdf"]),
        check("growth", "market", percent(6.5), ["greenstack-market-note.md"]),
        check("nordic-herb", "competition", amount(38, "DKK"), ["greenstack-market-note.md"],
              context=("Nordic Herb",), note="the plan's DKK 52 is outdated"),
        check("byens-gront", "competition", amount(55, "DKK"),
              ["greenstack-market-note.md", "greenstack-plan.pdf"], context=("Byens",)),
        check("price-tray", "price", amount(45, "DKK"), ["greenstack-plan.pdf"]),
        check("price-subscription", "price", amount(1450, "DKK"), ["greenstack-plan.pdf"]),
        check("price-box", "price", amount(690, "DKK"), ["greenstack-plan.pdf"]),
        check("hygiene", "legal", name("852/2004"),
              ["greenstack-legal-memo.docx", "greenstack-plan.pdf"]),
        check("labelling", "legal", name("1169/2011"),
              ["greenstack-legal-memo.docx", "greenstack-plan.pdf"]),
        check("organic", "legal", name("2018/848"), ["greenstack-legal-memo.docx"]),
        check("final-som", "final", amount(14e6, "DKK"), ["greenstack-plan.pdf"]),
    ),
    distractors=(
        distractor("stale-tam", amount(1.1e9, "DKK"), "2018 edition, superseded"),
        distractor("nordic-herb-old-price", amount(52, "DKK"), "the note found DKK 38",
                   context=("Nordic Herb",)),
        distractor("novel-food", name("2015/2283", "Novel Food Regulation"),
                   "the varieties have a history of consumption; does not apply"),
    ),
    findings={
        "market_sizes": [
            {"layer": "TAM", "value": 1.9e9, "currency": "DKK"},
            {"layer": "SAM", "value": 240e6, "currency": "DKK"},
            {"layer": "SOM", "value": 14e6, "currency": "DKK"},
        ],
        "competitors": [
            {"name": "Nordic Herb Co.", "price": 38, "currency": "DKK", "per": "tray"},
            {"name": "Byens Grønt", "price": 55, "currency": "DKK", "per": "tray"},
        ],
        "price_points": [
            {"name": "Herb tray", "price": 45, "currency": "DKK", "per": "tray"},
            {"name": "Microgreens subscription", "price": 1450, "currency": "DKK", "per": "month"},
            {"name": "Chef's box", "price": 690, "currency": "DKK", "per": "week"},
        ],
        "regulations": ["Regulation (EC) No 852/2004", "Regulation (EU) No 1169/2011",
                        "Regulation (EU) 2018/848"],
        "not_applicable": ["Regulation (EU) 2015/2283"],
        "verdict": "GO_WITH_CONDITIONS",
    },
)


# -- 3. CampCharge: EV charging at campsites, France (DOCX plan) ----------------------------

CAMPCHARGE_PLAN = """\
# CampCharge SAS — Business Plan 2026–2028

*Electric-vehicle charging for campsites and holiday parks · Montpellier, October 2025*

## Summary

CampCharge installs, operates and bills 11–22 kW charging points on campsites and in
holiday parks in France. The campsite pays nothing up front on the Revenue Share plan;
guests pay per kWh in the CampCharge app or by bank card at the charger. We start in
Occitanie and Nouvelle-Aquitaine and cover the Atlantic and Mediterranean coasts by
2028.

We are raising EUR 2.4 million (equity) plus EUR 3 million of project finance for the
chargers.

## Market

| Layer | Definition | Size |
| --- | --- | --- |
| TAM | Destination charging revenue in France (hotels, campsites, leisure sites), 2025 | EUR 410 million per year |
| SAM | 3- to 5-star campsites and holiday parks on the two coasts | EUR 38 million per year |
| SOM | CampCharge revenue target for 2028 | EUR 2.6 million per year |

France has about 7,500 classified campsites; 1.2 million electric cars were registered
in France by mid-2025.

## Competition

| Competitor | Model | Guest price |
| --- | --- | --- |
| BorneVerte | Chargers for hotels and campsites | EUR 0.59 per kWh |
| Voltaplage | Chargers for beach car parks and campsites | EUR 0.45 per kWh |
| Public fast chargers | Motorway and supermarket fast charging | EUR 0.55–0.79 per kWh |

## Prices

| Plan | Price | Notes |
| --- | --- | --- |
| Guest charging | EUR 0.39 per kWh | paid by the guest, campsite keeps 20 % |
| Site licence | EUR 89 per charger per month | campsite sets its own guest price |
| Installation | EUR 1,900 per charger | waived on the Revenue Share plan |

## Regulation

- Publicly accessible chargers must accept ad hoc card payment and display the price per
  kWh under the Alternative Fuels Infrastructure Regulation (EU) 2023/1804 (AFIR).
- Installers of charging points above 3.7 kW must hold the IRVE qualification (Décret
  n° 2017-26).
- Installations follow the French low-voltage standard NF C 15-100.

## Financial plan

| EUR thousand | 2026 | 2027 | 2028 |
| --- | ---: | ---: | ---: |
| Chargers in operation | 420 | 1,150 | 2,300 |
| Revenue | 480 | 1,400 | 2,600 |
| EBITDA | −900 | −250 | 310 |
"""

CAMPCHARGE_SURVEY = """\
# Destination Charging Price Survey — France

*Atlantique Mobilité Conseil · prices checked on 10 September 2025*

## Guest prices

| Operator | Sites checked | Guest price |
| --- | --- | --- |
| BorneVerte | 24 campsites | EUR 0.49 per kWh |
| Voltaplage | 11 campsites | EUR 0.45 per kWh |
| Hotel chargers (average) | 60 hotels | EUR 0.42 per kWh |

BorneVerte lowered its guest price from EUR 0.59 to EUR 0.49 per kWh in July 2025 on all
campsites.
"""

CAMPCHARGE_NOTE = """\
# Destination Charging in France — Market and Regulation Note

*Atlantique Mobilité Conseil · September 2025*

## Market size

- Destination charging in France generated EUR 410 million of revenue in 2025.
- Campsites are the fastest-growing site type, at 31 % per year since 2022.
- The 2020 study by the same firm, now superseded, estimated destination charging at EUR
  120 million; it predates AFIR and the growth of the electric fleet.

## Regulation

- AFIR (Regulation (EU) 2023/1804) applies to publicly accessible charging points,
  including campsite chargers open to visitors.
- The IRVE installer qualification (Décret n° 2017-26) applies to every installation.
- The Energy Performance of Buildings Directive (EU) 2024/1275 does not apply to
  open-air campsite pitches: its pre-cabling duties concern car parks of buildings.
"""

CAMPCHARGE = Dossier(
    id="campcharge",
    industry="EV charging",
    documents=(
        Document("campcharge-plan.docx", "docx", "CampCharge business plan", "CampCharge SAS",
                 CAMPCHARGE_PLAN),
        Document("campcharge-price-survey.pdf", "pdf", "Destination Charging Price Survey",
                 "Atlantique Mobilité Conseil", CAMPCHARGE_SURVEY),
        Document("campcharge-market-note.md", "md", "Destination Charging in France",
                 "Atlantique Mobilité Conseil", CAMPCHARGE_NOTE),
    ),
    checkpoints=(
        check("tam", "market", amount(410e6, "EUR"),
              ["campcharge-market-note.md", "campcharge-plan.docx"]),
        check("sam", "market", amount(38e6, "EUR"), ["campcharge-plan.docx"]),
        check("som", "market", amount(2.6e6, "EUR"), ["campcharge-plan.docx"]),
        check("growth", "market", percent(31), ["campcharge-market-note.md"]),
        check("borneverte", "competition", amount(0.49, "EUR"), ["campcharge-price-survey.pdf"],
              context=("BorneVerte",), note="the plan's EUR 0.59 is outdated"),
        check("voltaplage", "competition", amount(0.45, "EUR"),
              ["campcharge-price-survey.pdf", "campcharge-plan.docx"], context=("Voltaplage",)),
        check("price-kwh", "price", amount(0.39, "EUR"), ["campcharge-plan.docx"]),
        check("price-licence", "price", amount(89, "EUR"), ["campcharge-plan.docx"]),
        check("price-install", "price", amount(1900, "EUR"), ["campcharge-plan.docx"]),
        check("afir", "legal", name("2023/1804", "AFIR"),
              ["campcharge-market-note.md", "campcharge-plan.docx"]),
        check("irve", "legal", name("2017-26", "IRVE"),
              ["campcharge-market-note.md", "campcharge-plan.docx"]),
        check("nfc15100", "legal", name("NF C 15-100"), ["campcharge-plan.docx"]),
        check("final-som", "final", amount(2.6e6, "EUR"), ["campcharge-plan.docx"]),
    ),
    distractors=(
        distractor("stale-tam", amount(120e6, "EUR"), "2020 study, superseded"),
        distractor("borneverte-old-price", amount(0.59, "EUR"), "the survey found EUR 0.49",
                   context=("BorneVerte",)),
        distractor("epbd", name("2024/1275", "Energy Performance of Buildings Directive"),
                   "concerns car parks of buildings; does not apply to pitches"),
    ),
    findings={
        "market_sizes": [
            {"layer": "TAM", "value": 410e6, "currency": "EUR"},
            {"layer": "SAM", "value": 38e6, "currency": "EUR"},
            {"layer": "SOM", "value": 2.6e6, "currency": "EUR"},
        ],
        "competitors": [
            {"name": "BorneVerte", "price": 0.49, "currency": "EUR", "per": "kWh"},
            {"name": "Voltaplage", "price": 0.45, "currency": "EUR", "per": "kWh"},
        ],
        "price_points": [
            {"name": "Guest charging", "price": 0.39, "currency": "EUR", "per": "kWh"},
            {"name": "Site licence", "price": 89, "currency": "EUR", "per": "month"},
            {"name": "Installation", "price": 1900, "currency": "EUR", "per": "charger"},
        ],
        "regulations": ["Regulation (EU) 2023/1804", "Décret n° 2017-26", "NF C 15-100"],
        "not_applicable": ["Directive (EU) 2024/1275"],
        "verdict": "GO",
    },
)


# -- 4. SkyScan: drone inspection of wind turbines, Germany (long Markdown plan) ------------

SKYSCAN_PLAN_HEAD = """\
# SkyScan Robotics GmbH — Business Plan 2026–2029

*Autonomous drone inspection of wind-turbine blades · Bremen, November 2025*

## 1. Summary

SkyScan inspects the rotor blades of wind turbines with autonomous drones and turns the
images into a defect register that the operator's maintenance team can act on. A
two-person crew inspects an onshore turbine in 35 minutes, without stopping it for more
than 20 minutes and without rope access. We have inspected 1,480 turbines in a pilot
campaign with three operators in Lower Saxony and Schleswig-Holstein.

We are raising EUR 4.5 million to grow from 6 to 22 crews and launch offshore inspections
in 2027.

## 2. Market

| Layer | Definition | Size |
| --- | --- | --- |
| TAM | Blade inspection services for wind turbines in Europe (2025) | EUR 1.2 billion per year |
| SAM | Onshore and offshore blade inspections in Germany | EUR 180 million per year |
| SOM | SkyScan revenue target for 2029 | EUR 6.5 million per year |

Germany has about 28,700 onshore and 1,600 offshore turbines; most operators inspect
blades every one to two years.

## 3. Competition

| Competitor | Method | Price |
| --- | --- | --- |
| AeroSpect | Manual drone flights, report in 10 days | EUR 1,400 per turbine |
| BladeEye | Semi-automated drones | EUR 990 per turbine |
| Rope-access teams | Technicians on ropes | EUR 2,500–4,000 per turbine |

## 4. Services and prices

| Service | Price | Notes |
| --- | --- | --- |
| Onshore blade inspection | EUR 890 per turbine | report within 48 hours |
| Defect analytics platform | EUR 45 per turbine per month | history, trends, work orders |

Offshore inspection prices are set out in Appendix H.

## 5. Regulation

- Drone operations are regulated by the EU drone rules; our crews fly in the specific
  category (see the regulatory memo and Appendix H).
- Image data can show people near turbines and is processed under the GDPR.

## 6. Financial plan

| EUR thousand | 2026 | 2027 | 2028 | 2029 |
| --- | ---: | ---: | ---: | ---: |
| Turbines inspected | 2,600 | 4,100 | 5,600 | 7,000 |
| Revenue | 2,300 | 3,600 | 5,100 | 6,500 |
| EBITDA | −1,900 | −700 | 350 | 1,100 |

## Appendix A — Inspection log of the 2024–2025 pilot campaign

Every turbine inspected in the pilot, with the worst finding per blade set. Severity
categories follow the operator's five-level blade damage scale (1 cosmetic, 5 stop the
turbine).

| Turbine | Wind farm | Model | Date | Worst finding | Severity | Action |
| --- | --- | --- | --- | --- | --- | --- |
"""

SKYSCAN_PLAN_TAIL = """\

## Appendix H — Offshore inspections and their authorisations

From 2027 SkyScan will inspect offshore turbines from crew transfer vessels. An offshore
blade inspection costs EUR 2,950 per turbine, including the vessel day rate shared across
six turbines. Offshore flights within wind farms in the German exclusive economic zone
need the consent of the Federal Maritime and Hydrographic Agency (BSH) under the Offshore
Installations Ordinance (Seeanlagenverordnung).
"""

_FARMS = ("Nordheide", "Jadebusen", "Wesermarsch", "Dithmarschen Süd", "Friesland Ost",
          "Cuxhaven Land", "Elbmarsch", "Ammerland", "Husum Nord", "Stade West", "Ostholstein",
          "Emsland Mitte", "Wangerland", "Aurich Süd", "Nordfriesland Ost")
_MODELS = ("Nordex N117", "Enercon E-115", "Vestas V126", "Siemens Gamesa SG 5.0-145",
           "Enercon E-138", "Nordex N149", "Vestas V150", "GE 2.75-120")
_FINDINGS = (
    ("Leading-edge erosion, coating worn", 2, "repair in next maintenance window"),
    ("Lightning receptor damaged", 3, "replace receptor within 3 months"),
    ("Trailing-edge crack, laminate intact", 3, "monitor, re-inspect in 6 months"),
    ("Surface contamination (insects)", 1, "clean at next service"),
    ("Leading-edge erosion into laminate", 4, "repair before winter season"),
    ("Vortex generator missing", 2, "refit at next service"),
    ("Drain hole blocked", 1, "clear at next service"),
    ("Gelcoat chipping near tip", 2, "repair in next maintenance window"),
    ("No findings", 1, "none"),
)


def skyscan_log(rows: int) -> str:
    """The pilot's inspection log: deterministic rows, realistic and free of prices."""
    lines = []
    for i in range(rows):
        farm = _FARMS[(i * 7) % len(_FARMS)]
        model = _MODELS[(i * 5 + i // 11) % len(_MODELS)]
        finding, severity, action = _FINDINGS[(i * 13 + i // 7) % len(_FINDINGS)]
        month = 1 + (i * 3) % 12
        day = 1 + (i * 11) % 28
        year = 2024 + (i // 1900)
        lines.append(f"| WTG-{10001 + i} | {farm} | {model} | {year}-{month:02d}-{day:02d} | "
                     f"{finding} | {severity} | {action} |")
    return "\n".join(lines) + "\n"


SKYSCAN_LOG_ROWS = 3700
SKYSCAN_PLAN = SKYSCAN_PLAN_HEAD + skyscan_log(SKYSCAN_LOG_ROWS) + SKYSCAN_PLAN_TAIL

SKYSCAN_SURVEY = """\
# Blade Inspection Price Survey — Germany

*Windkraft Marktbeobachtung · quotes requested in August 2025 for a 30-turbine onshore farm*

## Quoted prices

| Provider | Method | Quoted price |
| --- | --- | --- |
| AeroSpect | Manual drone flights | EUR 1,150 per turbine |
| BladeEye | Semi-automated drones | EUR 990 per turbine |
| Rope-access average | Technicians on ropes | EUR 2,800 per turbine |

AeroSpect's list price of EUR 1,400 per turbine dates from 2023; its current quotes are
EUR 1,150 per turbine for farms of 20 turbines or more.
"""

SKYSCAN_MEMO = """\
# Regulatory Memo — Drone Inspections of Wind Turbines

*Hanse Luftrecht Partners · Hamburg · 5 October 2025*

## Applicable rules

1. **Commission Implementing Regulation (EU) 2019/947**: inspections near turbines fly in
   the specific category and need an operational authorisation from the
   Luftfahrt-Bundesamt (LBA), based on a SORA risk assessment.
2. **Commission Delegated Regulation (EU) 2019/945**: the drones used must meet the
   technical requirements for unmanned aircraft systems.
3. **GDPR (Regulation (EU) 2016/679)**: images showing people are personal data.

## Rules that do not apply

The U-space Regulation (EU) 2021/664 does not apply: no U-space airspace has been
designated over the wind farms in the plan.
"""

SKYSCAN = Dossier(
    id="skyscan",
    industry="industrial drone inspection",
    documents=(
        Document("skyscan-plan.md", "md", "SkyScan business plan", "SkyScan Robotics GmbH",
                 SKYSCAN_PLAN),
        Document("skyscan-price-survey.pdf", "pdf", "Blade Inspection Price Survey",
                 "Windkraft Marktbeobachtung", SKYSCAN_SURVEY),
        Document("skyscan-legal-memo.docx", "docx", "Regulatory memo",
                 "Hanse Luftrecht Partners", SKYSCAN_MEMO),
    ),
    checkpoints=(
        check("tam", "market", amount(1.2e9, "EUR"), ["skyscan-plan.md"]),
        check("sam", "market", amount(180e6, "EUR"), ["skyscan-plan.md"]),
        check("som", "market", amount(6.5e6, "EUR"), ["skyscan-plan.md"]),
        check("aerospect", "competition", amount(1150, "EUR"), ["skyscan-price-survey.pdf"],
              context=("AeroSpect",), note="the plan's EUR 1,400 is a 2023 list price"),
        check("bladeeye", "competition", amount(990, "EUR"),
              ["skyscan-price-survey.pdf", "skyscan-plan.md"], context=("BladeEye",)),
        check("price-onshore", "price", amount(890, "EUR"), ["skyscan-plan.md"]),
        check("price-analytics", "price", amount(45, "EUR"), ["skyscan-plan.md"]),
        check("price-offshore", "price", amount(2950, "EUR"), ["skyscan-plan.md"],
              note="deep: past the first 400,000 characters of the plan"),
        check("sora", "legal", name("2019/947"), ["skyscan-legal-memo.docx"]),
        check("class", "legal", name("2019/945"), ["skyscan-legal-memo.docx"]),
        check("seeanlagen", "legal", name("Seeanlagenverordnung", "Offshore Installations Ordinance"),
              ["skyscan-plan.md"], note="deep: past the first 400,000 characters of the plan"),
        check("final-som", "final", amount(6.5e6, "EUR"), ["skyscan-plan.md"]),
    ),
    distractors=(
        distractor("aerospect-old-price", amount(1400, "EUR"), "2023 list price; quotes are EUR 1,150",
                   context=("AeroSpect",)),
        distractor("u-space", name("2021/664", "U-space Regulation"),
                   "no U-space airspace designated; does not apply"),
    ),
    findings={
        "market_sizes": [
            {"layer": "TAM", "value": 1.2e9, "currency": "EUR"},
            {"layer": "SAM", "value": 180e6, "currency": "EUR"},
            {"layer": "SOM", "value": 6.5e6, "currency": "EUR"},
        ],
        "competitors": [
            {"name": "AeroSpect", "price": 1150, "currency": "EUR", "per": "turbine"},
            {"name": "BladeEye", "price": 990, "currency": "EUR", "per": "turbine"},
        ],
        "price_points": [
            {"name": "Onshore blade inspection", "price": 890, "currency": "EUR", "per": "turbine"},
            {"name": "Defect analytics platform", "price": 45, "currency": "EUR", "per": "month"},
            {"name": "Offshore blade inspection", "price": 2950, "currency": "EUR", "per": "turbine"},
        ],
        "regulations": ["Regulation (EU) 2019/947", "Regulation (EU) 2019/945", "GDPR",
                        "Seeanlagenverordnung"],
        "not_applicable": ["Regulation (EU) 2021/664"],
        "verdict": "GO_WITH_CONDITIONS",
    },
)

DOSSIERS: tuple[Dossier, ...] = (PAWSNOW, GREENSTACK, CAMPCHARGE, SKYSCAN)
