"""``product-partners product ...``: an owner's products from the command line (the same
service functions as createProduct, listProducts and getProduct; JSON output)."""

import argparse
from decimal import Decimal
from typing import Any

from product_partners.cli.runtime import as_business, page_arguments, page_of
from product_partners.products import service
from product_partners.products.schemas import CreateRequestProduct, ItemType
from product_partners.settings import Settings


def cmd_product_create(args: argparse.Namespace, settings: Settings) -> Any:
    fields: dict[str, Any] = {"name": args.name, "item_type": args.item_type}
    for name in ("slug", "public_name", "description"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    fields.update(
        is_affiliate_enabled=args.affiliate,
        is_affiliate_pro_enabled=args.affiliate_pro,
        is_product_sharing=args.reseller,
        is_affiliate_auto_accept=args.auto_accept,
    )
    if args.affiliate_commission_rate is not None:
        fields["affiliate_commission_rate"] = args.affiliate_commission_rate
    if args.affiliate_pro_commission_rate is not None:
        fields["affiliate_pro_commission_rate"] = args.affiliate_pro_commission_rate
    data = CreateRequestProduct(**fields)
    return as_business(
        args, settings, lambda conn, owner: service.create_product(conn, owner, data)
    )


def cmd_product_list(args: argparse.Namespace, settings: Settings) -> Any:
    return as_business(
        args,
        settings,
        lambda conn, business: service.list_products(
            conn,
            business,
            page_of(args),
            settings.link_scheme,
            is_owned=False if args.partnered else None,
            search=args.search,
        ),
    )


def cmd_product_get(args: argparse.Namespace, settings: Settings) -> Any:
    return as_business(
        args, settings, lambda conn, owner: service.get_product(conn, owner, args.id)
    )


def register(sub: Any) -> None:
    product = sub.add_parser("product", help="a business's products").add_subparsers(
        dest="action", required=True
    )
    pc = product.add_parser("create", help="create a product; prints the Product")
    pc.add_argument("--business", required=True, help="the owner business's unique id")
    pc.add_argument("--name", required=True)
    pc.add_argument(
        "--item-type",
        default="physical",
        choices=[t.value for t in ItemType],
        help="Scalev's item_type (default: physical)",
    )
    pc.add_argument("--slug", help="lower-case words joined by '-'; made from the name if omitted")
    pc.add_argument("--public-name")
    pc.add_argument("--description")
    pc.add_argument("--affiliate", action="store_true", help="open to affiliate requests")
    pc.add_argument("--affiliate-pro", action="store_true", help="open to affiliate_pro requests")
    pc.add_argument("--reseller", action="store_true", help="open to reseller requests (sharing)")
    pc.add_argument("--auto-accept", action="store_true", help="approve requests at once")
    pc.add_argument("--affiliate-commission-rate", type=Decimal, metavar="PERCENT")
    pc.add_argument("--affiliate-pro-commission-rate", type=Decimal, metavar="PERCENT")
    pc.set_defaults(func=cmd_product_create)

    pl = product.add_parser("list", help="one page of the business's products, newest first")
    pl.add_argument("--business", required=True, help="the business's unique id")
    pl.add_argument(
        "--partnered", action="store_true", help="the products it is a partner of instead"
    )
    pl.add_argument("--search", help="only products whose name contains this")
    page_arguments(pl)
    pl.set_defaults(func=cmd_product_list)

    pg = product.add_parser("get", help="one of the business's products")
    pg.add_argument("--business", required=True, help="the owner business's unique id")
    pg.add_argument("id")
    pg.set_defaults(func=cmd_product_get)
