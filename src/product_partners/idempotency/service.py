"""The rules of Idempotency-Key: what a key may be, when two requests are the same, which
responses are kept, and the claim that lets one request of many run.

A key is claimed before the work (``claim``): an ``INSERT ... ON CONFLICT DO NOTHING`` of an
in_flight row, so among requests that arrive at once, on any process, exactly one inserts it
and runs. The others read the row: another fingerprint is 422 ``idempotency_key_reused``, a
row still in flight is 409 ``idempotency_key_in_flight`` (with Retry-After), a completed row
is its stored response. After the work the response is stored (``complete``) before the client
gets it, or the claim is dropped (``release``) when the response asks the client to retry.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.idempotency import repository
from product_partners.idempotency.enums import MAX_KEY_LENGTH, KeyState
from product_partners.idempotency.errors import (
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)

# How long a claim holds while its request runs. A request's statements are bounded by the
# database timeouts (seconds), so a claim still in flight after this was left by a process
# that died: the next request with the key takes it over.
IN_FLIGHT_LEASE = timedelta(seconds=60)
# Retry-After of a 409 for a key in flight: requests finish in well under a second.
IN_FLIGHT_RETRY_AFTER = 1
# Statuses that ask the client to try again later (the request was not carried out, or not
# known to be): the claim is dropped and nothing is stored. Every other response, 2xx and
# 4xx alike, is final: stored and replayed. 401 and 429 are refusals before any work (a key
# revoked meanwhile, a rate limit) that a later attempt may pass.
RETRY_STATUSES = frozenset({401, 429})
# Response headers that are the transport's, not the response's: never stored.
_NOT_STORED = frozenset({b"content-length", b"transfer-encoding", b"connection", b"date"})
# Claim attempts before answering 409: a row may be released or expire between our INSERT
# and our SELECT.
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Claim:
    """This request holds the key: it runs, then completes or releases the claim."""

    business_id: int
    key: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def parse_key(values: list[bytes]) -> str:
    """The key of the request's ``Idempotency-Key`` header values (sent once): 1 to 255
    printable ASCII characters; otherwise 400 ``invalid_idempotency_key``."""
    if len(values) != 1:
        raise InvalidIdempotencyKey()
    raw = values[0]
    if not 0 < len(raw) <= MAX_KEY_LENGTH or not all(0x20 <= byte <= 0x7E for byte in raw):
        raise InvalidIdempotencyKey()
    return raw.decode("ascii")


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """SHA-256 (hex) of the request: method, path, query string and body. A key sent again
    with another fingerprint is another request."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        # Length-prefixed: no two different requests run together into the same bytes.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def is_final(status: int) -> bool:
    """Whether a response is stored and replayed (see ``RETRY_STATUSES``; 5xx never are)."""
    return status < 500 and status not in RETRY_STATUSES


def stored_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in headers if name.lower() not in _NOT_STORED]


async def claim(
    conn: AsyncConnection, business_id: int, key: str, request_fingerprint: str, now: datetime
) -> Claim | StoredResponse:
    """The key for this request (``Claim``: run it), or the response stored for it. Raises
    ``IdempotencyKeyReused`` (another request's key) or ``IdempotencyKeyInFlight``."""
    for _ in range(_CLAIM_ATTEMPTS):
        if await repository.insert_claim(
            conn, business_id, key, request_fingerprint, now, now + IN_FLIGHT_LEASE
        ):
            return Claim(business_id, key, now)
        row = await repository.find(conn, business_id, key)
        if row is None:
            continue  # released (a 5xx) since our insert: claim again
        if _aware(row.expires_at) <= now:
            # Expired (or a claim whose process died): drop it and claim it anew. The DELETE
            # re-checks expiry, so a row another request just claimed is left alone.
            await repository.delete_expired(conn, business_id, key, now)
            continue
        if row.fingerprint != request_fingerprint:
            raise IdempotencyKeyReused()
        if row.state == KeyState.in_flight:
            break
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in orjson.loads(row.headers)]
        return StoredResponse(row.status, headers, row.body)
    raise IdempotencyKeyInFlight(IN_FLIGHT_RETRY_AFTER)


async def complete(
    conn: AsyncConnection, held: Claim, response: StoredResponse, keep: timedelta
) -> None:
    """Store the response of the request that holds ``held``, kept ``keep`` from its claim."""
    headers = orjson.dumps(
        [(n.decode("latin-1"), v.decode("latin-1")) for n, v in response.headers]
    )
    await repository.complete(
        conn,
        held.business_id,
        held.key,
        held.created_at,
        status=response.status,
        headers=headers.decode(),
        body=response.body,
        expires_at=held.created_at + keep,
    )


async def release(conn: AsyncConnection, held: Claim) -> None:
    """Drop the claim ``held``: the next request with the key runs."""
    await repository.release(conn, held.business_id, held.key, held.created_at)


async def sweep(conn: AsyncConnection, now: datetime) -> int:
    """Delete every expired key (and every abandoned claim); the number deleted."""
    return await repository.delete_all_expired(conn, now)


def _aware(value: Any) -> datetime:
    """SQLite gives back naive datetimes (stored in UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
