"""Helpers for the partnership-lifecycle tests: parties, partnerships in a given state, URLs."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from product_partners.db.tables import businesses, product_partners, products
from product_partners.partnerships.repository import record_consent
from tests.support.api import Actor, Api

ALL_TYPES_OPEN = {
    "is_affiliate_enabled": True,
    "is_affiliate_pro_enabled": True,
    "is_product_sharing": True,
}


@dataclass
class Parties:
    owner: Actor
    partner: Actor
    product: dict[str, Any]

    @property
    def pid(self) -> int:
        return self.product["id"]

    def partner_url(self, partnership_id: int | str, action: str = "") -> str:
        suffix = f"/{action}" if action else ""
        return f"/v3/products/{self.pid}/partners/{partnership_id}{suffix}"

    @property
    def request_url(self) -> str:
        return f"/v3/products/{self.pid}/partnership-requests"


async def parties(api: Api, **product_fields: Any) -> Parties:
    owner = await api.actor()
    partner = await api.actor()
    product = await api.product(owner, **product_fields)
    return Parties(owner, partner, product)


async def put_partnership(
    api: Api,
    product_id: int,
    partner_business_id: int,
    status: str,
    partnership_type: str = "affiliate",
    consented: bool = True,
    **values: Any,
) -> int:
    """Insert a partnership straight into the database, in ``status``; ``consented``: the
    partner shares its contact data with the owner (as after asking to join)."""
    now = datetime.now(UTC)
    stamps = {
        "pending": {"requested_at": now},
        "approved": {"approved_at": now},
        "rejected": {"requested_at": now, "rejected_at": now},
        "banned": {"banned_at": now, "ban_reason": "spam"},
    }[status]
    unique_id = select(businesses.c.unique_id).where(businesses.c.id == partner_business_id)
    row = {
        "product_id": product_id,
        "partner_business_id": partner_business_id,
        "partner_unique_id": unique_id.scalar_subquery(),
        "partnership_type": partnership_type,
        "affiliate_status": status,
        "created_at": now,
        "updated_at": now,
        **stamps,
        **values,
    }
    async with api.engine.connect() as conn:
        result = await conn.execute(
            insert(product_partners).values(**row).returning(product_partners.c.id)
        )
        partnership_id = result.scalar_one()
        if consented:
            owner = select(products.c.business_id).where(products.c.id == product_id)
            await record_consent(
                conn, (await conn.execute(owner)).scalar_one(), partner_business_id, now
            )
        return partnership_id


async def db_state(api: Api, partnership_id: int) -> Any:
    """(affiliate_status, version) of a partnership, or None if it is gone."""
    async with api.engine.connect() as conn:
        return (
            await conn.execute(
                select(
                    product_partners.c.affiliate_status,
                    product_partners.c.version,
                    product_partners.c.rejected_at,
                ).where(product_partners.c.id == partnership_id)
            )
        ).first()


async def set_columns(api: Api, partnership_id: int, **values: Any) -> None:
    async with api.engine.connect() as conn:
        await conn.execute(
            update(product_partners).where(product_partners.c.id == partnership_id).values(**values)
        )


async def unclaim(api: Api, partnership_id: int) -> None:
    """Leave a partnership naming its partner by unique id alone, as an add that raced the
    creation of the business with that unique id leaves it (the claim ran first)."""
    async with api.engine.connect() as conn:
        await conn.execute(
            update(product_partners)
            .where(product_partners.c.id == partnership_id)
            .values(partner_business_id=None)
        )
