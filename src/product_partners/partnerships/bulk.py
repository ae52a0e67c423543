"""bulkReviewProductPartners: one owner decision on up to 100 partnerships of one product.

Each item is decided by the single-decision function of ``service`` (the same guard, the same
errors), so the rules are written once and a bulk item and a single decision race like two
single decisions: one conditional write wins. ``all_or_nothing`` runs every item in one
transaction (items in id order, so that two bulks lock rows in the same order) and rolls it
back if any fails; ``best_effort`` saves each item on its own. A dry run does either in a
transaction that is always rolled back (``db.connections.rolled_back``).

Commissions: ``set_commission`` sets (or, with null, clears) the rate of each item, as
``updateProductPartner`` with ``commission_rate`` does. ``lock_commission`` gives every
approved partnership that follows the product's rate (no override of its own) that rate as
its override, so that a programme-wide change later leaves them where they are: the listed
``items`` (the 100-item limit), or, without items, every approved partnership of the product.
It is ONE statement (``repository.lock_commissions``) under the product row's lock, so it is
all or nothing whatever the mode, a concurrent settings change waits for it, and concurrent
locks lock each partnership once.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import rolled_back, transaction
from product_partners.kit.errors import DomainError
from product_partners.kit.ids import parse_id
from product_partners.partnerships import repository as repo
from product_partners.partnerships import service, views
from product_partners.partnerships import transitions as tt
from product_partners.partnerships.enums import PartnershipType
from product_partners.partnerships.errors import PartnerNotFound
from product_partners.partnerships.schemas import (
    BulkAction,
    BulkItem,
    BulkMode,
    BulkReviewRequest,
    ProductPartnerUpdate,
)
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
            case BulkAction.set_commission:
                patch = ProductPartnerUpdate(commission_rate=body.commission_rate)
                return await service.update_partner(conn, owner, pid, ppid, patch, scheme, versions)
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
        "commission_rate": body["commission_rate"] if body else None,
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
        "commission_rate": None,
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
    if body.action == BulkAction.lock_commission:
        return await _lock(conn, owner_business_id, pid, body, scheme, dry_run)
    items = body.items or []
    decide = _decider(conn, owner_business_id, pid, body, scheme)
    applied = False
    if dry_run:
        results = await rolled_back(conn, lambda: _run(decide, items, "would_apply"))
    elif body.mode == BulkMode.all_or_nothing:
        try:
            async with transaction(conn):
                results = await _run(decide, items, "applied")
                if any(r["outcome"] == "failed" for r in results.values()):
                    raise _Abort(results)
            applied = True
        except _Abort as abort:
            results = {
                k: {**r, "outcome": "would_apply"} if r["outcome"] != "failed" else r
                for k, r in abort.results.items()
            }
    else:
        results = await _run(decide, items, "applied")
        applied = any(r["outcome"] == "applied" for r in results.values())
    return _answer(body, dry_run, applied, [results[item.id] for item in items])


def _answer(
    body: BulkReviewRequest, dry_run: bool, applied: bool, items: list[dict[str, Any]]
) -> dict[str, Any]:
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


_COMMISSION_TYPES = (PartnershipType.affiliate, PartnershipType.affiliate_pro)


def _why_unchanged(row: Any, rates: dict[str, Any]) -> str:
    """Why lock_commission left a listed partnership as it was."""
    if row.affiliate_status != tt.APPROVED:
        return f"not approved (status: {row.affiliate_status})"
    if row.partnership_type not in _COMMISSION_TYPES:
        return "a reseller earns no commission"
    if row.commission_rate is not None:
        return "already has its own commission_rate"
    return f"the product has no {row.partnership_type} commission rate"


async def _lock(
    conn: AsyncConnection,
    owner_business_id: int,
    pid: int,
    body: BulkReviewRequest,
    scheme: str,
    dry_run: bool,
) -> dict[str, Any]:
    ids = None if body.items is None else [item.id for item in body.items]

    async def work() -> list[dict[str, Any]]:
        async with transaction(conn):
            product = await repo.lock_product_rates(conn, owner_business_id, pid)
            if product is None:
                raise ProductNotFound()
            rates = {
                PartnershipType.affiliate.value: product.affiliate_commission_rate,
                PartnershipType.affiliate_pro.value: product.affiliate_pro_commission_rate,
            }
            locked = await repo.lock_commissions(conn, pid, rates, ids, datetime.now(UTC))
            outcome = "would_apply" if dry_run else "applied"
            results: dict[int, dict[str, Any]] = {}
            rows = await repo.fetch_partnerships(conn, pid, sorted(r.id for r in locked))
            for row, partnership in zip(
                rows, await views.product_partners(conn, rows, scheme), strict=True
            ):
                await service.record_commission_change(conn, row, partnership, None)
                results[row.id] = _applied(BulkItem(id=row.id), outcome, partnership)
            if ids is None:
                return [results[i] for i in sorted(results)]
            others = [i for i in ids if i not in results]
            found = {r.id: r for r in await repo.fetch_partnerships(conn, pid, others)}
            for i in others:
                row = found.get(i)
                if row is None:
                    results[i] = _failed(BulkItem(id=i), PartnerNotFound())
                else:
                    results[i] = {
                        **_applied(BulkItem(id=i), "unchanged", None),
                        "affiliate_status": row.affiliate_status,
                        "version": row.version,
                        "commission_rate": row.commission_rate,
                        "status": 200,
                        "message": _why_unchanged(row, rates),
                    }
            return [results[i] for i in ids]

    items = await (rolled_back(conn, work) if dry_run else work())
    applied = not dry_run and any(r["outcome"] == "applied" for r in items)
    return _answer(body, dry_run, applied, items)
