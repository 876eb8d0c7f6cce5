"""Generate the demo business plans that are not plain Markdown.

Writes ``fieldservice-saas.pdf`` (rendered with WeasyPrint) and
``urban-ebike-rental.docx`` (written with python-docx) next to this script.
Both plans are kept here as Markdown so their content can be reviewed in a
diff; the generated files are committed so the demo needs neither library.

Run from the repository root::

    .venv/bin/python examples/make_examples.py

The output is reproducible: fixed PDF metadata, fixed .docx core properties
and fixed ZIP timestamps, so re-running it without content changes produces
no diff.
"""

# ruff: noqa: E501 - the plans below hold Markdown tables, one row per line

from __future__ import annotations

import io
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.document import Document as DocxDocument
from docx.shared import Pt
from docx.text.paragraph import Paragraph
from markdown_it import MarkdownIt
from markdown_it.token import Token

HERE = Path(__file__).resolve().parent
FIXED_TIME = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)

FIELDSERVICE_PLAN = """\
# Dispatchly GmbH — Business Plan 2026–2029

*Scheduling and dispatch software for field-service trades · Munich, October 2025*

## 1. Executive summary

Dispatchly is a cloud application (B2B SaaS) that schedules, routes and documents the
work of field technicians in small and mid-sized trade businesses — heating and air
conditioning (HVAC), electrical, plumbing, elevator and facility services — in
Germany, Austria and Switzerland (DACH). A dispatcher plans the week on a drag-and-drop
board; Dispatchly proposes the best technician and route for each job based on skills,
travel time and spare parts in the van; technicians get jobs, checklists and
digital signatures on their phones, and the signed service report flows straight into
the customer's invoice as an e-invoice (XRechnung / ZUGFeRD).

We are raising **EUR 3.5 million** (seed extension) to grow from 1,150 paying technician
seats today to **21,000 seats by the end of 2028**, reaching **EUR 12.1 million ARR** and
cash-flow break-even in 2029.

## 2. The problem

Germany alone has about 1 million craft businesses (Handwerk) employing 5.6 million
people. In a survey of 212 businesses with 5–50 technicians that we ran in spring 2025:

- 71 % still plan jobs in Excel, on whiteboards or in the calendar of their ERP;
- dispatchers spend on average **11.5 hours per week** re-planning after cancellations
  and emergencies;
- technicians drive 23 % more kilometres than an optimised route would need;
- 38 % of service reports reach the office more than 3 days after the job, which
  delays invoices by 9 days on average.

## 3. Product

| Module | What it does | Included in |
| --- | --- | --- |
| Dispatch board | Drag-and-drop weekly plan, skills and availability, emergency slots | Starter, Pro, Enterprise |
| Smart routing | Suggests technician and route; re-plans the day after a cancellation | Pro, Enterprise |
| Mobile app | Jobs, checklists, photos, digital signature, offline mode | Starter, Pro, Enterprise |
| Service reports and e-invoicing | PDF reports, XRechnung / ZUGFeRD export, DATEV interface | Pro, Enterprise |
| Maintenance contracts | Recurring inspections (e.g. heating systems under the 1. BImSchV) | Enterprise |
| Open API and SSO | REST API, webhooks, SAML single sign-on, audit log | Enterprise |

Integrations at launch: DATEV, Lexware, sevDesk, SAP Business One, Microsoft 365
calendars. Hosting in Frankfurt (AWS eu-central-1), ISO/IEC 27001 certification
planned for Q3 2026.

## 4. Target market

| Layer | Definition | Businesses | Annual value (EUR) |
| --- | --- | ---: | ---: |
| TAM | All field-service businesses in DACH, software spend on scheduling and field apps | 410,000 | 2.4 billion |
| SAM | Trade businesses with 3–50 technicians in the five target trades | 86,000 | 540 million |
| SOM | Dispatchly revenue target for 2029 (about 2.8 % of SAM) | 2,200 | 15.3 million |

Our ideal customer has 8–40 technicians, one or two dispatchers, an ERP or accounting
system but no field-service software, and a large share of recurring maintenance
work. Average deal: 14 technician seats on the Pro plan, EUR 8,232 annual contract
value.

## 5. Competition

List prices as published in September 2025; USD prices converted at USD 1.08 = EUR 1.

| Competitor | Positioning | Price (list) |
| --- | --- | --- |
| ServiceTitan | US enterprise platform for residential trades; not localised for DACH | quote only, reportedly EUR 230–460 per technician per month |
| Salesforce Field Service | Enterprise add-on to Salesforce CRM | from EUR 165 per user per month, plus CRM licences |
| Microsoft Dynamics 365 Field Service | Enterprise, partner implementation needed | EUR 97 per user per month |
| Jobber | SMB tool for home services (US, Canada, UK) | EUR 36–185 per month for 1–15 users (Core, Connect, Grow) |
| Housecall Pro | SMB tool for home services, US focus | EUR 55–277 per month |
| mfr (mobile field report) | German mobile service reports, dispatch add-on | about EUR 49 per user per month |
| Hero Software | German craft business software (quotes, invoices, planning) | from EUR 59 per month plus EUR 15 per extra user |
| Plancraft | German project software for crafts | from EUR 39 per user per month |

The enterprise tools (Salesforce, Microsoft, ServiceTitan) are too expensive and too
complex for a 15-technician heating installer; implementation projects start at EUR
40,000. The German SMB tools are strong on quotes and invoices but offer only a
calendar, no optimisation. Jobber and Housecall Pro are not localised (no DATEV, no
XRechnung, US-hosted data).

## 6. Pricing

| Plan | Price per technician per month (annual billing) | Monthly billing | Minimum |
| --- | ---: | ---: | --- |
| Starter | EUR 29 | EUR 35 | 3 technicians |
| Pro | EUR 49 | EUR 59 | 5 technicians |
| Enterprise | EUR 79 | EUR 95 | 25 technicians |

Dispatcher and office seats are free. One-off onboarding: EUR 990 (Starter and Pro),
from EUR 4,900 for Enterprise with data migration. A 30-day free trial is offered on
Starter and Pro. Net revenue retention target: 115 % (seat growth and upgrades to Pro).

## 7. Go-to-market

1. **Inside sales** with a 14-day sales cycle for Starter/Pro; 6 account executives
   by end of 2026, each with a quota of EUR 420,000 new ARR per year.
2. **Trade associations and wholesalers**: partnerships with regional
   Handwerkskammern and with a heating wholesaler (pilot with 120 installers in Bavaria).
3. **ERP partners**: listed in the DATEV Marketplace; referral fee 15 % of first-year
   revenue for ERP resellers.
4. **Content and events**: SHK trade fair (ISH Frankfurt 2027), webinars on the
   e-invoicing obligation.

Customer acquisition cost target EUR 3,900 per customer (payback 9 months on gross
margin); gross margin 82 % in 2026, rising to 86 % in 2028.

## 8. Regulatory and compliance

- **GDPR** (Regulation (EU) 2016/679): Dispatchly is a processor under Article 28 for
  customer and technician data; a data processing agreement (Auftragsverarbeitungsvertrag)
  is part of every contract; location data of technicians is personal data.
- **Employee monitoring**: live GPS tracking of technicians is subject to
  co-determination by the works council under § 87(1) no. 6 Works Constitution Act
  (Betriebsverfassungsgesetz, BetrVG) and to § 26 BDSG; tracking is off outside working
  hours by design, and a template works agreement (Betriebsvereinbarung) is provided.
- **Working time recording**: after the Federal Labour Court decision of 13 September
  2022 (1 ABR 22/21) employers must record working time; Dispatchly's time tracking
  helps customers comply with the Working Hours Act (Arbeitszeitgesetz).
- **E-invoicing**: German B2B e-invoicing obligation from 1 January 2025 (receiving) and
  2027/2028 (issuing) under the Growth Opportunities Act (Wachstumschancengesetz);
  invoices must be archived in line with GoBD.
- **EU AI Act** (Regulation (EU) 2024/1689): AI systems that allocate tasks to workers
  based on individual behaviour are high-risk under Annex III; our routing optimises
  travel time and skills only, and we document this assessment.
- **EU Data Act** (Regulation (EU) 2023/2854): from 12 September 2025 customers may
  switch providers; we offer full data export and a contractual switching process.
- **NIS2** (Directive (EU) 2022/2555): several Enterprise customers (facility services
  for hospitals) are in scope and will require supplier security evidence.

## 9. Financial projections

| EUR thousand | 2026 | 2027 | 2028 | 2029 |
| --- | ---: | ---: | ---: | ---: |
| Paying technician seats (December) | 4,800 | 11,500 | 21,000 | 31,000 |
| ARR (December) | 2,650 | 6,480 | 12,100 | 18,200 |
| Revenue | 1,620 | 4,420 | 9,050 | 15,300 |
| Gross margin | 82 % | 84 % | 86 % | 86 % |
| EBITDA | −2,350 | −2,100 | −690 | 1,480 |
| Headcount (December) | 28 | 46 | 68 | 84 |

## 10. Team

- **Dr. Katrin Vogel, CEO** — ten years in logistics software (route optimisation),
  PhD in operations research (TU München).
- **Mehmet Aydin, CTO** — former engineering lead at a Munich mobility scale-up.
- **Lukas Brandl, VP Sales** — 8 years selling ERP software to craft businesses.
- Advisory board: a former managing director of a heating wholesaler with 40
  branches.

## 11. Risks

| Risk | Mitigation |
| --- | --- |
| Slow adoption by conservative trade businesses | Free onboarding for the first 20 technicians, partner channel with wholesalers |
| Works councils block GPS features | Privacy by default, works agreement template, GPS optional |
| Price pressure from Hero Software and Plancraft adding dispatch | Routing and maintenance-contract depth, DATEV integration |
| Enterprise vendors move down-market | Faster onboarding (2 weeks vs. months), DACH-specific compliance |
"""

EBIKE_PLAN = """\
# VeloLoop Urban E-Bike Rental — Business Plan

*VeloLoop GmbH · Vienna · Investor memorandum, November 2025*

## Summary

VeloLoop rents high-quality electric bikes to commuters and businesses in Vienna by
the day, the month and the minute. Unlike dockless sharing schemes, every VeloLoop bike
is assigned to one rider on a subscription, maintained by our mobile mechanics within
24 hours and swapped free of charge when broken. We start with 600 bikes in 2026 and
grow to 4,200 bikes in Vienna and Graz by 2028, with revenue of EUR 3.3 million and a
positive EBITDA in 2028.

We are raising EUR 1.8 million in equity and EUR 2.2 million in asset financing for the
bike fleet.

## The problem

Vienna has 2 million inhabitants and a modal-split target of 15 % cycling by 2030
(today about 10 %). Commuters hesitate to buy an e-bike: a good commuter e-bike costs
EUR 2,800–3,500, theft is common (6,900 bicycle thefts reported in Vienna in 2024) and
repairs take weeks in peak season. Employers want to offer bikes as a benefit but do not
want to manage a fleet.

## Product and service

- **VeloLoop City**: a 25 km/h pedelec (250 W mid-motor, 500 Wh battery, range 70–90 km),
  belt drive, integrated lock and GPS tracker, built to EN 15194.
- **Subscriptions** with insurance against theft, maintenance and a replacement bike
  within 24 hours.
- **Pay-per-minute** from 40 VeloLoop hubs at U-Bahn stations for occasional riders.
- **VeloLoop for Business**: fleets of 10+ bikes for employees, billed monthly.

## Market

| Layer | Definition | Size |
| --- | --- | --- |
| TAM | Urban bike subscription and bike-sharing spend in Austria | EUR 310 million per year |
| SAM | Vienna and Graz: commuters within 12 km of work, and businesses with 50+ staff | EUR 96 million per year |
| SOM | VeloLoop revenue target for 2028 (about 3.4 % of SAM) | EUR 3.3 million per year |

Our target customers are commuters aged 25–49 who live 3–12 km from their workplace,
and employers with 50+ staff in the districts 1–9 and in the Donaustadt business parks.

## Competition

| Competitor | Model | Price |
| --- | --- | --- |
| Swapfiets | E-bike subscription (Power 7) | EUR 84.90 per month |
| Lime | Dockless e-bikes and scooters | EUR 1.00 to unlock plus EUR 0.35 per minute |
| WienMobil Rad (nextbike) | City bike-share, mostly non-electric | EUR 0.60 per 30 minutes, annual pass EUR 59 |
| Donkey Republic | Station-based bike rental | from EUR 15 per day |
| Buying an e-bike (e.g. KTM, Kalkhoff) | Ownership | EUR 2,800–3,500 plus about EUR 250 service per year |

Swapfiets is the closest competitor and sets the price anchor for subscriptions; Lime
is the reference for short trips but becomes expensive for daily commuting (a 20-minute
commute twice a day costs about EUR 330 per month).

## Prices

| Plan | Price | Commitment | Included |
| --- | --- | --- | --- |
| Pay per minute | EUR 1.00 unlock + EUR 0.22 per minute | none | insurance while riding |
| Day pass | EUR 19 per day | none | 24 hours, unlimited rides |
| Commuter Flex | EUR 79 per month | 1 month | bike, lock, insurance, maintenance |
| Commuter 12 | EUR 69 per month | 12 months | as Flex, plus winter tyres |
| Student | EUR 54 per month | 6 months | as Flex, valid student ID |
| Business fleet | EUR 59 per bike per month | 12 months, 10+ bikes | fleet portal, monthly invoice |

Average revenue per subscribed bike: EUR 68 per month in 2026. A subscription bike
costs EUR 1,650 to purchase (volume price) and is depreciated over 4 years; maintenance
costs EUR 11 per bike per month.

## Go-to-market

1. Launch in Vienna in March 2026 with 600 bikes and 3 mechanics' vans.
2. Business fleets: pilots with two insurance companies and a hospital group (220 bikes).
3. Student plan promoted with the Austrian Students' Union at the University of Vienna
   and TU Wien.
4. Graz from spring 2027; Linz and Salzburg evaluated for 2028.

Marketing budget EUR 240,000 in 2026; customer acquisition cost target EUR 45 per
subscriber; monthly churn target below 3.5 %.

## Regulation

- **Vehicle classification**: under § 1 (2a) of the Austrian Motor Vehicles Act
  (Kraftfahrgesetz, KFG) e-bikes with at most 600 W and 25 km/h are bicycles, so no
  licence, registration or insurance plate is needed; the EU standard for pedelecs is
  EN 15194 (maximum 250 W continuous rated power under EU type-approval exemption in
  Regulation (EU) No 168/2013).
- **Public space**: pay-per-minute hubs on public ground need a permit under the City
  of Vienna's rules for sharing services; hubs on private ground need agreements with
  Wiener Linien and property owners.
- **Batteries**: the EU Batteries Regulation (EU) 2023/1542 classifies e-bike batteries
  as LMT batteries with take-back obligations, and requires a battery passport from
  February 2027; waste electrical equipment falls under the WEEE Directive 2012/19/EU.
- **Data protection**: GPS location data of riders is personal data under the GDPR;
  trip data is kept for 30 days, tracking is only active for theft recovery and
  pay-per-minute billing.
- **Consumer law**: subscriptions concluded online are subject to the 14-day right of
  withdrawal (Fern- und Auswärtsgeschäfte-Gesetz, FAGG, implementing Directive
  2011/83/EU).
- **Liability**: the revised Product Liability Directive (EU) 2024/2853 and third-party
  liability insurance of EUR 10 million per claim.

## Financial plan

| EUR thousand | 2026 | 2027 | 2028 |
| --- | ---: | ---: | ---: |
| Bikes in fleet (December) | 600 | 2,100 | 4,200 |
| Revenue | 420 | 1,650 | 3,300 |
| Gross profit | 150 | 780 | 1,750 |
| EBITDA | −640 | −310 | 380 |
| Fleet capital expenditure | 990 | 2,480 | 3,470 |

## Team

- Lena Hofer, CEO — previously city operations manager at a micromobility operator in
  Vienna and Munich.
- Daniel Petrović, Head of Fleet — bicycle mechanic master, ran a workshop with 12 staff.
- Clara Steiner, CFO (part-time) — asset-finance background at Raiffeisen Leasing.

## Risks

| Risk | Mitigation |
| --- | --- |
| Theft and vandalism | GPS trackers, insured fleet, deposit of EUR 100 for Flex |
| Seasonality (winter demand −35 %) | 12-month plans, winter tyres, business fleets |
| Swapfiets price cuts | Service quality (24-hour swap), business fleet portal |
| Battery fires in storage | Certified batteries, fire-rated storage room, BMS monitoring |
"""

PDF_CSS = """
@page { size: A4; margin: 20mm 18mm 22mm;
        @bottom-center { content: "Dispatchly GmbH - confidential - page "
                         counter(page) " of " counter(pages); font-size: 8pt; color: #666; } }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
       font-size: 10pt; line-height: 1.45; color: #1d1d1f; }
h1 { font-size: 19pt; color: #0b3d91; margin: 0 0 4pt; }
h2 { font-size: 13pt; color: #0b3d91; margin: 16pt 0 6pt;
     border-bottom: 1px solid #c8d3e6; padding-bottom: 2pt; }
table { border-collapse: collapse; width: 100%; margin: 6pt 0 10pt; font-size: 8.5pt; }
th, td { border: 1px solid #c8d3e6; padding: 3pt 5pt; vertical-align: top; }
th { background: #eef2f9; text-align: left; }
tr { break-inside: avoid; }
"""


def render_pdf(markdown: str, title: str) -> bytes:
    """Render a Markdown plan to PDF bytes with WeasyPrint."""
    import weasyprint

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    created = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title>"
        "<meta name='author' content='Dispatchly GmbH'>"
        f"<meta name='dcterms.created' content='{created}'>"
        f"<meta name='dcterms.modified' content='{created}'>"
        f"<style>{PDF_CSS}</style></head><body>{body}</body></html>"
    )
    pdf: bytes = weasyprint.HTML(string=page).write_pdf(uncompressed_pdf=False)
    return pdf


def render_docx(markdown: str, title: str) -> bytes:
    """Write a Markdown plan as a Word document with real headings, lists and tables."""
    document = docx.Document()
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(11)
    properties = document.core_properties
    properties.title = title
    properties.author = "VeloLoop GmbH"
    properties.created = FIXED_TIME.replace(tzinfo=None)
    properties.modified = FIXED_TIME.replace(tzinfo=None)
    properties.last_modified_by = "VeloLoop GmbH"
    properties.revision = 1

    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    index = 0
    list_style: str | None = None
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open":
            level = int(token.tag[1])
            document.add_heading(_inline_text(tokens[index + 1]), level=level)
            index += 3
            continue
        if token.type in ("bullet_list_open", "ordered_list_open"):
            list_style = "List Bullet" if token.type == "bullet_list_open" else "List Number"
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_style = None
        elif token.type == "inline" and tokens[index - 1].type == "paragraph_open":
            paragraph = document.add_paragraph(style=list_style)
            _add_runs(paragraph, token)
        elif token.type == "table_open":
            index = _add_table(document, tokens, index)
            continue
        index += 1
    buffer = io.BytesIO()
    document.save(buffer)
    return _with_fixed_zip_times(buffer.getvalue())


def _inline_text(token: Token) -> str:
    return "".join(child.content for child in token.children or [] if child.type == "text")


def _add_runs(paragraph: Paragraph, inline: Token) -> None:
    bold = italic = False
    for child in inline.children or []:
        if child.type == "strong_open":
            bold = True
        elif child.type == "strong_close":
            bold = False
        elif child.type == "em_open":
            italic = True
        elif child.type == "em_close":
            italic = False
        elif child.type in ("text", "code_inline"):
            run = paragraph.add_run(child.content)
            run.bold, run.italic = bold, italic
        elif child.type == "softbreak":
            paragraph.add_run(" ")


def _add_table(document: DocxDocument, tokens: list[Token], index: int) -> int:
    rows: list[list[str]] = []
    while tokens[index].type != "table_close":
        token = tokens[index]
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline":
            rows[-1].append(token.content)
        index += 1
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Light Grid Accent 1"
    for row_cells, row in zip(table.rows, rows, strict=True):
        for cell, text in zip(row_cells.cells, row, strict=True):
            cell.text = text.replace("**", "")
    return index + 1


def _with_fixed_zip_times(data: bytes) -> bytes:
    """Rewrite the .docx ZIP with a fixed timestamp on every entry (reproducible)."""
    stamp = FIXED_TIME.timetuple()[:6]
    output = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(entry.filename))
    return output.getvalue()


def main() -> None:
    """Write both generated plans next to this script."""
    # fontTools, which WeasyPrint uses to subset fonts, stamps the embedded
    # font with the current time unless this is set.
    os.environ.setdefault("SOURCE_DATE_EPOCH", str(int(FIXED_TIME.timestamp())))
    pdf_path = HERE / "fieldservice-saas.pdf"
    pdf_path.write_bytes(render_pdf(FIELDSERVICE_PLAN, "Dispatchly GmbH — Business Plan"))
    docx_path = HERE / "urban-ebike-rental.docx"
    docx_path.write_bytes(render_docx(EBIKE_PLAN, "VeloLoop Urban E-Bike Rental — Business Plan"))
    for path in (pdf_path, docx_path):
        print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
