"""Business rules for businesses (created by operators through the CLI)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.repository import insert_business
from product_partners.businesses.schemas import BusinessCreate
from product_partners.kit.errors import Conflict


async def create_business(conn: AsyncConnection, data: BusinessCreate) -> dict[str, Any]:
    created = await insert_business(conn, data.model_dump())
    if created is None:
        raise Conflict(
            f"A business with unique id {data.unique_id!r} already exists.",
            error_code="business_exists",
        )
    return created
