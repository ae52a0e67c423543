"""Scopes are ``resource:action``, as in Scalev's v3 API."""

RESOURCES = ("product", "bundle", "store", "webhook")
ACTIONS = ("list", "read", "create", "update", "delete")
# Ours: the event log is read-only (listEvents, getEvent).
READ_ONLY_SCOPES = ("event:list", "event:read")
ALL_SCOPES: tuple[str, ...] = (
    *(f"{r}:{a}" for r in RESOURCES for a in ACTIONS),
    *READ_ONLY_SCOPES,
)


class InvalidScope(ValueError):
    pass


def validate_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    """Return the scopes de-duplicated in canonical order; raise on an unknown one."""
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise InvalidScope(
            f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(ALL_SCOPES)}"
        )
    wanted = set(scopes)
    return [s for s in ALL_SCOPES if s in wanted]
