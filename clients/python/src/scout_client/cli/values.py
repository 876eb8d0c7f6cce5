"""The CLI's exit codes, its usage error, and the parsers of its argument values."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from scout.v1 import types_pb2
from scout_client.client import ScoutClient
from scout_client.kinds import (
    report_kind,
)

EXIT_OK = 0
EXIT_RPC_ERROR = 1
EXIT_USAGE = 2
EXIT_LOCAL_IO = 3
EXIT_RUN_UNSUCCESSFUL = 4
EXIT_INTERRUPTED = 130

Handler = Callable[[ScoutClient, argparse.Namespace], int]


class UsageError(Exception):
    """A command line that parses but cannot work (e.g. an unreadable input file)."""


# -- argument types -----------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "30m", "48h", "2d" or plain seconds into a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (use e.g. 90s, 30m, 48h, 2d)")
    value, unit = match.groups()
    return timedelta(seconds=float(value) * _UNIT_SECONDS[unit.lower()])


def parse_label(text: str) -> tuple[str, str]:
    """Parse a "key=value" label."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"invalid label {text!r} (use key=value)")
    return key, value


def parse_version(text: str) -> int:
    """Parse a report version: a whole number from 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a version is a number from 1, got {text!r}")
    return int(text)


def parse_report_kind(text: str) -> types_pb2.ReportKind:
    """Parse a report kind name ("market", "final_report" ...)."""
    try:
        return report_kind(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None



def _read_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"cannot read {source}: no such file") from None



def _read_bytes(path: str | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
