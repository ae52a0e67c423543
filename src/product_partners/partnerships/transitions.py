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

from product_partners.kit.errors import Conflict

OWNER = "owner"
PARTNER = "partner"
ACTORS = (OWNER, PARTNER)
STATUSES = ("pending", "approved", "rejected", "banned")

# Request types that `is_affiliate_auto_accept` approves at once; reseller (product sharing)
# requests always wait for the owner.
AUTO_ACCEPT_TYPES = ("affiliate", "affiliate_pro")

# The fixed list of ban reasons (banProductPartner `reason`).
BAN_REASONS = (
    "fraud",
    "spam",
    "brand_misuse",
    "policy_violation",
    "chargebacks",
    "inactive",
    "other",
)


@dataclass(frozen=True, slots=True)
class Transition:
    actor: str
    action: str
    source: str | None
    target: str | None
    operation_id: str
    note: str = ""


_T = Transition
TRANSITIONS: tuple[Transition, ...] = (
    _T(OWNER, "add", None, "approved", "createProductPartner", "add a business directly"),
    _T(OWNER, "approve", "pending", "approved", "approveProductPartner"),
    _T(OWNER, "reject", "pending", "rejected", "rejectProductPartner", "optional `reason`"),
    _T(OWNER, "ban", "pending", "banned", "banProductPartner", "`reason` from a fixed list"),
    _T(OWNER, "ban", "approved", "banned", "banProductPartner", "`reason` from a fixed list"),
    _T(OWNER, "ban", "rejected", "banned", "banProductPartner", "`reason` from a fixed list"),
    _T(
        OWNER,
        "unban",
        "banned",
        "rejected",
        "unbanProductPartner",
        "the partner may request again after the cool-down, counted from now",
    ),
    _T(OWNER, "update", "pending", "pending", "updateProductPartner", "type, store"),
    _T(OWNER, "update", "approved", "approved", "updateProductPartner", "type, store"),
    _T(OWNER, "update", "rejected", "rejected", "updateProductPartner", "type, store"),
    _T(OWNER, "remove", "pending", None, "deleteProductPartner"),
    _T(OWNER, "remove", "approved", None, "deleteProductPartner"),
    _T(OWNER, "remove", "rejected", None, "deleteProductPartner"),
    _T(
        PARTNER,
        "request",
        None,
        "pending",
        "requestProductPartnership",
        "`approved` at once if the product auto-accepts the type",
    ),
    _T(
        PARTNER,
        "request",
        "rejected",
        "pending",
        "requestProductPartnership",
        "after the product's cool-down; `approved` at once if auto-accepted",
    ),
    _T(PARTNER, "withdraw", "pending", None, "withdrawProductPartnership"),
    _T(PARTNER, "leave", "approved", None, "leaveProductPartnership"),
)

ACTIONS: dict[str, tuple[str, ...]] = {
    actor: tuple(dict.fromkeys(t.action for t in TRANSITIONS if t.actor == actor))
    for actor in ACTORS
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


def invalid_transition(actor: str, action: str, current: str) -> Conflict:
    """409 naming the current status and the statuses the action is allowed from."""
    allowed = sources(actor, action)
    where = ", ".join(allowed) if allowed else "no existing partnership"
    return Conflict(
        f"Cannot {action} this partnership: it is {current}. "
        f"The {actor} may {action} a partnership that is: {where}.",
        error_code="invalid_transition",
        errors={"affiliate_status": [f"is {current}"]},
    )


def check(actor: str, source: str | None, action: str) -> Transition:
    transition = find(actor, source, action)
    if transition is None:
        raise invalid_transition(actor, action, source or "absent")
    return transition


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
