"""A partnership's ETag (its version, ``"<version>"``) and the If-Match header that names them.

Every change bumps ``version``; a write sent with If-Match changes the partnership only while
it is still at one of the named versions (412 otherwise), so a decision taken on a stale read
never overwrites a change its author has not seen.
"""


def etag(version: int) -> str:
    """The ETag of a partnership: its version, as a strong entity tag."""
    return f'"{version}"'


def parse_if_match(header: str | None) -> list[int] | None:
    """The versions an If-Match header accepts; None when there is no precondition.

    ``*`` only requires the partnership to exist, which every write checks anyway. Tags are
    compared by version (``W/`` is tolerated); a header naming no valid tag matches nothing.
    """
    if header is None or header.strip() == "*":
        return None
    versions = []
    for raw in header.split(","):
        tag = raw.strip().removeprefix("W/")
        inner = tag[1:-1]
        if (
            len(tag) >= 3
            and tag[0] == tag[-1] == '"'
            and inner.isascii()
            and inner.isdigit()
            and len(inner) < 10
        ):
            versions.append(int(inner))
    return versions
