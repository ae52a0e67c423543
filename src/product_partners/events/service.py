"""The event log: :func:`record`, the one writer, and the reads (listEvents, getEvent, the
CLI's export).

Every change of a partnership, of a product's partnership settings, of a store, a custom
domain, an API key or a webhook endpoint is recorded by the code that makes it, with
``record(conn, ...)`` INSIDE the change's transaction (``db.connections.transaction``): a
rolled-back change leaves no event, a committed one always has its event. The webhook worker
queues each committed event's deliveries from the log (``webhooks/fanout.py``).
"""

import os
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.outages import in_transaction
from product_partners.db.tables import events
from product_partners.events import repository as repo
from product_partners.events import views
from product_partners.events.enums import ActorType, EventType, ResourceType, resource_of
from product_partners.events.errors import EventNotFound, InvalidEventCursor, UnknownEventType
from product_partners.kit.context import request_state
from product_partners.kit.jsonutil import dumps
from product_partners.kit.pagination import MAX_PAGE_SIZE

EVENT_ID_PREFIX = "evt_"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
EXPORT_CHUNK = 500


def new_event_id(now_ms: int | None = None) -> str:
    """``evt_`` + a ULID: 48 bits of milliseconds then 80 random bits, in Crockford base32
    (26 characters), so ids sort by creation time."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return EVENT_ID_PREFIX + "".join(reversed(chars))


@dataclass(frozen=True, slots=True)
class Actor:
    type: ActorType
    business_id: int | None = None
    api_key_id: int | None = None
    user_id: int | None = None


SYSTEM = Actor(ActorType.system)


def business_actor(business_id: int) -> Actor:
    """A business acting through the operator's CLI (no API key)."""
    return Actor(ActorType.business, business_id=business_id)


def current_actor(default: Actor = SYSTEM) -> Actor:
    """The dashboard user or the API key (and its business) of the current request, else
    ``default``."""
    state = request_state()
    if state is not None and state.get("user_id") is not None:
        return Actor(ActorType.user, business_id=state.get("business_id"), user_id=state["user_id"])
    if state is not None and state.get("api_key_id") is not None:
        return Actor(
            ActorType.api_key,
            business_id=state.get("business_id"),
            api_key_id=state["api_key_id"],
        )
    return default


def event_values(
    event_type: EventType,
    *,
    resource_id: int,
    data: Any,
    owner_business_id: int | None,
    partner_business_id: int | None = None,
    product_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """The parameters of ``events.repository``'s statements for one event: its row (a new
    public id, now, the actor: ``actor``, else the current request's API key, else
    ``system``; the request id)."""
    who = actor or current_actor()
    state = request_state()
    now = datetime.now(UTC)
    return {
        "public_id": new_event_id(int(now.timestamp() * 1000)),
        "type": event_type.value,
        "occurred_at": now,
        "actor_type": who.type.value,
        "actor_business_id": who.business_id,
        "actor_api_key_id": who.api_key_id,
        "actor_user_id": who.user_id,
        "resource_type": resource_of(event_type).value,
        "resource_id": resource_id,
        "product_id": product_id,
        "from_status": from_status,
        "to_status": to_status,
        "reason": reason,
        "note": note,
        "request_id": state.get("request_id") if state is not None else None,
        "data": dumps(data).decode(),
        "owner_business_id": owner_business_id,
        "partner_business_id": partner_business_id,
    }


async def record(conn: AsyncConnection, event_type: EventType, **fields: Any) -> str:
    """Append one event in the caller's transaction; its public id.

    ``fields`` are :func:`event_values`'s: ``resource_id``, ``data`` (the resource's body
    after the change, as the API renders it), ``owner_business_id`` and the optional rest."""
    if not in_transaction():
        # A programming error, never a client's: an event outside the change's transaction
        # could be committed without its change, or the change without it.
        raise RuntimeError("events.record must run inside db.connections.transaction")
    values = event_values(event_type, **fields)
    await repo.insert_event(conn, values)
    return str(values["public_id"])


def parse_types(raw: Iterable[str], field: str = "type") -> list[EventType]:
    """Event types from a list of names (each may be comma-separated); 400 on an unknown."""
    found: list[EventType] = []
    for item in raw:
        for name in item.split(","):
            name = name.strip()
            if not name:
                continue
            try:
                found.append(EventType(name))
            except ValueError:
                raise UnknownEventType(name, field) from None
    return list(dict.fromkeys(found))


async def _position(conn: AsyncConnection, cursor: str | None, name: str) -> int | None:
    if not cursor:
        return None
    if not cursor.startswith(EVENT_ID_PREFIX) or len(cursor) > 32:
        raise InvalidEventCursor(name)
    position = await repo.position_of(conn, cursor)
    if position is None:
        raise InvalidEventCursor(name)
    return position


async def list_events(
    conn: AsyncConnection,
    business_id: int,
    *,
    after: str | None = None,
    cursor_name: str = "after",
    page_size: int = MAX_PAGE_SIZE,
    types: list[str] | None = None,
    resource_type: ResourceType | None = None,
    resource_id: int | None = None,
    product_id: int | None = None,
) -> dict[str, Any]:
    """The business's events, oldest first, after the event ``after`` (an event id).

    ``next_cursor`` is the last event's id whenever the page has events (the value a feed
    consumer passes as ``after`` to resume, also once it has caught up: ``has_next`` says
    whether more events were there at the time)."""
    position = await _position(conn, after, cursor_name)
    query = repo.events_query(business_id)
    wanted = parse_types(types or [])
    if wanted:
        query = query.where(events.c.type.in_([t.value for t in wanted]))
    if resource_type is not None:
        query = query.where(events.c.resource_type == resource_type.value)
    if resource_id is not None:
        query = query.where(events.c.resource_id == resource_id)
    if product_id is not None:
        query = query.where(events.c.product_id == product_id)
    if position is not None:
        query = query.where(events.c.id > position)
    rows = list((await conn.execute(query.order_by(events.c.id).limit(page_size + 1))).all())
    has_next = len(rows) > page_size
    rows = rows[:page_size]
    return {
        "data": [views.event(r) for r in rows],
        "is_paginated": True,
        "has_next": has_next,
        "has_previous": position is not None,
        "next_cursor": rows[-1].public_id if rows else after,
        "previous_cursor": None,
        "page_size": page_size,
    }


async def event_row(conn: AsyncConnection, business_id: int, public_id: str) -> Any:
    """The row of an event the business is the audience of; EventNotFound otherwise."""
    if not public_id.startswith(EVENT_ID_PREFIX) or len(public_id) > 32:
        raise EventNotFound()
    row = await repo.event_by_public_id(conn, business_id, public_id)
    if row is None:
        raise EventNotFound()
    return row


async def get_event(conn: AsyncConnection, business_id: int, public_id: str) -> dict[str, Any]:
    return views.event(await event_row(conn, business_id, public_id))


async def export_events(
    conn: AsyncConnection, business_id: int, after: str | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Every event of the business, oldest first, read in chunks (constant memory)."""
    position = await _position(conn, after, "after") or 0
    while True:
        query = (
            repo.events_query(business_id)
            .where(events.c.id > position)
            .order_by(events.c.id)
            .limit(EXPORT_CHUNK)
        )
        rows = (await conn.execute(query)).all()
        for row in rows:
            yield views.event(row)
        if len(rows) < EXPORT_CHUNK:
            return
        position = rows[-1].id
