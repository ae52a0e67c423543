"""Helpers for the store, custom-domain, bundle and affiliate_pro tests."""

from dataclasses import dataclass
from typing import Any

from product_partners.domains.service import set_verified
from tests.support.api import Actor, Api


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


@dataclass
class Pro:
    owner: Actor
    partner: Actor
    product: dict[str, Any]
    partnership: dict[str, Any]
    store: dict[str, Any]
    domain: dict[str, Any]

    @property
    def path(self) -> str:
        return (
            f"/v3/products/{self.product['id']}/partners/{self.partnership['id']}"
            "/affiliate-pro-domains"
        )


async def pro_partnership(api, partnership_type: str = "affiliate_pro") -> Pro:
    owner, partner = await api.actor(), await api.actor()
    product = await api.product(
        owner,
        name="Beans",
        is_affiliate_enabled=True,
        is_affiliate_pro_enabled=True,
        is_affiliate_auto_accept=True,
    )
    partner_store = await store(api, partner, name="Partner store")
    partner_domain = await domain(api, partner, host("partner"), verified=True)
    body: dict[str, Any] = {"partnership_type": partnership_type}
    if partnership_type == "affiliate_pro":
        body["store_id"] = partner_store["id"]
    response = await api.client.post(
        f"/v3/products/{product['id']}/partnership-requests", json=body, headers=partner.headers
    )
    assert response.status_code in (200, 201), response.text  # requestProductPartnership
    assert response.json()["affiliate_status"] == "approved"
    return Pro(owner, partner, product, response.json(), partner_store, partner_domain)
