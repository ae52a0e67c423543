"""The vocabulary of idempotency keys: the header, its limits, the states of a key's record."""

from enum import StrEnum

HEADER = "Idempotency-Key"
# A key is 1 to MAX_KEY_LENGTH printable ASCII characters (a UUID is the usual choice).
MAX_KEY_LENGTH = 255


class KeyState(StrEnum):
    # Claimed by a request that is still running; its response is not known yet.
    in_flight = "in_flight"
    # The first response is stored and replayed to every request with this key.
    completed = "completed"
