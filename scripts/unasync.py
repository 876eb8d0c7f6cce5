"""Generate the blocking client (`client.py`) from the asyncio one (`aio.py`).

The two clients have the same methods, arguments, results, errors and docs;
writing them twice let them drift. `aio.py` and its method groups
(`_async_base.py`, `_async_sessions.py`, `_async_reports.py`,
`_async_research.py`) are the source: this script drops `async`/`await`,
renames `AsyncX` to `X` and `_async_x` to `_sync_x`, and writes `client.py`
and the `_sync_*.py` twins. What is really different stands, hand-written, in
`_async_ops.py` / `_sync_ops.py` under the same names, so the rewrite stays
mechanical. In docstrings, a paragraph that starts with "Asynchronously," is
about the asyncio client only and is left out; the class docstring's two
flavour-specific phrases are in PHRASES.

``make unasync`` writes the file; ``make check-unasync`` (run by ``make
test``) fails when it is stale.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "clients/python/src/scout_client"
# source -> generated, in scout_client/
FILES = {
    "aio.py": "client.py",
    "_async_base.py": "_sync_base.py",
    "_async_sessions.py": "_sync_sessions.py",
    "_async_reports.py": "_sync_reports.py",
    "_async_research.py": "_sync_research.py",
}
GENERATED = "# Generated from {source} by scripts/unasync.py (make unasync): edit that.\n"

CLIENT_DOCSTRING = '''\
"""`ScoutClient`: the blocking client, one typed method per scout.v1 RPC.

Methods take plain Python values and return the contract's proto messages
(or bytes, or None). Every failure is a `scout_client.errors.ScoutError`
subclass. Idempotent RPCs are retried by grpc on UNAVAILABLE (see
`_channel.RETRIED_METHODS`); progress streams resume themselves.

Generated from `aio.py` (`AsyncScoutClient`), so both clients keep the same
methods and docs.
"""
'''

# Each must match in one file at least: a rule that matches nowhere is stale.
TOKENS: list[tuple[str, str]] = [
    (r"^import grpc\.aio\b.*\n", ""),
    (r"\bgrpc\.aio\b", "grpc"),
    (r"\bAsync([A-Z]\w*)", r"\1"),  # AsyncScoutClient, AsyncIterator, AsyncBase ...
    (r"\b_async_(\w+)", r"_sync_\1"),  # the modules
    (r"\bwalk_pages_async\b", "walk_pages"),
    (r"__aenter__", "__enter__"),
    (r"__aexit__", "__exit__"),
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for (\w+) in (\w+):\n +yield \1$", r"yield from \2"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
]

PHRASES: list[tuple[str, str]] = [
    ("An asyncio client of the Scout service.", "A blocking client of the Scout service."),
    (
        "channel across the tasks of the event loop it was created in.",
        "channel across threads.",
    ),
]

ASYNC_ONLY_PARAGRAPH = re.compile(r"\n\n( +)Asynchronously, .*?(?=\n\n|\n\1\"\"\")", re.S)
MODULE_DOCSTRING = re.compile(r'\A""".*?"""\n', re.S)


class _Rewriter:
    """Applies the rules file after file and remembers which ones matched."""

    def __init__(self) -> None:
        self.unused = {pattern for pattern, _ in TOKENS} | {re.escape(old) for old, _ in PHRASES}

    def sub(self, pattern: str, replacement: str, text: str, flags: int = 0) -> str:
        new, count = re.subn(pattern, lambda match: match.expand(replacement), text, flags=flags)
        if count:
            self.unused.discard(pattern)
        return new

    def rewrite(self, source_name: str, source: str) -> str:
        text = ASYNC_ONLY_PARAGRAPH.sub("", source)
        if source_name == "aio.py":
            for old, new in PHRASES:
                text = self.sub(re.escape(old), new, text)
        for pattern, replacement in TOKENS:
            text = self.sub(pattern, replacement, text, re.M)
        if source_name == "aio.py":
            text = MODULE_DOCSTRING.sub(lambda _: CLIENT_DOCSTRING, text, count=1)
        text = GENERATED.format(source=source_name) + text
        # Renames reorder imports (AsyncIterator -> Iterator); let ruff's isort settle them.
        return subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--quiet", "--fix-only", "--select", "I",
             "--stdin-filename", str(PACKAGE / FILES[source_name]), "-"],
            input=text, capture_output=True, text=True, check=True,
        ).stdout


def generate(sources: dict[str, str]) -> dict[str, str]:
    """The generated files' texts (by name) for the sources' texts (by name)."""
    rewriter = _Rewriter()
    generated = {FILES[name]: rewriter.rewrite(name, text) for name, text in sources.items()}
    if rewriter.unused:
        raise SystemExit(f"scripts/unasync.py: rules that match nothing: {sorted(rewriter.unused)}")
    return generated


def read_sources() -> dict[str, str]:
    """The sources' texts, by name."""
    return {name: (PACKAGE / name).read_text(encoding="utf-8") for name in FILES}


def main(argv: list[str] | None = None) -> int:
    """Write client.py, or with --check say whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when client.py is stale")
    args = parser.parse_args(argv)
    stale = 0
    for name, wanted in generate(read_sources()).items():
        target = PACKAGE / name
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if wanted == current:
            continue
        if not args.check:
            target.write_text(wanted, encoding="utf-8")
            continue
        stale += 1
        sys.stdout.writelines(difflib.unified_diff(
            current.splitlines(keepends=True), wanted.splitlines(keepends=True),
            name, f"{name} (generated)"))
    if stale:
        print("the blocking client is stale: edit the asyncio sources, run 'make unasync'"
              " and commit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
