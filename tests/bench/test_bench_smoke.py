"""The benchmark's pure-Python helpers: statistics, the table, RESULTS.md, the proxy.

The benchmark itself is not run here (it takes minutes and measures the
machine); these tests check the code that turns measurements into the
table, and the counting proxy against a tiny fake HTTP server. No timing
is asserted anywhere.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import results, run_cost
from bench.__main__ import foreign_rows, research_rows
from bench.common import Latency, Row, Target, format_number, format_table, percentile
from bench.counting_proxy import CountingProxy, operation_of
from bench.floor import chunk_sizes

# -- statistics ---------------------------------------------------------------------


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert percentile(list(map(float, range(101))), 99) == 99.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_rejects_nothing_and_bad_q() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary() -> None:
    lat = Latency.of([0.001, 0.003, 0.002])
    assert (lat.p50, lat.n) == (0.002, 3)
    assert lat.mean == pytest.approx(0.002)


def test_chunk_sizes_cut_like_the_store() -> None:
    sizes = chunk_sizes(10 * 1024 * 1024)
    assert sum(sizes) == 10 * 1024 * 1024
    assert len(sizes) == 30 and set(sizes[:-1]) == {350_000}


# -- rows and the table ----------------------------------------------------------------


def test_row_ratio_and_targets() -> None:
    fast = Row("GetReport p50 @1", 1.2, "ms", 1.0, "boto3", target=Target("<=", 1.3))
    slow = Row("GetReport p50 @1", 1.4, "ms", 1.0, "boto3", target=Target("<=", 1.3))
    assert fast.ratio == pytest.approx(1.2) and fast.ok is True
    assert slow.ok is False
    errors = Row("streams failed", 0, "", target=Target("==", 0, on="value"))
    assert errors.ratio is None and errors.ok is True
    missing = Row("rss", None, "MiB", 10.0, target=Target(">=", 1))
    assert missing.ok is None
    speedup = Row("research", 2.0, "s", 8.0, ratio=4.0, target=Target(">=", 3))
    assert speedup.ratio == 4.0 and speedup.ok is True


def test_target_rejects_unknown_operator() -> None:
    with pytest.raises(ValueError):
        Target("<", 1)


def test_format_number_units() -> None:
    assert format_number(0.25, "s") == "250 ms"
    assert format_number(0.5, "ms") == "500 µs"
    assert format_number(12345.6, "/s") == "12,346 /s"
    assert format_number(None, "ms") == "—"
    assert format_number(float("nan"), "ms") == "—"


def test_table_has_one_line_per_row_with_results() -> None:
    rows = [
        Row("GetReport p50 @1", 1.2, "ms", 1.0, "boto3 get_item", target=Target("<=", 1.3),
            section="RPCs"),
        Row("PutReport p50 @1", 3.0, "ms", 1.0, "boto3 | put_item", section="RPCs"),
        Row("streams failed", 2, "", target=Target("==", 0, on="value"), section="Progress"),
    ]
    table = format_table(rows).splitlines()
    assert table[0].startswith("| benchmark | value | floor")
    assert sum("**RPCs**" in line for line in table) == 1
    get_report = next(line for line in table if line.startswith("| GetReport"))
    assert "1.20×" in get_report and "≤ 1.3×" in get_report and get_report.endswith("PASS |")
    assert "boto3 \\| put_item" in format_table(rows)  # a pipe never breaks the table
    assert next(line for line in table if "streams failed" in line).endswith("FAIL |")
    assert len(table) == 2 + 2 + len(rows)  # header, rule, two section lines, rows


# -- other benches' rows -----------------------------------------------------------------


def test_foreign_latency_rows_keep_their_baseline() -> None:
    rows = foreign_rows("Store", [{"name": "get_report", "baseline": "raw get_item",
                                   "p50_ms": 2.0, "p99_ms": 4.0, "baseline_p50_ms": 1.6,
                                   "baseline_p99_ms": 3.0, "iterations": 300}])
    assert [r.name for r in rows] == ["get_report p50", "get_report p99"]
    assert rows[0].ratio == pytest.approx(1.25) and rows[0].floor_label == "raw get_item"


def test_research_rows_become_speedups_with_the_target_on_the_specialists() -> None:
    rows = research_rows([
        {"name": "full run, specialists parallel", "wall_s": 2.0, "delay_ms": 20, "runs": 3},
        {"name": "full run, specialists sequential (floor)", "wall_s": 7.0, "delay_ms": 20,
         "runs": 3},
        {"name": "full run: parallel / sequential", "ratio": 2 / 7, "target": "<= 0.6"},
        {"name": "specialist phase, parallel", "wall_s": 1.0, "delay_ms": 20, "runs": 3},
        {"name": "specialist phase, sequential (floor)", "wall_s": 2.0, "delay_ms": 20,
         "runs": 3},
    ])
    assert [r.name for r in rows] == ["research full run: specialists in parallel",
                                      "research specialist phase: specialists in parallel"]
    assert rows[0].ratio == pytest.approx(3.5) and rows[0].target is None  # Amdahl: no target
    assert rows[1].ratio == pytest.approx(2.0) and rows[1].ok is False


def test_unknown_foreign_rows_keep_their_numbers_in_the_note() -> None:
    (row,) = foreign_rows("Broker", [{"name": "fan-out", "events_per_s": 1234.5,
                                      "ratio": 0.5, "target": ">= 0.4"}])
    assert "events_per_s=1.23e+03" in row.note and row.ok is True


# -- RESULTS.md ----------------------------------------------------------------------------


def test_results_entry_round_trip_and_what_moved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "RESULTS.md"
    first = [Row("GetReport p50 @1", 2.4, "ms", 1.6, "boto3", target=Target("<=", 1.3)),
             Row("server RSS idle", 80.0, "MiB", 40.0, "echo")]
    entry = results.append(first, command="make bench", seconds=100, notes=[], path=path)
    assert "first entry" in entry and "`make bench`" in entry
    second = [Row("GetReport p50 @1", 1.8, "ms", 1.6, "boto3", target=Target("<=", 1.3)),
              Row("server RSS idle", 81.0, "MiB", 40.0, "echo"),
              Row("new row", 1.0, "s")]
    entry = results.append(second, command="make bench", seconds=100, notes=["n"], path=path)
    moved = entry.split("What moved since the last entry:")[1].split(results.DATA_MARK)[0]
    assert ("GetReport p50 @1: ratio 1.50× → 1.12× (-25%); 2.40 ms → 1.80 ms; now PASS."
            in moved)
    assert "server RSS idle" not in moved  # +1%: not a move
    assert "new row: new row" in moved
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Scout benchmark results") and text.count("## ") == 2
    assert results.previous_rows(text)["new row"]["value"] == 1.0


# -- the counting proxy ---------------------------------------------------------------------


class _FakeDynamo(BaseHTTPRequestHandler):
    """Answers every POST with a JSON body naming the operation and a CRC-like header."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        reply = json.dumps({"target": self.headers.get("X-Amz-Target"),
                            "received": len(body)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amz-crc32", "12345")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def fake_dynamo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeDynamo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _post(conn: http.client.HTTPConnection, operation: str, body: bytes) -> tuple[dict, str]:
    conn.request("POST", "/", body=body, headers={
        "X-Amz-Target": f"DynamoDB_20120810.{operation}",
        "Content-Type": "application/x-amz-json-1.0"})
    response = conn.getresponse()
    return json.loads(response.read()), response.getheader("x-amz-crc32") or ""


def test_operation_of_target_header() -> None:
    assert operation_of("DynamoDB_20120810.PutItem") == "PutItem"
    assert operation_of(None) == "-"


def test_proxy_forwards_and_counts_by_operation(fake_dynamo: str) -> None:
    with CountingProxy(fake_dynamo, classify=run_cost.classify) as proxy:
        host, port = proxy.endpoint_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        before = proxy.snapshot()
        reply, crc = _post(conn, "PutItem", b"x" * 100)  # one kept-alive connection
        assert reply == {"target": "DynamoDB_20120810.PutItem", "received": 100}
        assert crc == "12345"
        _post(conn, "PutItem", b"y" * 50)
        _post(conn, "GetItem", b'{"Key":{"sk":{"S":"PING"}}}')
        _post(conn, "GetItem", b"z" * 7)
        _post(conn, "TransactWriteItems", b"w" * 30)
        event = b'{"Item":{"session_id":{"S":"s"},"sk":{"S":"EVENT#r#0000000001"}}}'
        _post(conn, "PutItem", event)
        conn.close()
        counts = proxy.snapshot() - before
    assert counts.requests == {"PutItem": 2, "GetItem": 1, run_cost.PING: 1,
                               "TransactWriteItems": 1, "PutItem EVENT": 1}
    assert counts.write_bytes == 100 + 50 + 30 + len(event)  # counted by operation, not label
    assert counts.writes == 4 and counts.total == 6


def test_proxy_answers_502_when_upstream_is_gone() -> None:
    with CountingProxy("http://127.0.0.1:9") as proxy:  # discard port: nothing listens
        host, port = proxy.endpoint_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "x.GetItem"})
        assert conn.getresponse().status == 502
        conn.close()


def test_put_item_bytes_counts_binary_as_base64() -> None:
    item = {"session_id": {"S": "s"}, "sk": {"S": "k"}, "data": {"B": b"\x00" * 3}}
    expected = len(json.dumps({"TableName": "t", "Item": {
        "session_id": {"S": "s"}, "sk": {"S": "k"}, "data": {"B": "AAAA"}}},
        separators=(",", ":")))
    assert run_cost.put_item_bytes("t", item) == expected


# -- the in-process benches, at toy sizes -------------------------------------------------


def test_progress_bench_runs_to_the_end_at_toy_sizes() -> None:
    """It waits on the broker's own state (streams live, reads made): a change there hangs it."""
    from bench import progress_bench

    rows = progress_bench.run(streams=20, events=12)
    assert [r["name"].split(",")[0] for r in rows] == [
        "fan-out to 20 streams", "publish→receive", "store→receive",
        "store reads per poll interval"]
    reads = rows[-1]
    assert 0 < reads["value"] < reads["floor"]  # one follower, not one poller per stream


def test_compare_variants_parse() -> None:
    from bench.common import ROOT
    from bench.compare import Variant, parse_variant

    assert parse_variant("base") == Variant("base", {}, ROOT)
    assert parse_variant("quiet:SCOUT_LOG_LEVEL=WARNING,SCOUT_EVENT_LOOP=asyncio") == Variant(
        "quiet", {"SCOUT_LOG_LEVEL": "WARNING", "SCOUT_EVENT_LOOP": "asyncio"}, ROOT)
    assert parse_variant(f"main:A=1@{ROOT}") == Variant("main", {"A": "1"}, ROOT)
    for bad in (":A=1", "x:A", "x:=1", "x@/nonexistent-checkout"):
        with pytest.raises(ValueError):
            parse_variant(bad)


def test_slot_levels_choose_the_largest_under_the_bound() -> None:
    from bench import slots_bench

    def level(n: int, p99: float, completed: int | None = None) -> dict[str, float]:
        return {"runs": n, "wall_s": 15.0, "events": 100, "p50_ms": 1.0, "p99_ms": p99,
                "rss_mb": 120.0, "rss_per_run_mb": 1.3,
                "completed": n if completed is None else completed}

    levels = [level(8, 16.0), level(32, 77.5), level(48, 95.0, completed=40), level(64, 201.0)]
    assert slots_bench.chosen(levels) == 32  # 48 lost runs, 64 is over the bound
    rows = slots_bench.rows(levels)
    assert [r.ok for r in rows] == [True, True, True, False]
    assert "RSS 120 MB" in rows[0].note
