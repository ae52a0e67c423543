"""Operator commands: the database schema, businesses, API keys, serving and the demo."""

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.cli.runtime import CliError, as_business, redacted, run_with_connection
from product_partners.settings import Settings

# --- db ---------------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.db.migrate import head_revision, upgrade

    upgrade(settings.database_url)
    return {"database": redacted(settings.database_url), "revision": head_revision()}


def check_schema(settings: Settings) -> None:
    """Refuse to go on (one line) unless the database's schema is at the migrations' head."""
    from product_partners.db.migrate import current_revision, head_revision

    current, head = run_with_connection(settings, current_revision), head_revision()
    if current != head:
        state = "has no schema yet" if current is None else f"is at revision {current}"
        raise CliError(
            f"the database {redacted(settings.database_url)} {state}; this version needs "
            f"revision {head}: run `product-partners db upgrade` first",
            exit_code=1,
        )


def cmd_db_backup(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.db.backup import BackupError, backup

    try:
        result = backup(settings, Path(args.path))
    except BackupError as exc:
        raise CliError(str(exc), exit_code=1) from None
    return {"database": redacted(settings.database_url), **result}


def cmd_db_restore(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.db.backup import BackupError, restore, table_names
    from product_partners.db.migrate import current_revision
    from product_partners.webhooks.fanout import rebase

    path = Path(args.path)
    tables = run_with_connection(settings, table_names)
    if tables and not args.force:
        raise CliError(
            f"the database of DATABASE_URL is not empty ({len(tables)} tables): restore into"
            " a new database, or pass --force to replace what it holds",
            exit_code=1,
        )
    try:
        result = restore(settings, path, replace=bool(tables))
    except BackupError as exc:
        raise CliError(str(exc), exit_code=1) from None
    if "webhook_fanout" in run_with_connection(settings, table_names):
        # The log's transaction ids are the source cluster's (webhooks/fanout.py).
        run_with_connection(settings, rebase)
    revision = run_with_connection(settings, current_revision)
    return {"database": redacted(settings.database_url), **result, "revision": revision}


# --- businesses and keys --------------------------------------------------------------------


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
        created = run_with_connection(
            settings, lambda conn: create_key(conn, args.business, scopes, name=args.name)
        )
    except InvalidScope as exc:
        raise CliError(str(exc)) from None
    if args.print_secret:
        sys.stdout.write(created["key"] + "\n")
        return None
    return created


def cmd_key_list(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.auth.service import list_keys

    return run_with_connection(settings, lambda conn: list_keys(conn, args.business))


def cmd_key_revoke(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.auth.service import revoke_key

    return as_business(args, settings, lambda conn, business: revoke_key(conn, business, args.id))


# --- serve and demo -------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.kit.ops.serving import serve

    serve(
        settings,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        graceful_timeout=args.graceful_timeout,
    )
    return None


def cmd_demo(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners import demo

    base_url = f"http://{settings.host}:{settings.port}"

    async def run(conn: AsyncConnection) -> Any:
        try:
            return await demo.prepare(conn, base_url)
        except demo.NotADemoDatabase as exc:
            raise CliError(str(exc), exit_code=1) from None

    result = run_with_connection(settings, run)
    result["database"] = redacted(settings.database_url)
    if args.print_curl:
        sys.stderr.write(demo.welcome(result))
    return result


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply migrations to DATABASE_URL").set_defaults(
        func=cmd_db_upgrade, needs_schema=False
    )
    dbb = db.add_parser("backup", help="back up DATABASE_URL to PATH, while it serves")
    dbb.add_argument("path", help="the backup file to write")
    dbb.set_defaults(func=cmd_db_backup, needs_schema=False)
    dbr = db.add_parser("restore", help="restore a backup into the empty DATABASE_URL")
    dbr.add_argument("path", help="a file written by db backup")
    dbr.add_argument(
        "--force", action="store_true", help="replace what the database holds (stop serving it)"
    )
    dbr.set_defaults(func=cmd_db_restore, needs_schema=False)

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
    kc.add_argument(
        "--print-secret",
        action="store_true",
        help="print only the key itself, for scripts: KEY=$(product-partners key create ...)",
    )
    kc.set_defaults(func=cmd_key_create)
    kl = key.add_parser("list", help="list a business's keys (never the secrets)")
    kl.add_argument("--business", required=True)
    kl.set_defaults(func=cmd_key_list)
    kr = key.add_parser("revoke", help="revoke a key at once, in every process")
    kr.add_argument("id", type=int, help="the key's id (key list shows it)")
    kr.add_argument("--business", required=True, help="the unique id of the key's business")
    kr.set_defaults(func=cmd_key_revoke)

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument(
        "--graceful-timeout", type=int, default=30, help="seconds to finish in-flight requests"
    )
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser(
        "demo", help="seed demo data into an empty database (or reuse it); print a curl line"
    )
    demo.add_argument(
        "--print-curl", action="store_true", help="also print the curl line to stderr"
    )
    demo.set_defaults(func=cmd_demo)
