"""Password hashing: argon2id (argon2-cffi's defaults, RFC 9106's second recommendation).

Hashing is deliberately slow and memory-hard; callers on the event loop run it in a worker
thread (``asyncio.to_thread``).
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified when the email is unknown, so that a wrong email costs the time a wrong password
# does (no probing for accounts by timing).
_DUMMY_HASH = _hasher.hash("a password nobody has")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (no such user) takes as long and is False."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
