"""Decisions on partner requests: the facts the rules look at, the trace each request stores,
the owner's view of it (getProductPartnerDecision) and the dry run of rules over the pending
queue (previewProductPartnershipRules).

``request_partnership`` (service.py) calls :func:`decide` and :func:`save` inside the
request's transaction: the facts are read there, so the decision, its trace and the request
are saved together or not at all. The rules themselves are ``rules.py`` (pure).
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.tables import (
    businesses,
    custom_domains,
    partnership_decisions,
    product_partners,
    products,
    stores,
)
from product_partners.kit.ids import parse_id
from product_partners.partnerships import rules as rule_set
from product_partners.partnerships import transitions as tt
from product_partners.partnerships.errors import PartnerNotFound, RuleQuestionUnknown
from product_partners.partnerships.rules import AUTO_ACCEPT_RULE, Fact, Outcome
from product_partners.products.errors import ProductNotFound

PREVIEW_LIMIT = 100
_WITH_PRODUCT = product_partners.join(products, products.c.id == product_partners.c.product_id)
PREVIEW_MAX = 500


def _facts_statement(owner_business_id: int, partner_ids: Sequence[int]) -> Any:
    """Per partner business, in one round trip: its creation time, its verified custom
    domains, its active stores and how many OTHER owners ban it (any of their products)."""
    partner = businesses.c.id
    verified = (
        select(func.count())
        .where(custom_domains.c.business_id == partner, custom_domains.c.is_verified.is_(True))
        .scalar_subquery()
    )
    active = (
        select(func.count())
        .where(stores.c.business_id == partner, stores.c.is_active.is_(True))
        .scalar_subquery()
    )
    banned_by = (
        select(func.count(func.distinct(products.c.business_id)))
        .select_from(_WITH_PRODUCT)
        .where(
            product_partners.c.partner_business_id == partner,
            product_partners.c.affiliate_status == tt.BANNED,
            products.c.business_id != owner_business_id,
        )
        .scalar_subquery()
    )
    return select(
        partner.label("id"),
        businesses.c.created_at,
        verified.label("verified_domains"),
        active.label("active_stores"),
        banned_by.label("banned_by_other_owners"),
    ).where(partner.in_(list(partner_ids)))


async def read_facts(
    conn: AsyncConnection, owner_business_id: int, partner_ids: Iterable[int], now: datetime
) -> dict[int, dict[str, Any]]:
    """The facts about each partner business the rules may look at (answers and type aside)."""
    ids = sorted(set(partner_ids))
    if not ids:
        return {}
    rows = (await conn.execute(_facts_statement(owner_business_id, ids))).all()
    return {
        row.id: {
            Fact.verified_domains.value: row.verified_domains,
            Fact.active_stores.value: row.active_stores,
            Fact.business_age_days.value: _age_days(row.created_at, now),
            Fact.banned_by_other_owners.value: row.banned_by_other_owners,
        }
        for row in rows
    }


def _age_days(created_at: datetime | None, now: datetime) -> int | None:
    if created_at is None:
        return None
    if created_at.tzinfo is None:  # SQLite: naive, UTC by construction
        created_at = created_at.replace(tzinfo=UTC)
    return max(0, (now - created_at).days)


def _unknown_facts() -> dict[str, Any]:
    """A partnership naming no business yet: nothing is known of it."""
    return {fact.value: None for fact in rule_set.COUNT_FACTS}


def facts_of(known: Mapping[str, Any], partnership_type: str, answers: Mapping[str, str]) -> dict:
    return {
        Fact.partnership_type.value: partnership_type,
        **known,
        "answers": dict(answers),
    }


async def decide(
    conn: AsyncConnection,
    target: Any,
    partner_business_id: int,
    partnership_type: str,
    answers: Mapping[str, str],
    now: datetime,
) -> dict[str, Any]:
    """The decision on a request (in the caller's transaction): the product's rules (and
    ``is_affiliate_auto_accept``) over the facts read now."""
    known = await read_facts(conn, target.owner_business_id, [partner_business_id], now)
    facts = facts_of(known.get(partner_business_id, _unknown_facts()), partnership_type, answers)
    return rule_set.evaluate(
        target.partnership_rules or [], facts, bool(target.is_affiliate_auto_accept)
    )


def outcome_values(decision: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The columns the decision sets on a new request (from ``pending``, by the transition
    table's ``system`` moves)."""
    outcome = decision["outcome"]
    if outcome == Outcome.approve:
        status = tt.check(tt.SYSTEM, tt.PENDING, "auto_approve").target
        return {"affiliate_status": status, "approved_at": now}
    if outcome == Outcome.reject:
        status = tt.check(tt.SYSTEM, tt.PENDING, "auto_reject").target
        return {
            "affiliate_status": status,
            "rejected_at": now,
            "rejection_reason": decision["reason"],
        }
    return {}


def trace_note(decision: Mapping[str, Any]) -> str:
    """The event note of a decision by the service: which rule, and where its trace is."""
    matched = decision["matched_rule"]
    rule = (
        AUTO_ACCEPT_RULE
        if matched == AUTO_ACCEPT_RULE
        else f"rule {matched} ({decision['rules'][matched]['name']})"
    )
    return f"decided by {rule}; trace: getProductPartnerDecision"


async def save(
    conn: AsyncConnection,
    partnership_id: int,
    decision: Mapping[str, Any],
    answers: Mapping[str, str],
    now: datetime,
    replace: bool,
) -> None:
    """Store the request's answers and decision (``replace``: a request again, after a
    rejection, replaces the earlier request's)."""
    table = partnership_decisions
    if replace:
        await conn.execute(delete(table).where(table.c.partnership_id == partnership_id))
    await conn.execute(
        insert(table).values(
            partnership_id=partnership_id,
            outcome=decision["outcome"],
            answers=dict(answers),
            trace=dict(decision),
            decided_at=now,
        )
    )


async def get_decision(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
) -> dict[str, Any]:
    """getProductPartnerDecision: the answers a request carried and the decision's trace;
    the product's owner only (404 to anyone else, as for the partnership itself)."""
    pid = parse_id(product_id, ProductNotFound)
    ppid = parse_id(partnership_id, PartnerNotFound)
    stmt = (
        select(
            product_partners.c.id,
            product_partners.c.affiliate_status,
            partnership_decisions.c.partnership_id.label("decided"),
            partnership_decisions.c.answers,
            partnership_decisions.c.trace,
            partnership_decisions.c.decided_at,
        )
        .select_from(
            _WITH_PRODUCT.outerjoin(
                partnership_decisions,
                partnership_decisions.c.partnership_id == product_partners.c.id,
            )
        )
        .where(
            product_partners.c.id == ppid,
            product_partners.c.product_id == pid,
            products.c.business_id == owner_business_id,
        )
    )
    row = (await conn.execute(stmt)).first()
    if row is None:
        raise PartnerNotFound()
    body = {"partnership_id": row.id, "product_id": pid, "affiliate_status": row.affiliate_status}
    if row.decided is None:
        # Added by the owner: no request, nothing decided.
        return {**body, **NO_DECISION}
    decided_at = row.decided_at
    if decided_at.tzinfo is None:
        decided_at = decided_at.replace(tzinfo=UTC)
    return {**body, "decided_at": decided_at, "answers": row.answers, **row.trace}


async def decisions_of(conn: AsyncConnection, partnership_ids: Sequence[int]) -> dict[int, Any]:
    """The stored decision (``outcome``, ``answers``, ``trace``) of each of these partnerships
    that has one (the caller has already scoped the ids to one owner)."""
    table = partnership_decisions
    stmt = select(table.c.partnership_id, table.c.outcome, table.c.answers, table.c.trace).where(
        table.c.partnership_id.in_(list(partnership_ids))
    )
    return {row.partnership_id: row for row in await conn.execute(stmt)}


NO_DECISION: dict[str, Any] = {
    "decided_at": None,
    "answers": {},
    "outcome": None,
    "reason": None,
    "matched_rule": None,
    "facts": {},
    "rules": [],
}


# --- the dry run over the pending queue ---------------------------------------------------------


async def preview_rules(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    proposed: Sequence[Mapping[str, Any]] | None,
    limit: int = PREVIEW_LIMIT,
    after_id: int | None = None,
) -> dict[str, Any]:
    """previewProductPartnershipRules: what ``proposed`` (or the saved rules) would decide on
    each pending request of the product, were it requested now; nothing is saved."""
    pid = parse_id(product_id, ProductNotFound)
    stmt = select(products).where(products.c.id == pid)
    row = (await conn.execute(stmt)).first()
    if row is None or row.business_id != owner_business_id:
        raise ProductNotFound()
    rules = row.partnership_rules if proposed is None else proposed
    unknown = rule_set.unknown_questions(rules, row.application_questions)
    if unknown:
        raise RuleQuestionUnknown(unknown)
    preview = await preview_queue(
        conn, row, rules, bool(row.is_affiliate_auto_accept), limit, after_id
    )
    return {"product_id": pid, "rules": "proposed" if proposed is not None else "saved", **preview}


async def preview_queue(
    conn: AsyncConnection,
    product: Any,
    rules: Sequence[Mapping[str, Any]],
    auto_accept: bool,
    limit: int = PREVIEW_LIMIT,
    after_id: int | None = None,
) -> dict[str, Any]:
    """The oldest ``limit`` pending requests of ``product`` after ``after_id``, each with the
    decision ``rules`` would make on it now (facts read now, the answers its request
    carried); reads only."""
    pp, decided = product_partners, partnership_decisions
    stmt = (
        select(
            pp.c.id,
            pp.c.partner_business_id,
            pp.c.partner_unique_id,
            pp.c.partnership_type,
            decided.c.answers,
        )
        .select_from(pp.outerjoin(decided, decided.c.partnership_id == pp.c.id))
        .where(pp.c.product_id == product.id, pp.c.affiliate_status == tt.PENDING)
        .order_by(pp.c.id)
        .limit(limit + 1)
    )
    if after_id is not None:
        stmt = stmt.where(pp.c.id > after_id)
    rows = (await conn.execute(stmt)).all()
    page, has_more = rows[:limit], len(rows) > limit
    now = datetime.now(UTC)
    partner_ids = (r.partner_business_id for r in page if r.partner_business_id)
    known = await read_facts(conn, product.business_id, partner_ids, now)
    summary = {outcome.value: 0 for outcome in Outcome}
    data = []
    for r in page:
        facts = facts_of(
            known.get(r.partner_business_id, _unknown_facts()),
            r.partnership_type,
            r.answers or {},
        )
        decision = rule_set.evaluate(rules, facts, auto_accept)
        summary[decision["outcome"]] += 1
        data.append(
            {
                "partnership_id": r.id,
                "partner_unique_id": r.partner_unique_id,
                "partnership_type": r.partnership_type,
                **decision,
            }
        )
    return {
        "data": data,
        "summary": summary,
        "has_more": has_more,
        "next_after_id": page[-1].id if has_more else None,
    }
