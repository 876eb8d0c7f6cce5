"""Rewrite README.md's configuration table from ``scout_service.config.OPTIONS``.

``make readme-config`` runs it; ``tests/unit/test_config.py`` fails when the
table and the options differ.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from scout_service.config import options_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
TABLE = re.compile(r"^\| Variable \| Default \| What it is for \|\n(?:\|.*\n)+", re.M)


def main() -> int:
    """Replace the table in place; 1 when README.md has none."""
    text = README.read_text(encoding="utf-8")
    if not TABLE.search(text):
        print("README.md has no configuration table to replace", file=sys.stderr)
        return 1
    README.write_text(TABLE.sub(lambda _: options_markdown(), text, count=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
