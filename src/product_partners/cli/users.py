"""Dashboard users: ``user create --password-stdin``, ``user list``, ``user disable``."""

import argparse
import sys
from typing import Any

from product_partners.cli.runtime import CliError, run_with_connection
from product_partners.settings import Settings


def cmd_user_create(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.users.service import create_user

    # The first line of stdin, never an argument: arguments show in `ps` and shell history.
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError(
            'give the password on stdin: echo "$PASSWORD" | product-partners user create ...'
        )
    return run_with_connection(
        settings, lambda conn: create_user(conn, args.business, args.email, password)
    )


def cmd_user_list(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.users.service import list_users

    return run_with_connection(settings, lambda conn: list_users(conn, args.business))


def cmd_user_disable(args: argparse.Namespace, settings: Settings) -> Any:
    from product_partners.users.service import disable_user

    return run_with_connection(settings, lambda conn: disable_user(conn, args.email))


def register(sub: Any) -> None:
    user = sub.add_parser("user", help="dashboard users").add_subparsers(
        dest="action", required=True
    )
    uc = user.add_parser("create", help="create a dashboard user of a business")
    uc.add_argument("--business", required=True, help="the business's unique id")
    uc.add_argument("--email", required=True)
    uc.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of stdin",
    )
    uc.set_defaults(func=cmd_user_create)
    ul = user.add_parser("list", help="list dashboard users (never their passwords)")
    ul.add_argument("--business", help="only this business's users")
    ul.set_defaults(func=cmd_user_list)
    ud = user.add_parser("disable", help="disable a user and end its sessions, in every process")
    ud.add_argument("--email", required=True)
    ud.set_defaults(func=cmd_user_disable)
