"""A business the operator banned (``is_banned``) may read what it has and change nothing:
every write of /v3 (POST, PATCH, PUT, DELETE), whatever its key's scopes, is 403
``business_banned``. The check is the key lookup's (``auth.dependencies.accept_key``), so the
routes and the hot path hold it alike; the test is generated over the route table, so a new
write route cannot miss it."""

from typing import Any

import pytest

from tests.support.api import Api, assert_error, unique
from tests.support.routes import (
    BOLA_TABLE,
    World,
    build_world,
    fill_path,
    snapshot_reads,
    v3_routes,
)

WRITES = [r for r in v3_routes() if r.method in ("POST", "PATCH", "PUT", "DELETE")]
READS = [r for r in v3_routes() if r.method == "GET"]
# Valid bodies for the creates that take no path id (any other route without one gets {}: the
# answer must be 403 all the same).
CREATE_BODIES: dict[str, dict[str, Any]] = {
    "createProduct": {"name": "While banned"},
    "createBusinessStore": {"name": "While banned"},
    "createBundle": {"name": "While banned", "public_name": "While banned"},
    "createCustomDomain": {"full_url": f"{unique('banned')}.example.org"},
}


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api.client, api.engine)


def _request(route: Any, world: World) -> tuple[Any, str, dict[str, Any]]:
    """Who, where and what: the object's own business, on its own object, with a valid body."""
    owner_name, body = BOLA_TABLE.get(route.operation_id, ("a", None))
    values = world.path_values(route.path)
    assert values is not None, f"nothing seeded for {route.label}"
    if body is None:
        body = CREATE_BODIES.get(route.operation_id, {})
    body = {k: (world.b.unique_id if v == "{b}" else v) for k, v in body.items()}
    kwargs: dict[str, Any] = {"json": body} if route.method != "DELETE" else {}
    return getattr(world, owner_name), fill_path(route, values), kwargs


def test_the_route_table_has_writes() -> None:
    assert {"createProductPartner", "acceptProductPartnership", "deleteBundlePartner"} <= {
        r.operation_id for r in WRITES
    }


async def test_a_banned_business_is_refused_every_write_and_keeps_reading(
    api: Api, world: World
) -> None:
    await api.ban(world.a.id)
    await api.ban(world.p.id)
    before = await snapshot_reads(api.client, world, READS)
    # Reads answer as they would for anyone (mostly 200): never the ban.
    assert not [k for k, (status, _) in before.items() if status == 403], before
    assert sum(status == 200 for status, _ in before.values()) >= len(before) - 1
    problems = []
    for route in WRITES:
        who, path, kwargs = _request(route, world)
        response = await api.client.request(route.method, path, headers=who.headers, **kwargs)
        if response.status_code != 403 or response.json()["error_code"] != "business_banned":
            problems.append(f"{route.label}: {response.status_code} {response.text[:200]}")
        else:
            assert_error(response, 403, "business_banned")
    assert not problems, "a banned business could write:\n" + "\n".join(problems)
    assert await snapshot_reads(api.client, world, READS) == before, (
        "a banned business changed something"
    )


async def test_the_ban_holds_at_once_and_lifting_it_restores_writes(api: Api) -> None:
    """Including the hot path's add on PostgreSQL (the key row carries the ban)."""
    owner, partner = await api.actor(), await api.actor()
    product = await api.product(owner)
    await api.ban(owner.id)
    refused = await api.add_partner(owner, product["id"], partner.unique_id)
    assert_error(refused, 403, "business_banned")
    listed = await api.client.get(f"/v3/products/{product['id']}/partners", headers=owner.headers)
    assert listed.status_code == 200 and listed.json()["data"] == []

    await api.ban(owner.id, banned=False)
    assert (await api.add_partner(owner, product["id"], partner.unique_id)).status_code == 200
