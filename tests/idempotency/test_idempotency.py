"""Idempotency-Key on POST and PATCH: a request sent again with the same key is answered from
the first response and not carried out again, on SQLite and PostgreSQL (where adds take the
hot path), in one process and across two ``serve`` processes."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import Depends
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select, update

from product_partners.app import create_app
from product_partners.auth.dependencies import require
from product_partners.db.tables import idempotency_keys, product_partners, products
from product_partners.idempotency import service
from tests.support.api import assert_error, count_rows
from tests.support.ops import app_client
from tests.support.servers import serve

ATTEMPTS = 12


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def new_key() -> str:
    return str(uuid.uuid4())


async def count_partnerships(engine, product_id: int) -> int:
    return await count_rows(engine, product_partners.c.product_id, product_id)


async def count_products(engine, business_id: int) -> int:
    return await count_rows(engine, products.c.business_id, business_id)


async def stored_keys(engine, business_id: int) -> list:
    async with engine.connect() as conn:
        return list(
            await conn.execute(
                select(idempotency_keys).where(idempotency_keys.c.business_id == business_id)
            )
        )


async def test_a_retried_add_is_replayed_and_adds_once(api):
    owner, partner = await api.actor(), await api.actor()
    product = await api.product(owner)
    path = f"/v3/products/{product['id']}/partners"
    headers = keyed(owner.headers, new_key())
    body = {"partner_unique_id": partner.unique_id}

    first = await api.client.post(path, json=body, headers=headers)
    again = await api.client.post(path, json=body, headers=headers)

    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 200, again.text  # not 409 partner_already_exists: not run again
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert await count_partnerships(api.engine, product["id"]) == 1


async def test_the_same_key_for_another_request_is_422(api):
    owner, partner, other = await api.actor(), await api.actor(), await api.actor()
    product = await api.product(owner)
    second_product = await api.product(owner)
    key = new_key()
    path = f"/v3/products/{product['id']}/partners"
    first = await api.client.post(
        path, json={"partner_unique_id": partner.unique_id}, headers=keyed(owner.headers, key)
    )
    assert first.status_code == 200, first.text

    another_body = await api.client.post(
        path, json={"partner_unique_id": other.unique_id}, headers=keyed(owner.headers, key)
    )
    another_path = await api.client.post(
        f"/v3/products/{second_product['id']}/partners",
        json={"partner_unique_id": partner.unique_id},
        headers=keyed(owner.headers, key),
    )

    body = assert_error(another_body, 422, "idempotency_key_reused")
    assert body["errors"] == {"Idempotency-Key": ["was used for another request"]}
    assert_error(another_path, 422, "idempotency_key_reused")
    assert await count_partnerships(api.engine, product["id"]) == 1
    assert await count_partnerships(api.engine, second_product["id"]) == 0


async def test_a_key_belongs_to_one_business(api):
    """Business B sending the key string A used runs its own request and gets its own answer;
    C sending A's very request (key, path, body) gets C's answer, never A's stored one."""
    a, b, c, partner = await api.actor(), await api.actor(), await api.actor(), await api.actor()
    product_a, product_b = await api.product(a), await api.product(b)
    key = new_key()
    body = {"partner_unique_id": partner.unique_id}

    for_a = await api.client.post(
        f"/v3/products/{product_a['id']}/partners", json=body, headers=keyed(a.headers, key)
    )
    for_b = await api.client.post(
        f"/v3/products/{product_b['id']}/partners", json=body, headers=keyed(b.headers, key)
    )
    c_as_a = await api.client.post(
        f"/v3/products/{product_a['id']}/partners", json=body, headers=keyed(c.headers, key)
    )

    assert for_a.status_code == 200 and for_b.status_code == 200, (for_a.text, for_b.text)
    assert "idempotent-replayed" not in for_b.headers
    assert for_b.json()["id"] != for_a.json()["id"]
    assert_error(c_as_a, 404, "product_not_found")
    assert "idempotent-replayed" not in c_as_a.headers
    assert await count_partnerships(api.engine, product_a["id"]) == 1
    assert await count_partnerships(api.engine, product_b["id"]) == 1


async def test_simultaneous_identical_requests_run_once(api):
    owner, partner = await api.actor(), await api.actor()
    product = await api.product(owner)
    headers = keyed(owner.headers, new_key())

    responses = await asyncio.gather(
        *(
            api.client.post(
                f"/v3/products/{product['id']}/partners",
                json={"partner_unique_id": partner.unique_id},
                headers=headers,
            )
            for _ in range(ATTEMPTS)
        )
    )

    ran = [r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers]
    assert len(ran) == 1, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "idempotency_key_in_flight")
            assert response.headers["retry-after"] == "1"
        else:
            assert response.status_code == 200 and response.content == ran[0].content
    assert await count_partnerships(api.engine, product["id"]) == 1


async def test_a_patch_is_replayed_with_its_etag(api):
    owner, partner = await api.actor(), await api.actor()
    product = await api.product(owner)
    added = (await api.add_partner(owner, product["id"], partner.unique_id)).json()
    headers = keyed(owner.headers, new_key())
    path = f"/v3/products/{product['id']}/partners/{added['id']}"

    first = await api.client.patch(path, json={"partnership_type": "reseller"}, headers=headers)
    changed = await api.client.patch(
        path, json={"partnership_type": "affiliate"}, headers=owner.headers
    )
    again = await api.client.patch(path, json={"partnership_type": "reseller"}, headers=headers)

    assert first.status_code == 200 and changed.status_code == 200, (first.text, changed.text)
    assert again.status_code == 200 and again.content == first.content
    # The stored answer, not the partnership as it is now.
    assert again.json()["partnership_type"] == "reseller"
    assert again.headers["etag"] == first.headers["etag"] != changed.headers["etag"]


async def test_a_refusal_is_final_and_replayed(api):
    owner = await api.actor()
    headers = keyed(owner.headers, new_key())
    path = "/v3/products/999999999/partners"

    first = await api.client.post(path, json={"partner_unique_id": "x"}, headers=headers)
    again = await api.client.post(path, json={"partner_unique_id": "x"}, headers=headers)

    assert_error(first, 404)
    assert_error(again, 404)
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"


async def test_an_expired_key_runs_again_and_is_swept(api):
    owner = await api.actor()
    headers = keyed(owner.headers, new_key())
    first = await api.client.post(
        "/v3/products", json={"name": "Once", "item_type": "physical"}, headers=headers
    )
    replayed = await api.client.post(
        "/v3/products", json={"name": "Once", "item_type": "physical"}, headers=headers
    )
    assert replayed.json()["id"] == first.json()["id"]
    assert await count_products(api.engine, owner.id) == 1
    (row,) = await stored_keys(api.engine, owner.id)
    assert row.state == "completed"
    kept = row.expires_at.replace(tzinfo=row.expires_at.tzinfo or UTC) - row.created_at.replace(
        tzinfo=row.created_at.tzinfo or UTC
    )
    assert kept == timedelta(hours=24)

    async with api.engine.connect() as conn:
        await conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.business_id == owner.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    after_expiry = await api.client.post(
        "/v3/products", json={"name": "Once", "item_type": "physical"}, headers=headers
    )

    assert after_expiry.status_code == 200 and "idempotent-replayed" not in after_expiry.headers
    assert after_expiry.json()["id"] != first.json()["id"]
    assert await count_products(api.engine, owner.id) == 2

    async with api.engine.connect() as conn:
        await conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.business_id == owner.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert await service.sweep(conn, datetime.now(UTC)) >= 1
    assert await stored_keys(api.engine, owner.id) == []


@pytest.mark.parametrize(
    "key",
    [b"", b"x" * 256, "caf\u00e9".encode(), b"tab\tinside"],
    ids=["empty", "256", "non-ascii", "tab"],
)
async def test_a_malformed_key_is_400(api, key):
    owner = await api.actor()
    headers = {**owner.headers, "Idempotency-Key": key, "Content-Type": "application/json"}
    response = await api.client.post("/v3/products", content=b'{"name": "No"}', headers=headers)
    assert_error(response, 400, "invalid_idempotency_key")
    assert await count_products(api.engine, owner.id) == 0


async def test_the_longest_key_is_accepted(api):
    owner = await api.actor()
    headers = keyed(owner.headers, "~" * 255)
    first = await api.client.post(
        "/v3/products", json={"name": "Long", "item_type": "physical"}, headers=headers
    )
    again = await api.client.post(
        "/v3/products", json={"name": "Long", "item_type": "physical"}, headers=headers
    )
    assert first.status_code == 200 and again.content == first.content
    assert await count_products(api.engine, owner.id) == 1


async def test_nothing_is_claimed_without_a_live_key_holding_the_scope(api):
    owner = await api.actor(scopes=["product:list"])
    key = new_key()
    refused = await api.client.post(
        "/v3/products",
        json={"name": "No", "item_type": "physical"},
        headers=keyed(owner.headers, key),
    )
    wrong_key = await api.client.post(
        "/v3/products",
        json={"name": "No", "item_type": "physical"},
        headers={"Authorization": "Bearer ppk_000000000000_" + "x" * 40, "Idempotency-Key": key},
    )
    assert_error(refused, 403, "insufficient_scope")
    assert_error(wrong_key, 401)
    assert await stored_keys(api.engine, owner.id) == []


async def test_replays_and_refusals_count_against_the_rate_limit(api, engine):
    owner = await api.actor()
    headers = keyed(owner.headers, new_key())
    async with app_client(engine, rate_limit="3/day") as (client, _app):
        ran = await client.post(
            "/v3/products", json={"name": "Counted", "item_type": "physical"}, headers=headers
        )
        replayed = await client.post(
            "/v3/products", json={"name": "Counted", "item_type": "physical"}, headers=headers
        )
        reused = await client.post(
            "/v3/products", json={"name": "Other", "item_type": "physical"}, headers=headers
        )
        limited = await client.post(
            "/v3/products", json={"name": "Counted", "item_type": "physical"}, headers=headers
        )

    assert ran.status_code == 200 and ran.headers["x-ratelimit-remaining"] == "2"
    assert replayed.status_code == 200 and replayed.headers["x-ratelimit-remaining"] == "1"
    assert_error(reused, 422, "idempotency_key_reused")
    assert reused.headers["x-ratelimit-remaining"] == "0"
    assert_error(limited, 429, "rate_limited")
    assert await count_products(api.engine, owner.id) == 1


# --- responses that ask for a retry, and a request in flight: a route of the test's own ---


@pytest.fixture
async def flaky(settings, engine) -> AsyncIterator[tuple[httpx.AsyncClient, dict]]:
    """The app with one more POST route: it answers what ``plan["answers"]`` says next
    ("raise", a status, or "wait" for ``plan["go"]``), and counts its runs."""
    plan: dict = {"answers": [], "runs": 0, "go": asyncio.Event(), "entered": asyncio.Event()}
    app = create_app(settings, engine=engine)

    async def handler(_caller=Depends(require("product:update"))):
        plan["runs"] += 1
        answer = plan["answers"].pop(0) if plan["answers"] else 200
        if answer == "raise":
            raise RuntimeError("a bug")
        if answer == "wait":
            plan["entered"].set()
            await plan["go"].wait()
            answer = 200
        if answer == 204:
            return Response(status_code=204)
        return JSONResponse({"run": plan["runs"]}, status_code=answer)

    app.add_api_route("/v3/flaky", handler, methods=["POST"], operation_id="flaky")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, plan


@pytest.mark.parametrize("failure", ["raise", 503, 429])
async def test_a_response_that_asks_for_a_retry_frees_the_key(api, flaky, failure):
    client, plan = flaky
    owner = await api.actor()
    headers = keyed(owner.headers, new_key())
    plan["answers"] = [failure]

    failed = await client.post("/v3/flaky", json={}, headers=headers)
    retried = await client.post("/v3/flaky", json={}, headers=headers)
    replayed = await client.post("/v3/flaky", json={}, headers=headers)

    assert failed.status_code == (500 if failure == "raise" else failure)
    assert retried.status_code == 200 and retried.json() == {"run": 2}
    assert replayed.content == retried.content and replayed.headers["idempotent-replayed"] == "true"
    assert plan["runs"] == 2


async def test_an_empty_answer_is_replayed_empty(api, flaky):
    client, plan = flaky
    owner = await api.actor()
    headers = keyed(owner.headers, new_key())
    plan["answers"] = [204]

    first = await client.post("/v3/flaky", json={}, headers=headers)
    again = await client.post("/v3/flaky", json={}, headers=headers)

    assert first.status_code == again.status_code == 204
    assert again.content == b"" and again.headers["idempotent-replayed"] == "true"
    assert "content-length" not in again.headers or again.headers["content-length"] == "0"
    assert plan["runs"] == 1


async def test_a_key_in_flight_is_409_then_replayed(api, flaky):
    client, plan = flaky
    owner = await api.actor()
    headers = keyed(owner.headers, new_key())
    plan["answers"] = ["wait"]

    first = asyncio.create_task(client.post("/v3/flaky", json={}, headers=headers))
    await asyncio.wait_for(plan["entered"].wait(), 10)
    meanwhile = await client.post("/v3/flaky", json={}, headers=headers)
    plan["go"].set()
    done = await first
    afterwards = await client.post("/v3/flaky", json={}, headers=headers)

    assert_error(meanwhile, 409, "idempotency_key_in_flight")
    assert meanwhile.headers["retry-after"] == "1"
    assert done.status_code == 200 and afterwards.content == done.content
    assert plan["runs"] == 1


async def test_a_claim_left_by_a_dead_process_lapses(api, flaky):
    """A claim whose request never finished (its process died) is taken over after its
    lease; until then the key is in flight."""
    client, plan = flaky
    owner = await api.actor()
    key = new_key()
    fingerprint = service.fingerprint("POST", "/v3/flaky", b"", b"{}")
    now = datetime.now(UTC)
    async with api.engine.connect() as conn:
        held = await service.claim(conn, owner.id, key, fingerprint, now)
        assert isinstance(held, service.Claim)
    headers = keyed({**owner.headers, "Content-Type": "application/json"}, key)

    in_flight = await client.post("/v3/flaky", content=b"{}", headers=headers)
    async with api.engine.connect() as conn:
        await conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.business_id == owner.id)
            .values(expires_at=now - timedelta(seconds=1))
        )
    taken_over = await client.post("/v3/flaky", content=b"{}", headers=headers)

    assert_error(in_flight, 409, "idempotency_key_in_flight")
    assert taken_over.status_code == 200 and plan["runs"] == 1


# --- across processes ----------------------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.slow
async def test_a_retried_add_runs_once_across_two_serve_processes(api, database_url):
    owner = await api.actor()
    partners = [await api.actor() for _ in range(3)]
    product = await api.product(owner)
    path = f"/v3/products/{product['id']}/partners"

    with serve(database_url) as first, serve(database_url) as second:
        async with httpx.AsyncClient(timeout=30) as client:

            async def add(base: str, partner_unique_id: str, key: str) -> httpx.Response:
                return await client.post(
                    base + path,
                    json={"partner_unique_id": partner_unique_id},
                    headers=keyed(owner.headers, key),
                )

            keys = {p.unique_id: new_key() for p in partners}
            # Each partner added many times at once, with its own key, through both servers.
            responses = await asyncio.gather(
                *(
                    add(base, uid, keys[uid])
                    for uid in keys
                    for _ in range(ATTEMPTS // 2)
                    for base in (first, second)
                )
            )
            # Then retried once more on each server: the stored answer.
            retries = [await add(base, uid, keys[uid]) for uid in keys for base in (first, second)]

    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "idempotency_key_in_flight")
    ran = [r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers]
    assert len(ran) == len(partners)
    assert all(r.status_code == 200 and r.headers["idempotent-replayed"] for r in retries)
    by_partner = {r.json()["partner"]["unique_id"]: r.content for r in ran}
    assert {r.json()["partner"]["unique_id"]: r.content for r in retries} == by_partner
    assert await count_partnerships(api.engine, product["id"]) == len(partners)


async def test_every_post_and_patch_documents_the_header_and_its_errors(client):
    schema = (await client.get("/openapi.json")).json()
    writes = [
        operation
        for path_item in schema["paths"].values()
        for method, operation in path_item.items()
        if method in ("post", "patch")
    ]
    assert len(writes) >= 20
    for operation in writes:
        (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header" and not header["required"], operation["operationId"]
        assert header["schema"]["maxLength"] == 255
        responses = operation["responses"]
        assert "`idempotency_key_in_flight`" in responses["409"]["description"]
        assert "Retry-After" in responses["409"]["headers"]
        assert "`idempotency_key_reused`" in responses["422"]["description"]
        assert "`invalid_idempotency_key`" in responses["400"]["description"]
    reads = [op for item in schema["paths"].values() for m, op in item.items() if m == "get"]
    assert all(
        "Idempotency-Key" not in [p["name"] for p in op.get("parameters", [])] for op in reads
    )
