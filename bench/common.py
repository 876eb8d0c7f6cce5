"""What every benchmark shares: timing, percentiles, the result table, processes.

Every number the benchmark prints is a ``Row``: a measured value next to a
floor measured in the same run on the same endpoint, their ratio, and — where
the issue sets one — a target the ratio (or the value) must meet. Rows print
as one Markdown table, so the same text goes to the terminal and to
``bench/RESULTS.md``.

The process helpers start the real server (and the bare echo floor) the way
an operator would, as ``python -m …`` children, and time them from ``Popen``
to the first ``grpc.health.v1`` answer of SERVING.
"""

from __future__ import annotations

import asyncio
import math
import operator
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]

# -- statistics -------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation between ranks.

    The same definition as numpy's default, so p50 of an even count is the
    mean of the two middle values. Raises ``ValueError`` on no values.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class Latency:
    """Per-call latency of one measurement, in seconds."""

    p50: float
    p99: float
    mean: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Latency:
        """Summarize raw samples (seconds)."""
        return cls(percentile(samples, 50), percentile(samples, 99),
                   sum(samples) / len(samples), len(samples))


def measure_sync(fn: Callable[[], object], iterations: int, warmup: int = 0) -> Latency:
    """Latency of ``fn`` called one at a time."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return Latency.of(samples)


async def measure_async(
    fn: Callable[[], Awaitable[object]], iterations: int, warmup: int = 0
) -> Latency:
    """Latency of ``await fn()`` one at a time."""
    for _ in range(warmup):
        await fn()
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t0)
    return Latency.of(samples)


def throughput_threads(
    fn: Callable[[], object], total: int, concurrency: int, warmup: int = 0
) -> float:
    """Calls per second of ``fn`` with ``concurrency`` threads sharing ``total`` calls."""
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: fn(), range(warmup)))
        remaining = [total]
        lock = threading.Lock()

        def worker() -> None:
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                fn()

        t0 = time.perf_counter()
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
        return total / (time.perf_counter() - t0)


async def throughput_tasks(
    fn: Callable[[], Awaitable[object]], total: int, concurrency: int, warmup: int = 0
) -> float:
    """Calls per second of ``await fn()`` with ``concurrency`` tasks sharing ``total`` calls."""
    await asyncio.gather(*(fn() for _ in range(warmup)))
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fn()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - t0)


# -- the table ----------------------------------------------------------------------

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq,
}
_SHOW_OP = {"<=": "≤", ">=": "≥", "==": "="}


@dataclass(frozen=True)
class Target:
    """What a row must meet: ``ratio <= 1.3``, ``value == 0`` …"""

    op: str
    bound: float
    on: str = "ratio"  # "ratio" or "value"

    def __post_init__(self) -> None:
        if self.op not in _OPS or self.on not in ("ratio", "value"):
            raise ValueError(f"bad target {self.op!r} on {self.on!r}")

    def met(self, row: Row) -> bool | None:
        """True/False, or None when the number it applies to is missing."""
        subject = row.ratio if self.on == "ratio" else row.value
        if subject is None or math.isnan(subject):
            return None
        return _OPS[self.op](subject, self.bound)

    def __str__(self) -> str:
        subject = "" if self.on == "ratio" else "value "
        bound = f"{self.bound:g}×" if self.on == "ratio" else f"{self.bound:g}"
        return f"{subject}{_SHOW_OP[self.op]} {bound}"


@dataclass(frozen=True)
class Row:
    """One line of the result table.

    ``ratio`` is ``value / floor`` unless the caller gives it (a speed-up is
    ``floor / value``); ``floor_label`` says what the floor was.
    """

    name: str
    value: float | None
    unit: str
    floor: float | None = None
    floor_label: str = ""
    ratio: float | None = None
    target: Target | None = None
    note: str = ""
    section: str = ""
    floor_unit: str | None = None

    def __post_init__(self) -> None:
        if self.ratio is None and self.value is not None and self.floor:
            object.__setattr__(self, "ratio", self.value / self.floor)

    @property
    def ok(self) -> bool | None:
        """Whether the target is met (None: no target, or nothing measured)."""
        return None if self.target is None else self.target.met(self)

    def as_dict(self) -> dict[str, object]:
        """Plain values, for comparison with the next run."""
        return {"name": self.name, "value": self.value, "unit": self.unit, "floor": self.floor,
                "ratio": self.ratio, "ok": self.ok}


def format_number(value: float | None, unit: str) -> str:
    """A value with its unit, rounded for reading (``1.23 ms``, ``4,210 /s``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "s" and value < 1:
        return format_number(value * 1000, "ms")
    if unit == "ms" and value < 1:
        return f"{value * 1000:.0f} µs"
    magnitude = abs(value)
    if magnitude >= 1000:
        text = f"{value:,.0f}"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude == int(magnitude):
        text = f"{value:.0f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


TABLE_HEADER = ("benchmark", "value", "floor (same run)", "ratio", "target", "result")


def format_table(rows: Sequence[Row]) -> str:
    """The rows as one Markdown table (sections become bold separator lines)."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |",
             "|" + "|".join(["---", "---:", "---", "---:", "---", "---"]) + "|"]
    section = None
    for row in rows:
        if row.section and row.section != section:
            section = row.section
            lines.append(f"| **{_cell(section)}** |  |  |  |  |  |")
        floor = "—"
        if row.floor is not None:
            floor = format_number(row.floor, row.floor_unit or row.unit)
            if row.floor_label:
                floor += f" ({row.floor_label})"
        elif row.floor_label:
            floor = row.floor_label
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}×"
        ok = row.ok
        result = "" if ok is None and row.target is None else (
            "n/a" if ok is None else ("PASS" if ok else "FAIL"))
        name = row.name + (f" — {row.note}" if row.note else "")
        cells = [name, format_number(row.value, row.unit), floor, ratio,
                 str(row.target) if row.target else "", result]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def latency_rows(
    name: str, lat: Latency, floor: Latency, floor_label: str, *,
    p50_target: Target | None = None, section: str = "", note: str = "",
) -> list[Row]:
    """p50 and p99 rows (milliseconds) of one call against its floor."""
    return [
        Row(f"{name} p50 @1", lat.p50 * 1000, "ms", floor.p50 * 1000, floor_label,
            target=p50_target, section=section, note=note),
        Row(f"{name} p99 @1", lat.p99 * 1000, "ms", floor.p99 * 1000, floor_label,
            section=section),
    ]


# -- processes ------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port free right now (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def health_serving(address: str, timeout: float) -> float:
    """Poll ``grpc.health.v1.Health/Check`` until SERVING; returns when (perf_counter)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    # Reconnect fast: the listener appears at an unknown moment.
    options = [("grpc.initial_reconnect_backoff_ms", 5), ("grpc.min_reconnect_backoff_ms", 5),
               ("grpc.max_reconnect_backoff_ms", 20)]
    deadline = time.perf_counter() + timeout
    with grpc.insecure_channel(address, options=options) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.perf_counter() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5,
                                   wait_for_ready=True)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return time.perf_counter()
            except grpc.RpcError:
                pass
            time.sleep(0.005)
    raise TimeoutError(f"{address} did not report SERVING within {timeout:g}s")


@dataclass
class Child:
    """A ``python -m MODULE`` child; its output goes to a temporary file, read on demand.

    A file, not a pipe: a busy server's log lines then cost the benchmark's
    own process (the client side of every measurement) nothing.
    """

    module: str
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    # Where it runs, so ``MODULE`` is imported from there first (default: this checkout).
    cwd: Path = ROOT
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    _log: IO[bytes] | None = None

    def start(self) -> Child:
        """Launch; ``started_at`` is the perf_counter just before ``Popen``."""
        self._log = tempfile.TemporaryFile(prefix="scout-bench-")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args], cwd=self.cwd, env=dict(self.env),
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        return self

    @property
    def pid(self) -> int:
        """Process id of the child."""
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        """Everything it printed so far."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def wait_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first output line matching ``pattern`` (or RuntimeError with the tail)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if m := re.search(pattern, self.output()):
                return m
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError(f"{self.module}: no line matching {pattern!r}:\n" + self.tail())

    def tail(self, n: int = 40) -> str:
        """The last lines it printed."""
        return "\n".join(self.output().splitlines()[-n:])

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; safe to call twice."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without SCOUT_/DYNAMODB_/AWS_ settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCOUT_", "DYNAMODB_", "AWS_"))}
    env.update(extra)
    return env


@dataclass
class Replica:
    """One ``scout-service serve`` child on a DynamoDB endpoint, timed to SERVING."""

    endpoint_url: str
    table_name: str
    token_hashes: str
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # A checkout to run the server from (``bench.compare``): default, this one.
    tree: Path = ROOT
    child: Child | None = None
    port: int = 0
    metrics_port: int = 0
    startup_s: float = 0.0

    @property
    def address(self) -> str:
        """host:port of its gRPC listener."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Its process id (the Python interpreter itself, no wrapper)."""
        assert self.child is not None
        return self.child.pid

    def start(self, timeout: float = 90.0) -> Replica:
        """Start, wait for SERVING, and note how long that took."""
        self.port = free_port()
        env = clean_env({
            "DYNAMODB_ENDPOINT_URL": self.endpoint_url,
            "DYNAMODB_TABLE_NAME": self.table_name,
            "DYNAMODB_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "SCOUT_CREATE_TABLE": "false",
            "SCOUT_LISTEN_ADDRESS": f"127.0.0.1:{self.port}",
            "SCOUT_METRICS_ADDRESS": "127.0.0.1:0",
            "SCOUT_AUTH_TOKENS": self.token_hashes,
            "SCOUT_MODEL_PROVIDER": "offline",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        })
        self.child = Child("scout_service", ("serve",), env, cwd=self.tree).start()
        try:
            serving_at = health_serving(self.address, timeout)
        except TimeoutError:
            tail = self.child.tail()
            self.child.stop()
            raise RuntimeError("scout-service did not reach SERVING:\n" + tail) from None
        self.startup_s = serving_at - self.child.started_at
        if m := self.child.wait_line(r"metrics on http://[\d.]+:(\d+)/metrics", 10):
            self.metrics_port = int(m.group(1))
        return self

    def rss_kib(self) -> int:
        """Its resident set size now."""
        return rss_kib(self.pid)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.child is not None:
            self.child.stop()


def load_average() -> float:
    """The 1-minute load average (other work on the machine skews every number)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def log(message: str) -> None:
    """Progress of the benchmark itself, on stderr (the table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
