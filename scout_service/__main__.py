"""``scout-service``: serve the API, or create / check the DynamoDB table.

``scout-service serve`` starts a replica (``--help`` lists every setting),
``scout-service create-table`` creates the table with TTL enabled
(idempotent), ``scout-service check-table`` verifies its key schema and TTL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable

from scout_service import logs
from scout_service.config import ConfigError, Settings, describe_options, load_settings

log = logging.getLogger("scout_service")


def _configure_logging(settings: Settings) -> None:
    # No format names a thread or process: do not look them up for every record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logs.configure(settings.log_level, settings.log_format)
    # botocore logs request bodies at DEBUG; never let contents reach the log.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("strands").setLevel(logging.WARNING)
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop SCOUT_EVENT_LOOP asks for (``None``: asyncio's own)."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("SCOUT_EVENT_LOOP=uvloop but uvloop is not installed") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def _serve(settings: Settings) -> int:
    from scout_service.server import ScoutApp
    from scout_service.wiring import build_deps

    deps = await build_deps(settings)
    app = ScoutApp(settings, deps)
    port = await app.start()
    host = settings.listen_address.rpartition(":")[0]
    if not settings.auth_enabled:
        log.warning(
            "AUTHENTICATION IS OFF: every caller is the admin principal 'local'. This is only "
            "allowed with the embedded DynamoDB; configure SCOUT_AUTH_TOKENS for real use."
        )
    print(f"scout-service listening on {host}:{port} "
          f"(store: {'embedded DynamoDB' if settings.embedded else settings.table_name}, "
          f"model: {settings.model_provider})", flush=True)
    if app.metrics_port is not None:
        print(f"metrics on http://{(settings.metrics_address or '').rpartition(':')[0]}:"
              f"{app.metrics_port}/metrics", flush=True)
    if settings.tls_cert_file:
        client = " -cert CLIENT.pem -key CLIENT.key" if settings.tls_client_ca_file else ""
        print(f"try: grpcurl -cacert CA.pem{client} {host}:{port} list", flush=True)
    else:
        print(f"try: grpcurl -plaintext {host}:{port} list", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down (grace %.1fs)", settings.shutdown_grace_s)
    await app.stop()
    return 0


async def _table(settings: Settings, create: bool) -> int:
    from scout_service.store import DynamoStore
    from scout_service.wiring import store_limits

    if settings.embedded:
        print("no DynamoDB configured: set DYNAMODB_ENDPOINT_URL or AWS credentials "
              "(the embedded DynamoDB creates its table itself)", file=sys.stderr)
        return 2
    store = DynamoStore.from_config(
        table_name=settings.table_name, region=settings.region,
        endpoint_url=settings.endpoint_url, limits=store_limits(settings), max_workers=2,
    )
    try:
        if create:
            created = await store.create_table()
            print(f"table {settings.table_name}: {'created' if created else 'already exists'}")
        await store.check()
        print(f"table {settings.table_name}: key schema and TTL are as Scout needs")
        return 0
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scout-service`` console script."""
    parser = argparse.ArgumentParser(prog="scout-service", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run a replica", epilog=describe_options(),
                   formatter_class=argparse.RawDescriptionHelpFormatter,
                   description="Serve the scout.v1 API. Configured only by environment "
                               "variables, listed below.")
    sub.add_parser("create-table", help="create the DynamoDB table (idempotent)",
                   epilog=describe_options(), formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.add_parser("check-table", help="verify the DynamoDB table's shape")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        new_loop = loop_factory(settings.event_loop)
    except ConfigError as exc:
        print(f"scout-service: configuration error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings)
    from scout_service import tracing
    from scout_service.embedded.server import INSTALL_HINT, embedded_available
    from scout_service.errors import ScoutError

    if args.command == "serve" and settings.embedded and not embedded_available():
        print(f"scout-service: {INSTALL_HINT}", file=sys.stderr)
        return 2

    try:
        traced = args.command == "serve" and tracing.configure(
            settings.otel_enabled, record_content=settings.otel_record_content)
    except ConfigError as exc:
        print(f"scout-service: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            if args.command == "serve":
                return runner.run(_serve(settings))
            return runner.run(_table(settings, create=args.command == "create-table"))
    except ScoutError as exc:
        print(f"scout-service: {exc.message}", file=sys.stderr)
        return 1
    finally:
        if traced:
            tracing.shutdown()  # the last spans are exported before the process ends


if __name__ == "__main__":
    sys.exit(main())
