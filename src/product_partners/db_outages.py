"""Surviving a database outage without a restart.

While PostgreSQL is down, requests fail fast with 503: connecting is refused at once, or gives
up after ``DATABASE_TIMEOUT`` (asyncpg's connect timeout and command timeout, SQLAlchemy's pool
timeout are all set from it in ``db.py``), and the request middleware turns "database
unreachable" into the contract's 503 body.

When PostgreSQL comes back, pooled connections opened before the outage are dead. asyncpg
notices when the server closes a socket (``is_closed()``), so the pool checks that flag on
checkout and replaces a closed connection before the request sees it: a local attribute read,
no round trip (``pool_pre_ping`` would cost a ``SELECT`` per request). A connection that died
silently (network partition, no FIN) fails its first statement instead; SQLAlchemy then
recognises the disconnect and invalidates the whole pool, so only requests already holding such
a connection get 503.
"""

from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine


def _discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    driver_connection = getattr(dbapi_connection, "_connection", None)
    is_closed = getattr(driver_connection, "is_closed", None)
    if is_closed is not None and is_closed():
        # The pool discards this connection and checks out (or opens) another one.
        raise exc.DisconnectionError("pooled connection was closed by the server")


def discard_closed_connections(engine: AsyncEngine) -> None:
    """Make ``engine``'s pool replace connections the server closed (idempotent)."""
    if engine.dialect.name != "postgresql":
        return
    target = engine.sync_engine
    if not event.contains(target, "checkout", _discard_closed):
        event.listen(target, "checkout", _discard_closed)
