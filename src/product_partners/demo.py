"""Demo data for a first run: two businesses, a product, and a key to try the API with."""

import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.auth.scopes import ALL_SCOPES
from product_partners.auth.service import create_key
from product_partners.businesses.repository import get_business_by_unique_id
from product_partners.businesses.schemas import BusinessCreate
from product_partners.businesses.service import create_business
from product_partners.products.schemas import CreateRequestProduct
from product_partners.products.service import create_product
from product_partners.tables import businesses, product_partners, products

OWNER = "demo-owner"
PARTNER_CANDIDATES = ("demo-partner", "acme-store", "globex-shop")


async def is_empty(conn: AsyncConnection) -> bool:
    return (await conn.execute(select(func.count()).select_from(businesses))).scalar_one() == 0


async def seed(conn: AsyncConnection) -> None:
    owner = await create_business(
        conn,
        BusinessCreate(
            unique_id=OWNER,
            username="demo",
            account_holder="Demo Coffee Roasters",
            email="owner@demo.example",
        ),
    )
    for unique_id in PARTNER_CANDIDATES:
        await create_business(
            conn,
            BusinessCreate(
                unique_id=unique_id,
                username=unique_id.replace("-", ""),
                account_holder=unique_id.replace("-", " ").title(),
                email=f"hello@{unique_id}.example",
            ),
        )
    await create_product(
        conn,
        owner["id"],
        CreateRequestProduct(
            name="Single-origin coffee beans",
            slug="coffee-beans",
            is_affiliate_enabled=True,
            affiliate_commission_rate=Decimal("10"),
        ),
    )


async def demo_key_and_target(conn: AsyncConnection, base_url: str) -> dict[str, Any]:
    """A fresh demo key for the owner and a curl line that adds a not-yet partner."""
    owner = await get_business_by_unique_id(conn, OWNER)
    if owner is None:
        raise RuntimeError("no demo data: the database was not empty when first seeded")
    product_id = (
        await conn.execute(
            select(products.c.id)
            .where(products.c.business_id == owner["id"])
            .order_by(products.c.id)
        )
    ).scalar()
    taken = set(
        (
            await conn.execute(
                select(businesses.c.unique_id)
                .join(product_partners, product_partners.c.partner_business_id == businesses.c.id)
                .where(product_partners.c.product_id == product_id)
            )
        ).scalars()
    )
    target = next((u for u in PARTNER_CANDIDATES if u not in taken), None)
    if target is None:
        target = f"demo-partner-{secrets.token_hex(3)}"
        await create_business(
            conn,
            BusinessCreate(
                unique_id=target,
                username=target.replace("-", "")[:64],
                account_holder="Another Demo Partner",
                email=f"hello@{target}.example",
            ),
        )
    key = await create_key(conn, OWNER, list(ALL_SCOPES), name="demo")
    curl = (
        f"curl -X POST {base_url}/v3/products/{product_id}/partners "
        f"-H 'Authorization: Bearer {key['key']}' -H 'Content-Type: application/json' "
        f'-d \'{{"partner_unique_id": "{target}"}}\''
    )
    return {"business": OWNER, "product_id": product_id, "key": key["key"], "curl": curl}
