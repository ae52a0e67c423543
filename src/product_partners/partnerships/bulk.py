"""bulkReviewProductPartners: one owner decision on up to 100 partnerships of one product.

Each item is decided by the single-decision function of ``service`` (the same guard, the same
errors), so the rules are written once and a bulk item and a single decision race like two
single decisions: one conditional write wins. ``all_or_nothing`` runs every item in one
transaction (items in id order, so that two bulks lock rows in the same order) and rolls it
back if any fails; ``best_effort`` saves each item on its own. A dry run does either in a
transaction that is always rolled back (``db.connections.rolled_back``).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import rolled_back, transaction
from product_partners.kit.errors import DomainError
from product_partners.kit.ids import parse_id
from product_partners.partnerships import repository as repo
from product_partners.partnerships import service
from product_partners.partnerships.schemas import BulkAction, BulkItem, BulkMode, BulkReviewRequest
from product_partners.products.errors import ProductNotFound

Decide = Callable[[int, list[int] | None], Awaitable[dict[str, Any] | None]]


class _Abort(Exception):
    def __init__(self, results: dict[int, dict[str, Any]]) -> None:
        self.results = results


def _decider(
    conn: AsyncConnection, owner_business_id: int, pid: int, body: BulkReviewRequest, scheme: str
) -> Decide:
    """The single-decision call for ``body.action`` on one partnership."""
    owner = owner_business_id

    async def decide(ppid: int, versions: list[int] | None) -> dict[str, Any] | None:
        match body.action:
            case BulkAction.approve:
                return await service.approve_partner(conn, owner, pid, ppid, scheme, versions)
            case BulkAction.reject:
                return await service.reject_partner(
                    conn, owner, pid, ppid, scheme, body.reason, versions
                )
            case BulkAction.ban:
                return await service.ban_partner(
                    conn, owner, pid, ppid, scheme, str(body.reason), body.note, versions
                )
            case BulkAction.unban:
                return await service.unban_partner(conn, owner, pid, ppid, scheme, versions)
            case _:
                await service.remove_partner(conn, owner, pid, ppid, versions)
                return None

    return decide


def _applied(item: BulkItem, outcome: str, body: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": item.id,
        "outcome": outcome,
        "affiliate_status": body["affiliate_status"] if body else None,
        "version": body["version"] if body else None,
        "error_code": None,
        "status": 200 if body else 204,
        "message": None,
    }


def _failed(item: BulkItem, error: DomainError) -> dict[str, Any]:
    return {
        "id": item.id,
        "outcome": "failed",
        "affiliate_status": None,
        "version": None,
        "error_code": error.error_code,
        "status": error.status_code,
        "message": error.message,
    }


async def _run(decide: Decide, items: list[BulkItem], outcome: str) -> dict[int, dict[str, Any]]:
    """Every item decided, in id order; a refused item does not stop the others."""
    results: dict[int, dict[str, Any]] = {}
    for item in sorted(items, key=lambda i: i.id):
        try:
            body = await decide(item.id, None if item.version is None else [item.version])
        except DomainError as error:
            results[item.id] = _failed(item, error)
        else:
            results[item.id] = _applied(item, outcome, body)
    return results


async def bulk_review(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    body: BulkReviewRequest,
    scheme: str,
    dry_run: bool = False,
) -> dict[str, Any]:
    pid = parse_id(product_id, ProductNotFound)
    if not await repo.owns_product(conn, owner_business_id, pid):
        raise ProductNotFound()
    decide = _decider(conn, owner_business_id, pid, body, scheme)
    applied = False
    if dry_run:
        results = await rolled_back(conn, lambda: _run(decide, body.items, "would_apply"))
    elif body.mode == BulkMode.all_or_nothing:
        try:
            async with transaction(conn):
                results = await _run(decide, body.items, "applied")
                if any(r["outcome"] == "failed" for r in results.values()):
                    raise _Abort(results)
            applied = True
        except _Abort as abort:
            results = {
                k: {**r, "outcome": "would_apply"} if r["outcome"] != "failed" else r
                for k, r in abort.results.items()
            }
    else:
        results = await _run(decide, body.items, "applied")
        applied = any(r["outcome"] == "applied" for r in results.values())
    items = [results[item.id] for item in body.items]
    failed = sum(r["outcome"] == "failed" for r in items)
    return {
        "action": body.action,
        "mode": body.mode,
        "dry_run": dry_run,
        "applied": applied,
        "succeeded": len(items) - failed,
        "failed": failed,
        "items": items,
    }
