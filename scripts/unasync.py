"""Generate the blocking client (`client.py`) from the asyncio one (`aio.py`).

The two clients have the same methods, arguments, results, errors and docs;
writing them twice let them drift. `aio.py` is the source: this script drops
`async`/`await`, renames the async types and modules to their blocking twins
and writes `client.py`. What is really different stands in `_async_ops.py` /
`_sync_ops.py` under the same names, so the rewrite stays mechanical. In
docstrings, a paragraph that starts with "Asynchronously," is about the
asyncio client only and is left out; the class docstring's two
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
SOURCE = PACKAGE / "aio.py"
TARGET = PACKAGE / "client.py"

HEADER = '''\
# Generated from aio.py by scripts/unasync.py: edit aio.py, then run `make unasync`.
"""`ScoutClient`: the blocking client, one typed method per scout.v1 RPC.

Methods take plain Python values and return the contract's proto messages
(or bytes, or None). Every failure is a `scout_client.errors.ScoutError`
subclass. Idempotent RPCs are retried by grpc on UNAVAILABLE (see
`_channel.RETRIED_METHODS`); progress streams resume themselves.

Generated from `aio.py` (`AsyncScoutClient`), so both clients keep the same
methods and docs.
"""
'''

# Each must match at least once: a rule that no longer matches is stale.
TOKENS: list[tuple[str, str]] = [
    (r"^import grpc\.aio\b.*\n", ""),
    (r"\bgrpc\.aio\b", "grpc"),
    (r"\bAsyncScoutClient\b", "ScoutClient"),
    (r"\bAsyncUploadInput\b", "UploadInput"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\b_async_ops\b", "_sync_ops"),
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


def _sub(pattern: str, replacement: str, text: str, flags: int = 0) -> str:
    new, count = re.subn(pattern, lambda match: match.expand(replacement), text, flags=flags)
    if not count:
        raise SystemExit(f"scripts/unasync.py: {pattern!r} matches nothing in aio.py")
    return new


def generate(source: str) -> str:
    """The text of client.py for the text of aio.py."""
    text = ASYNC_ONLY_PARAGRAPH.sub("", source)
    for old, new in PHRASES:
        text = _sub(re.escape(old), new, text)
    for pattern, replacement in TOKENS:
        text = _sub(pattern, replacement, text, re.M)
    text = _sub(MODULE_DOCSTRING.pattern, HEADER, text, re.S)
    # Renames reorder imports (AsyncIterator -> Iterator); let ruff's isort settle them.
    sorted_ = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--quiet", "--fix-only", "--select", "I",
         "--stdin-filename", str(TARGET), "-"],
        input=text, capture_output=True, text=True, check=True,
    )
    return sorted_.stdout


def main(argv: list[str] | None = None) -> int:
    """Write client.py, or with --check say whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when client.py is stale")
    args = parser.parse_args(argv)
    wanted = generate(SOURCE.read_text(encoding="utf-8"))
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if not args.check:
        if wanted != current:
            TARGET.write_text(wanted, encoding="utf-8")
        return 0
    if wanted == current:
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        current.splitlines(keepends=True), wanted.splitlines(keepends=True),
        "client.py", "client.py (from aio.py)"))
    print("client.py is stale: edit aio.py, run 'make unasync' and commit", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
