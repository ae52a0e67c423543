"""The engine: SQLite (embedded default) and PostgreSQL (production), one code path.

Requests run on connections in AUTOCOMMIT mode: a single statement is its own transaction, so
the common request costs no BEGIN/COMMIT round trips. Code that needs several statements to
commit together uses :func:`product_partners.db.connections.transaction`.
"""

from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from product_partners.db.checkout import install as direct_checkouts
from product_partners.db.outages import survive_outages
from product_partners.db.pgbouncer import PgBouncerConnection
from product_partners.settings import Settings


def create_engine(settings: Settings, *, autocommit: bool = True, **overrides: Any) -> AsyncEngine:
    """Build the service's engine for ``settings.database_url``.

    ``autocommit=False`` gives ordinary transactional connections (migrations use it): no
    statement timeout (a migration may rewrite a large table), no statement retried.
    """
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if backend == "postgresql":
        if url.get_driver_name() != "asyncpg":
            url = url.set(drivername="postgresql+asyncpg")
        connect_args = asyncpg_connect_args(settings, bounded=autocommit)
        if settings.database_pgbouncer:
            # PgBouncer (transaction pooling) may hand each transaction a different server
            # connection: no prepared statement may outlive its transaction (see
            # PgBouncerConnection), so neither asyncpg nor SQLAlchemy may cache them.
            connect_args["statement_cache_size"] = 0
            connect_args["connection_class"] = PgBouncerConnection
            url = url.update_query_dict({"prepared_statement_cache_size": "0"})
        kwargs["connect_args"] = connect_args
        kwargs.update(
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_timeout=settings.database_timeout,
            pool_pre_ping=False,
        )
    elif backend == "sqlite":
        # sqlite3's busy handler: how long a statement waits for another connection's write
        # lock before "database is locked" (a 503, like a statement timeout on PostgreSQL).
        kwargs["connect_args"] = {"timeout": settings.statement_timeout}
        _ensure_sqlite_directory(url.database)
    # JSON columns decode with orjson, ~4x faster than the json module SQLAlchemy uses otherwise.
    kwargs["json_deserializer"] = orjson.loads
    kwargs.update(overrides)
    engine = create_async_engine(url, **kwargs)
    if backend == "sqlite":
        _configure_sqlite(
            engine, autocommit, busy_timeout_ms=round(settings.statement_timeout * 1000)
        )
    elif backend == "postgresql" and text_timestamps_enabled(settings):
        _configure_postgres(engine)
    if backend == "postgresql":
        direct_checkouts(engine)
    survive_outages(engine, autocommit=autocommit)
    return engine


def asyncpg_connect_args(settings: Settings, *, bounded: bool = True) -> dict[str, Any]:
    """asyncpg's connection arguments for the engine (PgBouncer mode adds its own).
    ``bounded``: statements end at ``DATABASE_STATEMENT_TIMEOUT`` (the service's connections)."""
    connect_args: dict[str, Any] = {
        "timeout": settings.database_timeout,
        # The client's own limit, for a server that does not answer at all. Never shorter than
        # the statement timeout (settings.statement_timeout), so that a server that answers
        # cancels a long statement itself: a clear error, and the connection stays usable.
        "command_timeout": settings.database_timeout,
        "server_settings": {"application_name": "product-partners"},
    }
    if bounded and not settings.database_pgbouncer:
        # A runaway statement (a lock held elsewhere, a plan gone wrong) ends here with a 503
        # instead of holding a pooled connection. (PgBouncer refuses unknown startup
        # parameters: there, set it on the database, see README.)
        milliseconds = round(settings.statement_timeout * 1000)
        connect_args["server_settings"]["statement_timeout"] = str(milliseconds)
    if not settings.database_pgbouncer:
        # asyncpg prepares statements; after five runs PostgreSQL may switch one to a generic
        # plan, estimated for an average product (~10 partners). With the default
        # random_page_cost (4, spinning disks) that plan is "read every partnership of the
        # product, then sort": a page of a product with many partners then costs what all
        # its partners do. The SSD value keeps the generic plan on the (product_id, id)
        # index, so a page costs its 25 rows. (PgBouncer refuses unknown startup
        # parameters: there, set it on the database, see README.)
        connect_args["server_settings"]["random_page_cost"] = "1.1"
    if text_timestamps_enabled(settings):
        # Timestamps travel as text (text_timestamps): in UTC, in ISO format.
        connect_args["server_settings"]["timezone"] = "UTC"
        connect_args["server_settings"]["datestyle"] = "ISO"
    return connect_args


def text_timestamps_enabled(settings: Settings) -> bool:
    """Whether connections read timestamps as text (the one place that decides it). Not behind
    PgBouncer: the text form depends on the session's TimeZone and DateStyle, which there
    belong to server connections shared by many clients, and the hot path, which gains the
    most from it, is off in PgBouncer mode anyway."""
    return not settings.database_pgbouncer


async def text_timestamps(connection: asyncpg.Connection) -> None:
    """Read and write ``timestamptz`` as text, parsed by ``datetime.fromisoformat``.

    asyncpg's binary decoder builds each value with Python arithmetic (~1.4 us of CPU; C
    parsing of the text form ~0.2 us), and a page of partnerships holds ~150 timestamps: ~40% of
    fetching it. Values are the same aware datetimes either way (the session is in UTC).
    """
    await connection.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=datetime.isoformat,
        decoder=datetime.fromisoformat,
        format="text",
    )


def _ensure_sqlite_directory(database: str | None) -> None:
    """Create the directory of a SQLite file (the default one lives in the user's data
    directory, which may not exist yet); SQLite creates the file itself."""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_postgres(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(text_timestamps)


def _configure_sqlite(engine: AsyncEngine, autocommit: bool, busy_timeout_ms: int) -> None:
    if not autocommit:
        # SQLAlchemy's recipe for pysqlite: the driver's own transaction handling is off (see
        # on_connect), so a SQLAlchemy transaction begins with an explicit BEGIN.
        @event.listens_for(engine.sync_engine, "begin")
        def on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let the driver stay out of transaction management; we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()
