"""What a request with a bad key, or over its limit, costs: nothing from the database.

Every authenticated request looks its key up by prefix (one indexed statement). Before that
lookup, each process's :class:`AuthGate` refuses, from memory alone, what it already knows to
be refused:

- a token whose prefix the database did not know, for ``UNKNOWN_TTL`` seconds (401);
- a token whose prefix the database knew, with another secret (401): a prefix names one key
  row and its hash for good (a rotated key gets a new prefix), so a wrong secret stays wrong;
- a verified key over its rate limit, until its window ends (429 with the limiter's headers);
- with rate limiting on, any request from a client address that had ``AUTH_FAILURE_LIMIT``
  refused authentications (unknown key, wrong secret, revoked) in the current window, unless
  its key's prefix and hash are ones this process has verified (429
  ``too_many_auth_failures``): a flood of random keys costs at most that many lookups per
  address and process, and a good key behind the same address still gets through.

Nothing positive is cached: a key that matches what the gate knows is still looked up, so a
revocation is refused at once by every worker. Both tables are bounded (least recently used
entries go first).
"""

import hmac
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TypeVar

from limits import parse
from starlette.requests import Request

from product_partners.auth.errors import AuthFailuresLimited, InvalidApiKey
from product_partners.auth.keys import hash_key
from product_partners.kit.errors import RateLimited
from product_partners.kit.http.ratelimit import Headers

# app.state's name of the process's gate (app.py builds it).
AUTH_GATE = "auth_gate"
# Seconds a prefix the database did not know is refused from memory.
UNKNOWN_TTL = 60.0
# Entries of each table (a few MB at most).
CAPACITY = 10_000
# The request state's mark that this request's refusal was counted (the hot path may hand a
# request to its route, which authenticates again).
_COUNTED = "auth_failure_counted"


@dataclass(slots=True)
class _Known:
    """A prefix the database knew: its key's hash, and until when it is over its rate limit."""

    key_hash: str
    over_until: float = 0.0
    headers: Headers = field(default_factory=list)


class AuthGate:
    def __init__(self, failure_limit: str | None, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()  # prefix -> monotonic expiry
        self._failures: OrderedDict[str, tuple[int, int]] = OrderedDict()  # address -> window, n
        item = parse(failure_limit) if failure_limit else None
        self.failure_limit = item.amount if item else None
        self.window = item.get_expiry() if item else 60

    # --- before the lookup ------------------------------------------------------------------

    def verified(self, token: str, prefix: str) -> bool:
        """Whether ``token`` is a key this process verified and that is within its rate limit:
        the gate has nothing to refuse (the key is still looked up: revocation)."""
        known = self._known.get(prefix)
        if (
            known is None
            or known.over_until > time.time()
            or not hmac.compare_digest(hash_key(token), known.key_hash)
        ):
            return False
        self._known.move_to_end(prefix)  # as admit() does: recently used
        return True

    def admit(self, request: Request, token: str, prefix: str) -> None:
        """Raise the refusal this process already knows for ``token``; return if the database
        has to be asked."""
        known = self._known.get(prefix)
        if known is not None:
            self._known.move_to_end(prefix)
            if hmac.compare_digest(hash_key(token), known.key_hash):
                now = time.time()
                if known.over_until > now:
                    request.state.ratelimit_headers = known.headers
                    retry_after = max(1, math.ceil(known.over_until - now))
                    raise RateLimited(headers={"Retry-After": str(retry_after)})
                return  # a key it verified: always looked up (revocation)
        # Not a key this process verified: an address over its limit goes no further.
        wait = self._over_failure_limit(request)
        if wait is not None:
            raise AuthFailuresLimited(headers={"Retry-After": str(wait)})
        expiry = self._unknown.get(prefix)
        if known is not None or (expiry is not None and expiry > time.monotonic()):
            self._count_failure(request)  # another secret for a known prefix, or unknown
            raise InvalidApiKey()

    # --- after the lookup -------------------------------------------------------------------

    def looked_up(self, prefix: str, key_hash: str | None) -> None:
        """What the database said about ``prefix``: its key's hash, or None (no such key)."""
        if key_hash is None:
            self._known.pop(prefix, None)
            _put(self._unknown, prefix, time.monotonic() + UNKNOWN_TTL, self.capacity)
        else:
            self._unknown.pop(prefix, None)
            if prefix not in self._known:
                _put(self._known, prefix, _Known(key_hash), self.capacity)

    def refused(self, request: Request) -> None:
        """The database refused the request's key (unknown, wrong secret, revoked)."""
        self._count_failure(request)

    def over_limit(self, prefix: str, headers: Headers, retry_after: int) -> None:
        """The verified key of ``prefix`` is over its rate limit for ``retry_after`` seconds."""
        known = self._known.get(prefix)
        if known is not None:
            known.over_until = time.time() + retry_after
            known.headers = headers

    # --- failures per client address --------------------------------------------------------

    def _window(self) -> int:
        return int(time.time() // self.window)

    def _count_failure(self, request: Request) -> None:
        state = request.scope.setdefault("state", {})
        if self.failure_limit is None or state.get(_COUNTED):
            return
        state[_COUNTED] = True
        address = _address(request)
        window, count = self._failures.get(address, (0, 0))
        current = self._window()
        _put(
            self._failures, address, (current, count + 1 if window == current else 1), self.capacity
        )

    def _over_failure_limit(self, request: Request) -> int | None:
        """Seconds until the address may try again, or None if it is within its limit (or
        this request was already refused by the database: the hot path handed it to its
        route, which gives the same answer)."""
        if self.failure_limit is None or request.scope.get("state", {}).get(_COUNTED):
            return None
        window, count = self._failures.get(_address(request), (0, 0))
        current = self._window()
        if window != current or count < self.failure_limit:
            return None
        return max(1, math.ceil((current + 1) * self.window - time.time()))


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


T = TypeVar("T")


def _put(table: "OrderedDict[str, T]", name: str, value: T, capacity: int) -> None:
    table[name] = value
    table.move_to_end(name)
    while len(table) > capacity:
        table.popitem(last=False)


def auth_gate(request: Request) -> AuthGate:
    """The app's gate (``app.state.auth_gate``)."""
    gate: AuthGate = getattr(request.app.state, AUTH_GATE)
    return gate
