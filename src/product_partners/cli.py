"""The ``product-partners`` command line.

Every command prints one JSON document on stdout; errors go to stderr with a non-zero exit.
"""

import argparse
import asyncio
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners import __version__
from product_partners.db import create_engine
from product_partners.db_errors import is_database_unavailable, root_cause
from product_partners.errors import DomainError
from product_partners.jsonutil import dumps
from product_partners.settings import Settings, get_settings

EXIT_USAGE = 2
EXIT_ERROR = 1


class CliError(Exception):
    """A command refused or failed; the message says why, in one line."""

    exit_code = EXIT_USAGE


class CommandFailed(CliError):
    exit_code = EXIT_ERROR


def _print(data: Any) -> None:
    sys.stdout.write(dumps(data).decode() + "\n")
    sys.stdout.flush()


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    sys.stderr.write(f"error: {message}\n")
    return code


def run_with_connection(settings: Settings, fn: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
    async def runner() -> Any:
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                return await fn(conn)
        finally:
            await engine.dispose()

    return asyncio.run(runner())


# --- commands -------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.migrate import head_revision, upgrade

    upgrade(settings.database_url)
    return {"database": _redacted(settings.database_url), "revision": head_revision()}


def cmd_db_backup(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.backup import BackupError, backup

    try:
        result = backup(settings, Path(args.path))
    except BackupError as exc:
        raise CommandFailed(str(exc)) from None
    return {"database": _redacted(settings.database_url), **result}


def cmd_db_restore(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.backup import BackupError, restore, table_names
    from product_partners.migrate import current_revision

    path = Path(args.path)
    tables = run_with_connection(settings, table_names)
    if tables and not args.force:
        raise CommandFailed(
            f"the database of DATABASE_URL is not empty ({len(tables)} tables): restore into"
            " a new database, or pass --force to replace what it holds"
        )
    try:
        result = restore(settings, path, replace=bool(tables))
    except BackupError as exc:
        raise CommandFailed(str(exc)) from None
    revision = run_with_connection(settings, current_revision)
    return {"database": _redacted(settings.database_url), **result, "revision": revision}


def cmd_business_create(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.businesses.schemas import BusinessCreate
    from product_partners.businesses.service import create_business

    data = BusinessCreate(
        unique_id=args.unique_id,
        username=args.username,
        account_holder=args.account_holder,
        email=args.email,
        logo=args.logo,
    )
    return run_with_connection(settings, lambda conn: create_business(conn, data))


def cmd_key_create(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.auth.scopes import ALL_SCOPES, InvalidScope
    from product_partners.auth.service import create_key

    scopes = list(ALL_SCOPES) if args.all_scopes else list(args.scope or [])
    if not scopes:
        raise CliError("give at least one --scope (e.g. --scope product:update) or --all-scopes")
    try:
        return run_with_connection(
            settings, lambda conn: create_key(conn, args.business, scopes, name=args.name)
        )
    except InvalidScope as exc:
        raise CliError(str(exc)) from None


def cmd_key_list(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.auth.service import list_keys

    return run_with_connection(settings, lambda conn: list_keys(conn, args.business))


def cmd_key_revoke(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.auth.service import revoke_key

    return run_with_connection(settings, lambda conn: revoke_key(conn, args.id))


def cmd_demo(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners import demo

    async def run(conn: AsyncConnection) -> Any:
        seeded = False
        if await demo.is_empty(conn):
            await demo.seed(conn)
            seeded = True
        base_url = f"http://{settings.host}:{settings.port}"
        return {"seeded": seeded, **await demo.demo_key_and_target(conn, base_url)}

    result = run_with_connection(settings, run)
    if args.print_curl:
        sys.stderr.write(
            f"\nDemo ready. Once the server is up, add a partner with:\n\n  {result['curl']}\n\n"
        )
    return result


def cmd_serve(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.serving import serve

    serve(
        settings,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        graceful_timeout=args.graceful_timeout,
    )
    return None


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="product-partners", description="Run and administer product-partners."
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="group", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply migrations to DATABASE_URL").set_defaults(
        func=cmd_db_upgrade
    )
    dbb = db.add_parser("backup", help="back up DATABASE_URL to PATH, while it serves")
    dbb.add_argument("path", help="the backup file to write")
    dbb.set_defaults(func=cmd_db_backup)
    dbr = db.add_parser("restore", help="restore a backup into the empty DATABASE_URL")
    dbr.add_argument("path", help="a file written by db backup")
    dbr.add_argument(
        "--force", action="store_true", help="replace what the database holds (stop serving it)"
    )
    dbr.set_defaults(func=cmd_db_restore)

    business = sub.add_parser("business", help="businesses").add_subparsers(
        dest="action", required=True
    )
    bc = business.add_parser("create", help="create a business; prints BusinessSimple")
    bc.add_argument("--unique-id", required=True)
    bc.add_argument("--username", required=True)
    bc.add_argument("--account-holder", required=True)
    bc.add_argument("--email", required=True)
    bc.add_argument("--logo")
    bc.set_defaults(func=cmd_business_create)

    key = sub.add_parser("key", help="API keys").add_subparsers(dest="action", required=True)
    kc = key.add_parser("create", help="create an API key (the secret is shown once)")
    kc.add_argument("--business", required=True, help="the business's unique id")
    kc.add_argument("--scope", action="append", help="resource:action; repeat for more")
    kc.add_argument("--all-scopes", action="store_true", help="every scope")
    kc.add_argument("--name")
    kc.set_defaults(func=cmd_key_create)
    kl = key.add_parser("list", help="list a business's keys (never the secrets)")
    kl.add_argument("--business", required=True)
    kl.set_defaults(func=cmd_key_list)
    kr = key.add_parser("revoke", help="revoke a key at once, in every process")
    kr.add_argument("id", type=int)
    kr.set_defaults(func=cmd_key_revoke)

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument(
        "--graceful-timeout", type=int, default=30, help="seconds to finish in-flight requests"
    )
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="seed demo data if empty; print a demo key and curl line")
    demo.add_argument(
        "--print-curl", action="store_true", help="also print the curl line to stderr"
    )
    demo.set_defaults(func=cmd_demo)

    for extend in _EXTENSIONS:
        extend(sub)
    return parser


# Other modules register their command groups here (see e.g. partnerships/cli.py).
_EXTENSIONS: list[Callable[[Any], None]] = []


def main(argv: list[str] | None = None) -> int:
    _load_extensions()
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        result = args.func(args, settings)
    except CliError as exc:
        return _fail(str(exc), exc.exit_code)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        return _fail(f"invalid input: {problems}", EXIT_USAGE)
    except DomainError as exc:
        return _fail(f"{exc.message} ({exc.error_code})")
    except Exception as exc:
        if not _is_database_error(exc):
            raise
        cause = root_cause(exc)
        first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        return _fail(f"database of DATABASE_URL: {type(cause).__name__}: {first_line}")
    if result is not None:
        _print(result)
    return 0


def _is_database_error(exc: BaseException) -> bool:
    """The database refused or could not be reached: one line for the operator, no traceback
    (a bug in our code still shows one)."""
    driver_errors = (sa_exc.DBAPIError, asyncpg.PostgresError, sqlite3.Error)
    return isinstance(exc, driver_errors) or is_database_unavailable(exc)


def _load_extensions() -> None:
    """Import the modules that add command groups (kept out of import time of this module)."""
    import product_partners.partnerships.cli  # noqa: F401  (partners)
    import product_partners.stores.cli  # noqa: F401  (store, domain)


if __name__ == "__main__":
    # Run through the importable module, where the command groups register themselves
    # (as ``__main__`` this file would be a second copy with an empty registry).
    from product_partners.cli import main as _main

    raise SystemExit(_main())
