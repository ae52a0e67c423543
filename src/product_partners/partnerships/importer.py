"""importProductPartners: add partners to a product from a CSV of partner unique ids.

Each row goes through ``service.add_partner``, the function createProductPartner calls (the
same rules, the same event, one transaction per row), so an import is idempotent: run twice,
the second run adds nothing and answers ``already_partner`` for every row the first added.

The CSV has a header line. Columns (any order; others are ignored and named in the answer's
``ignored_columns``, so an export's file can be imported into another product as it is):

- ``partner_unique_id`` (required);
- ``partnership_type`` (or ``type``): empty or ``affiliate``, what an owner's add makes;
- ``affiliate_status`` (or ``status``): empty or ``approved``, likewise;
- ``tags``: the owner's labels for the partner, added to those it has (an export's JSON list,
  ``["gold", "vip"]``, or labels separated by commas or spaces), with the partnership if it
  is added, or on the partnership already there.

Per row: ``added`` (with the new partnership's id), ``already_partner`` (with the existing
one's id and status), or ``invalid`` (with the error code and message: a malformed unique id,
a type or status an owner cannot set, yourself, a banned business that consented to you, the
owner's hourly budget of adds spent). A unique id that no business has yet is added, as
createProductPartner adds it: an owner learns nothing of which businesses exist.
"""

import csv
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import transaction
from product_partners.kit.errors import DomainError
from product_partners.partnerships import bookkeeping, service
from product_partners.partnerships import repository as repo
from product_partners.partnerships import transitions as tt
from product_partners.partnerships.enums import PartnershipType
from product_partners.partnerships.errors import (
    ImportFileInvalid,
    ImportStatusNotAddable,
    ImportTagsInvalid,
    ImportTypeNotAddable,
    ImportUniqueIdInvalid,
    PartnerAlreadyExists,
    TooManyImportRows,
)
from product_partners.partnerships.schemas import CreatePartnerRequest, valid_tags

# Rows one request may carry (400 beyond); its bytes are bounded by MAX_BODY_BYTES (413).
MAX_IMPORT_ROWS = 1000
UNIQUE_ID = "partner_unique_id"
# Each accepted column, and the names it may go by.
_ALIASES = {
    UNIQUE_ID: UNIQUE_ID,
    "partnership_type": "partnership_type",
    "type": "partnership_type",
    "affiliate_status": "affiliate_status",
    "status": "affiliate_status",
    "tags": "tags",
}
# What an owner's add makes (the transition table's ``add``): the only type and status a row
# may name.
_ADDED_TYPE = PartnershipType.affiliate.value
_ADDED_STATUS = str(tt.target(tt.OWNER, "add"))


class ImportOutcome(StrEnum):
    added = "added"
    already_partner = "already_partner"
    invalid = "invalid"


Spend = Callable[[], Awaitable[None]]


def read_csv(lines: Iterable[str]) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The ignored columns, and the rows as (line number, {column: value}) with the accepted
    columns under their own names. 400 (``import_file_invalid``) without a header naming
    ``partner_unique_id``."""
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileInvalid("the file is empty: send a header line first") from None
    except csv.Error as error:
        raise ImportFileInvalid(f"line 1: {error}") from None
    names = [_ALIASES.get(h.strip().lower()) for h in header]
    if UNIQUE_ID not in names:
        raise ImportFileInvalid(f"the header line has no {UNIQUE_ID} column")
    ignored = [h for h, n in zip(header, names, strict=True) if n is None]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue  # a blank line
                row = {n: c.strip() for n, c in zip(names, cells, strict=False) if n}
                yield reader.line_num, row
        except csv.Error as error:
            raise ImportFileInvalid(f"line {reader.line_num}: {error}") from None

    return ignored, rows()


def bounded(rows: Iterable[tuple[int, dict[str, str]]]) -> list[tuple[int, dict[str, str]]]:
    """The rows of one request, refused whole (400 ``too_many_import_rows``) beyond
    :data:`MAX_IMPORT_ROWS`, before any is added."""
    kept: list[tuple[int, dict[str, str]]] = []
    for row in rows:
        if len(kept) == MAX_IMPORT_ROWS:
            raise TooManyImportRows(MAX_IMPORT_ROWS)
        kept.append(row)
    return kept


def _result(
    line: int,
    unique_id: str,
    outcome: ImportOutcome,
    partnership: Any = None,
    refusal: DomainError | None = None,
) -> dict[str, Any]:
    """One row's answer: the partnership added or found (a body or a row), or the refusal."""
    return {
        "line": line,
        "partner_unique_id": unique_id,
        "outcome": outcome.value,
        "id": partnership["id"] if partnership else None,
        "affiliate_status": partnership["affiliate_status"] if partnership else None,
        "error_code": refusal.error_code if refusal else None,
        "message": refusal.message if refusal else None,
    }


def _refusal(row: dict[str, str]) -> DomainError | None:
    """The row's own problem (its form, a type or status an owner cannot set), if any."""
    unique_id = row.get(UNIQUE_ID, "")
    if not unique_id:
        return ImportUniqueIdInvalid("is empty")
    try:
        CreatePartnerRequest(partner_unique_id=unique_id)
    except ValidationError as error:
        return ImportUniqueIdInvalid(error.errors()[0]["msg"].removeprefix("Value error, "))
    kind = row.get("partnership_type", "")
    if kind not in ("", _ADDED_TYPE):
        return ImportTypeNotAddable(kind, _ADDED_TYPE)
    status = row.get("affiliate_status", "")
    if status not in ("", _ADDED_STATUS):
        return ImportStatusNotAddable(status, _ADDED_STATUS)
    return None


def _tags(cell: str) -> list[str]:
    """The row's tags, normalized as the tag operations normalize them; 400 if they are not."""
    if not cell:
        return []
    try:
        values = json.loads(cell) if cell.startswith("[") else re.split(r"[,\s]+", cell)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError("a JSON list of tags must hold text only")
        return valid_tags([v for v in values if v])
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        raise ImportTagsInvalid(str(error)) from None


async def import_rows(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    rows: Iterable[tuple[int, dict[str, str]]],
    scheme: str,
    spend: Spend | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Each row's answer, as it is added (``spend``: the owner's budget of adds, counted per
    row as createProductPartner counts it). 404 before any row unless the product is the
    owner's."""
    pid = await service.owned_product_id(conn, owner_business_id, product_id)
    for line, row in rows:
        unique_id = row.get(UNIQUE_ID, "")
        refused = _refusal(row)
        if refused is not None:
            yield _result(line, unique_id, ImportOutcome.invalid, refusal=refused)
            continue
        try:
            tags = _tags(row.get("tags", ""))
            if spend is not None:
                await spend()
            async with transaction(conn):  # the partnership and its tags, or neither
                added = await service.add_partner(conn, owner_business_id, pid, unique_id, scheme)
                if tags:
                    added = await bookkeeping.change_tags(
                        conn, owner_business_id, pid, added["id"], tags, [], scheme
                    )
        except PartnerAlreadyExists:
            existing = await repo.owned_partnership_named(conn, owner_business_id, pid, unique_id)
            found = existing._mapping if existing else None
            if found is not None and tags:
                await bookkeeping.change_tags(
                    conn, owner_business_id, pid, found["id"], tags, [], scheme
                )
            yield _result(line, unique_id, ImportOutcome.already_partner, found)
        except DomainError as error:
            yield _result(line, unique_id, ImportOutcome.invalid, refusal=error)
        else:
            yield _result(line, unique_id, ImportOutcome.added, added)


def summary(ignored_columns: list[str], results: list[dict[str, Any]]) -> dict[str, Any]:
    """importProductPartners' body: counts per outcome, then each row's answer."""
    counts = {outcome.value: 0 for outcome in ImportOutcome}
    for result in results:
        counts[result["outcome"]] += 1
    return {**counts, "ignored_columns": ignored_columns, "rows": results}
