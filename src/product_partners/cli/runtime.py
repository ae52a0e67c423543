"""What every command module of the CLI shares: running a service function on one database
connection, acting as a business named by its unique id, pages, and output.

Command modules import this module; nothing here imports a command module (no cycle).
"""

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.service import business_named
from product_partners.db.engine import create_engine
from product_partners.kit.jsonutil import dumps
from product_partners.kit.pagination import MAX_PAGE_SIZE, PageRequest, decode_cursor
from product_partners.settings import Settings

EXIT_ERROR = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A refusal the CLI explains in one line (exit 2: the command line or the set-up is
    wrong, not the data)."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def print_json(data: Any) -> None:
    sys.stdout.write(dumps(data).decode() + "\n")
    sys.stdout.flush()


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def run_with_connection(settings: Settings, fn: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
    async def runner() -> Any:
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                return await fn(conn)
        finally:
            await engine.dispose()

    return asyncio.run(runner())


def as_business(
    args: argparse.Namespace,
    settings: Settings,
    fn: Callable[[AsyncConnection, int], Awaitable[Any]],
) -> Any:
    """Run ``fn(conn, business_id)`` for the business named by ``--business``."""

    async def run(conn: AsyncConnection) -> Any:
        return await fn(conn, (await business_named(conn, args.business))["id"])

    return run_with_connection(settings, run)


def page_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--page-size", type=int, default=MAX_PAGE_SIZE, choices=range(1, 26), metavar="1-25"
    )
    parser.add_argument("--next-cursor", help="next_cursor of the previous page")


def page_of(args: argparse.Namespace) -> PageRequest:
    after = decode_cursor(args.next_cursor, "next_cursor") if args.next_cursor else None
    return PageRequest(page_size=args.page_size, after_id=after)
