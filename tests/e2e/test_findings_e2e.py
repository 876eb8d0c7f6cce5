"""Typed findings through the real server: the client, grpcurl, the CLI and the ZIP export."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import pytest

from scout.v1 import findings_pb2, research_pb2, types_pb2
from scout_client import InvalidArgumentError, NotFoundError, ScoutClient
from tests.e2e.test_grpcurl import call
from tests.support.server import ROOT, TOKENS, ServerProcess

pytestmark = pytest.mark.e2e


def _research(scout: ScoutClient, example: str) -> tuple[str, str]:
    sid = scout.create_session().session_id
    scout.upload_file(sid, ROOT / "examples" / example)
    run = scout.start_research(sid)
    events = list(scout.stream_progress(sid, run_id=run.run_id))
    assert events[-1].type == research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED
    return sid, run.run_id


def _ids(message: object) -> set[str]:
    """Every source id anywhere in a findings message."""
    found: set[str] = set()
    for field, value in message.ListFields():  # type: ignore[attr-defined]
        if field.name == "source_ids":
            found |= set(value)
        elif field.message_type is not None:
            for item in (value if field.is_repeated else [value]):
                found |= _ids(item)
    return found


def test_findings_of_an_example_plan_carry_sizes_prices_and_a_verdict_with_resolvable_sources(
        shared_server: ServerProcess) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid, run_id = _research(scout, "urban-ebike-rental.docx")
        found = {f.kind: f for f in scout.get_findings(sid)}
        assert set(found) == {types_pb2.REPORT_KIND_MARKET, types_pb2.REPORT_KIND_COMPETITION,
                              types_pb2.REPORT_KIND_PRICE, types_pb2.REPORT_KIND_LEGAL,
                              types_pb2.REPORT_KIND_FINAL}
        assert {f.run_id for f in found.values()} == {run_id}

        market = found[types_pb2.REPORT_KIND_MARKET].market
        assert (market.tam.amount, market.tam.currency) == (310e6, "EUR")
        assert (market.sam.amount, market.som.amount) == (96e6, 3.3e6)
        rivals = {c.name: c for c in found[types_pb2.REPORT_KIND_COMPETITION]
                  .competition.competitors}
        assert "Swapfiets" in rivals and "Lime" in rivals
        assert [(p.amount, p.currency, p.billing_period) for p in rivals["Swapfiets"]
                .price_points] == [(84.90, "EUR", findings_pb2.BILLING_PERIOD_MONTH)]
        plan = {(p.tier, p.amount) for p in found[types_pb2.REPORT_KIND_PRICE].price.price_points}
        assert {("Commuter Flex", 79), ("Commuter 12", 69), ("Student", 54)} <= plan
        legal = [o.regulation for o in found[types_pb2.REPORT_KIND_LEGAL].legal.obligations]
        assert any("168/2013" in name for name in legal)
        final = found[types_pb2.REPORT_KIND_FINAL].final
        assert final.verdict != findings_pb2.VERDICT_UNSPECIFIED and 0 <= final.confidence <= 1

        sources = {s.source_id: s for s in scout.iter_sources(sid, run_id)}
        for f in found.values():
            ids = _ids(f)
            assert ids and ids <= set(sources), f.kind
        # the Swapfiets price is read off the passage its source holds
        [swap_source] = rivals["Swapfiets"].price_points[0].source_ids
        assert "84.90" in sources[swap_source].excerpt

        # one kind only
        [only] = scout.get_findings(sid, "price")
        assert only.kind == types_pb2.REPORT_KIND_PRICE and only.WhichOneof("body") == "price"

        # grpcurl shows them readably: enum names, field names, numbers
        [answer] = call(shared_server, "scout.v1.ReportService/GetFindings",
                        {"session_id": sid, "kind": "REPORT_KIND_MARKET"})
        [market_json] = answer["findings"]
        assert market_json["market"]["tam"]["currency"] == "EUR"
        assert market_json["kind"] == "REPORT_KIND_MARKET"

        # the ZIP export carries them
        archive = zipfile.ZipFile(io.BytesIO(scout.export_reports(sid, "zip")))
        exported = json.loads(archive.read("findings.json"))["findings"]
        by_kind = {row["kind"]: row for row in exported}
        assert by_kind["market_report"]["market"]["tam"]["amount"] == 310e6
        assert by_kind["final_report"]["final"]["verdict"] in ("GO", "GO_WITH_CONDITIONS",
                                                               "NO_GO")

        # the CLI, as JSON and for people
        env = {"SCOUT_ADDRESS": shared_server.address, "SCOUT_TOKEN": TOKENS["alice"],
               "PATH": "/usr/bin:/bin"}
        cli = [sys.executable, "-m", "scout_client.cli"]
        as_json = subprocess.run([*cli, "findings", sid, "--json"], env=env,
                                 capture_output=True, text=True, timeout=60, check=True)
        kinds = [f["kind"] for f in json.loads(as_json.stdout)["findings"]]
        assert kinds[0] == "REPORT_KIND_MARKET" and len(kinds) == 5
        text = subprocess.run([*cli, "findings", sid, "--kind", "competition"], env=env,
                              capture_output=True, text=True, timeout=60, check=True).stdout
        assert "Swapfiets (direct): EUR 84.90 per month" in text and "[S" in text


def test_get_findings_validates_its_input_and_answers_empty_before_a_run(
        shared_server: ServerProcess) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        assert scout.get_findings(sid) == []
        with pytest.raises(InvalidArgumentError):
            scout.get_findings("not-a-session-id")
        with pytest.raises(NotFoundError):
            scout.get_findings("6d1f1d3a-7d4e-4f8a-9a43-3c9a3a1d2b11")
    # another principal's session reads as not found
    with ScoutClient(shared_server.address, token=TOKENS["bob"]) as other:
        with pytest.raises(NotFoundError):
            other.get_findings(sid)


@pytest.mark.parametrize("example, tam, rival, rival_price, tier, tier_price", [
    ("urban-ebike-rental.docx", 310e6, "Swapfiets", 84.90, "Commuter Flex", 79),
    ("nordic-meal-kits.md", 4.1e9, "HelloFresh", 58.90, "Vardag", 47.90),
    ("fieldservice-saas.pdf", 2.4e9, "Microsoft Dynamics", 97, "Starter", 29),
])
def test_every_example_plan_yields_its_sizes_rivals_prices_and_verdict(
        shared_server: ServerProcess, example: str, tam: float, rival: str,
        rival_price: float, tier: str, tier_price: float) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid, run_id = _research(scout, example)
        found = {f.kind: f for f in scout.get_findings(sid)}
        market = found[types_pb2.REPORT_KIND_MARKET].market
        assert (market.tam.amount, market.tam.currency) == (tam, "EUR")
        assert market.som.amount < market.sam.amount < market.tam.amount
        rivals = {c.name: c for c in found[types_pb2.REPORT_KIND_COMPETITION]
                  .competition.competitors}
        [named] = [c for name, c in rivals.items() if name.startswith(rival)]
        assert rival_price in [p.amount for p in named.price_points]
        assert not [name for name in rivals if name.startswith(("Nordbox", "Dispatchly",
                                                                 "VeloLoop"))]
        plan = [(p.tier, p.amount) for p in found[types_pb2.REPORT_KIND_PRICE].price.price_points]
        assert (tier, tier_price) in plan, plan
        assert found[types_pb2.REPORT_KIND_FINAL].final.verdict != findings_pb2.VERDICT_UNSPECIFIED
        sources = {s.source_id for s in scout.iter_sources(sid, run_id)}
        for f in found.values():
            assert _ids(f) <= sources, f.kind
