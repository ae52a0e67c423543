"""The API key format and its hash.

A key reads ``ppk_<prefix>_<secret>``. The prefix (12 hex characters) is stored in clear and
finds the key's row with one indexed lookup; the whole key is stored only as its SHA-256.
A key carries 256 random bits, so a fast hash is as strong as a slow one here and costs no
time per request; the comparison is constant-time.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "ppk"


@dataclass(frozen=True)
class NewKey:
    key: str
    prefix: str
    key_hash: str


def generate_key() -> NewKey:
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key=key, prefix=prefix, key_hash=hash_key(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_prefix(key: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12 or len(parts[2]) < 32:
        return None
    return parts[1]


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)
