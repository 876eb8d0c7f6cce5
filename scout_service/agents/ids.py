"""Time-ordered ids for runs."""

from __future__ import annotations

import os
import time
import uuid


def uuid7(now: float | None = None) -> str:
    """A UUIDv7 string: 48-bit Unix milliseconds, version 7, variant 10, 74 random bits.

    Ids sort by creation time (to the millisecond), which keeps a session's
    runs in order in listings and in DynamoDB sort keys.
    """
    millis = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 are used
    rand_a = rand >> 68 & 0xFFF  # 12 bits
    rand_b = rand & ((1 << 62) - 1)  # 62 bits
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))
