"""Checking a connection out of the engine's pool without a greenlet when no I/O is needed.

``AsyncEngine.raw_connection`` runs every checkout in a greenlet (~25-45 us of CPU) because a
checkout may have to open a connection, or replace one after an outage. Taking an idle pooled
connection does no I/O, so :func:`checkout` takes it directly, and runs the checkout in a
greenlet only when the pool has no idle connection or the one it took must be replaced: the
pool's connect hook (:func:`install`) then refuses to connect outside a greenlet before any
I/O starts, SQLAlchemy checks the record back in (it needed replacing anyway), and the
checkout runs again, in a greenlet. Same pool, same SQLAlchemy checkout: only the hop is saved.
"""

from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

# Set while :func:`checkout` tries its checkout outside a greenlet.
_WITHOUT_GREENLET: ContextVar[bool] = ContextVar("checkout_without_greenlet", default=False)
# Whether :func:`install` ran for an engine (in its __dict__), and how many of its pool's
# checkouts are to run in a greenlet after one found a connection to open (in the pool's).
_DIRECT = "_pp_checkout_direct"
_IN_GREENLET = "_pp_checkouts_in_greenlet"


class _NeedsConnecting(Exception):
    """The checkout must open a connection: I/O, which needs a greenlet."""


def _refuse_outside_greenlet(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
    if _WITHOUT_GREENLET.get():
        raise _NeedsConnecting()


def install(engine: AsyncEngine) -> None:
    """Let :func:`checkout` take ``engine``'s idle connections without a greenlet."""
    if not event.contains(engine.sync_engine, "do_connect", _refuse_outside_greenlet):
        event.listen(engine.sync_engine, "do_connect", _refuse_outside_greenlet)
    engine.sync_engine.__dict__[_DIRECT] = True  # the engine's: dispose() makes a new pool


async def checkout(engine: AsyncEngine) -> Any:
    """A pooled connection from ``engine`` (SQLAlchemy's checkout): directly when an idle one
    can be taken, else in a greenlet (``AsyncEngine.raw_connection``)."""
    pool = engine.sync_engine.pool
    state = pool.__dict__
    direct = engine.sync_engine.__dict__.get(_DIRECT)
    if direct and isinstance(pool, QueuePool) and pool.checkedin():
        in_greenlet = state.get(_IN_GREENLET, 0)
        if in_greenlet:
            state[_IN_GREENLET] = in_greenlet - 1
        else:
            token = _WITHOUT_GREENLET.set(True)
            try:
                return engine.sync_engine.raw_connection()
            except _NeedsConnecting:
                # The record that must connect went back to the end of the pool's queue, and
                # the greenlet's checkout takes the queue's first: the next checkouts run in
                # a greenlet until it has come round (else each would try it first, again).
                state[_IN_GREENLET] = pool.size() + max(pool.overflow(), 0)
            finally:
                _WITHOUT_GREENLET.reset(token)
    return await engine.raw_connection()
