"""Configuration, read from environment variables only (see README, "Configuration").

Every setting is validated when read: a wrong value is refused with a message that names the
variable and the forms it accepts (``describe_settings_error``), never a traceback.
"""

import ipaddress
import os
import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from limits import parse as parse_rate_limit
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("auto", "json", "text")

# What each variable accepts, for the one-line error of a wrong value.
ACCEPTED_FORMS = {
    "database_url": "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DB "
    "(postgres:// and postgresql:// URLs are read as asyncpg ones)",
    "database_pgbouncer": "true or false",
    "database_pool_size": "a whole number of connections, at least 1",
    "database_max_overflow": "a whole number of connections, 0 or more",
    "database_timeout": "a number of seconds above 0, e.g. 5 or 2.5",
    "database_replica_urls": "PostgreSQL URLs of standbys, separated by commas "
    "(postgresql+asyncpg://USER@HOST:PORT/DB,...), or empty for none",
    "database_replica_max_lag": "a number of seconds above 0, e.g. 1 or 0.5",
    "host": "an address to listen on, e.g. 127.0.0.1 or 0.0.0.0",
    "port": "a port number from 1 to 65535",
    "workers": "a whole number of processes, at least 1",
    "log_level": " | ".join(LOG_LEVELS),
    "log_format": " | ".join(LOG_FORMATS),
    "rate_limit": "N/second, N/minute, N/hour or N/day, e.g. 600/minute",
    "rate_limit_enabled": "true or false",
    "partner_add_limit": "N/second, N/minute, N/hour or N/day, e.g. 1000/hour",
    "hot_path": "true or false",
    "max_body_bytes": "a number of bytes, at least 1024",
    "export_batch_size": "a whole number of rows, from 1 to 10000",
    "max_request_header_bytes": "a number of bytes, at least 1024",
    "max_request_headers": "a whole number of headers, at least 16",
    "request_read_timeout": "a number of seconds above 0, e.g. 10 or 2.5",
    "auth_failure_limit": "N/second, N/minute, N/hour or N/day, e.g. 30/minute",
    "auth_failure_delay": "a number of seconds, 0 or more, e.g. 1 or 0.5 (0: no delay)",
    "link_scheme": "https or http",
    "webhook_loopback_http": "true or false (unset: true on SQLite, false on PostgreSQL)",
    "webhook_delivery_in_process": "true or false (unset: true on SQLite, false on PostgreSQL)",
    "webhook_timeout": "a number of seconds above 0, e.g. 10",
    "webhook_lease_seconds": "a number of seconds, more than WEBHOOK_TIMEOUT, e.g. 60",
    "webhook_retry_base_seconds": "a number of seconds above 0, e.g. 5",
    "webhook_max_attempts": "a whole number of attempts, at least 1",
    "webhook_secret_overlap_seconds": "a number of seconds, 0 or more, e.g. 86400",
    "idempotency_key_hours": "a number of hours above 0, e.g. 24",
    "dns_nameservers": "empty (the system resolver) or comma-separated IP addresses, each with "
    "an optional port, e.g. 192.0.2.53, [2001:db8::53]:53 or 127.0.0.1:5353",
    "dns_timeout": "a number of seconds above 0, e.g. 5 or 2.5",
    "domain_claim_ttl": "a number of seconds or an ISO 8601 duration above 0, e.g. 259200 or P3D",
    "dashboard_sign_in_limit": "N/second, N/minute, N/hour or N/day, e.g. 10/minute",
    "dashboard_sign_in_address_limit": "N/second, N/minute, N/hour or N/day, e.g. 60/minute",
}

# How long an unverified custom-domain claim lives (DOMAIN_CLAIM_TTL).
DEFAULT_DOMAIN_CLAIM_TTL = timedelta(days=3)


def default_database_url() -> str:
    """The embedded default: one SQLite file in the user's data directory
    (``$XDG_DATA_HOME/product-partners/``, else ``~/.local/share/product-partners/``), so the
    CLI and the server find the same database whichever directory they start from."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite+aiosqlite:///{Path(data_home) / 'product-partners' / 'product-partners.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # SQLAlchemy URL. SQLite (aiosqlite) is the embedded default; PostgreSQL uses asyncpg.
    database_url: str = Field(default_factory=default_database_url)
    # Set when DATABASE_URL points at PgBouncer in transaction-pooling mode: server-side
    # prepared statements cannot survive a connection switch, so asyncpg's cache is turned off.
    database_pgbouncer: bool = False
    # Connections per worker process. A fixed pool (no overflow) is the fast configuration:
    # overflow connections are opened and closed under load, which costs more than waiting
    # for a pooled one (bench/NOTES.md). See README, "Sizing the pool".
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=0, ge=0)
    # Seconds a request may wait for the database (connect, pool checkout, statement) before 503.
    database_timeout: float = Field(default=5.0, gt=0)
    # Seconds one statement may run (PostgreSQL's statement_timeout) or wait for a lock
    # (SQLite's busy timeout) before the request gets 503; at most DATABASE_TIMEOUT.
    database_statement_timeout: float = Field(default=3.0, gt=0)

    # PostgreSQL standbys (streaming replicas of DATABASE_URL) that serve reads: GET requests
    # go to one whose replay has passed the caller's last write, else to the primary
    # (db/replicas.py, README "Read replicas"). Empty: every request on DATABASE_URL.
    database_replica_urls: Annotated[tuple[str, ...], NoDecode] = ()
    # Seconds a replica may lag behind the primary and still serve reads.
    database_replica_max_lag: float = Field(default=1.0, gt=0)

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
    # Partners (product or bundle) one owner may add per window, whatever its keys: adding
    # names businesses, and an owner must not sweep the platform's unique ids.
    partner_add_limit: str = "1000/hour"
    # Prefix of every Redis key this service writes (several deployments may share a Redis).
    redis_key_prefix: str = "product-partners"

    # Serve add/get/list product partners on PostgreSQL through fastpath.py (one statement
    # each, no framework layers); off: every request takes the FastAPI routes.
    hot_path: bool = True

    # Largest request body accepted, in bytes (413 beyond).
    max_body_bytes: int = Field(default=65536, ge=1024)
    # Partnerships an export (exportProductPartners) reads per statement: its memory is about
    # one batch, whatever the number of rows.
    export_batch_size: int = Field(default=1000, ge=1, le=10000)

    # Bounds of the server itself (kit/ops/protocol.py), whatever proxy is or is not in front:
    # the request line and headers of one request (431 beyond), their number (431 beyond),
    # and the seconds a client has to send a whole request from its first byte (408/closed).
    max_request_header_bytes: int = Field(default=32768, ge=1024)
    max_request_headers: int = Field(default=100, ge=16)
    request_read_timeout: float = Field(default=10.0, gt=0)

    # Refused authentications (unknown key, wrong secret, revoked) per client address and
    # window, per process; beyond, that address's requests are refused with 429 before any
    # database lookup, except those carrying a key this process has verified (auth/gate.py).
    auth_failure_limit: str = "30/minute"
    # Seconds such an address waits for each of those 429s (auth/middleware.py); 0: none.
    auth_failure_delay: float = Field(default=1.0, ge=0)

    # Public base scheme used to build partner links (product_url / checkout_url).
    link_scheme: str = "https"

    # Webhooks (README, "Events and webhooks"). Plain http to the loopback interface is
    # accepted for endpoint URLs only where allowed (unset: on the embedded SQLite default).
    webhook_loopback_http: bool | None = None
    # `serve` also delivers webhooks, in each of its processes (unset: on SQLite); with
    # PostgreSQL run `product-partners worker` processes instead (or as well).
    webhook_delivery_in_process: bool | None = None
    # Seconds one delivery may take (connect, send, answer).
    webhook_timeout: float = Field(default=10.0, gt=0)
    # Seconds a claimed delivery is the claiming worker's; a worker killed meanwhile leaves it
    # to another once this has passed. Longer than webhook_timeout.
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    # Retry n waits base * 4^(n-1) seconds (at most 12 hours), +-20% jitter: with the defaults
    # 13 attempts over about three days.
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=13, ge=1)
    # After a secret rotation the previous secret also signs for this long.
    webhook_secret_overlap_seconds: float = Field(default=86400.0, ge=0)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def allows_loopback_http(self) -> bool:
        chosen = self.webhook_loopback_http
        return self.is_sqlite if chosen is None else chosen

    @property
    def delivers_in_process(self) -> bool:
        chosen = self.webhook_delivery_in_process
        return self.is_sqlite if chosen is None else chosen

    # Hours an Idempotency-Key's response is kept and replayed (idempotency/); expired keys
    # are deleted by each process about once a minute, from the requests that send a key.
    idempotency_key_hours: float = Field(default=24, gt=0)
    # Where verifyCustomDomain looks up a domain's TXT record: "" asks the system resolver
    # (/etc/resolv.conf), otherwise these servers ("IP[:PORT],..."); DNS_TIMEOUT bounds the
    # whole lookup. DOMAIN_CLAIM_TTL: how long an unverified claim lives.
    dns_nameservers: str = ""
    dns_timeout: float = Field(default=5.0, gt=0)
    domain_claim_ttl: timedelta = DEFAULT_DOMAIN_CLAIM_TTL
    # Dashboard sign-in attempts allowed per account (email) and per client address.
    dashboard_sign_in_limit: str = "10/minute"
    dashboard_sign_in_address_limit: str = "60/minute"

    @property
    def statement_timeout(self) -> float:
        """``database_statement_timeout``, capped by ``database_timeout``: the client gives up
        on a statement at ``database_timeout`` (asyncpg's command timeout), so a longer
        server-side limit would never be reached."""
        return min(self.database_statement_timeout, self.database_timeout)

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        """``dns_nameservers`` as (address, port) pairs; empty: the system resolver."""
        return [parse_nameserver(item) for item in self.dns_nameservers.split(",") if item.strip()]

    @field_validator("dns_nameservers")
    @classmethod
    def _dns_nameservers(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            parse_nameserver(item)
        return ",".join(items)

    @field_validator("domain_claim_ttl")
    @classmethod
    def _domain_claim_ttl(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _database_replica_urls(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("not a list of URLs")
        urls = tuple(normalize_database_url(str(item)) for item in items if str(item).strip())
        if any(not url.startswith("postgresql") for url in urls):
            raise ValueError("replicas are PostgreSQL standbys")
        return urls

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        choice = value.strip().lower()
        if choice not in LOG_FORMATS:
            raise ValueError(f"unknown log format {value!r}")
        return choice

    @field_validator(
        "rate_limit",
        "partner_add_limit",
        "auth_failure_limit",
        "dashboard_sign_in_limit",
        "dashboard_sign_in_address_limit",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError:
            raise ValueError(f"not a rate limit: {value!r}") from None
        return value

    @field_validator("webhook_lease_seconds")
    @classmethod
    def _lease(cls, value: float, info: ValidationInfo) -> float:
        timeout = info.data.get("webhook_timeout")
        if timeout is not None and value <= timeout:
            raise ValueError("must be more than WEBHOOK_TIMEOUT")
        return value

    @field_validator("link_scheme")
    @classmethod
    def _link_scheme(cls, value: str) -> str:
        scheme = value.strip().lower()
        if scheme not in ("https", "http"):
            raise ValueError(f"unknown scheme {value!r}")
        return scheme


def normalize_database_url(raw: str) -> str:
    """``raw`` with the driver this service uses for its database (asyncpg, aiosqlite);
    ValueError for a URL that is neither PostgreSQL nor SQLite."""
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise ValueError("not a database URL") from None
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "asyncpg", "psycopg2", "psycopg"):
            raise ValueError(f"PostgreSQL is reached with asyncpg, not {driver}")
        url = url.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        if driver not in ("", "aiosqlite", "pysqlite"):
            raise ValueError(f"SQLite is reached with aiosqlite, not {driver}")
        url = url.set(drivername="sqlite+aiosqlite")
    else:
        raise ValueError(f"unsupported database {backend!r}")
    return url.render_as_string(hide_password=False)


def parse_nameserver(item: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT`` or ``[IPv6]:PORT`` as (address, port); ValueError otherwise."""
    text = item.strip()
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:]+)(?::(\d+))?|([0-9a-fA-F:]+)", text)
    if match is None:
        raise ValueError(f"not a name server address: {item!r}")
    address = match.group(1) or match.group(3) or match.group(5)
    port = int(match.group(2) or match.group(4) or 53)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"not an IP address: {address!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"not a port: {port}")
    return address, port


def describe_settings_error(exc: ValidationError) -> str:
    """One line per wrong variable: its name, what was wrong, and the forms it accepts."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else "?"
        given = error.get("input")
        if field == "database_url" and isinstance(given, str):
            given = _redacted_url(given)
        elif field == "database_replica_urls" and isinstance(given, str):
            given = ",".join(_redacted_url(url) for url in given.split(","))
        reason = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        forms = ACCEPTED_FORMS.get(field)
        line = f"{field.upper()}={given!r}: {reason}" if given is not None else field.upper()
        if forms:
            line += f"; accepted: {forms}"
        lines.append(line)
    return "invalid setting: " + "; ".join(lines)


def _redacted_url(raw: str) -> str:
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a URL>"


@lru_cache
def get_settings() -> Settings:
    return Settings()
