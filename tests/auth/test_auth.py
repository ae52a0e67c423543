"""API keys: 401 for missing, malformed, unknown or revoked keys; 403 without the scope."""

import pytest
from sqlalchemy import select

from product_partners.auth.keys import generate_key, hash_key, parse_prefix
from product_partners.auth.service import revoke_key
from product_partners.db.tables import api_keys
from tests.support.api import assert_error


def partners_url(product_id: int) -> str:
    return f"/v3/products/{product_id}/partners"


async def test_missing_authorization_is_401(api):
    response = await api.client.get(partners_url(1))
    assert_error(response, 401, "missing_api_key")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "ppk_abc", "Bearer  "],
)
async def test_malformed_authorization_is_401(api, header):
    response = await api.client.get(partners_url(1), headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.json()["error_code"] in {"malformed_authorization", "invalid_api_key"}


async def test_unknown_key_is_401(api):
    response = await api.client.get(
        partners_url(1), headers={"Authorization": f"Bearer {generate_key().key}"}
    )
    assert_error(response, 401, "invalid_api_key")


async def test_right_prefix_wrong_secret_is_401(api):
    owner = await api.actor()
    forged = owner.key[:-4] + ("AAAA" if not owner.key.endswith("AAAA") else "BBBB")
    response = await api.client.get(partners_url(1), headers={"Authorization": f"Bearer {forged}"})
    assert_error(response, 401, "invalid_api_key")


async def test_revoked_key_is_refused_at_once(api):
    owner = await api.actor()
    product = await api.product(owner)
    ok = await api.client.get(partners_url(product["id"]), headers=owner.headers)
    assert ok.status_code == 200

    async with api.engine.connect() as conn:
        revoked = await revoke_key(conn, owner.id, owner.key_id)
    assert revoked["revoked_at"] is not None

    response = await api.client.get(partners_url(product["id"]), headers=owner.headers)
    assert_error(response, 401, "revoked_api_key")


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/v3/products/{pid}/partners", "product:update"),
        ("GET", "/v3/products/{pid}/partners", "product:list"),
        ("GET", "/v3/products/{pid}", "product:read"),
        ("GET", "/v3/products", "product:list"),
        ("POST", "/v3/products", "product:create"),
    ],
)
async def test_key_without_the_scope_is_403_and_with_it_passes(api, method, path, scope):
    owner = await api.actor()
    partner = await api.actor()
    product = await api.product(owner)
    from product_partners.auth.scopes import ALL_SCOPES

    others = [s for s in ALL_SCOPES if s != scope]
    weak = await api.key_for(owner.unique_id, others)
    url = path.format(pid=product["id"])
    body = (
        {"partner_unique_id": partner.unique_id}
        if "partners" in path
        else {"name": "Scoped product", "item_type": "physical"}
    )
    kwargs = {"json": body} if method == "POST" else {}

    refused = await api.client.request(
        method, url, headers={"Authorization": f"Bearer {weak['key']}"}, **kwargs
    )
    body_403 = assert_error(refused, 403, "insufficient_scope")
    assert scope in body_403["message"]

    strong = await api.key_for(owner.unique_id, [scope])
    allowed = await api.client.request(
        method, url, headers={"Authorization": f"Bearer {strong['key']}"}, **kwargs
    )
    assert allowed.status_code == 200, allowed.text


async def test_keys_are_stored_hashed_with_a_visible_prefix(api):
    owner = await api.actor()
    async with api.engine.connect() as conn:
        row = (await conn.execute(select(api_keys).where(api_keys.c.id == owner.key_id))).one()
    assert row.key_hash == hash_key(owner.key)
    assert row.prefix == parse_prefix(owner.key)
    stored = " ".join(str(v) for v in row)
    assert owner.key not in stored
    assert owner.key.split("_", 2)[2] not in stored


async def test_last_used_at_is_recorded(api):
    owner = await api.actor()
    await api.client.get("/v3/products", headers=owner.headers)
    async with api.engine.connect() as conn:
        row = (await conn.execute(select(api_keys).where(api_keys.c.id == owner.key_id))).one()
    assert row.last_used_at is not None
