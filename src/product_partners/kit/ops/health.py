"""Health endpoints for load balancers and orchestrators (not part of the v3 API).

- ``GET /healthz``: the process is alive and serving; touches nothing else.
- ``GET /readyz``: the database answers and its schema is at the migrations' head; otherwise
  503 with the reason in the usual error body (``database_unavailable`` or
  ``migrations_pending``). Bounded by ``DATABASE_TIMEOUT``. With read replicas, ``replicas``
  lists each one's state and lag (a replica down or lagging leaves the service ready: the
  primary serves its reads).

Neither needs an API key or counts against a rate limit; both are left out of the OpenAPI
document, which describes the v3 API only.
"""

import asyncio
import logging
from functools import cache

from starlette.requests import Request
from starlette.responses import Response

from product_partners.db.migrate import current_revision, head_revision
from product_partners.kit.http.errors import error_response
from product_partners.kit.jsonutil import json_response

log = logging.getLogger("product_partners.health")

_HEALTHY = b'{"status":"ok"}'


@cache
def _head() -> str | None:
    return head_revision()


async def healthz(_request: Request) -> Response:
    return Response(_HEALTHY, media_type="application/json")


async def readyz(request: Request) -> Response:
    engine = request.app.state.engine
    timeout = request.app.state.settings.database_timeout
    head = _head()
    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            current = await current_revision(conn)
    except Exception as exc:  # noqa: BLE001 - any failure to read the revision means "not ready"
        log.warning("not ready: database unavailable: %s", type(exc).__name__)
        return error_response(
            503,
            "database_unavailable",
            f"The database cannot be reached ({type(exc).__name__}).",
            headers={"Retry-After": "1"},
        )
    if current != head:
        return error_response(
            503,
            "migrations_pending",
            f"The database schema is at revision {current}, this code expects {head}: "
            "run `product-partners db upgrade`.",
        )
    body: dict[str, object] = {"status": "ready", "database": "ok", "revision": current}
    replicas = getattr(request.app.state, "replicas", None)
    if replicas is not None:
        body["replicas"] = replicas.status()
    return json_response(body)
