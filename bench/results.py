"""``bench/RESULTS.md``: one entry per full run, and what moved since the last one.

Each entry carries the date, the machine, the exact command, the table, and
a machine-readable copy of its rows in an HTML comment; the next entry reads
that copy back to say which numbers moved and which targets flipped.
"""

from __future__ import annotations

import json
import math
import platform
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

from bench.common import Row, format_number, format_table

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
DATA_MARK = "<!-- bench-data: "
HEADER = """# Scout benchmark results

`make bench` (`.venv/bin/python -m bench`) appends one entry per run. Every row
is a ratio against a floor measured in the same run on the same endpoint: raw
boto3 calls with one reused client on the very items the server reads and
writes, and a bare `grpc.aio` server (`bench/echo.py`) in its own process.
`python -m bench --quick` is a smoke test and records nothing.
"""
# A row "moved" when its value changed by more than this fraction.
MOVED = 0.10


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kib = int(info.readline().split()[1])
            mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True, check=False)
    versions = []
    for package in ("grpcio", "protobuf", "boto3", "botocore", "moto", "strands-agents", "uvloop"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    import os

    return {
        "uname": uname.stdout.strip() or platform.platform(),
        "cpu": f"{cpu} × {os.cpu_count()} (nproc)",
        "memory": mem,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load": _loadavg(),
        "packages": ", ".join(versions),
    }


def _loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def previous_rows(text: str) -> dict[str, dict[str, object]]:
    """The rows of the last entry in RESULTS.md (by name), or nothing."""
    found = None
    for m in re.finditer(re.escape(DATA_MARK) + r"(.*?) -->", text, re.S):
        found = m.group(1)
    if found is None:
        return {}
    try:
        data = json.loads(found)
    except json.JSONDecodeError:
        return {}
    return {str(r["name"]): r for r in data.get("rows", []) if isinstance(r, dict)}


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not math.isnan(value):
        return float(value)
    return None


def what_moved(rows: Sequence[Row], before: Mapping[str, Mapping[str, object]]) -> list[str]:
    """One line per row that moved by more than 10%, or whose target flipped.

    A row with a ratio is judged by its ratio: the floor is measured in the
    same run, so a busier machine moves values but much less their ratios.
    Rows without one are judged by their value.
    """
    if not before:
        return ["first entry: nothing to compare with."]
    lines = []
    for row in rows:
        old = before.get(row.name)
        if old is None:
            lines.append(f"{row.name}: new row ({format_number(row.value, row.unit)}).")
            continue
        old_value, new_value = _number(old.get("value")), _number(row.value)
        old_ratio, new_ratio = _number(old.get("ratio")), row.ratio
        flipped = old.get("ok") is not None and row.ok is not None and old.get("ok") != row.ok
        values = ""
        if old_value is not None and new_value is not None:
            values = (f"{format_number(old_value, row.unit)} → "
                      f"{format_number(new_value, row.unit)}")
        if old_ratio and new_ratio is not None:
            delta = (new_ratio - old_ratio) / abs(old_ratio)
            change = f"ratio {old_ratio:.2f}× → {new_ratio:.2f}× ({delta:+.0%}); {values}"
        elif old_value and new_value is not None:
            delta = (new_value - old_value) / abs(old_value)
            change = f"{values} ({delta:+.0%})"
        else:
            delta, change = 0.0, values
        if abs(delta) > MOVED or flipped:
            verdict = ("; now " + ("PASS" if row.ok else "FAIL")) if flipped else ""
            lines.append(f"{row.name}: {change}{verdict}.")
    gone = [name for name in before if name not in {r.name for r in rows}]
    if gone:
        lines.append("rows no longer measured: " + ", ".join(gone) + ".")
    return lines or ["nothing moved by more than 10%; no target changed."]


def entry(rows: Sequence[Row], *, command: str, seconds: float, notes: Sequence[str],
          before: Mapping[str, Mapping[str, object]]) -> str:
    """The Markdown of one entry."""
    m = machine()
    targets = [r for r in rows if r.target is not None]
    met = sum(1 for r in targets if r.ok)
    lines = [
        f"## {time.strftime('%Y-%m-%d %H:%M %Z')} — `{command}`",
        "",
        f"- machine: `{m['uname']}`",
        f"- CPU: {m['cpu']}; memory {m['memory']}; load average after the run {m['load']}",
        f"- {m['python']}; {m['packages']}",
        f"- command: `{command}` (runs `{Path(sys.executable).name} -m bench`); "
        f"took {seconds:.0f} s",
        f"- targets met: {met} of {len(targets)}",
        "",
        format_table(rows),
        "",
    ]
    if notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    lines += ["What moved since the last entry:", ""]
    lines += [f"- {line}" for line in what_moved(rows, before)] + [""]
    data = json.dumps({"rows": [r.as_dict() for r in rows]}, separators=(",", ":"))
    lines += [DATA_MARK + data + " -->", ""]
    return "\n".join(lines)


def append(rows: Sequence[Row], *, command: str, seconds: float, notes: Sequence[str],
           path: Path = RESULTS) -> str:
    """Append an entry to RESULTS.md (creating it with its header); returns the entry."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    text_entry = entry(rows, command=command, seconds=seconds, notes=notes,
                       before=previous_rows(text))
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + "\n" + text_entry, encoding="utf-8")
    return text_entry
