"""Configuration, read from environment variables only (see README, "Configuration")."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # SQLAlchemy URL. SQLite (aiosqlite) is the embedded default; PostgreSQL uses asyncpg.
    database_url: str = "sqlite+aiosqlite:///./product-partners.db"
    # Set when DATABASE_URL points at PgBouncer in transaction-pooling mode: server-side
    # prepared statements cannot survive a connection switch, so asyncpg's cache is turned off.
    database_pgbouncer: bool = False
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    # Seconds a request may wait for the database (connect, pool checkout, statement) before 503.
    database_timeout: float = Field(default=5.0, gt=0)
    # Seconds one statement may run (PostgreSQL's statement_timeout) or wait for a lock
    # (SQLite's busy timeout) before the request gets 503; at most DATABASE_TIMEOUT.
    database_statement_timeout: float = Field(default=3.0, gt=0)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    log_level: str = "info"
    # "json" always, "text" always, or "auto": text on a terminal, JSON otherwise.
    log_format: str = "auto"

    # Rate limit per API key; REDIS_URL shares it between processes (memory otherwise).
    redis_url: str | None = None
    rate_limit: str = "600/minute"
    rate_limit_enabled: bool = True
    # Prefix of every Redis key this service writes (several deployments may share a Redis).
    redis_key_prefix: str = "product-partners"

    # Serve add/get/list product partners on PostgreSQL through fastpath.py (one statement
    # each, no framework layers); off: every request takes the FastAPI routes.
    hot_path: bool = True

    # Largest request body accepted, in bytes (413 beyond).
    max_body_bytes: int = Field(default=65536, ge=1024)

    # Public base scheme used to build partner links (product_url / checkout_url).
    link_scheme: str = "https"

    @property
    def statement_timeout(self) -> float:
        """``database_statement_timeout``, capped by ``database_timeout``: the client gives up
        on a statement at ``database_timeout`` (asyncpg's command timeout), so a longer
        server-side limit would never be reached."""
        return min(self.database_statement_timeout, self.database_timeout)


@lru_cache
def get_settings() -> Settings:
    return Settings()
