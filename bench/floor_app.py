"""The floor: the least a Python service can do for the benchmarked operations.

A bare Starlette app on an asyncpg pool: no auth, no validation layer, no ORM/Core, one
prepared statement per request, orjson out. It runs under the same uvicorn (uvloop + httptools)
and worker count as the service, on the same database, so ``service / floor`` shows what our
layers cost. Configured by environment: ``FLOOR_DSN`` (asyncpg DSN), ``FLOOR_POOL_SIZE``.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS

# The same single insert the service's add-partner ends with (partner looked up by unique id).
ADD = """
INSERT INTO product_partners (product_id, partner_business_id, partnership_type,
                              affiliate_status, approved_at, created_at, updated_at)
SELECT $1, b.id, 'affiliate', 'approved', now(), now(), now()
FROM businesses b WHERE b.unique_id = $2
ON CONFLICT (product_id, partner_business_id) DO NOTHING
RETURNING id, product_id, partner_business_id, partnership_type, affiliate_status,
          approved_at, created_at
"""

_SELECT = """
SELECT pp.id, pp.product_id, pp.partnership_type, pp.affiliate_status,
       pp.message_to_product_owner, pp.requested_at, pp.approved_at, pp.rejected_at,
       pp.created_at, pp.store_id,
       b.id AS partner_id, b.unique_id AS partner_unique_id, b.username AS partner_username,
       b.account_holder AS partner_account_holder, b.email AS partner_email,
       b.logo AS partner_logo, b.is_banned AS partner_is_banned
FROM product_partners pp JOIN businesses b ON b.id = pp.partner_business_id
"""
# The same 25-row keyset read (plus one to know whether a next page exists).
LIST = _SELECT + "WHERE pp.product_id = $1 ORDER BY pp.id DESC LIMIT 26"
LIST_AFTER = _SELECT + "WHERE pp.product_id = $1 AND pp.id < $2 ORDER BY pp.id DESC LIMIT 26"
GET = _SELECT + "WHERE pp.product_id = $1 AND pp.id = $2"


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data, option=JSON_OPTIONS), status, media_type="application/json")


async def add(request: Request) -> Response:
    body = orjson.loads(await request.body())
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(
            ADD, int(request.path_params["product_id"]), body["partner_unique_id"]
        )
    if row is None:
        return _json({"error": "Conflict"}, 409)
    return _json(dict(row))


async def list_partners(request: Request) -> Response:
    product_id = int(request.path_params["product_id"])
    after = request.query_params.get("after")
    async with request.app.state.pool.acquire() as conn:
        if after is None:
            rows = await conn.fetch(LIST, product_id)
        else:
            rows = await conn.fetch(LIST_AFTER, product_id, int(after))
    return _json({"data": [dict(r) for r in rows[:25]], "has_next": len(rows) > 25})


async def get_partner(request: Request) -> Response:
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(
            GET, int(request.path_params["product_id"]), int(request.path_params["id"])
        )
    if row is None:
        return _json({"error": "Not Found"}, 404)
    return _json(dict(row))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    size = int(os.environ.get("FLOOR_POOL_SIZE", "20"))
    # The same session settings as the service (see product_partners.db.create_engine).
    app.state.pool = await asyncpg.create_pool(
        os.environ["FLOOR_DSN"],
        min_size=size,
        max_size=size,
        server_settings={"application_name": "floor", "random_page_cost": "1.1"},
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/floor/products/{product_id}/partners", add, methods=["POST"]),
        Route("/floor/products/{product_id}/partners", list_partners, methods=["GET"]),
        Route("/floor/products/{product_id}/partners/{id}", get_partner, methods=["GET"]),
    ],
    lifespan=lifespan,
)
