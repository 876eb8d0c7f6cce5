"""The `scout` argument parser: global connection options and every subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from scout_client._channel import DEFAULT_TARGET, DEFAULT_TIMEOUT
from scout_client._version import __version__
from scout_client.cli.commands import (
    cmd_ask,
    cmd_download,
    cmd_export,
    cmd_files,
    cmd_findings,
    cmd_progress,
    cmd_questions,
    cmd_report_get,
    cmd_report_list,
    cmd_report_put,
    cmd_research,
    cmd_run_cancel,
    cmd_run_get,
    cmd_run_list,
    cmd_session_create,
    cmd_session_delete,
    cmd_session_extend,
    cmd_session_get,
    cmd_session_list,
    cmd_sources,
    cmd_upload,
    cmd_versions,
)
from scout_client.cli.values import (
    EXIT_USAGE,
    Handler,
    parse_duration,
    parse_label,
    parse_report_kind,
    parse_version,
)
from scout_client.kinds import (
    EXPORT_FORMATS,
    REPORT_KINDS,
)


class _Parser(argparse.ArgumentParser):
    """argparse that says how to get help after a usage error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"error: {message}\n")


def _connection_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Add the global options; on subcommands with defaults suppressed.

    Suppressed defaults let a global option stand before or after the
    subcommand without the subcommand's copy overwriting it.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection")
    group.add_argument(
        "--address",
        default=default(os.environ.get("SCOUT_ADDRESS", DEFAULT_TARGET)),
        help="host:port of the service (env SCOUT_ADDRESS; default %(default)s)",
    )
    group.add_argument(
        "--token",
        default=default(os.environ.get("SCOUT_TOKEN")),
        help="bearer token (env SCOUT_TOKEN)",
    )
    group.add_argument("--tls", action="store_true", default=default(False), help="use TLS")
    group.add_argument(
        "--ca-file", default=default(None), help="PEM roots to trust (implies --tls)"
    )
    group.add_argument("--cert-file", default=default(None), help="client certificate for mTLS")
    group.add_argument("--key-file", default=default(None), help="client private key for mTLS")
    group.add_argument(
        "--timeout",
        type=float,
        default=default(DEFAULT_TIMEOUT),
        help="deadline of each call in seconds (default %(default)s)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print machine-readable JSON",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the `scout` argument parser."""
    parser = _Parser(
        prog="scout",
        description="Drive the Scout market-research service.",
        epilog="Exit codes: 0 ok, 1 service error, 2 usage, 3 local file, 4 run failed.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _connection_options(parser, suppress=False)
    common = _Parser(add_help=False)
    _connection_options(common, suppress=True)

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(
            name, help=help_text, description=help_text, parents=[common]
        )
        sub.set_defaults(handler=handler)
        return sub

    def group(name: str, help_text: str) -> Any:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        return sub.add_subparsers(dest="action", metavar="ACTION", required=True)

    kinds = ", ".join(REPORT_KINDS)

    sessions = group("session", "create, inspect, extend and delete sessions")
    sub = command(sessions, "create", cmd_session_create, "open a new session")
    sub.add_argument(
        "--label", action="append", type=parse_label, metavar="KEY=VALUE", help="repeatable"
    )
    sub.add_argument("--ttl", type=parse_duration, help="lifetime, e.g. 48h (server default 24h)")
    sub.add_argument("--request-id", help="idempotency key (default: a fresh UUID)")
    sub = command(sessions, "get", cmd_session_get, "show a session")
    sub.add_argument("session")
    sub = command(sessions, "list", cmd_session_list, "list your sessions")
    sub.add_argument("--page-size", type=int, help="fetch one page of this size")
    sub.add_argument("--page-token", help="fetch the page after this token")
    sub = command(sessions, "extend", cmd_session_extend, "push a session's expiry out")
    sub.add_argument("session")
    sub.add_argument("--ttl", type=parse_duration, help="new lifetime from now, e.g. 48h")
    sub = command(sessions, "delete", cmd_session_delete, "delete a session and its content")
    sub.add_argument("session")

    sub = command(commands, "upload", cmd_upload, "upload a file into a session")
    sub.add_argument("session")
    sub.add_argument("file")
    sub.add_argument("--name", help="file name in the session (default: the file's)")
    sub.add_argument("--content-type", help="default: guessed from the name")

    sub = command(commands, "files", cmd_files, "list a session's files")
    sub.add_argument("session")

    sub = command(commands, "download", cmd_download, "download a file (verified by SHA-256)")
    sub.add_argument("session")
    sub.add_argument("name")
    sub.add_argument("-o", "--output", help="where to write it; - for stdout (default: NAME)")

    sub = command(commands, "research", cmd_research, "start a research run")
    sub.add_argument("session")
    sub.add_argument("--follow", action="store_true", help="show progress until the run ends")
    sub.add_argument("--request-id", help="idempotency key (default: a fresh UUID)")
    sub.add_argument("--file", action="append", default=[], metavar="NAME", help="only these files")
    sub.add_argument("--question", action="append", default=[], metavar="TEXT",
                     help="a question the final report must answer (repeatable)")
    sub.add_argument("--lang", metavar="TAG", help="language of the reports (BCP-47, e.g. de)")
    sub.add_argument("--agents", action="append", default=[], metavar="KINDS",
                     help="only these specialists, e.g. legal or market,price (repeatable)")
    sub.add_argument("--web", action=argparse.BooleanOptionalAction, default=None,
                     help="web search on or off for this run (default: the server's setting)")
    sub.add_argument("--max-tokens", type=int, metavar="N", help="token budget of the run")
    sub.add_argument("--focus", metavar="TEXT", help="what to focus on")
    sub.add_argument("--geography", metavar="TEXT", help="where the business operates")

    sub = command(commands, "progress", cmd_progress, "follow a run's progress events")
    sub.add_argument("session")
    sub.add_argument("--run", help="run id (default: the session's latest run)")
    sub.add_argument("--after", type=int, default=0, help="replay events after this sequence")
    sub.add_argument("--heartbeats", action="store_true", help="show heartbeats too")

    runs = group("run", "inspect and cancel research runs")
    sub = command(runs, "get", cmd_run_get, "show a run and its agents")
    sub.add_argument("session")
    sub.add_argument("run")
    sub = command(runs, "list", cmd_run_list, "list a session's runs")
    sub.add_argument("session")
    sub = command(runs, "cancel", cmd_run_cancel, "cancel a run")
    sub.add_argument("session")
    sub.add_argument("run")

    reports = group("report", "read, list and store reports")
    sub = command(reports, "get", cmd_report_get, "print a report's Markdown")
    sub.add_argument("session")
    sub.add_argument("kind", type=parse_report_kind, help=kinds)
    sub.add_argument("-o", "--output", help="write it to this file instead of stdout")
    sub.add_argument("--version", type=parse_version, metavar="N",
                     help="this version (see 'scout versions'; default: the latest)")
    sub = command(reports, "list", cmd_report_list, "list a session's reports")
    sub.add_argument("session")
    sub = command(reports, "put", cmd_report_put,
                  "store a report as its next version (e.g. an edited one)")
    sub.add_argument("session")
    sub.add_argument("kind", type=parse_report_kind, help=kinds)
    sub.add_argument("file", nargs="?", default="-", help="Markdown file (default: stdin)")
    sub.add_argument("--request-id", help="idempotency key (default: a fresh UUID)")

    sub = command(commands, "versions", cmd_versions,
                  "list the stored versions of a report, newest first")
    sub.add_argument("session")
    sub.add_argument("kind", type=parse_report_kind, help=kinds)

    sub = command(commands, "sources", cmd_sources, "list what the agents of a run read")
    sub.add_argument("session")
    sub.add_argument("--run", help="the run (default: the session's latest)")

    sub = command(commands, "ask", cmd_ask,
                  "ask a follow-up question about the dossier (the answer streams)")
    sub.add_argument("session")
    sub.add_argument("question")
    sub.add_argument("--request-id", help="idempotency key (default: a fresh UUID)")

    sub = command(commands, "questions", cmd_questions, "list the questions asked so far")
    sub.add_argument("session")

    sub = command(commands, "findings", cmd_findings,
                  "show the typed findings (verdict, market sizes, prices, obligations)")
    sub.add_argument("session")
    sub.add_argument("--kind", type=parse_report_kind, help=kinds)

    sub = command(commands, "export", cmd_export, "export all reports as one document")
    sub.add_argument("session")
    sub.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    sub.add_argument("-o", "--output", help="where to write it; - for stdout")
    return parser
