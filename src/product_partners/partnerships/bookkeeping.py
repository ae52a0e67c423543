"""The owner's private bookkeeping on a partnership: tags and notes (ours).

Both are the owner's alone: ``tags`` appear in the owner's ProductPartner only (``views``),
notes only through their own operations, and their events (``product_partner.tags_changed``,
``.note_added``, ``.note_deleted``) have the owner alone as audience (no partner webhook, no
partner feed). Neither changes the partnership's ``version`` or ``updated_at``, which the
partner reads: the partner learns nothing of them, and its If-Match stays valid. Tags and
notes may be kept on a partnership in any status.

Tags are a set: ``set_tags`` replaces it, ``change_tags`` adds and removes some under the
row's lock (concurrent changes of different tags both land). A note's author is recorded as
the event log records an actor (the API key and its business, or the dashboard user).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import transaction
from product_partners.events.enums import EventType
from product_partners.events.service import business_actor, current_actor, record
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, fetch_page
from product_partners.partnerships import repository as repo
from product_partners.partnerships import views
from product_partners.partnerships.errors import NoteNotFound, PartnerNotFound, TooManyTags
from product_partners.partnerships.schemas import MAX_TAGS
from product_partners.products.errors import ProductNotFound


def _where(owner_business_id: int, product_id: str | int, partnership_id: str | int) -> Any:
    pid = parse_id(product_id, ProductNotFound)
    return repo.owner_scope(owner_business_id, pid, parse_id(partnership_id, PartnerNotFound))


async def _owned(conn: AsyncConnection, where: ColumnElement) -> Any:
    row = await repo.fetch_scoped(conn, where)
    if row is None:
        raise PartnerNotFound()
    return row


async def _record_private(
    conn: AsyncConnection, event_type: EventType, row: Any, data: Any
) -> None:
    """An event of the owner's bookkeeping: the owner is its only audience."""
    await record(
        conn,
        event_type,
        resource_id=row.id,
        product_id=row.product_id,
        data=data,
        owner_business_id=row.owner_business_id,
    )


async def _save_tags(
    conn: AsyncConnection,
    where: ColumnElement,
    scheme: str,
    new_tags: Any,
) -> dict[str, Any]:
    """The tags ``new_tags(old)`` gives, saved under the row's lock, with their event if they
    changed; the owner's ProductPartner."""
    async with transaction(conn):
        locked = await repo.locked_tags(conn, where)
        if locked is None:
            raise PartnerNotFound()
        old = set(locked.tags.split())
        tags = sorted(new_tags(old))
        if len(tags) > MAX_TAGS:
            raise TooManyTags(MAX_TAGS)
        if set(tags) != old:
            await repo.save_tags(conn, locked.id, tags)
        row = await _owned(conn, where)
        body = (await views.product_partners(conn, [row], scheme))[0]
        if set(tags) != old:
            await _record_private(conn, EventType.product_partner_tags_changed, row, body)
        return body


async def set_tags(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    tags: Sequence[str],
    scheme: str,
) -> dict[str, Any]:
    """Replace the partnership's tags (``tags`` already normalized: schemas.SetTagsRequest)."""
    where = _where(owner_business_id, product_id, partnership_id)
    return await _save_tags(conn, where, scheme, lambda _old: set(tags))


async def change_tags(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    add: Sequence[str],
    remove: Sequence[str],
    scheme: str,
) -> dict[str, Any]:
    """Add and remove some tags, leaving the others; more than MAX_TAGS in all is 400."""
    where = _where(owner_business_id, product_id, partnership_id)
    return await _save_tags(conn, where, scheme, lambda old: (old | set(add)) - set(remove))


def note(row: Any) -> dict[str, Any]:
    """A note's body (schemas.ProductPartnerNote)."""
    return {
        "id": row.id,
        "partnership_id": row.partnership_id,
        "body": row.body,
        "author": {
            "type": row.author_type,
            "business_id": row.author_business_id,
            "api_key_id": row.author_api_key_id,
            "user_id": row.author_user_id,
        },
        "created_at": row.created_at,
    }


async def add_note(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    text: str,
) -> dict[str, Any]:
    """A private note on the partnership, by the current request's actor."""
    where = _where(owner_business_id, product_id, partnership_id)
    # The API key or dashboard user of the request; the business itself from the CLI.
    author = current_actor(default=business_actor(owner_business_id))
    async with transaction(conn):
        row = await _owned(conn, where)
        created = await repo.insert_note(
            conn,
            {
                "partnership_id": row.id,
                "body": text,
                "author_type": author.type.value,
                "author_business_id": author.business_id,
                "author_api_key_id": author.api_key_id,
                "author_user_id": author.user_id,
                "created_at": datetime.now(UTC),
            },
        )
        body = note(created)
        await _record_private(conn, EventType.product_partner_note_added, row, body)
        return body


async def list_notes(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    page: PageRequest,
) -> dict[str, Any]:
    """The partnership's notes, newest first."""
    row = await _owned(conn, _where(owner_business_id, product_id, partnership_id))
    rows, fields = await fetch_page(conn, repo.notes_query(row.id), repo.notes.c.id, page)
    return {"data": [note(r) for r in rows], **fields}


async def delete_note(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    note_id: str | int,
) -> None:
    where = _where(owner_business_id, product_id, partnership_id)
    nid = parse_id(note_id, NoteNotFound)
    async with transaction(conn):
        row = await _owned(conn, where)
        deleted = await repo.delete_note(conn, row.id, nid)
        if deleted is None:
            raise NoteNotFound()
        await _record_private(conn, EventType.product_partner_note_deleted, row, note(deleted))
