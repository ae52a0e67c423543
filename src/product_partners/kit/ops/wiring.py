"""Wiring for running in production: rate limiter, metrics, health routes, outage handling.

``create_app`` calls :func:`install_operations` once and :func:`on_engine` for the engine it
serves from; the per-request work happens in ``middleware.py`` and ``ratelimit.py``.
"""

from collections.abc import Sequence

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.db.outages import survive_outages
from product_partners.kit.http.ratelimit import RateLimiter, build_rate_limiter
from product_partners.kit.ops.health import healthz, readyz
from product_partners.kit.ops.metrics import DatabaseGauge, Metrics, metrics_endpoint
from product_partners.settings import Settings


def install_operations(
    app: FastAPI, settings: Settings, database_gauges: Sequence[DatabaseGauge] = ()
) -> Metrics:
    """Rate limiter and metrics in ``app.state``; ``/healthz``, ``/readyz`` and ``/metrics``
    routes (outside the OpenAPI document), ``/metrics`` with the domains' ``database_gauges``.
    Returns the metrics for the middleware."""
    app.state.rate_limiter = build_rate_limiter(settings)
    app.state.metrics = Metrics()
    app.state.database_gauges = tuple(database_gauges)
    for path, endpoint in (
        ("/healthz", healthz),
        ("/readyz", readyz),
        ("/metrics", metrics_endpoint),
    ):
        app.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False)
    return app.state.metrics


def on_engine(engine: AsyncEngine) -> AsyncEngine:
    # db.create_engine installs it already; an engine made otherwise serves requests too.
    survive_outages(engine, autocommit=True)
    return engine


async def shutdown_operations(app: FastAPI) -> None:
    limiter: RateLimiter | None = getattr(app.state, "rate_limiter", None)
    if limiter is not None:
        await limiter.close()
