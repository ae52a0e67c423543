"""Helpers for the store, custom-domain, bundle and affiliate_pro tests."""

from typing import Any

import httpx

from product_partners.domains.service import set_verified
from tests.support import Actor, Api

ERROR_FIELDS = {"error", "error_code", "message", "errors"}


def assert_error(response: httpx.Response, status: int, error_code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_FIELDS, body
    assert isinstance(body["errors"], dict)
    if error_code:
        assert body["error_code"] == error_code, body
    return body


async def domain(api: Api, owner: Actor, full_url: str, verified: bool = False) -> dict[str, Any]:
    response = await api.client.post(
        "/v3/custom-domains", json={"full_url": full_url}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    if verified:
        async with api.engine.connect() as conn:
            body = await set_verified(conn, body["id"])
    return body


async def store(api: Api, owner: Actor, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Test store")
    response = await api.client.post("/v3/stores", json=body, headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def bundle(api: Api, owner: Actor, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Test bundle")
    body.setdefault("public_name", "Test bundle for customers")
    response = await api.client.post("/v3/bundles", json=body, headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


def host(label: str = "shop") -> str:
    """A host name no other test uses."""
    import uuid

    return f"{label}-{uuid.uuid4().hex[:10]}.example.com"
