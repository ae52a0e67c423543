"""Surviving a database outage, restart or crash without a restart of our own.

While PostgreSQL is down, requests fail fast with 503: connecting is refused at once, or gives
up after ``DATABASE_TIMEOUT`` (asyncpg's connect timeout and command timeout, SQLAlchemy's pool
timeout are all set from it in ``db.py``), and the request middleware turns "database
unreachable" into the contract's 503 body.

When PostgreSQL comes back, pooled connections opened before the outage are dead:

- asyncpg notices when the server closes a socket (``is_closed()``), so the pool checks that
  flag on checkout and replaces a closed connection before the request sees it: a local
  attribute read, no round trip (``pool_pre_ping`` would cost a ``SELECT`` per request).
- A restart (``pg_ctl restart -m fast``) first sends every idle connection a FATAL
  "terminating connection"; until asyncpg has processed the close that follows, the
  connection looks open and refuses its next statement *before sending it* ("cannot switch to
  state"). Such a statement runs once more on a fresh connection (:func:`may_retry` decides;
  ``db.Driver`` and ``db.PreparedQuery`` retry their own statements, :func:`survive_outages`
  SQLAlchemy's), unless it belongs to a transaction (``db.transaction``: its earlier
  statements died with the connection). A connection lost while a statement ran is not
  retried: whether it ran is unknown, so the request gets 503 (a retried add could not
  duplicate a partnership, its insert is ``ON CONFLICT DO NOTHING``, but it would answer 409
  to the caller's own add, which did commit).
- A broken connection is a disconnect to SQLAlchemy (:func:`_broken_is_disconnect`): the pool
  discards it and replaces every connection opened before it at their next checkout (they
  were opened on the same, now gone, server).
- The pool logs an error with a traceback for every such connection it fails to close or
  reset: during a restart, a flood. :class:`QuietPoolNoise` makes that one warning a minute.
"""

import contextvars
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.log import InstanceLogger
from sqlalchemy.pool import Pool

from product_partners.db.faults import is_connection_broken, is_database_unavailable, was_not_sent
from product_partners.kit.ops.logs import Throttle

# Set while the current task runs the statements of a db.transaction block: none of them may
# move to another connection.
_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pp_in_transaction", default=False
)


@contextmanager
def statements_in_transaction() -> Iterator[None]:
    """Mark the block's statements as one transaction's (no retry on another connection)."""
    token = _in_transaction.set(True)
    try:
        yield
    finally:
        _in_transaction.reset(token)


def in_transaction() -> bool:
    """Whether the current task runs the statements of a db.transaction block."""
    return _in_transaction.get()


def may_retry(exc: BaseException) -> bool:
    """Whether a statement that raised ``exc`` may run once more on a fresh connection: it was
    never sent, and it is not part of a transaction."""
    return was_not_sent(exc) and not _in_transaction.get()


def forget_pooled_connections(pool: Pool, broken: Any) -> None:
    """Discard ``broken`` (a pooled connection) and make the pool replace every connection
    opened before it at their next checkout: what SQLAlchemy does itself on a disconnect
    (``Pool._invalidate``; SQLAlchemy is pinned in requirements.lock). Runs in a greenlet."""
    terminate = getattr(broken.driver_connection, "terminate", None)
    if terminate is not None:
        terminate()  # asyncpg: at once; a graceful close would wait for a server that is gone
    pool._invalidate(broken)


def _discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    driver_connection = getattr(dbapi_connection, "_connection", None)
    is_closed = getattr(driver_connection, "is_closed", None)
    if is_closed is not None and is_closed():
        # The pool discards this connection and checks out (or opens) another one.
        raise exc.DisconnectionError("pooled connection was closed by the server")


def _broken_is_disconnect(context: ExceptionContext) -> None:
    # SQLAlchemy's asyncpg dialect asks is_closed(), which stays false for a connection that
    # received the server's FATAL until its close is processed.
    if not context.is_disconnect and is_connection_broken(context.original_exception):
        context.is_disconnect = True


def _run_retrying_unsent(context: Any, run: Callable[[Any], None]) -> bool:
    """Run ``run(cursor)``; if the driver refused it unsent, once more on a fresh connection
    (SQLAlchemy's "retry a statement on an autocommit connection" recipe)."""
    try:
        run(context.cursor)
    except Exception as error:
        if not may_retry(error):
            raise
        connection = context.root_connection
        forget_pooled_connections(connection.engine.pool, connection.connection)
        connection.invalidate(error)
        connection.rollback()  # ends the (empty) autobegun transaction: allows a reconnect
        context.cursor = connection.connection.cursor()
        run(context.cursor)
    return True


def _do_execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    dialect = context.dialect
    return _run_retrying_unsent(
        context, lambda c: dialect.do_execute(c, statement, parameters, context)
    )


def _do_execute_no_params(cursor: Any, statement: str, context: Any) -> bool:
    dialect = context.dialect
    return _run_retrying_unsent(context, lambda c: dialect.do_execute_no_params(c, statement))


class QuietPoolNoise(logging.Filter):
    """The pool's "Exception closing connection" (or terminating, resetting) errors about
    connections the database had already terminated: one warning a minute without the
    traceback, saying how many were left out. Any other error passes as it is."""

    def __init__(self) -> None:
        super().__init__()
        self.throttle = Throttle()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.levelno < logging.ERROR or error is None:
            return True
        if not is_database_unavailable(error):
            return True
        left_out = self.throttle.admit()
        if left_out is None:
            return False
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg = (
            "closing pooled connections that the database terminated (%s: %s); "
            "%d more since the last line"
        )
        record.args = (type(error).__name__, error, left_out)
        record.exc_info = record.exc_text = None
        return True


def quiet_pool_noise(pool: Pool) -> None:
    """Attach :class:`QuietPoolNoise` to ``pool``'s logger (shared by pools of one class)."""
    logger = pool.logger.logger if isinstance(pool.logger, InstanceLogger) else pool.logger
    if not any(isinstance(f, QuietPoolNoise) for f in logger.filters):
        logger.addFilter(QuietPoolNoise())


def survive_outages(engine: AsyncEngine, *, autocommit: bool) -> None:
    """Install the above on ``engine`` (idempotent). Statements are retried only on autocommit
    connections, where each statement is its own transaction."""
    target = engine.sync_engine
    listeners: list[tuple[str, Callable[..., Any]]] = [
        ("checkout", _discard_closed),
        ("handle_error", _broken_is_disconnect),
    ]
    if autocommit:
        listeners += [("do_execute", _do_execute), ("do_execute_no_params", _do_execute_no_params)]
    for name, listener in listeners:
        if not event.contains(target, name, listener):
            event.listen(target, name, listener)
    quiet_pool_noise(engine.pool)
