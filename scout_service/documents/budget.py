"""A bounded text accumulator shared by the format readers.

Every reader produces text block by block (a PDF page, a Word paragraph or
table) into one `TextBudget`, which is where the character cap and the time
budget are enforced, so a huge or slow document degrades to a truncated one
instead of holding a worker thread or filling memory.
"""

from __future__ import annotations

import time

BLOCK_SEPARATOR = "\n\n"


class TextBudget:
    """Collects blocks of text until `max_chars` or the deadline is reached.

    Once full (or out of time) it refuses further blocks and remembers that
    the result is truncated; readers stop as soon as `add_block` returns False.
    """

    def __init__(self, max_chars: int, time_budget_s: float) -> None:
        """Start an empty budget whose deadline is `time_budget_s` from now."""
        if max_chars <= 0:
            raise ValueError("max_chars must be positive")
        self._max_chars = max_chars
        self._deadline = time.monotonic() + time_budget_s
        self._parts: list[str] = []
        self._size = 0
        self._full = False
        self.truncated = False
        # (offset in text(), page number) of each block added with a page.
        self.page_starts: list[tuple[int, int]] = []

    def add_block(self, block: str, *, page: int | None = None) -> bool:
        """Append a block (blank ones are skipped); return False once the cap is hit.

        ``page`` records where that page's text starts, so passages can cite it.

        Text that reaches the cap exactly is not truncated; the next
        non-blank block is what gets refused and marks the result truncated.
        """
        block = block.strip("\n")
        if not block.strip():
            return not self._full
        if self._full or self._size >= self._max_chars:
            self._full = self.truncated = True
            return False
        piece = (BLOCK_SEPARATOR if self._parts else "") + block
        room = self._max_chars - self._size
        if len(piece) > room:
            piece = piece[:room]
            self._full = self.truncated = True
        if page is not None:
            self.page_starts.append((self._size + (len(BLOCK_SEPARATOR) if self._parts else 0),
                                     page))
        self._parts.append(piece)
        self._size += len(piece)
        return not self._full

    def out_of_time(self) -> bool:
        """Mark the text truncated and return True once the deadline has passed.

        Readers call this *after* each unit of work, so at least one page or
        block is always read even with a zero budget.
        """
        if time.monotonic() > self._deadline:
            self.truncated = True
            return True
        return False

    def mark_truncated(self) -> None:
        """Record that part of the file is left out for another reason (a page cap).

        Unlike reaching `max_chars`, this does not stop further blocks.
        """
        self.truncated = True

    def text(self) -> str:
        """Return everything collected so far."""
        return "".join(self._parts)
