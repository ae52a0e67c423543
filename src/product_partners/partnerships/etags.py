"""A partnership's ETag (its version, ``"<version>"``) and the If-Match header that names them.

Every change bumps ``version``; a write sent with If-Match changes the partnership only while
it is still at one of the named versions (412 otherwise), so a decision taken on a stale read
never overwrites a change its author has not seen.

A header names at most ``MAX_IF_MATCH_TAGS`` tags (400 ``too_many_etags`` beyond): a client
has at most a few versions in hand, and each tag becomes a bound parameter of the write.
"""

from product_partners.partnerships.errors import TooManyEtags

MAX_IF_MATCH_TAGS = 16
# The largest version a tag may name (9 digits: the column is a 32-bit integer).
MAX_VERSION = 10**9 - 1


def etag(version: int) -> str:
    """The ETag of a partnership: its version, as a strong entity tag."""
    return f'"{version}"'


def parse_if_match(header: str | None) -> list[int] | None:
    """The versions an If-Match header accepts; None when there is no precondition.

    ``*`` only requires the partnership to exist, which every write checks anyway. Tags are
    compared by version (``W/`` is tolerated); a header naming no valid tag matches nothing.
    More than ``MAX_IF_MATCH_TAGS`` tags is :class:`TooManyEtags`, found without splitting
    the rest of the header.
    """
    if header is None or header.strip() == "*":
        return None
    tags = header.split(",", MAX_IF_MATCH_TAGS)
    if len(tags) > MAX_IF_MATCH_TAGS:
        raise TooManyEtags(MAX_IF_MATCH_TAGS)
    versions = []
    for raw in tags:
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
