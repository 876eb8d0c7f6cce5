"""Profile the server's three hottest paths with py-spy while they are under load.

    python -m bench.profile [--seconds 10] [--out out/profiles]

Starts an embedded DynamoDB and one replica, then for each path drives load
from this process while ``py-spy record --gil`` samples the replica (only
the thread holding the GIL: where the server's CPU goes, not its threads
waiting for DynamoDB):

- ``get_report_1``: GetReport, one in flight (the latency target);
- ``get_report_16``: GetReport at 16 in flight;
- ``upload``: 10 MB UploadFile, 4 at once;
- ``fanout``: 1,000 StreamProgress streams opened on one research run, then
  the run cancelled (its last events fan out to all of them).

The same load is also recorded without ``--gil`` (``<path>-all.txt``), where
threads blocked on DynamoDB show as well.

For each it writes a flame graph (``<path>.svg``) and the collapsed stacks
(``<path>.txt``), and prints the frames with the most samples: by self time,
and inclusive for Scout's own code (``scout_service/``), with file:line.
py-spy must be installed (``pip install py-spy==0.4.3``); it needs ptrace
rights over the child (root, or ``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import floor as fl
from bench import streams_bench
from bench.__main__ import TOKEN, Mode, replica_env, token_env
from bench.common import Replica, log
from bench.rpc_bench import CONCURRENCY, RpcBench, SessionPool, Sizes, report_content
from scout.v1 import report_pb2, types_pb2

OUT = Path(__file__).resolve().parents[1] / "out" / "profiles"  # /out/ is git-ignored


def py_spy() -> str:
    """Path of the py-spy binary (next to this interpreter, or on PATH)."""
    local = Path(sys.executable).with_name("py-spy")
    found = str(local) if local.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is not installed: pip install py-spy==0.4.3")
    return found


def record(pid: int, seconds: float, out: Path, fmt: str,
           gil: bool = True) -> subprocess.Popen[bytes]:
    """Start ``py-spy record`` on ``pid`` for ``seconds``."""
    return subprocess.Popen(
        [py_spy(), "record", "--pid", str(pid), "--duration", str(int(seconds)),
         "--rate", "250", "--format", fmt, "--output", str(out), "--nonblocking",
         *(["--gil"] if gil else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def recorders(pid: int, seconds: float, out: Path, name: str) -> list[subprocess.Popen[bytes]]:
    """Flame graph and collapsed stacks with --gil, collapsed stacks without."""
    return [record(pid, seconds, out / f"{name}.svg", "flamegraph"),
            record(pid, seconds, out / f"{name}.txt", "raw"),
            record(pid, seconds, out / f"{name}-all.txt", "raw", gil=False)]


def summarize(collapsed: Path, top: int = 15) -> str:
    """Frames with the most samples in py-spy's collapsed output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            if "scout_service/" in frame:
                inclusive[frame] += n
    if not total:
        return "(no samples)"
    lines = [f"{total} samples", "  self time:"]
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines.append("  inclusive, scout_service/ frames:")
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)


async def keep_busy(work: Callable[[], Awaitable[object]], seconds: float,
                    concurrency: int) -> int:
    """Run ``work`` from ``concurrency`` tasks for ``seconds``; returns how many ran."""
    deadline = time.monotonic() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await work()
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


async def profile(replica: Replica, boto: fl.BotoFloor, seconds: float, out: Path) -> None:
    """Each path under load, recorded twice (flame graph, collapsed stacks)."""
    bench = RpcBench(replica.address, TOKEN, boto, Sizes.for_mode(False))
    try:
        sid = await bench.new_session()
        await bench.put_report(sid, types_pb2.REPORT_KIND_MARKET, report_content())
        request = report_pb2.GetReportRequest(session_id=sid, kind=types_pb2.REPORT_KIND_MARKET)

        async def get_report() -> None:
            await bench.reports.GetReport(request, metadata=bench.metadata)

        pool = SessionPool([await bench.new_session() for _ in range(4)])
        data = bytes(range(256)) * (10 * 1024 * 1024 // 256)

        async def upload() -> None:
            await pool.call(lambda sid: bench.upload(sid, "p.bin", data))

        for name, work, concurrency in (("get_report_1", get_report, 1),
                                        ("get_report_16", get_report, CONCURRENCY),
                                        ("upload", upload, 4)):
            await keep_busy(work, 1.0, concurrency)  # warm
            procs = recorders(replica.pid, seconds, out, name)
            count = await keep_busy(work, seconds + 1, concurrency)
            for proc in procs:
                proc.wait(60)
            log(f"{name}: {count} calls while recording")
            print(f"\n== {name} (--gil)\n" + summarize(out / f"{name}.txt"), flush=True)
            print(f"\n== {name} (all threads)\n" + summarize(out / f"{name}-all.txt", 8),
                  flush=True)
    finally:
        await bench.close()

    from bench.run_cost import PLAN
    from scout_client import AsyncScoutClient

    async with AsyncScoutClient(replica.address, token=TOKEN) as scout:
        session = await scout.create_session()
        await scout.upload_file(session.session_id, PLAN)
        run = await scout.start_research(session.session_id)
        procs = recorders(replica.pid, seconds, out, "fanout")

        async def cancel() -> None:
            await scout.cancel_run(session.session_id, run.run_id)

        result = await streams_bench.open_streams(replica.address, TOKEN, session.session_id,
                                                  run.run_id, 1000, 8, on_all_open=cancel)
    for proc in procs:
        proc.wait(120)
    log(f"fanout: {result.delivered} events, {result.failed} streams failed")
    print("\n== fanout (--gil)\n" + summarize(out / "fanout.txt"), flush=True)
    print("\n== fanout (all threads)\n" + summarize(out / "fanout-all.txt", 8), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Start everything, profile, stop everything."""
    from scout_service.store import EmbeddedDynamo, create_table

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    py_spy()
    table = f"scout-profile-{uuid.uuid4().hex[:8]}"
    with EmbeddedDynamo() as dynamo:
        boto = fl.BotoFloor(fl.boto3_client(dynamo.endpoint_url), table)
        create_table(boto.client, table)
        replica = Replica(dynamo.endpoint_url, table, token_env(),
                          replica_env(Mode.of(False))).start()
        try:
            asyncio.run(profile(replica, boto, args.seconds, args.out))
        finally:
            replica.stop()
    print(f"\nflame graphs in {os.path.relpath(args.out)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
