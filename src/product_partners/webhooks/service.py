"""Business rules of webhook endpoints: subscriptions, secrets, resend and replay.

Every change of an endpoint is recorded in the event log in its transaction
(``webhook_endpoint.*``); the secret is shown on create and rotate only, never recorded.
Deliveries themselves are made by the worker (``webhooks/delivery.py``).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import transaction
from product_partners.db.tables import events, webhook_endpoints
from product_partners.events import repository as events_repo
from product_partners.events.enums import EventType
from product_partners.events.errors import EventNotFound
from product_partners.events.service import SYSTEM, Actor, event_row, parse_types, record
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, fetch_page
from product_partners.webhooks import repository as repo
from product_partners.webhooks import views
from product_partners.webhooks.enums import DisabledReason
from product_partners.webhooks.errors import (
    NoEventTypes,
    ReplayStartMissing,
    WebhookEndpointNotFound,
)
from product_partners.webhooks.schemas import (
    ReplayRequest,
    WebhookEndpointCreateRequest,
    WebhookEndpointUpdateRequest,
)
from product_partners.webhooks.signing import new_secret
from product_partners.webhooks.urls import validated_url

# Events queued by one replay call at most; the answer says where to continue.
REPLAY_MAX = 1000


def stored_types(names: list[str] | None) -> str:
    """The ``event_types`` column for a subscription: ``*`` or `` a b `` (validated)."""
    if names is None or repo.ALL_TYPES in names:
        return repo.ALL_TYPES
    types = parse_types(names, "event_types")
    if not types:
        raise NoEventTypes()
    return " " + " ".join(t.value for t in types) + " "


async def _record(
    conn: AsyncConnection,
    event_type: EventType,
    row: Any,
    body: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> None:
    await record(
        conn,
        event_type,
        resource_id=row.id,
        data=body or views.endpoint(row),
        owner_business_id=row.business_id,
        actor=actor,
    )


async def create_endpoint(
    conn: AsyncConnection,
    business_id: int,
    data: WebhookEndpointCreateRequest,
    allow_loopback_http: bool,
) -> dict[str, Any]:
    url = validated_url(data.url, allow_loopback_http)
    secret = new_secret()
    now = datetime.now(UTC)
    async with transaction(conn):
        endpoint_id = await repo.insert_endpoint(
            conn,
            {
                "business_id": business_id,
                "url": url,
                "description": data.description,
                "event_types": stored_types(data.event_types),
                "enabled": data.enabled,
                "secret": secret,
                "created_at": now,
                "updated_at": now,
            },
        )
        row = await _owned(conn, business_id, endpoint_id)
        await _record(conn, EventType.webhook_endpoint_created, row)
    return {**views.endpoint(row), "secret": secret}


async def _owned(conn: AsyncConnection, business_id: int, endpoint_id: str | int) -> Any:
    row = await repo.get_endpoint(conn, business_id, parse_id(endpoint_id, WebhookEndpointNotFound))
    if row is None:
        raise WebhookEndpointNotFound()
    return row


async def get_endpoint(
    conn: AsyncConnection, business_id: int, endpoint_id: str | int
) -> dict[str, Any]:
    return views.endpoint(await _owned(conn, business_id, endpoint_id))


async def list_endpoints(
    conn: AsyncConnection, business_id: int, page: PageRequest
) -> dict[str, Any]:
    query = repo.endpoints_query(business_id)
    rows, fields = await fetch_page(conn, query, webhook_endpoints.c.id, page)
    return {"data": [views.endpoint(r) for r in rows], **fields}


async def _change(
    conn: AsyncConnection,
    business_id: int,
    endpoint_id: str | int,
    values: dict[str, Any],
    event_type: EventType,
) -> Any:
    """Update the business's endpoint and record ``event_type`` in one transaction."""
    endpoint = parse_id(endpoint_id, WebhookEndpointNotFound)
    async with transaction(conn):
        row = await repo.update_endpoint(
            conn, business_id, endpoint, {**values, "updated_at": datetime.now(UTC)}
        )
        if row is None:
            raise WebhookEndpointNotFound()
        await _record(conn, event_type, row)
    return row


async def update_endpoint(
    conn: AsyncConnection,
    business_id: int,
    endpoint_id: str | int,
    data: WebhookEndpointUpdateRequest,
    allow_loopback_http: bool,
) -> dict[str, Any]:
    sent = data.model_fields_set
    values: dict[str, Any] = {}
    if "url" in sent and data.url is not None:
        values["url"] = validated_url(data.url, allow_loopback_http)
    if "description" in sent:
        values["description"] = data.description
    if "event_types" in sent:
        values["event_types"] = stored_types(data.event_types)
    if "enabled" in sent and data.enabled is not None:
        values["enabled"] = data.enabled
        if data.enabled:  # a fresh start: the failure history no longer counts
            values.update(disabled_reason=None, failing_since=None)
    if not values:
        return await get_endpoint(conn, business_id, endpoint_id)
    row = await _change(conn, business_id, endpoint_id, values, EventType.webhook_endpoint_updated)
    return views.endpoint(row)


async def rotate_secret(
    conn: AsyncConnection, business_id: int, endpoint_id: str | int, overlap: timedelta
) -> dict[str, Any]:
    """A new secret; the previous one keeps signing (a second signature) for ``overlap``."""
    current = await _owned(conn, business_id, endpoint_id)
    secret = new_secret()
    row = await _change(
        conn,
        business_id,
        current.id,
        {
            "secret": secret,
            "previous_secret": current.secret,
            "previous_secret_expires_at": datetime.now(UTC) + overlap,
        },
        EventType.webhook_endpoint_secret_rotated,
    )
    return {**views.endpoint(row), "secret": secret}


async def delete_endpoint(conn: AsyncConnection, business_id: int, endpoint_id: str | int) -> None:
    """Delete the endpoint, its pending deliveries and its delivery log."""
    endpoint = parse_id(endpoint_id, WebhookEndpointNotFound)
    async with transaction(conn):
        row = await repo.get_endpoint(conn, business_id, endpoint)
        if row is None or not await repo.delete_endpoint(conn, business_id, endpoint):
            raise WebhookEndpointNotFound()
        await _record(conn, EventType.webhook_endpoint_deleted, row)


async def disable_failing(conn: AsyncConnection, endpoint_id: int, now: datetime) -> None:
    """The service disables an endpoint whose delivery exhausted its retries (inside the
    worker's transaction) and records ``webhook_endpoint.disabled`` by ``system``."""
    row = await repo.disable(conn, endpoint_id, DisabledReason.failing.value, now)
    if row is not None:
        await _record(conn, EventType.webhook_endpoint_disabled, row, actor=SYSTEM)


async def resend_event(
    conn: AsyncConnection, business_id: int, endpoint_id: str | int, event_public_id: str
) -> dict[str, Any]:
    """Queue one of the business's events for one of its endpoints (again)."""
    endpoint = await _owned(conn, business_id, endpoint_id)
    event = await event_row(conn, business_id, event_public_id)
    async with transaction(conn):
        await repo.queue(conn, endpoint.id, [event.id], datetime.now(UTC))
        queued = await repo.delivery(conn, endpoint.id, event.id)
    return views.delivery(queued, event.public_id)


async def replay(
    conn: AsyncConnection, business_id: int, endpoint_id: str | int, start: ReplayRequest
) -> dict[str, Any]:
    """Queue every event the endpoint subscribes to after ``start.after`` (an event id) or
    since ``start.since``, oldest first, up to REPLAY_MAX per call."""
    endpoint = await _owned(conn, business_id, endpoint_id)
    if start.after is None and start.since is None:
        raise ReplayStartMissing()
    query = select(events.c.id, events.c.public_id).where(events_repo.visible_to(business_id))
    if start.after is not None:
        position = await events_repo.position_of(conn, start.after)
        if position is None:
            raise EventNotFound()
        query = query.where(events.c.id > position)
    if start.since is not None:
        since = start.since if start.since.tzinfo else start.since.replace(tzinfo=UTC)
        query = query.where(events.c.occurred_at >= since)
    query = query.where(repo.subscribes(literal(endpoint.event_types), events.c.type))
    rows = (await conn.execute(query.order_by(events.c.id).limit(REPLAY_MAX + 1))).all()
    has_more = len(rows) > REPLAY_MAX
    rows = rows[:REPLAY_MAX]
    async with transaction(conn):
        await repo.queue(conn, endpoint.id, [r.id for r in rows], datetime.now(UTC))
    return {
        "queued": len(rows),
        "last_event_id": rows[-1].public_id if rows else None,
        "has_more": has_more,
    }


async def list_attempts(
    conn: AsyncConnection, business_id: int, endpoint_id: str | int, page: PageRequest
) -> dict[str, Any]:
    endpoint = await _owned(conn, business_id, endpoint_id)
    query = repo.attempts_query(endpoint.id)
    rows, fields = await fetch_page(conn, query, repo.a.c.id, page)
    return {"data": [views.attempt(r) for r in rows], **fields}
