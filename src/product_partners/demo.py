"""Demo data for a first run: an owner with a product open to affiliates, three businesses to
partner with, a fourth whose request to join waits for the owner's review, one API key to try
the API with, and a dashboard user of the owner to sign in with.

:func:`prepare` is idempotent: the first run on an empty database seeds the data, later runs
reuse it. Nothing new is created on a later run: the one demo key gets a new secret and the
demo user a new password (both are stored hashed, so the old ones cannot be shown again), and
the printed curl line adds a business that is not a partner yet, or lists the product's
partners once all of them are.
"""

import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.auth.scopes import ALL_SCOPES
from product_partners.auth.service import create_key, rotate_key
from product_partners.businesses.repository import get_business_by_unique_id
from product_partners.businesses.schemas import BusinessCreate
from product_partners.businesses.service import create_business
from product_partners.db.tables import api_keys, businesses, product_partners, products, users
from product_partners.partnerships.enums import PartnershipType
from product_partners.partnerships.schemas import PartnershipRequest
from product_partners.partnerships.service import request_partnership
from product_partners.products.schemas import CreateRequestProduct, ItemType
from product_partners.products.service import create_product
from product_partners.users.service import create_user, set_password

OWNER = "demo-owner"
# demo-partner is the one the printed curl adds; the README's flows use the other two.
PARTNER_CANDIDATES = ("demo-partner", "acme-store", "globex-shop")
DEMO_KEY_NAME = "demo"
# Asks to join the demo product on the first run: the request a newcomer approves in the
# dashboard (not one of PARTNER_CANDIDATES, whose flows the README runs).
APPLICANT = "bean-bloggers"
DEMO_USER = "owner@demo.example"


class NotADemoDatabase(Exception):
    """The database holds data, but not the demo's: the demo never writes into it."""


async def prepare(conn: AsyncConnection, base_url: str) -> dict[str, Any]:
    """Seed the demo data (empty database) or reuse it; a working key and curl line."""
    owner = await get_business_by_unique_id(conn, OWNER)
    seeded = False
    if owner is None:
        if not await _is_empty(conn):
            raise NotADemoDatabase(
                "this database already holds data, but no demo data (no business "
                f"{OWNER!r}); the demo only seeds an empty database: point DATABASE_URL at a "
                "new file to try it, or run `product-partners serve` to serve this one"
            )
        owner = await _seed(conn)
        seeded = True
    product_id = (
        await conn.execute(
            select(func.min(products.c.id)).where(products.c.business_id == owner["id"])
        )
    ).scalar_one()
    key = await _demo_key(conn, owner["id"])
    password = await _demo_password(conn)
    target = await _not_yet_partner(conn, product_id)
    auth = f"-H 'Authorization: Bearer {key}'"
    if target is not None:
        curl = (
            f"curl -X POST {base_url}/v3/products/{product_id}/partners {auth} "
            f"-H 'Content-Type: application/json' -d '{{\"partner_unique_id\": \"{target}\"}}'"
        )
    else:
        curl = f"curl {base_url}/v3/products/{product_id}/partners {auth}"
    return {
        "seeded": seeded,
        "business": OWNER,
        "product_id": product_id,
        "key": key,
        "curl": curl,
        "dashboard": {
            "url": f"{base_url}/dashboard/login",
            "email": DEMO_USER,
            "password": password,
        },
    }


def welcome(result: dict[str, Any]) -> str:
    """What ``make run`` shows a newcomer once the demo is ready."""
    return (
        f"\nDemo data {'created' if result['seeded'] else 'reused'} in {result['database']}.\n"
        f"Once the server is up, try:\n\n  {result['curl']}\n\n"
        f"or sign in to the dashboard at {result['dashboard']['url']}\n"
        f"  email:    {result['dashboard']['email']}\n"
        f"  password: {result['dashboard']['password']}\n"
        "(a request to join waits for your review under My products).\n\n"
        'The CLI is in .venv/bin: export PATH="$PWD/.venv/bin:$PATH" to call it as '
        "product-partners.\n\n"
    )


async def _is_empty(conn: AsyncConnection) -> bool:
    return (await conn.execute(select(func.count()).select_from(businesses))).scalar_one() == 0


async def _seed(conn: AsyncConnection) -> dict[str, Any]:
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
    product = await create_product(
        conn,
        owner["id"],
        CreateRequestProduct(
            name="Single-origin coffee beans",
            item_type=ItemType.physical,
            slug="coffee-beans",
            is_affiliate_enabled=True,
            affiliate_commission_rate=Decimal("10"),
        ),
    )
    applicant = await create_business(
        conn,
        BusinessCreate(
            unique_id=APPLICANT,
            username="beanbloggers",
            account_holder="Bean Bloggers",
            email=f"hello@{APPLICANT}.example",
        ),
    )
    ask = PartnershipRequest(
        partnership_type=PartnershipType.affiliate,
        message_to_product_owner="We review coffee gear weekly; we'd love to feature your beans.",
    )
    await request_partnership(conn, applicant["id"], product["id"], ask, "https")
    return owner


async def _demo_key(conn: AsyncConnection, owner_id: int) -> str:
    """The demo key's secret: the one demo key, created once and given a new secret on every
    later run (a secret is shown once: only its hash is stored)."""
    key_id = (
        await conn.execute(
            select(func.min(api_keys.c.id)).where(
                api_keys.c.business_id == owner_id, api_keys.c.name == DEMO_KEY_NAME
            )
        )
    ).scalar_one()
    if key_id is None:
        return (await create_key(conn, OWNER, list(ALL_SCOPES), name=DEMO_KEY_NAME))["key"]
    return await rotate_key(conn, owner_id, key_id)


async def _demo_password(conn: AsyncConnection) -> str:
    """The demo user's password: a new one on every run (only its hash is stored), the user
    created on the first."""
    password = secrets.token_urlsafe(12)
    exists = (await conn.execute(select(users.c.id).where(users.c.email == DEMO_USER))).first()
    if exists is None:
        await create_user(conn, OWNER, DEMO_USER, password)
    else:
        await set_password(conn, DEMO_USER, password)
    return password


async def _not_yet_partner(conn: AsyncConnection, product_id: int) -> str | None:
    taken = set(
        (
            await conn.execute(
                select(businesses.c.unique_id)
                .join(product_partners, product_partners.c.partner_business_id == businesses.c.id)
                .where(product_partners.c.product_id == product_id)
            )
        ).scalars()
    )
    return next((u for u in PARTNER_CANDIDATES if u not in taken), None)
