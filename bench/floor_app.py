"""The floor: the least a Python service can do for the benchmarked operations.

A bare Starlette app on an asyncpg pool with asyncpg's defaults: no auth, no validation layer,
no ORM/Core per request, one prepared statement per request (the very SQL the service's hot
path runs, minus the API key it reads with the data), orjson out. It runs under stock uvicorn
(uvloop + httptools) with the service's worker count, on the same database, so
``service / floor`` shows what our layers cost. Configured by environment: ``FLOOR_DSN``
(asyncpg DSN), ``FLOOR_POOL_SIZE``, ``FLOOR_TUNED=1`` (the service's connection handling instead
of asyncpg's defaults: the "tuned floor", which bench/run.py also serves on the service's event
loop, and which shows what our layers cost above the driver and the server).
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from product_partners.db.engine import text_timestamps
from product_partners.db.prepared import compile_for_asyncpg
from product_partners.events.enums import ActorType, EventType
from product_partners.events.service import Actor, event_values
from product_partners.partnerships.hotpath import (
    add_and_read,
    add_with_event,
    owned_rows,
    pp,
    rendered_rows,
    would_add,
)

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS
# The bench owner (bench/seed.py): the service learns it from the API key; the floor has none.
OWNER = 1
ACTOR = Actor(ActorType.api_key, business_id=OWNER, api_key_id=1)


def _sql(statement: Any) -> tuple[str, tuple[str, ...]]:
    compiled = compile_for_asyncpg(statement, postgresql.asyncpg.dialect())
    assert compiled is not None, "the hot path's statements run on asyncpg as they are"
    return compiled


# The service's own statements (partnerships/hotpath.py): its add as it is, and the reads
# without the API key the service reads with them: the partnerships with their partner,
# product and store, the owner's domains and the approved affiliate_pro domains as JSON.
# Compiled once at import, as the service does.
_PAGE = owned_rows(bindparam("owner")).order_by(pp.c.id.desc()).limit(bindparam("page_limit"))
GET = _sql(owned_rows(bindparam("owner")).where(pp.c.id == bindparam("partnership_id")))
ADD = _sql(add_and_read())
# The add with its event, as the service's hot path runs it: its dry run
# (rendered), then the add with the event as one statement.
WOULD_ADD = _sql(rendered_rows(would_add(bindparam("owner")), bindparam("owner")))
ADD_WITH_EVENT = _sql(add_with_event())
LIST = _sql(_PAGE)
LIST_AFTER = _sql(_PAGE.where(pp.c.id < bindparam("after")))
JSON_COLUMNS = ("owner_domains_json", "pro_domains_json")


def _run_args(statement: tuple[str, tuple[str, ...]], **params: Any) -> list[Any]:
    params.setdefault("page_limit", 26)  # 25 rows, plus one to know whether a next page exists
    return [params[name] for name in statement[1]]


def _row(record: Any) -> dict[str, Any]:
    row = dict(record)
    for name in JSON_COLUMNS:  # already JSON text: embedded as it is
        if row[name] is not None:
            row[name] = orjson.Fragment(row[name])
    return row


def _decimal(value: Any) -> str:
    """Commission rates (numeric columns) as text, as the service sends them."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def _json(data: Any, status: int = 200) -> Response:
    body = orjson.dumps(data, default=_decimal, option=JSON_OPTIONS)
    return Response(body, status, media_type="application/json")


async def add(request: Request) -> Response:
    body = orjson.loads(await request.body())
    product_id = int(request.path_params["product_id"])
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(
            ADD[0],
            *_run_args(
                ADD,
                product_id=product_id,
                owner=OWNER,
                partner_unique_id=body["partner_unique_id"],
                now=datetime.now(UTC),
            ),
        )
    if row is None:
        return _json({"error": "Conflict"}, 409)
    return _json(_row(row))


async def add_with_event(request: Request) -> Response:
    """The add with its event, as the service's hot path runs it: the dry run, rendered (the
    event holds the body), then the add with its event as one statement (no
    BEGIN/COMMIT). The service reads its dry run with the API key; the floor has no key, so
    here the dry run is a round trip of its own. ``add`` (no event) beside it gives the event
    write's cost."""
    body = orjson.loads(await request.body())
    params: dict[str, Any] = {
        "product_id": int(request.path_params["product_id"]),
        "owner": OWNER,
        "partner_unique_id": body["partner_unique_id"],
        "now": datetime.now(UTC),
    }
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(WOULD_ADD[0], *_run_args(WOULD_ADD, **params))
        if row is None:
            return _json({"error": "Conflict"}, 409)
        created = _row(row)
        values = event_values(
            EventType.product_partner_created,
            resource_id=row["id"],
            product_id=row["product_id"],
            data=created,
            owner_business_id=row["owner_business_id"],
            partner_business_id=row["partner_business_id"],
            to_status=row["affiliate_status"],
            actor=ACTOR,
        )
        params.update(values, id=row["id"], expected_partner=row["partner_business_id"])
        if await conn.fetchrow(ADD_WITH_EVENT[0], *_run_args(ADD_WITH_EVENT, **params)) is None:
            return _json({"error": "Conflict"}, 409)
    return _json(created)


async def list_partners(request: Request) -> Response:
    product_id = int(request.path_params["product_id"])
    after = request.query_params.get("after")
    async with request.app.state.pool.acquire() as conn:
        if after is None:
            rows = await conn.fetch(LIST[0], *_run_args(LIST, owner=OWNER, product_id=product_id))
        else:
            args = _run_args(LIST_AFTER, owner=OWNER, product_id=product_id, after=int(after))
            rows = await conn.fetch(LIST_AFTER[0], *args)
    return _json({"data": [_row(r) for r in rows[:25]], "has_next": len(rows) > 25})


async def get_partner(request: Request) -> Response:
    args = _run_args(
        GET,
        owner=OWNER,
        product_id=int(request.path_params["product_id"]),
        partnership_id=int(request.path_params["id"]),
    )
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(GET[0], *args)
    if row is None:
        return _json({"error": "Not Found"}, 404)
    return _json(_row(row))


async def _no_reset(_connection: asyncpg.Connection) -> None:
    """asyncpg still rolls back an open transaction; nothing else to reset."""


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    size = int(os.environ.get("FLOOR_POOL_SIZE", "20"))
    # The same session settings as the service (see product_partners.db.create_engine).
    server_settings = {"application_name": "floor", "random_page_cost": "1.1"}
    options: dict[str, Any] = {}
    if os.environ.get("FLOOR_TUNED") == "1":
        # The "tuned floor": the service's connection handling (product_partners.db): no
        # reset query when a connection goes back to the pool, timestamps as text.
        server_settings["timezone"] = "UTC"
        options = {"reset": _no_reset, "init": text_timestamps}
    app.state.pool = await asyncpg.create_pool(
        os.environ["FLOOR_DSN"],
        min_size=size,
        max_size=size,
        server_settings=server_settings,
        **options,
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/floor/products/{product_id}/partners", add, methods=["POST"]),
        Route("/floor-events/products/{product_id}/partners", add_with_event, methods=["POST"]),
        Route("/floor/products/{product_id}/partners", list_partners, methods=["GET"]),
        Route("/floor/products/{product_id}/partners/{id}", get_partner, methods=["GET"]),
    ],
    lifespan=lifespan,
)
