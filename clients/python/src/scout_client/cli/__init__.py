"""`scout`: the Scout service from the command line.

    scout session create --label team=growth --ttl 48h
    scout upload SESSION plan.pdf
    scout research SESSION --follow
    scout report get SESSION final
    scout versions SESSION legal
    scout report get SESSION legal --version 1
    scout export SESSION --format pdf -o dossier.pdf

Every command takes `--json` for machine-readable output (ProtoJSON with the
proto field names). Exit codes: 0 success; 1 the service returned an error
(printed as `error: <CODE>: <message>`); 2 usage error, including an input
file that cannot be read; 3 a local file could not be written; 4 a followed
run ended FAILED or CANCELLED; 130 interrupted. The live progress view
needs the `cli` extra (rich); without it progress prints line by line.

The package: `parser` builds the command line, `commands` holds one handler a
subcommand, `output` formats for people and for --json, `board` is the live
progress view, `values` the exit codes and argument types, `app` the `main`
that ties them together.
"""

from scout_client.cli.app import main
from scout_client.cli.board import AgentBoard, _follow_rich, follow
from scout_client.cli.output import format_event, print_json, print_run, to_dict
from scout_client.cli.parser import build_parser
from scout_client.cli.values import (
    EXIT_INTERRUPTED,
    EXIT_LOCAL_IO,
    EXIT_OK,
    EXIT_RPC_ERROR,
    EXIT_RUN_UNSUCCESSFUL,
    EXIT_USAGE,
    UsageError,
    parse_duration,
    parse_label,
    parse_report_kind,
    parse_version,
)

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_LOCAL_IO",
    "EXIT_OK",
    "EXIT_RPC_ERROR",
    "EXIT_RUN_UNSUCCESSFUL",
    "EXIT_USAGE",
    "AgentBoard",
    "UsageError",
    "_follow_rich",
    "build_parser",
    "follow",
    "format_event",
    "main",
    "parse_duration",
    "parse_label",
    "parse_report_kind",
    "parse_version",
    "print_json",
    "print_run",
    "to_dict",
]
