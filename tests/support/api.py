"""Helpers that build test data through the service's own functions and HTTP API."""

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.auth.scopes import ALL_SCOPES
from product_partners.auth.service import create_key
from product_partners.businesses.schemas import BusinessCreate
from product_partners.businesses.service import create_business
from product_partners.db.tables import businesses

ERROR_FIELDS = {"error", "error_code", "message", "errors"}


def assert_error(response: httpx.Response, status: int, error_code: str | None = None) -> dict:
    """``response`` is the contract's error: ``status``, JSON, exactly the ApiErrorResponse
    fields (strings, and ``errors`` a field map of messages), ``error_code`` if given, and
    a request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == ERROR_FIELDS, body
    for name in ("error", "error_code", "message"):
        assert isinstance(body[name], str) and body[name], body
    assert isinstance(body["errors"], dict), body
    for name, messages in body["errors"].items():
        assert isinstance(name, str) and isinstance(messages, list), body
        assert all(isinstance(m, str) and m for m in messages), body
    if error_code:
        assert body["error_code"] == error_code, body
    assert response.headers.get("x-request-id")
    return body


async def count_rows(engine: AsyncEngine, column: Any, value: Any) -> int:
    """The rows of ``column``'s table where ``column`` is ``value``."""
    async with engine.connect() as conn:
        stmt = select(func.count()).select_from(column.table).where(column == value)
        return (await conn.execute(stmt)).scalar_one()


def unique(prefix: str = "biz") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class Actor:
    """A business and one of its API keys."""

    business: dict[str, Any]
    key: str
    key_id: int
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def unique_id(self) -> str:
        return self.business["unique_id"]

    @property
    def id(self) -> int:
        return self.business["id"]


class Api:
    def __init__(self, client: httpx.AsyncClient, engine: AsyncEngine) -> None:
        self.client = client
        self.engine = engine

    async def business(self, **overrides: Any) -> dict[str, Any]:
        unique_id = overrides.pop("unique_id", unique())
        data = BusinessCreate(
            unique_id=unique_id,
            username=overrides.pop("username", unique_id[:64]),
            account_holder=overrides.pop("account_holder", f"Holder of {unique_id}"),
            email=overrides.pop("email", f"{unique_id}@example.com"),
            logo=overrides.pop("logo", None),
        )
        async with self.engine.connect() as conn:
            return await create_business(conn, data)

    async def key_for(
        self, unique_id: str, scopes: list[str] | tuple[str, ...] = ALL_SCOPES
    ) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            return await create_key(conn, unique_id, list(scopes), name="test")

    async def actor(
        self, scopes: list[str] | tuple[str, ...] = ALL_SCOPES, **business: Any
    ) -> Actor:
        biz = await self.business(**business)
        key = await self.key_for(biz["unique_id"], scopes)
        return Actor(biz, key["key"], key["id"], {"Authorization": f"Bearer {key['key']}"})

    async def ban(self, business_id: int, banned: bool = True) -> None:
        """The operator bans (or, ``banned=False``, unbans) a business from the platform."""
        async with self.engine.connect() as conn:
            await conn.execute(
                update(businesses).where(businesses.c.id == business_id).values(is_banned=banned)
            )

    async def product(self, owner: Actor, **fields: Any) -> dict[str, Any]:
        body = {"name": fields.pop("name", "Test product"), **fields}
        response = await self.client.post("/v3/products", json=body, headers=owner.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def add_partner(
        self, owner: Actor, product_id: int, partner_unique_id: str
    ) -> httpx.Response:
        return await self.client.post(
            f"/v3/products/{product_id}/partners",
            json={"partner_unique_id": partner_unique_id},
            headers=owner.headers,
        )
