"""``product-partners store ...`` and ``product-partners domain ...``: a business's stores and
custom domains from the command line (the same service functions as the API).

Every command acts for the business named by ``--business <unique id>``, except the
operator's: ``domain verify`` (a business controls a domain, proven another way than by the
DNS record verifyCustomDomain checks; ``--undo`` withdraws it and the domain's links) and
``domain purge`` (delete the lapsed claims now).
"""

import argparse
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.cli.runtime import as_business, page_arguments, page_of, run_with_connection
from product_partners.domains import service as domains
from product_partners.settings import Settings
from product_partners.stores import service as stores
from product_partners.stores.schemas import BusinessStoreCreateRequest, BusinessStoreUpdateRequest

# --- stores ----------------------------------------------------------------------------------


def cmd_store_list(args: argparse.Namespace, settings: Settings) -> Any:
    return as_business(
        args,
        settings,
        lambda conn, b: stores.list_stores(
            conn, b, page_of(args), search=args.search, domain=args.domain
        ),
    )


def cmd_store_create(args: argparse.Namespace, settings: Settings) -> Any:
    data = BusinessStoreCreateRequest(name=args.name, custom_domain_id=args.custom_domain_id)
    return as_business(args, settings, lambda conn, b: stores.create_store(conn, b, data))


def cmd_store_get(args: argparse.Namespace, settings: Settings) -> Any:
    return as_business(args, settings, lambda conn, b: stores.get_store(conn, b, args.id))


def cmd_store_update(args: argparse.Namespace, settings: Settings) -> Any:
    fields: dict[str, Any] = {}
    if args.name is not None:
        fields["name"] = args.name
    if args.custom_domain_id is not None:
        fields["custom_domain_id"] = args.custom_domain_id
    if args.no_custom_domain:
        fields["custom_domain_id"] = None
    if args.active is not None:
        fields["is_active"] = args.active
    if args.public is not None:
        fields["is_public"] = args.public
    if args.logo is not None:
        fields["logo"] = args.logo
    data = BusinessStoreUpdateRequest(**fields)
    return as_business(args, settings, lambda conn, b: stores.update_store(conn, b, args.id, data))


def cmd_store_delete(args: argparse.Namespace, settings: Settings) -> Any:
    async def run(conn: AsyncConnection, b: int) -> Any:
        await stores.delete_store(conn, b, args.id)
        return {"deleted": args.id}

    return as_business(args, settings, run)


# --- custom domains --------------------------------------------------------------------------


def cmd_domain_list(args: argparse.Namespace, settings: Settings) -> Any:
    return as_business(args, settings, lambda conn, b: domains.list_domains(conn, b, page_of(args)))


def cmd_domain_create(args: argparse.Namespace, settings: Settings) -> Any:
    return as_business(
        args,
        settings,
        lambda conn, b: domains.create_domain(conn, b, args.full_url, settings.domain_claim_ttl),
    )


def cmd_domain_get(args: argparse.Namespace, settings: Settings) -> Any:
    return as_business(args, settings, lambda conn, b: domains.get_domain(conn, b, args.id))


def cmd_domain_delete(args: argparse.Namespace, settings: Settings) -> Any:
    async def run(conn: AsyncConnection, b: int) -> Any:
        await domains.delete_domain(conn, b, args.id)
        return {"deleted": args.id}

    return as_business(args, settings, run)


def cmd_domain_verify(args: argparse.Namespace, settings: Settings) -> Any:
    verified = not args.undo
    return run_with_connection(
        settings,
        lambda conn: domains.set_verified(conn, args.id, verified, settings.domain_claim_ttl),
    )


def cmd_domain_purge(args: argparse.Namespace, settings: Settings) -> Any:
    async def run(conn: AsyncConnection) -> Any:
        return {"purged": await domains.purge_lapsed(conn)}

    return run_with_connection(settings, run)


# --- parser ----------------------------------------------------------------------------------


def _list_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--business", required=True, help="the business's unique id")
    page_arguments(parser)


def register(sub: Any) -> None:
    store = sub.add_parser("store", help="a business's stores").add_subparsers(
        dest="action", required=True
    )
    sl = store.add_parser("list", help="one page of stores, newest first")
    _list_args(sl)
    sl.add_argument("--search")
    sl.add_argument("--domain")
    sl.set_defaults(func=cmd_store_list)
    sc = store.add_parser("create", help="create a store; prints BusinessStore")
    sc.add_argument("--business", required=True)
    sc.add_argument("--name", required=True)
    sc.add_argument("--custom-domain-id", type=int)
    sc.set_defaults(func=cmd_store_create)
    sg = store.add_parser("get", help="one store (numeric id or store_... unique id)")
    sg.add_argument("--business", required=True)
    sg.add_argument("id")
    sg.set_defaults(func=cmd_store_get)
    su = store.add_parser("update", help="change a store; omitted options stay")
    su.add_argument("--business", required=True)
    su.add_argument("id")
    su.add_argument("--name")
    domain_choice = su.add_mutually_exclusive_group()
    domain_choice.add_argument("--custom-domain-id", type=int)
    domain_choice.add_argument("--no-custom-domain", action="store_true")
    su.add_argument("--active", action=argparse.BooleanOptionalAction, default=None)
    su.add_argument("--public", action=argparse.BooleanOptionalAction, default=None)
    su.add_argument("--logo", help="logo URL; '' clears it")
    su.set_defaults(func=cmd_store_update)
    sd = store.add_parser("delete", help="delete a store")
    sd.add_argument("--business", required=True)
    sd.add_argument("id")
    sd.set_defaults(func=cmd_store_delete)

    domain = sub.add_parser("domain", help="a business's custom domains").add_subparsers(
        dest="action", required=True
    )
    dl = domain.add_parser("list", help="one page of custom domains, newest first")
    _list_args(dl)
    dl.set_defaults(func=cmd_domain_list)
    dc = domain.add_parser("create", help="claim a domain (normalized; verified by DNS or verify)")
    dc.add_argument("--business", required=True)
    dc.add_argument("full_url")
    dc.set_defaults(func=cmd_domain_create)
    dg = domain.add_parser("get", help="one custom domain")
    dg.add_argument("--business", required=True)
    dg.add_argument("id")
    dg.set_defaults(func=cmd_domain_get)
    dd = domain.add_parser("delete", help="delete a custom domain")
    dd.add_argument("--business", required=True)
    dd.add_argument("id")
    dd.set_defaults(func=cmd_domain_delete)
    dv = domain.add_parser(
        "verify", help="operator: mark a domain verified once its control is proven"
    )
    dv.add_argument("id")
    dv.add_argument(
        "--undo", action="store_true", help="mark it unverified again (its links go at once)"
    )
    dv.set_defaults(func=cmd_domain_verify)
    dp = domain.add_parser("purge", help="operator: delete the lapsed unverified claims now")
    dp.set_defaults(func=cmd_domain_purge)
