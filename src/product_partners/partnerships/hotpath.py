"""The hot path: add, get and list product partners on PostgreSQL in one statement each.

These three operations carry most traffic (see bench/). Through FastAPI's routing and
dependency injection and SQLAlchemy's execution layer they cost ~5x the CPU of the SQL they
run, so on PostgreSQL this pure ASGI layer serves their **successful** outcome directly:

- authentication is the same function the FastAPI dependencies call (``auth.dependencies``),
  counted once against the rate limit;
- the data comes from ONE prepared statement on the asyncpg connection (the partnership, its
  partner, the owner's domains and the approved affiliate_pro domains as JSON aggregates;
  for an add, the ownership check, the insert and all of that in one CTE);
- the body is rendered by the same view function as the FastAPI route
  (``partnerships.views.product_partner``) and pages by the same ``pagination.page_of``.

Anything else (a bad key or scope, a bad body or query, a product or partnership that is not
the caller's, a duplicate, an empty page) is handed to the FastAPI application unchanged, with
the request body replayed, so every error keeps exactly one implementation: the routes in
``partnerships/endpoints.py``, which also document these operations in ``/openapi.json``.
SQLite and PgBouncer mode always take the FastAPI routes.
"""

import re
from collections import namedtuple
from collections.abc import Callable
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any
from urllib.parse import parse_qsl

import orjson
from pydantic import ValidationError
from sqlalchemy import Text, and_, bindparam, cast, func, literal_column, select, true, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from product_partners.auth.dependencies import Caller, accept_key, key_prefix
from product_partners.db.connections import Driver, driver_connection
from product_partners.db.prepared import NamedRows, compile_for_asyncpg
from product_partners.db.tables import (
    api_keys,
    custom_domains,
    partnership_domains,
    product_partners,
    products,
    stores,
)
from product_partners.kit.errors import DomainError
from product_partners.kit.http.guards import read_body, replay_body
from product_partners.kit.ids import MAX_ID
from product_partners.kit.jsonutil import json_response
from product_partners.kit.pagination import MAX_PAGE_SIZE, PageRequest, decode_cursor, page_of
from product_partners.partnerships.repository import partnerships_query
from product_partners.partnerships.schemas import CreatePartnerRequest
from product_partners.partnerships.views import etag, product_partner

pp = product_partners
_PATH = re.compile(r"^/v3/products/([0-9]{1,19})/partners(?:/([0-9]{1,19}))?$")
_LIST_PARAMS = frozenset({"page_size", "next_cursor", "previous_cursor"})


def _domain_object(table: Any) -> Any:
    parts: list[Any] = []
    for name in ("id", "business_id", "full_url"):
        parts += [literal_column(f"'{name}'"), table.c[name]]
    return func.json_build_object(*parts)


def _json_list(select_from: Any, where: Any, table: Any) -> Any:
    """A scalar subquery: the domains of ``table`` matching ``where`` as a JSON array, by id,
    sent as text. (As ``json``, the dialect's codec would decode the owner's domains once per
    row of a page; as text, ``_json`` decodes them once per page.)"""
    aggregated = func.json_agg(aggregate_order_by(_domain_object(table), table.c.id))
    return (
        select(cast(func.coalesce(aggregated, literal_column("'[]'::json")), Text))
        .select_from(select_from)
        .where(where)
        .scalar_subquery()
    )


# The caller's key row, found by the token's prefix; verified in Python (auth.accept_key).
KEY_COLUMNS = ("id", "business_id", "key_hash", "scopes", "revoked_at", "last_used_at")
_KEY_ROW = select(*(api_keys.c[name].label(f"key_{name}") for name in KEY_COLUMNS)).where(
    api_keys.c.prefix == bindparam("prefix")
)
_KEY = _KEY_ROW.cte("caller_key")
KeyRow = namedtuple("KeyRow", KEY_COLUMNS)  # type: ignore[misc]
# The key row's values out of a row of a statement built with _with_key (labels key_<column>).
_key_values = attrgetter(*(f"key_{name}" for name in KEY_COLUMNS))


def partner_rows(owner: Any) -> Any:
    """partnerships_query() rows of ``owner``'s products, plus what render_partnerships() reads
    with separate statements: the owner's domains and the approved affiliate_pro domains."""
    owner_domains = _json_list(
        stores.join(custom_domains, custom_domains.c.id == stores.c.custom_domain_id),
        and_(stores.c.business_id == owner, stores.c.is_active.is_(True)),
        custom_domains,
    )
    pro_domains = _json_list(
        partnership_domains.join(
            custom_domains, custom_domains.c.id == partnership_domains.c.custom_domain_id
        ),
        partnership_domains.c.partnership_id == pp.c.id,
        custom_domains,
    )
    return (
        partnerships_query()
        .add_columns(
            owner_domains.label("owner_domains_json"), pro_domains.label("pro_domains_json")
        )
        .where(pp.c.product_id == bindparam("product_id"), products.c.business_id == owner)
    )


def _with_key(rows: Any, descending: bool | None = None) -> Any:
    """The key row and the rows it may read, in one statement: the rows as a LATERAL subquery
    of the key (none when there is no key row: the request then takes the route)."""
    data = rows.subquery().lateral("data")
    stmt = select(_KEY, data).select_from(_KEY.outerjoin(data, true()))
    if descending is not None:
        stmt = stmt.order_by(data.c.id.desc() if descending else data.c.id.asc())
    return stmt


_OWNER = _KEY.c.key_business_id
_LIMIT: Any = bindparam("page_limit")
STATEMENTS: dict[str, Any] = {
    # add: the key alone (the insert must wait for the key, scope and rate limit checks).
    "key": _KEY_ROW,
    # accept_key's last-use write, at most once a minute per key.
    "touch": update(api_keys)
    .where(api_keys.c.id == bindparam("key_id"))
    .values(last_used_at=bindparam("now")),
    "get": _with_key(partner_rows(_OWNER).where(pp.c.id == bindparam("partnership_id"))),
    "first": _with_key(
        partner_rows(_OWNER).order_by(pp.c.id.desc()).limit(_LIMIT), descending=True
    ),
    "after": _with_key(
        partner_rows(_OWNER)
        .where(pp.c.id < bindparam("page_after"))
        .order_by(pp.c.id.desc())
        .limit(_LIMIT),
        descending=True,
    ),
    "before": _with_key(
        partner_rows(_OWNER)
        .where(pp.c.id > bindparam("page_before"))
        .order_by(pp.c.id.asc())
        .limit(_LIMIT),
        descending=False,
    ),
}

# The owner adds a partner: ownership, the partner, the insert and the response's rows in one
# statement. Returns no row with ``id`` when anything is off (the FastAPI route then says why).
ADD_SQL = """
WITH target AS (
    SELECT id, unique_id, username, account_holder, email, logo, is_banned
    FROM businesses WHERE unique_id = $3
), owned AS (
    SELECT id, slug, is_affiliate_pro_enabled FROM products WHERE id = $1 AND business_id = $2
), ins AS (
    INSERT INTO product_partners (product_id, partner_business_id, partnership_type,
                                  affiliate_status, approved_at, created_at, updated_at)
    SELECT owned.id, target.id, 'affiliate', 'approved', $4, $4, $4 FROM owned, target
    WHERE target.id <> $2 AND NOT target.is_banned
    ON CONFLICT (product_id, partner_business_id) DO NOTHING
    RETURNING *
)
SELECT ins.*,
       target.id AS partner_id, target.unique_id AS partner_unique_id,
       target.username AS partner_username, target.account_holder AS partner_account_holder,
       target.email AS partner_email, target.logo AS partner_logo,
       target.is_banned AS partner_is_banned,
       $2::bigint AS owner_business_id, owned.slug AS product_slug,
       owned.is_affiliate_pro_enabled AS product_affiliate_pro_enabled,
       NULL::varchar AS store_unique_id, NULL::text AS pro_domains_json,
       (SELECT coalesce(json_agg(json_build_object('id', cd.id, 'business_id', cd.business_id,
                                                   'full_url', cd.full_url) ORDER BY cd.id),
                        '[]'::json)
        FROM stores s JOIN custom_domains cd ON cd.id = s.custom_domain_id
        WHERE s.business_id = $2 AND s.is_active)::text AS owner_domains_json
FROM ins, target, owned
"""


class _Compiled:
    """A statement compiled once for asyncpg: SQL text, parameter order, rows as tuples."""

    def __init__(self, sql: str, names: tuple[str, ...]) -> None:
        self.sql = sql
        self.names = names
        self.rows = NamedRows()

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[n] for n in self.names]


class HotPath:
    """Pure ASGI: serves the happy path of add/get/list product partners on PostgreSQL;
    hands everything else to ``app`` (the FastAPI application's inner stack)."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state  # the FastAPI app's state: engine, settings, rate limiter
        self._compiled: dict[str, _Compiled] | None = None
        self._routes: dict[str, Any] = {}

    def _enabled(self) -> bool:
        engine: AsyncEngine | None = getattr(self.state, "engine", None)
        settings = self.state.settings
        return (
            engine is not None
            and engine.dialect.driver == "asyncpg"
            and settings.hot_path
            and not settings.database_pgbouncer
        )

    def _connection(self) -> Any:
        """A pooled connection's bare asyncpg connection (db.driver_connection)."""
        return driver_connection(self.state.engine, self.state.settings.database_timeout)

    def _statements(self) -> dict[str, _Compiled]:
        if self._compiled is None:
            dialect = self.state.engine.dialect
            compiled = {}
            for name, stmt in STATEMENTS.items():
                sql_and_names = compile_for_asyncpg(stmt, dialect)
                if sql_and_names is None:  # a statement edited into one asyncpg cannot run
                    raise RuntimeError(f"hot path statement {name!r} needs SQLAlchemy")
                compiled[name] = _Compiled(*sql_and_names)
            compiled["add"] = _Compiled(
                ADD_SQL, ("product_id", "owner", "partner_unique_id", "now")
            )
            self._compiled = compiled
        return self._compiled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        match = _PATH.match(scope["path"])
        method = scope["method"]
        if match is None or not self._enabled():
            await self.app(scope, receive, send)
            return
        product_id, partnership_id = match.groups()
        if method == "GET" and partnership_id is not None:
            handler: Callable[..., Any] = self._get
            operation = "getProductPartner"
        elif method == "GET":
            handler, operation = self._list, "listProductPartners"
        elif method == "POST" and partnership_id is None:
            handler, operation = self._add, "createProductPartner"
        else:
            await self.app(scope, receive, send)
            return
        body = b""
        if method == "POST":
            body, disconnected = await read_body(receive)
            receive = replay_body(body, disconnected, receive)
        product = int(product_id)
        if product > MAX_ID or (partnership_id is not None and int(partnership_id) > MAX_ID):
            await self.app(scope, receive, send)
            return
        response = await handler(scope, receive, product, partnership_id, body)
        if response is None:
            await self.app(scope, receive, send)
            return
        route = self._route(scope, operation)
        if route is not None:
            scope["route"] = route
        await response(scope, receive, send)

    def _route(self, scope: Scope, operation_id: str) -> Any:
        """The FastAPI route of the operation (for the log line's and metrics' route label)."""
        route = self._routes.get(operation_id)
        if route is None:
            app = scope.get("app")
            for candidate in getattr(app, "routes", ()):
                if getattr(candidate, "operation_id", None) == operation_id:
                    self._routes[operation_id] = route = candidate
                    break
        return route

    async def _run(self, conn: Driver, name: str, params: dict[str, Any]) -> list[Any]:
        statement = self._statements()[name]
        return statement.rows(await conn.fetch(statement.sql, *statement.args(params)))

    def _render(self, row: Any, owner_domains: list[dict[str, Any]]) -> dict[str, Any]:
        return product_partner(
            row,
            owner_domains,
            _json(row.pro_domains_json),
            self.state.settings.link_scheme,
        )

    async def _keyed_rows(
        self,
        scope: Scope,
        receive: Receive,
        conn: Driver,
        name: str,
        params: dict[str, Any],
        needed: str,
    ) -> tuple[Caller, list[Any]] | None:
        """The caller and the rows of statement ``name`` (which reads the caller's key row with
        its data rows), if the key is live and holds ``needed``; else None (the route then
        answers 401/403/429)."""
        request = Request(scope, receive)
        try:
            token, prefix = key_prefix(request)
        except DomainError:
            return None
        records = await self._run(conn, name, {**params, "prefix": prefix})
        if not records:
            return None  # no key with this prefix
        first = records[0]
        key = KeyRow._make(_key_values(first))

        def touch(key_id: int, now: datetime) -> Any:
            touch_key = self._statements()["touch"]
            return conn.execute(touch_key.sql, *touch_key.args({"key_id": key_id, "now": now}))

        try:
            caller = await accept_key(request, token, key, touch)
        except DomainError:
            return None
        if needed not in caller.scopes:
            return None
        return caller, records

    async def _get(
        self, scope: Scope, receive: Receive, product: int, partnership: str, _body: bytes
    ) -> Any:
        async with self._connection() as conn:
            keyed = await self._keyed_rows(
                scope,
                receive,
                conn,
                "get",
                {"product_id": product, "partnership_id": int(partnership)},
                "product:read",
            )
        if keyed is None or keyed[1][0].id is None:
            return None
        row = keyed[1][0]
        body = self._render(row, _json(row.owner_domains_json))
        return json_response(body, headers={"ETag": etag(body["version"])})

    async def _list(
        self, scope: Scope, receive: Receive, product: int, _id: None, _body: bytes
    ) -> Any:
        page = _page_request(scope["query_string"])
        if page is None:
            return None
        params: dict[str, Any] = {"product_id": product, "page_limit": page.page_size + 1}
        if page.before_id is not None:
            name, params["page_before"] = "before", page.before_id
        elif page.after_id is not None:
            name, params["page_after"] = "after", page.after_id
        else:
            name = "first"
        async with self._connection() as conn:
            keyed = await self._keyed_rows(scope, receive, conn, name, params, "product:list")
        if keyed is None or keyed[1][0].id is None:
            return None  # not the caller's product, or an empty page: the route says which
        rows = keyed[1]
        rows, fields = page_of(page, rows)
        # The owner's domains are the same on every row of the page: decode them once.
        owner_domains = _json(rows[0].owner_domains_json)
        return json_response({"data": [self._render(r, owner_domains) for r in rows], **fields})

    async def _add(
        self, scope: Scope, receive: Receive, product: int, _id: None, body: bytes
    ) -> Any:
        try:
            data = CreatePartnerRequest.model_validate_json(body)
        except ValidationError:
            return None
        async with self._connection() as conn:
            keyed = await self._keyed_rows(scope, receive, conn, "key", {}, "product:update")
            if keyed is None:
                return None
            rows = await self._run(
                conn,
                "add",
                {
                    "product_id": product,
                    "owner": keyed[0].business_id,
                    "partner_unique_id": data.partner_unique_id,
                    "now": datetime.now(UTC),
                },
            )
        if not rows:
            return None
        row = rows[0]
        created = self._render(row, _json(row.owner_domains_json))
        return json_response(created, headers={"ETag": etag(created["version"])})


def _json(value: Any) -> list[dict[str, Any]]:
    """A JSON aggregate column, sent as text (see ``_json_list``)."""
    if value is None:
        return []
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _page_request(query_string: bytes) -> PageRequest | None:
    """The page of a plain list request, or None for anything the route should judge."""
    if not query_string:
        return PageRequest()
    try:
        params = parse_qsl(
            query_string.decode("ascii"), keep_blank_values=True, strict_parsing=True
        )
    except (UnicodeDecodeError, ValueError):
        return None
    values = dict(params)
    if len(values) != len(params) or not set(values) <= _LIST_PARAMS:
        return None
    if "next_cursor" in values and "previous_cursor" in values:
        return None
    size_text = values.get("page_size", str(MAX_PAGE_SIZE))
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or not 1 <= int(size_text) <= MAX_PAGE_SIZE
    ):
        return None
    try:
        after = (
            decode_cursor(values["next_cursor"], "next_cursor") if "next_cursor" in values else None
        )
        before = (
            decode_cursor(values["previous_cursor"], "previous_cursor")
            if "previous_cursor" in values
            else None
        )
    except DomainError:
        return None
    return PageRequest(page_size=int(size_text), after_id=after, before_id=before)
