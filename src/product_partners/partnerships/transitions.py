"""The partnership lifecycle, as data: who may move a partnership from which status to which.

This table is the single source of truth. The service consults it before every write (and
turns the allowed source statuses into the ``WHERE affiliate_status IN (...)`` of one
conditional UPDATE/DELETE), the README and the OpenAPI descriptions render it, and
``tests/test_transitions_table.py`` walks every actor x status x action against the API.

``None`` as a source means "no partnership yet"; ``None`` as a target means "the partnership
is deleted" (the partner may then ask again like a newcomer).

A decision on a pending request is made once: approve and reject both start only from
``pending``, so of concurrent approve/reject calls exactly one can win even without If-Match.
An owner who changes their mind about a rejection removes the partnership and adds the partner
directly, or waits for the partner to request again.
"""

from dataclasses import dataclass

from product_partners.partnerships.enums import Actor, AffiliateStatus
from product_partners.partnerships.errors import InvalidTransition

OWNER, PARTNER, SYSTEM = Actor.owner, Actor.partner, Actor.system
# The actors that act through the API (the service itself moves partnerships as SYSTEM).
ACTORS = (OWNER, PARTNER)
STATUSES = tuple(AffiliateStatus)
PENDING, APPROVED, REJECTED, BANNED = STATUSES


@dataclass(frozen=True, slots=True)
class Transition:
    actor: str
    action: str
    source: str | None
    target: str | None
    operation_id: str
    note: str = ""


_T = Transition
_BAN_NOTE = "`reason` from a fixed list"
TRANSITIONS: tuple[Transition, ...] = (
    _T(OWNER, "add", None, APPROVED, "createProductPartner", "add a business directly"),
    _T(OWNER, "approve", PENDING, APPROVED, "approveProductPartner"),
    _T(OWNER, "reject", PENDING, REJECTED, "rejectProductPartner", "optional `reason`"),
    _T(OWNER, "ban", PENDING, BANNED, "banProductPartner", _BAN_NOTE),
    _T(OWNER, "ban", APPROVED, BANNED, "banProductPartner", _BAN_NOTE),
    _T(OWNER, "ban", REJECTED, BANNED, "banProductPartner", _BAN_NOTE),
    _T(
        OWNER,
        "unban",
        BANNED,
        REJECTED,
        "unbanProductPartner",
        "the partner may request again after the cool-down, counted from now",
    ),
    _T(OWNER, "update", PENDING, PENDING, "updateProductPartner", "type, store"),
    _T(OWNER, "update", APPROVED, APPROVED, "updateProductPartner", "type, store"),
    _T(OWNER, "update", REJECTED, REJECTED, "updateProductPartner", "type, store"),
    _T(OWNER, "remove", PENDING, None, "deleteProductPartner"),
    _T(OWNER, "remove", APPROVED, None, "deleteProductPartner"),
    _T(OWNER, "remove", REJECTED, None, "deleteProductPartner"),
    _T(
        PARTNER,
        "request",
        None,
        PENDING,
        "requestProductPartnership",
        "`approved` at once if the product auto-accepts the type",
    ),
    _T(
        PARTNER,
        "request",
        REJECTED,
        PENDING,
        "requestProductPartnership",
        "after the product's cool-down; `approved` at once if auto-accepted",
    ),
    _T(
        OWNER,
        "ban",
        None,
        BANNED,
        "banBusinessFromProduct",
        "a business named by unique id, partner or not: the product's block list",
    ),
    _T(PARTNER, "withdraw", PENDING, None, "withdrawProductPartnership"),
    _T(PARTNER, "leave", APPROVED, None, "leaveProductPartnership"),
    _T(
        PARTNER,
        "accept",
        APPROVED,
        APPROVED,
        "acceptProductPartnership",
        "an owner's direct add: shares contact data; on affiliate_pro, agrees to routing",
    ),
    _T(
        SYSTEM,
        "auto_approve",
        PENDING,
        APPROVED,
        "updateProductPartnership",
        "a request the product's settings auto-accept (on arrival, or when they change), "
        "or an `approve` rule decides on arrival",
    ),
    _T(
        SYSTEM,
        "auto_reject",
        PENDING,
        REJECTED,
        "requestProductPartnership",
        "a request a `reject` rule decides on arrival, with the rule's reason",
    ),
)

ACTIONS: dict[str, tuple[str, ...]] = {
    actor: tuple(dict.fromkeys(t.action for t in TRANSITIONS if t.actor == actor))
    for actor in Actor
}
_BY_KEY: dict[tuple[str, str | None, str], Transition] = {
    (t.actor, t.source, t.action): t for t in TRANSITIONS
}
assert len(_BY_KEY) == len(TRANSITIONS), "duplicate (actor, source, action) in TRANSITIONS"


def find(actor: str, source: str | None, action: str) -> Transition | None:
    return _BY_KEY.get((actor, source, action))


def sources(actor: str, action: str) -> tuple[str, ...]:
    """The existing statuses ``action`` may start from (the conditional write's IN list)."""
    return tuple(
        t.source
        for t in TRANSITIONS
        if t.actor == actor and t.action == action and t.source is not None
    )


def allowed_actions(actor: str, source: str | None) -> tuple[str, ...]:
    """The actions ``actor`` may take on a partnership in status ``source`` (None: none yet)."""
    return tuple(
        dict.fromkeys(t.action for t in TRANSITIONS if (t.actor, t.source) == (actor, source))
    )


def invalid_transition(actor: str, action: str, current: str) -> InvalidTransition:
    """409 naming the current status, the statuses the action is allowed from, and the
    actions allowed from the current status."""
    source = None if current == "absent" else current
    return InvalidTransition(
        actor, action, current, sources(actor, action), allowed_actions(actor, source)
    )


def target(actor: str, action: str) -> str | None:
    """The status ``action`` leads to (the same from every source it may start from)."""
    targets = {t.target for t in TRANSITIONS if t.actor == actor and t.action == action}
    (only,) = targets
    return only


def check(actor: str, source: str | None, action: str) -> Transition:
    transition = find(actor, source, action)
    if transition is None:
        raise invalid_transition(actor, action, source or "absent")
    return transition


def rows() -> list[dict[str, str | None]]:
    """The table as data (listPartnershipTransitions): one object per row."""
    return [
        {
            "actor": t.actor,
            "from": t.source,
            "action": t.action,
            "to": t.target,
            "operation_id": t.operation_id,
            "note": t.note,
        }
        for t in TRANSITIONS
    ]


def _cell(status: str | None, deleted: str) -> str:
    return f"`{status}`" if status else deleted


def markdown_table(actor: str | None = None, action: str | None = None) -> str:
    """The table (or the rows of one actor/action) as Markdown, for README and OpenAPI."""
    lines = [
        "| actor | from | action | to | operation | note |",
        "|---|---|---|---|---|---|",
    ]
    for t in TRANSITIONS:
        if (actor and t.actor != actor) or (action and t.action != action):
            continue
        lines.append(
            f"| {t.actor} | {_cell(t.source, '(none)')} | {t.action} | "
            f"{_cell(t.target, '(deleted)')} | `{t.operation_id}` | {t.note} |"
        )
    return "\n".join(lines)


def describe(actor: str, action: str) -> str:
    """A paragraph for an operation's OpenAPI description: its rows and the refusal rule."""
    return (
        f"Allowed transitions ({actor}, {action}):\n\n{markdown_table(actor, action)}\n\n"
        "From any other status: 409 `invalid_transition`, naming the current status."
    )
