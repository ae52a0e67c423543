"""``events export`` (the event log as JSON lines) and ``worker`` (webhook delivery)."""

import argparse
import asyncio
import signal
import sys
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.cli.runtime import as_business
from product_partners.db.engine import create_engine
from product_partners.kit.jsonutil import dumps
from product_partners.settings import Settings


def cmd_events_export(args: argparse.Namespace, settings: Settings) -> Any:
    """Every event of the business, oldest first, one JSON document a line, written as it is
    read (in chunks: memory stays constant however long the log)."""
    from product_partners.events.service import export_events

    async def export(conn: AsyncConnection, business_id: int) -> None:
        async for event in export_events(conn, business_id, args.after):
            sys.stdout.write(dumps(event).decode() + "\n")
        sys.stdout.flush()

    as_business(args, settings, export)
    return None


def cmd_worker(args: argparse.Namespace, settings: Settings) -> Any:
    """Deliver webhooks until SIGTERM or SIGINT (several workers, on several machines, may
    run at once: see webhooks/delivery.py)."""
    from product_partners.webhooks.delivery import Policy, run

    async def main() -> None:
        engine = create_engine(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        sys.stderr.write("delivering webhooks (Ctrl-C stops)\n")
        sys.stderr.flush()
        try:
            await run(engine, Policy.of(settings), stop)
        finally:
            await engine.dispose()

    # uvloop when installed (uvicorn[standard] brings it, and `serve` runs on it): the worker
    # is all sockets, and uvloop's are several times cheaper than asyncio's own.
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without uvloop
        asyncio.run(main())
    else:
        uvloop.run(main())
    return None


def register(sub: Any) -> None:
    group = sub.add_parser("events", help="the event log").add_subparsers(
        dest="action", required=True
    )
    export = group.add_parser("export", help="a business's events as JSON lines, oldest first")
    export.add_argument("--business", required=True, help="the business's unique id")
    export.add_argument("--after", help="start after this event id (evt_...)")
    export.set_defaults(func=cmd_events_export)

    worker = sub.add_parser("worker", help="deliver webhooks from the outbox until stopped")
    worker.set_defaults(func=cmd_worker)
