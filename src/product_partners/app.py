"""The ASGI application: routers, middleware, error handlers, OpenAPI."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners import __version__
from product_partners.auth.dependencies import READ_METHODS
from product_partners.auth.gate import AUTH_GATE, AuthGate
from product_partners.auth.middleware import RefuseKnownBadKeys
from product_partners.bundles.endpoints import router as bundles_router
from product_partners.businesses.errors import CallerBanned
from product_partners.dashboard import endpoints as dashboard
from product_partners.db.engine import create_engine
from product_partners.db.replicas import build_replicas
from product_partners.domains.endpoints import router as domains_router
from product_partners.events.endpoints import router as events_router
from product_partners.idempotency.middleware import IdempotencyMiddleware
from product_partners.idempotency.openapi import document_idempotency
from product_partners.kit.context import RequestState
from product_partners.kit.http.errors import install_error_handlers
from product_partners.kit.http.guards import RequestGuardsMiddleware
from product_partners.kit.http.middleware import RequestContextMiddleware
from product_partners.kit.http.ratelimit import build_budget
from product_partners.kit.http.replicas import ReadRouting
from product_partners.kit.ops.wiring import install_operations, on_engine, shutdown_operations
from product_partners.partnerships.dependencies import PARTNER_ADDS
from product_partners.partnerships.endpoints import CSV_BODY_PATHS
from product_partners.partnerships.endpoints import router as partnerships_router
from product_partners.partnerships.hotpath import HotPath
from product_partners.partnerships.metrics import PARTNERSHIPS_BY_STATUS
from product_partners.products.endpoints import router as products_router
from product_partners.settings import Settings, get_settings
from product_partners.stores.endpoints import router as stores_router
from product_partners.webhooks.delivery import OUTBOX_BY_STATUS, InProcessDelivery, Policy
from product_partners.webhooks.endpoints import router as webhooks_router
from product_partners.webhooks.fanout import EVENTS_TO_FAN_OUT

DESCRIPTION = """\
A product partner programme: businesses add partners to their products (affiliate,
affiliate_pro, reseller), partners request to join, owners review.

Wire-compatible with Scalev's v3 product-partner API. Authenticate with
`Authorization: Bearer <api key>`; every error has the `ApiErrorResponse` shape.
"""


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> FastAPI:
    settings = settings or get_settings()
    owns_engine = engine is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = on_engine(engine or create_engine(settings))
        delivery = None
        if settings.delivers_in_process:
            delivery = InProcessDelivery(app.state.engine, Policy.of(settings))
        try:
            yield
        finally:
            if delivery is not None:
                await delivery.close()
            await shutdown_operations(app)
            if app.state.replicas is not None:
                await app.state.replicas.close()
            if owns_engine:
                await app.state.engine.dispose()

    # FastAPIOffline: FastAPI whose /docs and /redoc load Swagger UI and ReDoc from files that
    # ship with the fastapi-offline package, served by this process (no CDN: the pages work
    # on a host without internet).
    app = FastAPIOffline(
        title="product-partners",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry hooks are not used (logs and /metrics are ours);
        # off, they cost no provider look-up per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # A path with a trailing slash is 404 like any unknown path: Starlette's redirect
        # would build its Location from the Host header, which the client chooses.
        redirect_slashes=False,
    )
    app.state.settings = settings
    # Read replicas (DATABASE_REPLICA_URLS), or None: every request on the primary.
    app.state.replicas = build_replicas(settings)
    if engine is not None:
        app.state.engine = on_engine(engine)
    install_error_handlers(app)
    app.include_router(products_router)
    app.include_router(partnerships_router)
    app.include_router(stores_router)
    app.include_router(domains_router)
    app.include_router(bundles_router)
    dashboard.install(app)
    app.include_router(events_router)
    app.include_router(webhooks_router)
    metrics = install_operations(
        app,
        settings,
        database_gauges=[PARTNERSHIPS_BY_STATUS, EVENTS_TO_FAN_OUT, OUTBOX_BY_STATUS],
    )
    setattr(
        app.state, PARTNER_ADDS, build_budget(app.state.rate_limiter, settings.partner_add_limit)
    )
    # Refusals known without the database (bad keys, over-limit keys, flooding addresses).
    failure_limit = settings.auth_failure_limit if settings.rate_limit_enabled else None
    setattr(app.state, AUTH_GATE, AuthGate(failure_limit))
    # Innermost: the hot path sees requests that the guards and the request context passed.
    app.add_middleware(HotPath, state=app.state, routes=app.routes)
    # The request's state for the event log (which request, which key made a change).
    app.add_middleware(RequestState)
    # Around the hot path and the routes alike, inside the guards (it sees checked bodies).
    app.add_middleware(IdempotencyMiddleware, state=app.state, routes=app.routes)
    if app.state.replicas is not None:
        # Outer to the hot path: a read that a replica failed runs again on the primary.
        app.add_middleware(ReadRouting, replicas=app.state.replicas, metrics=metrics)
    # Inner to RequestContextMiddleware: the body it reads is already size-capped (413).
    app.add_middleware(
        RequestGuardsMiddleware, form_prefixes=(dashboard.PREFIX,), csv_paths=CSV_BODY_PATHS
    )
    # Refusals the gate knows, answered before the guards read a body (auth/middleware.py).
    app.add_middleware(RefuseKnownBadKeys, routes=app.routes, delay=settings.auth_failure_delay)
    app.add_middleware(
        RequestContextMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {})
    components["securitySchemes"] = {
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A business API key."},
    }
    for ops in schema.get("paths", {}).values():
        for method, op in ops.items():
            if isinstance(op, dict) and "operationId" in op:
                op["security"] = [{"bearerAuth": []}]
                forbidden = op.get("responses", {}).get("403")
                if forbidden and method.upper() not in READ_METHODS:
                    # auth.dependencies.accept_key refuses every write of a banned business.
                    forbidden["description"] += f" (`{CallerBanned.error_code}` on any write)"
                # FastAPI documents 422 for validation by default; this service answers 400
                # (kit/http/errors.py), already documented with ApiErrorResponse.
                op.get("responses", {}).pop("422", None)
    document_idempotency(schema)
    # FastAPI's own validation-error schemas are never sent: ApiErrorResponse replaces them.
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)
    app.openapi_schema = schema
    return schema
