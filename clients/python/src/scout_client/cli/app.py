"""`main`: parse the command line, open the client, run the handler, map errors to exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import IO

from scout_client.cli.parser import build_parser
from scout_client.cli.values import (
    EXIT_INTERRUPTED,
    EXIT_LOCAL_IO,
    EXIT_RPC_ERROR,
    EXIT_USAGE,
    Handler,
    UsageError,
    _read_bytes,
)
from scout_client.client import ScoutClient
from scout_client.errors import ScoutError


def _client(args: argparse.Namespace) -> ScoutClient:
    if bool(args.cert_file) != bool(args.key_file):
        raise UsageError("--cert-file and --key-file go together")
    cert = _read_bytes(args.cert_file)
    key = _read_bytes(args.key_file)
    return ScoutClient(
        args.address,
        token=args.token,
        tls=args.tls,
        root_certificates=_read_bytes(args.ca_file),
        client_certificate=(cert, key) if cert is not None and key is not None else None,
        timeout=args.timeout if args.timeout and args.timeout > 0 else None,
    )


def _fail(message: str, code: int, stream: IO[str] | None = None) -> int:
    print(f"error: {message}", file=stream or sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `scout` command; return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        with _client(args) as client:
            handler: Handler = args.handler
            return handler(client, args)
    except ScoutError as error:
        code = _fail(f"{error.code.name}: {error.message}", EXIT_RPC_ERROR)
        if error.reason:
            print(f"reason: {error.reason}", file=sys.stderr)
        return code
    except UsageError as error:
        return _fail(str(error), EXIT_USAGE)
    except ValueError as error:  # e.g. a report kind or format the helpers refuse
        return _fail(str(error), EXIT_USAGE)
    except OSError as error:
        return _fail(str(error), EXIT_LOCAL_IO)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
