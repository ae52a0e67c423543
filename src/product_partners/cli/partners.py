"""``product-partners partners ...``: the owner's everyday review work from the command line.

Each command acts as the owner business named by ``--business <unique id>`` and calls the same
service functions as the API (same transition table, same conditional writes). People get a
table; ``--json`` prints one JSON document (the API's body) for scripts.
"""

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.cli.runtime import as_business, page_arguments, page_of
from product_partners.partnerships import export, importer, service
from product_partners.partnerships.enums import AffiliateStatus, BanReason, PartnershipType
from product_partners.partnerships.etags import parse_if_match
from product_partners.settings import Settings

COLUMNS = ("ID", "PARTNER", "TYPE", "STATUS", "REQUESTED", "DECIDED", "NOTE")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _note(item: dict[str, Any]) -> str:
    status = item["affiliate_status"]
    if status == AffiliateStatus.banned:
        text = item["ban_reason"] + (f": {item['ban_note']}" if item["ban_note"] else "")
    elif status == AffiliateStatus.rejected:
        text = item["rejection_reason"] or ""
    else:
        text = item["message_to_product_owner"] or ""
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "…"


def _row(item: dict[str, Any]) -> tuple[str, ...]:
    decided = item["banned_at"] or item["rejected_at"] or item["approved_at"]
    return (
        str(item["id"]),
        item["partner"]["unique_id"],
        item["partnership_type"],
        item["affiliate_status"],
        _when(item["requested_at"]),
        _when(decided),
        _note(item) or "-",
    )


def render_table(items: list[dict[str, Any]]) -> str:
    rows = [COLUMNS, *(_row(i) for i in items)]
    widths = [max(len(r[c]) for r in rows) for c in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(lines)


def _output(args: argparse.Namespace, body: dict[str, Any]) -> Any:
    """``--json``: hand the body to the CLI's JSON printer; otherwise print a table."""
    if args.json:
        return body
    items = body.get("data", [body])
    text = render_table(items) if items else "No partners."
    if body.get("has_next"):
        text += f"\nMore: --next-cursor {body['next_cursor']}"
    sys.stdout.write(text + "\n")
    return None


def cmd_list(args: argparse.Namespace, settings: Settings) -> Any:
    page = page_of(args)
    body = as_business(
        args,
        settings,
        lambda conn, owner: service.list_partners(
            conn,
            owner,
            args.product,
            page,
            settings.link_scheme,
            affiliate_status=args.status,
            partnership_type=args.type,
        ),
    )
    return _output(args, body)


def _decide(args: argparse.Namespace, settings: Settings, decision: Any, **extra: Any) -> Any:
    """Run one of the owner's decisions (``service.approve_partner`` ...) on ``args.id``."""
    body = as_business(
        args,
        settings,
        lambda conn, owner: decision(
            conn,
            owner,
            args.product,
            args.id,
            settings.link_scheme,
            versions=parse_if_match(args.if_match),
            **extra,
        ),
    )
    return _output(args, body)


def cmd_approve(args: argparse.Namespace, settings: Settings) -> Any:
    return _decide(args, settings, service.approve_partner)


def cmd_reject(args: argparse.Namespace, settings: Settings) -> Any:
    return _decide(args, settings, service.reject_partner, reason=args.reason)


def cmd_ban(args: argparse.Namespace, settings: Settings) -> Any:
    return _decide(args, settings, service.ban_partner, reason=args.reason, note=args.note)


def cmd_unban(args: argparse.Namespace, settings: Settings) -> Any:
    return _decide(args, settings, service.unban_partner)


@contextmanager
def _writer(path: str | None) -> Iterator[Callable[[bytes], Any]]:
    """How to write the export's chunks: to the file ``path``, or to stdout (None or "-")."""
    if path is None or path == "-":
        yield lambda chunk: sys.stdout.write(chunk.decode())
        sys.stdout.flush()
        return
    with open(path, "wb") as out:
        yield out.write


def cmd_export(args: argparse.Namespace, settings: Settings) -> None:
    """The API's export (exportProductPartners), to a file or stdout, batch by batch."""
    fmt = export.ExportFormat(args.format)

    async def run(conn: AsyncConnection, owner: int) -> None:
        pid = None
        if args.product is not None:
            pid = await service.owned_product_id(conn, owner, args.product)
        body = export.stream(
            conn, owner, pid, fmt, settings.link_scheme, settings.export_batch_size
        )
        with _writer(args.output) as write:
            async for chunk in body:
                write(chunk)

    as_business(args, settings, run)


def _import_line(result: dict[str, Any]) -> str:
    head = f"line {result['line']}: {result['outcome']} {result['partner_unique_id'] or '-'}"
    if result["outcome"] == importer.ImportOutcome.invalid:
        return f"{head}: {result['error_code']}: {result['message']}"
    return f"{head} (partnership {result['id']}, {result['affiliate_status']})"


def cmd_import(args: argparse.Namespace, settings: Settings) -> Any:
    """importProductPartners from a file: each row added as the API adds it. People get one
    line per row as it is added, then the counts; ``--json`` prints the API's body."""
    with open(args.file, encoding="utf-8-sig", newline="") as source:
        ignored, rows = importer.read_csv(source)

        async def run(conn: AsyncConnection, owner: int) -> list[dict[str, Any]]:
            results = []
            found = importer.import_rows(conn, owner, args.product, rows, settings.link_scheme)
            async for result in found:
                results.append(result)
                if not args.json:
                    sys.stdout.write(_import_line(result) + "\n")
            return results

        body = importer.summary(ignored, as_business(args, settings, run))
    if args.json:
        return body
    counts = ", ".join(f"{body[o]} {o}" for o in importer.ImportOutcome)
    ignored_text = f" (ignored columns: {', '.join(ignored)})" if ignored else ""
    sys.stdout.write(f"{counts}{ignored_text}\n")
    return None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--product", required=True, help="the product id")
    parser.add_argument("--business", required=True, help="the owner business's unique id")
    parser.add_argument("--json", action="store_true", help="print the API's JSON body")


def _decision(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("id", help="the partnership id (ProductPartner id)")
    parser.add_argument("--if-match", help="refuse if the partnership is no longer at this ETag")


def register(sub: Any) -> None:
    partners = sub.add_parser(
        "partners", help="review a product's partners, as its owner"
    ).add_subparsers(dest="action", required=True)

    pl = partners.add_parser("list", help="one page of a product's partners, newest first")
    _common(pl)
    pl.add_argument("--status", choices=list(AffiliateStatus))
    pl.add_argument("--type", choices=list(PartnershipType))
    page_arguments(pl)
    pl.set_defaults(func=cmd_list)

    pa = partners.add_parser("approve", help="approve a pending request")
    _decision(pa)
    pa.set_defaults(func=cmd_approve)

    pr = partners.add_parser("reject", help="reject a pending request")
    _decision(pr)
    pr.add_argument("--reason", help="shown to the partner")
    pr.set_defaults(func=cmd_reject)

    pb = partners.add_parser("ban", help="ban a partner from the product")
    _decision(pb)
    pb.add_argument("--reason", required=True, choices=list(BanReason))
    pb.add_argument("--note", help="shown to the partner")
    pb.set_defaults(func=cmd_ban)

    pu = partners.add_parser("unban", help="lift a ban (the partnership becomes rejected)")
    _decision(pu)
    pu.set_defaults(func=cmd_unban)

    pe = partners.add_parser(
        "export", help="every partnership of a product (or of all yours) as CSV or JSON lines"
    )
    pe.add_argument("--business", required=True, help="the owner business's unique id")
    pe.add_argument("--product", help="the product id (default: all your products)")
    pe.add_argument("--format", choices=list(export.ExportFormat), default="csv")
    pe.add_argument("--output", help="the file to write (default: stdout)")
    pe.set_defaults(func=cmd_export)

    pi = partners.add_parser(
        "import", help="add partners from a CSV of partner unique ids (run twice: same result)"
    )
    pi.add_argument("--product", required=True, help="the product id")
    pi.add_argument("--business", required=True, help="the owner business's unique id")
    pi.add_argument("--json", action="store_true", help="print the API's JSON body")
    pi.add_argument(
        "file", help="a CSV with a partner_unique_id column (see importProductPartners)"
    )
    pi.set_defaults(func=cmd_import)
