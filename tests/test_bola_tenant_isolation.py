"""Tenant isolation (OWASP API1, BOLA): another business gets 404 for everything that is not its.

Table-driven over the app's route table: every route with a path id must be listed in
``BOLA_TABLE`` (who owns the object, and a body valid enough to get past validation), or
``test_every_route_with_a_path_id_is_in_the_table`` fails and names it. Each entry is played by
an intruder holding every scope: it must get 404 (never 403, never 2xx), an error body that
names none of the owner's data, and the owner's objects must be unchanged afterwards.
"""

from typing import Any

import httpx
import pytest

from tests.support.api import Api
from tests.support.routes import (
    BOLA_TABLE,
    DOWNLOADS,
    SHARED_LISTS,
    Route,
    World,
    build_world,
    downloaded_ids,
    fill_path,
    snapshot_reads,
    v3_routes,
)

# Which seeded row an entry targets when not the first.
SEEDED_ROW = {"requestProductPartnership": 1}

ROUTES_WITH_IDS = [r for r in v3_routes() if r.path_params]
# Reads of the owner's objects, compared before and after the intruder's attempts.
OWNER_READS = [r for r in ROUTES_WITH_IDS if r.method == "GET"]
LISTS = [
    r
    for r in v3_routes()
    if r.method == "GET" and not r.path_params and r.operation_id not in SHARED_LISTS
]


def test_every_route_with_a_path_id_is_in_the_table() -> None:
    missing = sorted(r.label for r in ROUTES_WITH_IDS if r.operation_id not in BOLA_TABLE)
    assert not missing, f"add these routes to BOLA_TABLE: {missing}"


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api.client, api.engine)


async def _send(
    client: httpx.AsyncClient, route: Route, path: str, who: Any, body: Any
) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": who.headers}
    if body is not None:
        kwargs["json"] = body
    elif route.method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = {}
    return await client.request(route.method, path, **kwargs)


def _secrets_of(world: World, owner: Any) -> list[str]:
    """Strings that must never appear in an answer to the intruder."""
    return [owner.unique_id, owner.business["email"], world.p.unique_id]


async def test_another_business_gets_404_for_every_object_route(api: Api, world: World) -> None:
    before = await snapshot_reads(api.client, world, OWNER_READS)
    assert before, "the world seeded nothing to read"
    problems = []
    for route in ROUTES_WITH_IDS:
        owner_name, body = BOLA_TABLE[route.operation_id]
        owner = getattr(world, owner_name)
        values = world.path_values(route.path, SEEDED_ROW.get(route.operation_id, 0))
        assert values is not None, f"nothing seeded for {route.label}"
        if isinstance(body, dict):
            body = {k: (world.b.unique_id if v == "{b}" else v) for k, v in body.items()}
        path = fill_path(route, values)
        intruders = [world.b] if owner_name == "a" else [world.b, world.a]
        for intruder in intruders:
            response = await _send(api.client, route, path, intruder, body)
            if response.status_code != 404:
                problems.append(f"{route.label}: {response.status_code} {response.text[:200]}")
                continue
            payload = response.json()
            assert set(payload) == {"error", "error_code", "message", "errors"}
            for secret in _secrets_of(world, owner):
                if secret in response.text:
                    problems.append(f"{route.label} leaked {secret!r}")
    assert not problems, "another business was not refused with 404:\n" + "\n".join(problems)
    after = await snapshot_reads(api.client, world, OWNER_READS)
    assert after == before, "an intruder's request changed the owner's data"


def _audience(event: dict[str, Any]) -> tuple[Any, Any]:
    return event["owner_business_id"], event["partner_business_id"]


def _made_up(value: int | str) -> int | str:
    """An id of the same kind that names nothing (event ids are strings)."""
    return f"{value[:-4]}ZZZZ" if isinstance(value, str) else 9_000_000_000 + value


async def test_a_key_without_scopes_cannot_probe_for_existence(api: Api, world: World) -> None:
    """403 for a missing scope is the same answer for an existing and a made-up id."""
    no_scopes = await api.actor(scopes=[])
    for route in ROUTES_WITH_IDS:
        values = world.path_values(route.path)
        assert values is not None
        real = fill_path(route, values)
        made_up = fill_path(route, {k: _made_up(v) for k, v in values.items()})
        answers = []
        for path in (real, made_up):
            response = await _send(api.client, route, path, no_scopes, {})
            answers.append((response.status_code, response.json()["error_code"]))
        assert answers[0] == answers[1] == (403, "insufficient_scope"), (route.label, answers)


async def test_lists_never_return_another_business_rows(api: Api, world: World) -> None:
    # The intruder owns nothing and partners nothing: every list it can call is empty.
    assert LISTS
    for route in LISTS:
        for params in ({}, {"is_owned": "false"}, {"is_owned": "true"}):
            if params and not route.operation_id.endswith("Products"):
                continue
            response = await api.client.get(route.path, params=params, headers=world.b.headers)
            assert response.status_code == 200, (route.label, response.text)
            if route.operation_id in DOWNLOADS:
                assert downloaded_ids(response) == set(), f"{route.label} exported foreign rows"
                continue
            body = response.json()
            # A count operation answers a number: none of another business's rows count.
            if route.operation_id.startswith("count"):
                assert body["count"] == 0, f"{route.label} {params} counted foreign rows"
                continue
            rows = body["data"]
            if route.operation_id == "listEvents":
                # The intruder's own events (its key's creation) are its own to see.
                rows = [e for e in rows if world.b.id not in _audience(e)]
            assert rows == [], f"{route.label} {params} showed foreign rows"
    # The owner sees its own rows (so the emptiness above is not an empty database).
    response = await api.client.get("/v3/products", headers=world.a.headers)
    assert {p["id"] for p in response.json()["data"]} == set(world.ids["products"])


async def test_a_partner_sees_only_its_own_partnerships(api: Api, world: World) -> None:
    product_id = world.ids["products"][0]
    other_partner = await api.actor()
    added = await api.add_partner(world.a, product_id, other_partner.unique_id)
    assert added.status_code == 200, added.text
    other_id = added.json()["id"]
    mine = set(world.ids["partnerships"])

    # Partner-side list and read.
    if any(r.operation_id == "listMyPartnerships" for r in LISTS):
        response = await api.client.get("/v3/partnerships", headers=world.p.headers)
        assert response.status_code == 200, response.text
        assert {row["id"] for row in response.json()["data"]} == mine
        response = await api.client.get(f"/v3/partnerships/{other_id}", headers=world.p.headers)
        assert response.status_code == 404, response.text

    # Products shared with the partner carry only the partner's own partnership rows.
    response = await api.client.get(
        "/v3/products", params={"is_owned": "false"}, headers=world.p.headers
    )
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    assert {r["id"] for r in rows} == {product_id}
    seen = {pp["id"] for r in rows for pp in r["product_partners"]}
    assert seen == mine and other_id not in seen
    assert other_partner.unique_id not in response.text

    # A partner is not the owner: the owner-side routes of that product are 404 for it.
    for path in (f"/v3/products/{product_id}", f"/v3/products/{product_id}/partners"):
        response = await api.client.get(path, headers=world.p.headers)
        assert response.status_code == 404, (path, response.text)
