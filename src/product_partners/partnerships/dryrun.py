"""Dry runs: the real decision, in a transaction that is always rolled back.

``?dry_run=true`` runs the very code a decision runs (the transition table's guard, the
conditional write, the rendering of the result) inside a transaction and then rolls it back
(``db.connections.rolled_back``), so a dry run cannot drift from the real thing and saves
nothing. On PostgreSQL (READ COMMITTED) the rows it wrote stay locked until the rollback, so
a concurrent decision on them waits a moment and then sees the row unchanged; no other
session ever sees the uncommitted change. On SQLite the transaction holds the write lock
(BEGIN IMMEDIATE) and other writers wait their turn; readers see the last committed state.

``planned_events`` describes the events a decision emits, as plain data: the event log
(``events.record``) is wired to these names where it exists.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import rolled_back
from product_partners.events.enums import EventType
from product_partners.partnerships import service

# The event each owner action emits (its name in the event log's vocabulary).
EVENT_TYPES = {
    "approve": EventType.product_partner_approved.value,
    "reject": EventType.product_partner_rejected.value,
    "ban": EventType.product_partner_banned.value,
    "unban": EventType.product_partner_unbanned.value,
    "remove": EventType.product_partner_deleted.value,
    "update": EventType.product_partner_updated.value,
}
_COMMISSION_CHANGED = EventType.product_partner_commission_changed.value


def link_changes(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[list[Any], list[Any]]:
    """The affiliate_pro links a change adds and removes."""
    old = (before or {}).get("affiliate_pro_links") or []
    new = (after or {}).get("affiliate_pro_links") or []
    return [link for link in new if link not in old], [link for link in old if link not in new]


def planned_events(
    action: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The events a decision emits: its type, the partnership and its move."""
    if before is None or (after is not None and after["version"] == before["version"]):
        return []  # nothing changed (an update that changes nothing)
    event = {"partnership_id": before["id"], "product_id": before["product_id"]}
    if action != "update" or after is None:
        to = after["affiliate_status"] if after else None
        return [
            {"type": EVENT_TYPES[action], **event, "from": before["affiliate_status"], "to": to}
        ]
    planned = []
    if any(before[k] != after[k] for k in ("partnership_type", "store_id")):
        status = {"from": before["affiliate_status"], "to": after["affiliate_status"]}
        planned.append({"type": EVENT_TYPES[action], **event, **status})
    if before["commission_rate"] != after["commission_rate"]:
        rates = {"from": before["commission_rate"], "to": after["commission_rate"]}
        planned.append({"type": _COMMISSION_CHANGED, **event, **rates})
    return planned


def preview(
    action: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> dict[str, Any]:
    """The body of a dry run: the resulting partnership (null: deleted), the links it adds and
    removes, the events it would emit."""
    added, removed = link_changes(before, after)
    return {
        "dry_run": True,
        "result": after,
        "links_added": added,
        "links_removed": removed,
        "events": planned_events(action, before, after),
    }


async def decision(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
    action: str,
    work: Callable[[], Awaitable[dict[str, Any] | None]],
) -> dict[str, Any]:
    """A dry run of the owner's decision ``work`` on one partnership: read it, decide, render,
    and roll back. A refused decision raises the error the real one gives."""

    async def both() -> dict[str, Any]:
        before = await service.get_partner(
            conn, owner_business_id, product_id, partnership_id, scheme
        )
        return preview(action, before, await work())

    return await rolled_back(conn, both)
