"""The ``product-partners`` command line: the command groups, and how a failure is told.

Every command prints one JSON document on stdout (``--print-secret`` and the review tables are
the documented exceptions). Anything that goes wrong is one line on stderr that says what is
wrong and what to do, with a non-zero exit: 2 for a wrong command line or setting, 1 for
everything else. ``--debug`` (or ``LOG_LEVEL=debug``) adds the traceback.
"""

import argparse
import os
import sys
import traceback
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

from product_partners import __version__
from product_partners.cli import admin, events, partners, products, stores, users
from product_partners.cli.runtime import EXIT_ERROR, EXIT_USAGE, CliError, print_json, redacted
from product_partners.db.faults import is_database_unavailable
from product_partners.kit.errors import DomainError
from product_partners.settings import Settings, describe_settings_error, get_settings

# Every command group, in the order ``--help`` lists them.
COMMAND_GROUPS = (admin, products, partners, stores, users, events)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="product-partners", description="Run and administer product-partners."
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback when a command fails"
    )
    sub = parser.add_subparsers(dest="group", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("LOG_LEVEL", "").strip().lower() == "debug"
    try:
        settings = get_settings()
    except ValidationError as exc:
        return _fail(describe_settings_error(exc), EXIT_USAGE)
    try:
        if getattr(args, "needs_schema", True):
            admin.check_schema(settings)
        result = args.func(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure leaves as one line (see module doc)
        if debug:
            traceback.print_exc()
        message, code = explain(exc, settings)
        return _fail(message, code)
    if result is not None:
        print_json(result)
    return 0


def explain(exc: BaseException, settings: Settings) -> tuple[str, int]:
    """The one line (and exit code) that tells a person what went wrong and what to do."""
    if isinstance(exc, CliError):
        return str(exc), exc.exit_code
    if isinstance(exc, ValidationError):
        return f"invalid input: {_input_problems(exc)}", EXIT_USAGE
    if isinstance(exc, DomainError):
        return f"{exc.message} ({exc.error_code})", EXIT_ERROR
    database = redacted(settings.database_url)
    if is_database_unavailable(exc) or _is_unopenable_sqlite(exc):
        return (
            f"cannot reach the database {database} ({_reason(exc)}): is it running, and is "
            "DATABASE_URL right?",
            EXIT_ERROR,
        )
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return (
            f"the database {database} refused the command ({_reason(exc)}); run again with "
            "--debug for the details",
            EXIT_ERROR,
        )
    return (
        f"unexpected error ({_reason(exc)}); run again with --debug to see the traceback",
        EXIT_ERROR,
    )


def _input_problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
    )


def _is_unopenable_sqlite(exc: BaseException) -> bool:
    return isinstance(exc, sa_exc.OperationalError) and "unable to open database" in str(exc)


def _reason(exc: BaseException) -> str:
    cause: Any = getattr(exc, "orig", None) or exc
    text = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {text[:200]}" if text else type(cause).__name__


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"error: {message}\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
