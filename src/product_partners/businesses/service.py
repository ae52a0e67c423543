"""Business rules for businesses (created by operators through the CLI)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.errors import BusinessExists, BusinessNotFound
from product_partners.businesses.repository import get_business_by_unique_id, insert_business
from product_partners.businesses.schemas import BusinessCreate
from product_partners.db.connections import transaction
from product_partners.partnerships.repository import claim_named_partnerships


async def create_business(conn: AsyncConnection, data: BusinessCreate) -> dict[str, Any]:
    """Create a business; partnerships that named its unique id before it existed are its."""
    async with transaction(conn):
        created = await insert_business(conn, data.model_dump())
        if created is None:
            raise BusinessExists(data.unique_id)
        await claim_named_partnerships(conn, created["id"], data.unique_id)
    return created


async def business_named(conn: AsyncConnection, unique_id: str) -> dict[str, Any]:
    """The business (BusinessSimple) with this unique id; 404 ``business_not_found``."""
    business = await get_business_by_unique_id(conn, unique_id)
    if business is None:
        raise BusinessNotFound(unique_id)
    return business
