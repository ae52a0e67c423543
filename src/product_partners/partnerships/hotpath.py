"""The hot path: add, get and list product partners on PostgreSQL in one statement each.

These three operations carry most traffic (see bench/). Through FastAPI's routing and
dependency injection and SQLAlchemy's execution layer they cost ~5x the CPU of the SQL they
run, so on PostgreSQL this pure ASGI layer serves their **successful** outcome directly. It
restates nothing that the routes in ``endpoints.py`` declare:

- the operations are found among the app's routes by operationId; each one's method, path
  pattern and required scope are the route's own (``auth.dependencies.require``);
- authentication is the function the FastAPI dependencies call (``accept_key``), on the key row
  that ``auth.repository.KEY_BY_PREFIX`` reads, here joined to the data rows in ONE prepared
  statement on the asyncpg connection (with the owner's domains and the approved affiliate_pro
  domains as JSON aggregates);
- an add is ``partnering.add_statement``, the statement the route runs, wrapped in the one
  that reads the rendered row back; pages are parsed by ``kit.pagination.parse_page`` and cut
  by ``page_of``; bodies are rendered by ``views.product_partner``.

Anything else (a bad key or scope, a bad body or query, a product or partnership that is not
the caller's, a duplicate, an empty page) is handed to the FastAPI application unchanged, with
the request body replayed, so every error keeps exactly one implementation: the routes, which
also document these operations in ``/openapi.json``. SQLite and PgBouncer mode always take
the FastAPI routes.
"""

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi.routing import iter_route_contexts
from pydantic import ValidationError
from sqlalchemy import (
    DateTime,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from product_partners.auth.dependencies import Caller, accept_key, presented_key, route_scope
from product_partners.auth.repository import KEY_BY_PREFIX, TOUCH_KEY, key_row
from product_partners.db.connections import Driver, routed_driver
from product_partners.db.prepared import NamedRows, compile_for_asyncpg
from product_partners.db.tables import (
    custom_domains,
    partnership_domains,
    product_partners,
    products,
    stores,
)
from product_partners.events.enums import EventType
from product_partners.events.repository import with_event
from product_partners.events.service import event_values
from product_partners.kit.errors import DomainError
from product_partners.kit.http.guards import read_body, replay_body
from product_partners.kit.ids import MAX_ID
from product_partners.kit.jsonutil import json_response
from product_partners.kit.pagination import PageRequest, page_of, parse_page
from product_partners.partnerships import partnering
from product_partners.partnerships.dependencies import spend_partner_add
from product_partners.partnerships.etags import etag
from product_partners.partnerships.repository import (
    SHOWN_DOMAIN,
    added_partnership,
    partnerships_query,
)
from product_partners.partnerships.schemas import CreatePartnerRequest
from product_partners.partnerships.views import product_partner, shared

pp = product_partners
ADD, GET, LIST = "createProductPartner", "getProductPartner", "listProductPartners"
_LIST_PARAMS = frozenset({"page_size", "next_cursor", "previous_cursor"})
_DIGITS = re.compile(r"^[0-9]{1,19}$")


# --- the statements --------------------------------------------------------------------------


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


def rendered_rows(source: Any, owner: Any) -> Any:
    """partnerships_query(source) rows, plus what ``views.product_partners`` reads with
    separate statements: the owner's domains and the approved affiliate_pro domains."""
    owner_domains = _json_list(
        stores.join(custom_domains, custom_domains.c.id == stores.c.custom_domain_id),
        and_(stores.c.business_id == owner, stores.c.is_active.is_(True), SHOWN_DOMAIN),
        custom_domains,
    )
    pro_domains = _json_list(
        partnership_domains.join(
            custom_domains, custom_domains.c.id == partnership_domains.c.custom_domain_id
        ),
        and_(partnership_domains.c.partnership_id == source.c.id, SHOWN_DOMAIN),
        custom_domains,
    )
    return partnerships_query(source).add_columns(
        owner_domains.label("owner_domains_json"), pro_domains.label("pro_domains_json")
    )


_KEY = KEY_BY_PREFIX.cte("caller_key")
_OWNER = _KEY.c.key_business_id
_LIMIT: Any = bindparam("page_limit")


def _with_key(rows: Any, descending: bool | None = None) -> Any:
    """The key row and the rows it may read, in one statement: the rows as a LATERAL subquery
    of the key (none when there is no key row: the request then takes the route)."""
    data = rows.subquery().lateral("data")
    stmt = select(_KEY, data).select_from(_KEY.outerjoin(data, true()))
    if descending is not None:
        stmt = stmt.order_by(data.c.id.desc() if descending else data.c.id.asc())
    return stmt


def owned_rows(owner: Any) -> Any:
    """The partnerships of product ``product_id``, rendered, if ``owner`` owns it."""
    return rendered_rows(pp, owner).where(
        pp.c.product_id == bindparam("product_id"), products.c.business_id == owner
    )


def add_and_read() -> Any:
    """The route's add (``partnering.add_statement``) as a CTE, and the row it made, rendered.
    No row when the add was refused (the route then says why). (The bench's floor runs it.)"""
    owner: Any = bindparam("owner")
    inserted = (
        partnering.add_statement(
            "postgresql",
            partnering.PRODUCTS,
            bindparam("product_id"),
            owner,
            bindparam("partner_unique_id"),
            added_partnership(_NOW),
        )
        .returning(*pp.c)
        .cte("inserted")
    )
    return rendered_rows(inserted, owner)


_NOW: Any = bindparam("now", type_=DateTime(timezone=True))
# The partnership's id, taken from its sequence by the dry run and inserted by the add.
_NEXT_ID = func.nextval(literal_column(f"pg_get_serial_sequence('{pp.name}', 'id')"))
# The add inserts only the partnership its dry run rendered: with the same partner business
# (none, or the one that had the unique id then). Otherwise it inserts nothing and the route
# adds (this rule never explains a refusal: the hot path hands every refusal to the route).
_SAME_PARTNER = partnering.PartnerRule(
    "dry_run_partner",
    lambda target, _owner, _related: target.c.id.is_not_distinct_from(
        bindparam("expected_partner", type_=pp.c.partner_business_id.type)
    ),
    lambda kind: kind.link_not_found(),
)


def would_add(owner: Any) -> Any:
    """The add's dry run: the row the route's add (``partnering.add_rows``) would insert, with
    every column of the table (its server defaults, and an id drawn from the sequence); no row
    when a rule refuses it (a duplicate passes: only the insert sees it)."""
    rows = partnering.add_rows(
        partnering.PRODUCTS,
        bindparam("product_id"),
        owner,
        bindparam("partner_unique_id"),
        added_partnership(_NOW),
    ).subquery("adding")
    columns = []
    for column in pp.c:
        if column.name == "id":
            value: Any = _NEXT_ID
        elif column.name in rows.c:
            value = rows.c[column.name]
        elif column.server_default is not None:
            arg: Any = column.server_default.arg  # type: ignore[attr-defined]
            default = literal(arg) if isinstance(arg, str) else literal_column(arg.text)
            value = cast(default, column.type)
        else:
            value = cast(null(), column.type)
        columns.append(value.label(column.name))
    return select(*columns).subquery("would_add")


def add_as_dry_run() -> Any:
    """The add its dry run (:func:`would_add`) rendered, with the id it drew, as a
    data-modifying CTE returning the partnership's id: no row when it inserted nothing (a
    duplicate, or a change since the dry run: the route then adds, or says why not)."""
    return (
        partnering.add_statement(
            "postgresql",
            partnering.PRODUCTS,
            bindparam("product_id"),
            bindparam("owner"),
            bindparam("partner_unique_id"),
            {**added_partnership(_NOW), "id": bindparam("id", type_=pp.c.id.type)},
            rules=(*partnering.PARTNER_RULES, _SAME_PARTNER),
        )
        .returning(pp.c.id)
        .cte("inserted")
    )


def add_with_event() -> Any:
    """:func:`add_as_dry_run` with its event, in ONE statement
    (``events.repository.with_event``): the partnership's id, or no row (nothing inserted,
    no event)."""
    return with_event(add_as_dry_run())


STATEMENTS: dict[str, Any] = {
    # add: the key and the add's dry run, rendered (the insert must wait for the key, scope
    # and rate limit checks); then the add with its event, one statement.
    "would_add": _with_key(rendered_rows(would_add(_OWNER), _OWNER)),
    "touch": TOUCH_KEY,
    "add": add_with_event(),
    "get": _with_key(owned_rows(_OWNER).where(pp.c.id == bindparam("partnership_id"))),
    "first": _with_key(owned_rows(_OWNER).order_by(pp.c.id.desc()).limit(_LIMIT), descending=True),
    "after": _with_key(
        owned_rows(_OWNER)
        .where(pp.c.id < bindparam("page_after"))
        .order_by(pp.c.id.desc())
        .limit(_LIMIT),
        descending=True,
    ),
    "before": _with_key(
        owned_rows(_OWNER)
        .where(pp.c.id > bindparam("page_before"))
        .order_by(pp.c.id.asc())
        .limit(_LIMIT),
        descending=False,
    ),
}


class _Compiled:
    """A statement compiled once for asyncpg: SQL text, parameter order, rows as tuples."""

    def __init__(self, sql: str, names: tuple[str, ...]) -> None:
        self.sql = sql
        self.names = names
        self.rows = NamedRows()

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[n] for n in self.names]


# --- the operations, as the routes declare them --------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """One of the hot path's operations: what its FastAPI route declares."""

    operation_id: str
    method: str
    path: re.Pattern[str]
    scope: str  # the scope the route's caller dependency requires
    route: Any  # the route itself: the request log's and the metrics' route label


def resolve_operations(routes: Iterable[Any]) -> dict[str, Operation]:
    """The hot path's operations, from the app's routes (found by operationId). A missing
    operation or scope fails at startup, not silently on traffic."""
    found: dict[str, Operation] = {}
    # Each route as the app serves it: included routers' routes with their full path.
    for context in iter_route_contexts(list(routes)):
        route: Any = context.route
        operation_id = getattr(route, "operation_id", None)
        if operation_id not in (ADD, GET, LIST):
            continue
        (method,) = route.methods
        found[operation_id] = Operation(
            operation_id, method, route.path_regex, _required_scope(route), route
        )
    missing = {ADD, GET, LIST} - set(found)
    if missing:
        raise RuntimeError(f"hot path: no route for {', '.join(sorted(missing))}")
    return found


def _required_scope(route: Any) -> str:
    """The scope the route's caller dependency (``auth.dependencies.require``) checks."""
    scope = route_scope(route)
    if scope is None:
        raise RuntimeError(f"hot path: route {route.operation_id} requires no scope")
    return scope


Handler = Callable[[Scope, Receive, dict[str, int], bytes], Awaitable[Any]]


class HotPath:
    """Pure ASGI: serves the happy path of add/get/list product partners on PostgreSQL;
    hands everything else to ``app`` (the FastAPI application's inner stack)."""

    def __init__(self, app: ASGIApp, state: Any, routes: Iterable[Any]) -> None:
        self.app = app
        self.state = state  # the FastAPI app's state: engine, settings, rate limiter
        operations = resolve_operations(routes)
        handlers: dict[str, Handler] = {ADD: self._add, GET: self._get, LIST: self._list}
        self._by_method: dict[str, list[tuple[Operation, Handler]]] = {}
        for operation in operations.values():
            self._by_method.setdefault(operation.method, []).append(
                (operation, handlers[operation.operation_id])
            )
        self._scopes = {op.operation_id: op.scope for op in operations.values()}
        self._compiled: dict[str, _Compiled] | None = None

    def _enabled(self) -> bool:
        engine: AsyncEngine | None = getattr(self.state, "engine", None)
        settings = self.state.settings
        return (
            engine is not None
            and engine.dialect.driver == "asyncpg"
            and settings.hot_path
            and not settings.database_pgbouncer
        )

    def _connection(self, scope: Scope) -> Any:
        """A pooled connection's bare asyncpg connection, on the primary or, for a read, a
        replica (db.connections.routed_driver)."""
        return routed_driver(self.state, scope)

    def _statements(self) -> dict[str, _Compiled]:
        if self._compiled is None:
            dialect = self.state.engine.dialect
            compiled = {}
            for name, stmt in STATEMENTS.items():
                sql_and_names = compile_for_asyncpg(stmt, dialect)
                if sql_and_names is None:  # a statement edited into one asyncpg cannot run
                    raise RuntimeError(f"hot path statement {name!r} needs SQLAlchemy")
                compiled[name] = _Compiled(*sql_and_names)
            self._compiled = compiled
        return self._compiled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._enabled():
            await self.app(scope, receive, send)
            return
        matched = self._match(scope)
        if matched is None:
            await self.app(scope, receive, send)
            return
        operation, handler, ids = matched
        body = b""
        if scope["method"] == "POST":
            body, disconnected = await read_body(receive)
            receive = replay_body(body, disconnected, receive)
        response = await handler(scope, receive, ids, body)
        if response is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = operation.route
        await response(scope, receive, send)

    def _match(self, scope: Scope) -> tuple[Operation, Handler, dict[str, int]] | None:
        """The operation the request is for, and its path ids, when they can name a row."""
        for operation, handler in self._by_method.get(scope["method"], ()):
            match = operation.path.match(scope["path"])
            if match is None:
                continue
            ids = match.groupdict()
            if not all(_DIGITS.match(v) and int(v) <= MAX_ID for v in ids.values()):
                return None  # the route answers 404 for an id that cannot exist
            return operation, handler, {name: int(value) for name, value in ids.items()}
        return None

    async def _run(self, conn: Driver, name: str, params: dict[str, Any]) -> list[Any]:
        statement = self._statements()[name]
        return statement.rows(await conn.fetch(statement.sql, *statement.args(params)))

    def _render(self, row: Any, owner_domains: list[dict[str, Any]]) -> dict[str, Any]:
        return product_partner(
            row, owner_domains, _json(row.pro_domains_json), self.state.settings.link_scheme
        )

    def _one(self, row: Any) -> Any:
        body = self._render(row, _json(row.owner_domains_json))
        return json_response(body, headers={"ETag": etag(body["version"])})

    def _presented(self, scope: Scope, receive: Receive) -> tuple[str, str] | None:
        """The token and its prefix, unless refused without the database (``auth.gate``;
        checked before a connection is taken): None, and the route says why."""
        try:
            return presented_key(Request(scope, receive))
        except DomainError:
            return None

    async def _keyed_rows(
        self,
        scope: Scope,
        receive: Receive,
        conn: Driver,
        name: str,
        params: dict[str, Any],
        operation_id: str,
        key: tuple[str, str],
    ) -> tuple[Caller, list[Any]] | None:
        """The caller and the rows of statement ``name`` (which reads the caller's key row with
        its data rows), if the key is live and holds the operation's scope; else None (the
        route then answers 401/403/429)."""
        request = Request(scope, receive)
        token, prefix = key
        records = await self._run(conn, name, {**params, "prefix": prefix})

        def touch(key_id: int, now: datetime) -> Any:
            touch_key = self._statements()["touch"]
            return conn.execute(touch_key.sql, *touch_key.args({"key_id": key_id, "now": now}))

        try:
            row = key_row(records[0]) if records else None  # None: no key with this prefix
            caller = await accept_key(request, token, row, touch)
        except DomainError:
            return None
        if self._scopes[operation_id] not in caller.scopes:
            return None
        return caller, records

    async def _get(self, scope: Scope, receive: Receive, ids: dict[str, int], _: bytes) -> Any:
        params = {"product_id": ids["product_id"], "partnership_id": ids["id"]}
        key = self._presented(scope, receive)
        if key is None:
            return None
        async with self._connection(scope) as conn:
            keyed = await self._keyed_rows(scope, receive, conn, "get", params, GET, key)
        if keyed is None or keyed[1][0].id is None:
            return None
        return self._one(keyed[1][0])

    async def _list(self, scope: Scope, receive: Receive, ids: dict[str, int], _: bytes) -> Any:
        page = _page_request(scope["query_string"])
        if page is None:
            return None
        params: dict[str, Any] = {"product_id": ids["product_id"], "page_limit": page.page_size + 1}
        if page.before_id is not None:
            name, params["page_before"] = "before", page.before_id
        elif page.after_id is not None:
            name, params["page_after"] = "after", page.after_id
        else:
            name = "first"
        key = self._presented(scope, receive)
        if key is None:
            return None
        async with self._connection(scope) as conn:
            keyed = await self._keyed_rows(scope, receive, conn, name, params, LIST, key)
        if keyed is None or keyed[1][0].id is None:
            return None  # not the caller's product, or an empty page: the route says which
        rows, fields = page_of(page, keyed[1])
        # The owner's domains are the same on every row of the page: decode them once.
        owner_domains = _json(rows[0].owner_domains_json)
        return json_response({"data": [self._render(r, owner_domains) for r in rows], **fields})

    async def _add(self, scope: Scope, receive: Receive, ids: dict[str, int], body: bytes) -> Any:
        try:
            data = CreatePartnerRequest.model_validate_json(body)
        except ValidationError:
            return None
        key = self._presented(scope, receive)
        if key is None:
            return None
        params: dict[str, Any] = {
            "product_id": ids["product_id"],
            "partner_unique_id": data.partner_unique_id,
            "now": datetime.now(UTC),
        }
        # Two statements, no BEGIN/COMMIT: the key with the add's dry run, rendered (the body
        # and the event need the row before it is inserted); then, once the key, its scope,
        # the rate limit and the owner's add budget passed, the add with its event as ONE
        # statement (atomic on its own).
        async with self._connection(scope) as conn:
            keyed = await self._keyed_rows(scope, receive, conn, "would_add", params, ADD, key)
            if keyed is None or keyed[1][0].id is None:
                return None  # refused (not the caller's product, a rule): the route says why
            caller, (row,) = keyed
            try:
                await spend_partner_add(Request(scope, receive), caller.business_id)
            except DomainError:
                return None  # over the owner's budget: the route answers 429
            created = self._render(row, _json(row.owner_domains_json))
            event = event_values(
                EventType.product_partner_created,
                resource_id=row.id,
                product_id=row.product_id,
                data=shared(created),
                owner_business_id=row.owner_business_id,
                partner_business_id=row.partner_business_id,
                to_status=row.affiliate_status,
            )
            params.update(event, owner=caller.business_id, id=row.id)
            params["expected_partner"] = row.partner_business_id
            if not await self._run(conn, "add", params):
                return None  # a duplicate, or a change since the dry run: the route decides
        return json_response(created, headers={"ETag": etag(created["version"])})


def _json(value: Any) -> list[dict[str, Any]]:
    """A JSON aggregate column, sent as text (see ``_json_list``)."""
    if value is None:
        return []
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _page_request(query_string: bytes) -> PageRequest | None:
    """The page of a plain list request (``parse_page``, as the route), or None for anything
    the route should judge (unknown or repeated parameters, filters, a refusal)."""
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
    try:
        return parse_page(
            values.get("next_cursor"), values.get("previous_cursor"), values.get("page_size")
        )
    except DomainError:
        return None
