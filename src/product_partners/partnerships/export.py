"""exportProductPartners: a product's (or all the owner's products') partnerships as CSV or
JSON lines, in constant memory.

Rows are read in keyset batches (``repository.partnerships_after``: ``id > last ORDER BY id
LIMIT n``, each a short statement on the request's connection, which is in AUTOCOMMIT mode, so
no transaction stays open however long the client takes to read) and rendered batch by batch;
the whole body is never built. Each row is rendered by the owner's view
(``views.product_partner``) and flattened by :func:`export_row`, the one place that says which
columns an export has (:data:`EXPORT_COLUMNS`): add a column there and both formats carry it.

Formats: ``jsonl`` is one JSON object per line, keys in column order, lists as JSON arrays;
``csv`` has a header line, then one line per row: empty for null, ``true``/``false``, times in
RFC 3339 UTC (``Z``), and a list as its JSON text (``[]`` when empty).
"""

import csv
import io
from collections import namedtuple
from collections.abc import AsyncIterator
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.kit.jsonutil import dumps
from product_partners.partnerships import decisions, views
from product_partners.partnerships import repository as repo
from product_partners.partnerships.enums import PartnershipType


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.jsonl: "application/x-ndjson",
}

# Every column of an export, in order, with where it is in the owner's view (a key, or a key
# of a nested object): the one list.
EXPORT_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id", ("id",)),
    ("product_id", ("product_id",)),
    ("partner_unique_id", ("partner", "unique_id")),
    ("partner_id", ("partner", "id")),
    ("partner_username", ("partner", "username")),
    ("partner_account_holder", ("partner", "account_holder")),
    ("partner_email", ("partner", "email")),
    ("partner_logo", ("partner", "logo")),
    ("partner_is_banned", ("partner", "is_banned")),
    ("partnership_type", ("partnership_type",)),
    ("affiliate_status", ("affiliate_status",)),
    ("message_to_product_owner", ("message_to_product_owner",)),
    ("requested_at", ("requested_at",)),
    ("approved_at", ("approved_at",)),
    ("rejected_at", ("rejected_at",)),
    ("banned_at", ("banned_at",)),
    ("created_at", ("created_at",)),
    ("updated_at", ("updated_at",)),
    ("rejection_reason", ("rejection_reason",)),
    ("ban_reason", ("ban_reason",)),
    ("ban_note", ("ban_note",)),
    ("version", ("version",)),
    ("store_id", ("store_id",)),
    ("partner_consented_at", ("partner_consented_at",)),
    ("affiliate_pro_consented_at", ("affiliate_pro_consented_at",)),
    ("product_owner_id", ("product_owner", "id")),
    ("product_owner_unique_id", ("product_owner", "unique_id")),
    ("product_owner_username", ("product_owner", "username")),
    ("product_owner_account_holder", ("product_owner", "account_holder")),
    ("product_owner_email", ("product_owner", "email")),
    ("product_owner_logo", ("product_owner", "logo")),
    ("product_owner_is_banned", ("product_owner", "is_banned")),
    ("custom_domains", ("custom_domains",)),
    ("affiliate_pro_domains", ("affiliate_pro_domains",)),
    ("affiliate_pro_links", ("affiliate_pro_links",)),
    ("tags", ("tags",)),
    ("commission_rate", ("commission_rate",)),
    ("effective_commission_rate", ("effective_commission_rate",)),
    # From the request's stored decision (getProductPartnerDecision); empty for an added one.
    ("answers", ("decision", "answers")),
    ("decision_outcome", ("decision", "outcome")),
    ("decision_trace", ("decision", "trace")),
)
COLUMN_NAMES = tuple(name for name, _ in EXPORT_COLUMNS)
# Rows read per statement (EXPORT_BATCH_SIZE overrides it for the routes).
DEFAULT_BATCH_SIZE = 1000
_PRODUCT_BATCH = 500
_PRO = PartnershipType.affiliate_pro


# (column, key, key of the nested object or None), for export_row's one pass.
_PATHS = tuple((name, path[0], path[1] if len(path) > 1 else None) for name, path in EXPORT_COLUMNS)


def export_row(body: dict[str, Any], decision: Any = None) -> dict[str, Any]:
    """One exported row from the owner's view of a partnership (``views.product_partner``)
    and the request's stored decision, if any (``decisions.decisions_of``): the columns of
    :data:`EXPORT_COLUMNS`, nested objects flattened, a field the viewer may not see (a
    partner's contact data before its consent) null."""
    body["decision"] = decision._mapping if decision is not None else None
    return {
        name: body.get(key) if sub is None else (body.get(key) or _NOTHING).get(sub)
        for name, key, sub in _PATHS
    }


_NOTHING: dict[str, Any] = {}
# What the CSV writer writes as it is (None as an empty cell).
_PLAIN = frozenset({str, int, type(None)})


def _csv_line(row: dict[str, Any]) -> list[Any]:
    return [v if type(v) in _PLAIN else _cell(v) for v in row.values()]


def _cell(value: Any) -> str:
    """A CSV cell for what is not text or a number: JSON (a time without its quotes)."""
    text = dumps(value).decode()
    return text[1:-1] if text.startswith('"') else text


async def _batches(
    conn: AsyncConnection,
    owner_business_id: int,
    product_ids: AsyncIterator[int],
    scheme: str,
    batch_size: int,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Exported rows of each product, batch by batch."""
    domains = await repo.owner_domains(conn, owner_business_id)  # the same on every row
    async for product_id in product_ids:
        after = 0
        while True:
            rows = await repo.partnerships_after(
                conn, owner_business_id, product_id, after, batch_size
            )
            if not rows:
                break
            # A Row's attribute costs ~1 us, a namedtuple's ~50 ns: the view reads ~40 a row.
            fast = _record_type(rows[0]._fields)
            rows = [tuple.__new__(fast, r) for r in rows]
            pro_ids = [r.id for r in rows if r.partnership_type == _PRO]
            pro = await repo.approved_pro_domains(conn, pro_ids) if pro_ids else {}
            decided = await decisions.decisions_of(conn, [r.id for r in rows])
            yield [
                export_row(
                    views.product_partner(r, domains, pro.get(r.id, []), scheme),
                    decided.get(r.id),
                )
                for r in rows
            ]
            if len(rows) < batch_size:
                break
            after = rows[-1].id


@cache
def _record_type(fields: tuple[str, ...]) -> Any:
    return namedtuple("ExportedRow", fields)


async def _all_products(conn: AsyncConnection, owner_business_id: int) -> AsyncIterator[int]:
    after = 0
    while ids := await repo.owned_product_ids(conn, owner_business_id, after, _PRODUCT_BATCH):
        for product_id in ids:
            yield product_id
        after = ids[-1]


async def _one(product_id: int) -> AsyncIterator[int]:
    yield product_id


async def stream(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: int | None,
    fmt: ExportFormat,
    scheme: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> AsyncIterator[bytes]:
    """The export's body, one chunk per batch: the partnerships of the owner's product
    ``product_id`` (checked by ``service.owned_product_id`` first), or of all its products (None),
    in product then partnership id order."""
    ids = _all_products(conn, owner_business_id) if product_id is None else _one(product_id)
    batches = _batches(conn, owner_business_id, ids, scheme, batch_size)
    if fmt == ExportFormat.jsonl:
        async for batch in batches:
            yield b"".join([dumps(row) + b"\n" for row in batch])
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMN_NAMES)
    yield _drain(buffer)
    async for batch in batches:
        writer.writerows([_csv_line(row) for row in batch])
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def filename(product_id: int | None, fmt: ExportFormat) -> str:
    """The attachment's file name."""
    scope = f"product-{product_id}" if product_id is not None else "all-products"
    return f"{scope}-partners.{fmt.value}"
