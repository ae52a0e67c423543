"""Errors of partnerships: every refusal an owner or a partner can get, in one file."""

from collections.abc import Sequence
from datetime import datetime

from product_partners.kit.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Unprocessable,
)


class PartnerNotFound(NotFound):
    """No such partnership, or one the caller has no part in: never told apart."""

    error_code = "partner_not_found"
    message = "No such partnership."

    def __init__(self, noun: str | None = None) -> None:
        super().__init__(f"No such partner of this {noun}." if noun else None)


class PartnerAlreadyExists(Conflict):
    error_code = "partner_already_exists"

    def __init__(self, noun: str, status: str | None = None) -> None:
        detail = f" (status: {status})" if status else ""
        super().__init__(
            f"This business is already a partner of the {noun}{detail}.",
            errors={"partner_unique_id": [f"is already a partner of this {noun}"]},
        )


class SelfPartnership(Unprocessable):
    error_code = "self_partnership"

    def __init__(self, noun: str, field: str | None = None) -> None:
        errors = {field: [f"is the {noun} owner"]} if field else None
        super().__init__(f"A business cannot be a partner of its own {noun}.", errors=errors)


class InvalidTransition(Conflict):
    """409 naming the current status, the statuses the action is allowed from, and (in
    ``errors["allowed_actions"]``) what the actor may do from the current status."""

    error_code = "invalid_transition"

    def __init__(
        self,
        actor: str,
        action: str,
        current: str,
        allowed: Sequence[str],
        actions: Sequence[str] = (),
    ) -> None:
        where = ", ".join(allowed) if allowed else "no existing partnership"
        now = ", ".join(actions) if actions else "nothing"
        errors = {"affiliate_status": [f"is {current}"]}
        if actions:
            errors["allowed_actions"] = list(actions)
        super().__init__(
            f"Cannot {action} this partnership: it is {current}. "
            f"The {actor} may {action} a partnership that is: {where}. "
            f"From {current}, the {actor} may: {now}.",
            errors=errors,
        )


class StalePartnership(PreconditionFailed):
    """If-Match named versions the partnership is no longer at (412, with its ETag)."""

    def __init__(self, etag: str, status: str) -> None:
        super().__init__(
            f"If-Match does not match: the partnership is now at ETag {etag} "
            f"(status {status}). Fetch it again and retry.",
            headers={"ETag": etag},
        )


class TooManyEtags(BadRequest):
    """If-Match naming more tags than a client can hold (``etags.MAX_IF_MATCH_TAGS``)."""

    error_code = "too_many_etags"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"If-Match names more than {limit} entity tags; send the ETag you read.",
            errors={"If-Match": [f"names more than {limit} entity tags"]},
        )


class ConcurrentChange(Conflict):
    error_code = "concurrent_change"
    message = "The partnership kept changing while we handled the request; retry."


class PartnershipTypeNotOpen(Unprocessable):
    error_code = "partnership_type_not_open"

    def __init__(self, partnership_type: str) -> None:
        super().__init__(
            f"This product does not accept {partnership_type} requests.",
            errors={"partnership_type": ["is not open for requests on this product"]},
        )


class UnknownBanReason(Unprocessable):
    def __init__(self, reason: str, known: Sequence[str]) -> None:
        super().__init__(
            f"Unknown ban reason {reason!r}.",
            errors={"reason": [f"must be one of: {', '.join(known)}"]},
        )


class RerequestCooldown(Conflict):
    """A rejected partner asked again before the product's cool-down ended (Retry-After)."""

    error_code = "rerequest_cooldown"

    def __init__(self, allowed_at: datetime, wait_seconds: int) -> None:
        super().__init__(
            f"Your request was rejected; you may request again after "
            f"{allowed_at.strftime('%Y-%m-%dT%H:%M:%SZ')} (in {wait_seconds} s).",
            errors={"affiliate_status": ["is rejected"]},
            headers={"Retry-After": str(wait_seconds)},
        )


# --- routing to a store and affiliate_pro domains ------------------------------------------


class StoreRequiresAffiliatePro(Unprocessable):
    error_code = "store_requires_affiliate_pro"
    message = "Only affiliate_pro partnerships are routed to a store."

    def __init__(self) -> None:
        super().__init__(errors={"store_id": ["needs partnership_type affiliate_pro"]})


class PartnerStoreNotFound(Unprocessable):
    """``store_id`` is not a store of the partner business (asked by the partner or owner)."""

    error_code = "store_not_found"

    def __init__(self, *, asked_by_partner: bool) -> None:
        if asked_by_partner:
            message, problem = "store_id must be one of your stores.", "is not one of your stores"
        else:
            message = "store_id must be a store of the partner business."
            problem = "is not a store of the partner business"
        super().__init__(message, errors={"store_id": [problem]})


class NotAffiliatePro(Conflict):
    """The partnership is not (or no longer: the owner may change its type meanwhile)
    affiliate_pro, which alone has a store and approved domains: 409, re-read it."""

    error_code = "not_affiliate_pro"

    def __init__(self, partnership_type: str, field: str | None = None) -> None:
        errors = {field: ["needs an affiliate_pro partnership"]} if field else None
        super().__init__(
            "Only affiliate_pro partnerships have a store and approved domains; "
            f"this one is {partnership_type}.",
            errors=errors,
        )


class PartnerDomainNotFound(NotFound):
    """Not a domain of the partner business: another's is told exactly like a missing one."""

    error_code = "custom_domain_not_found"
    message = "No such custom domain of the partner business."


class DomainNotVerified(Unprocessable):
    error_code = "domain_not_verified"
    message = "This domain is not verified yet; only verified domains carry links."

    def __init__(self) -> None:
        super().__init__(errors={"domain_id": ["is not verified"]})


class AffiliateProDomainNotFound(NotFound):
    error_code = "affiliate_pro_domain_not_found"
    message = "This domain is not approved on this partnership."


class StoreIsPartnersChoice(Unprocessable):
    """A partnership's store is the partner's to choose (on request or on accept): the owner
    cannot route a partner, and learns nothing of the partner's stores by trying."""

    error_code = "store_is_partners_choice"
    message = (
        "The partner chooses the store its affiliate_pro partnership is routed to "
        "(when it asks to join, or accepts the partnership)."
    )

    def __init__(self) -> None:
        super().__init__(errors={"store_id": ["is chosen by the partner"]})


class PartnerConsentRequired(Conflict):
    """The owner approves a partner's domains only once the partner agreed to affiliate_pro."""

    error_code = "partner_consent_required"
    message = (
        "The partner has not agreed to this affiliate_pro partnership yet: it must ask for "
        "affiliate_pro or accept the partnership before its domains carry links."
    )


class PartnerAddsLimited(RateLimited):
    error_code = "partner_adds_limited"
    message = "Too many partners added by your business: retry after the time in Retry-After."


# --- importProductPartners: the file, and each row's own refusals ------------------------------


class ImportFileInvalid(Unprocessable):
    """The CSV itself cannot be read: no header naming partner_unique_id, a broken line."""

    error_code = "import_file_invalid"

    def __init__(self, problem: str) -> None:
        super().__init__(f"The import file cannot be read: {problem}.", errors={"body": [problem]})


class TooManyImportRows(Unprocessable):
    error_code = "too_many_import_rows"

    def __init__(self, maximum: int) -> None:
        super().__init__(
            f"An import carries at most {maximum} rows: split the file.",
            errors={"body": [f"has more than {maximum} rows"]},
        )


class ImportUniqueIdInvalid(Unprocessable):
    error_code = "invalid_partner_unique_id"

    def __init__(self, problem: str) -> None:
        super().__init__(f"partner_unique_id {problem}.")


class ImportTagsInvalid(Unprocessable):
    error_code = "invalid_tags"

    def __init__(self, problem: str) -> None:
        super().__init__(f"tags: {problem}.")


class ImportTypeNotAddable(Unprocessable):
    """An owner adds affiliates; the other types join by request."""

    error_code = "invalid_partnership_type"

    def __init__(self, given: str, added: str) -> None:
        super().__init__(
            f"partnership_type {given!r}: an owner adds {added} partners only (the other types "
            "join by request)."
        )


class ImportStatusNotAddable(Unprocessable):
    """A partner the owner adds is approved at once (the transition table's ``add``)."""

    error_code = "invalid_affiliate_status"

    def __init__(self, given: str, added: str) -> None:
        super().__init__(f"affiliate_status {given!r}: a partner an owner adds is {added}.")


class CommissionNotApplicable(Unprocessable):
    """A reseller buys and resells: it earns no commission, so it has no rate to set."""

    error_code = "commission_not_applicable"
    message = "A reseller partnership earns no commission: it has no commission rate to set."

    def __init__(self) -> None:
        super().__init__(errors={"commission_rate": ["does not apply to a reseller"]})


class TooManyTags(Unprocessable):
    error_code = "too_many_tags"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"A partnership has at most {limit} tags.",
            errors={"add": [f"would make more than {limit} tags"]},
        )


class NoteNotFound(NotFound):
    """No such note on this partnership (or a partnership that is not the caller's)."""

    error_code = "note_not_found"
    message = "No such note."


class InvalidTagFilter(Unprocessable):
    error_code = "invalid_tag"

    def __init__(self, detail: str) -> None:
        super().__init__(f"The tag filter is not valid: {detail}.", errors={"tag": [detail]})


# --- application questions and auto-approve rules ------------------------------------------


class _AnswersRefused(Unprocessable):
    """A request's answers, refused: the message names the questions, ``errors`` each as
    ``answers.<question id>``."""

    problem = ""

    def __init__(self, question_ids: Sequence[str], errors: dict[str, list[str]]) -> None:
        super().__init__(f"{self.problem}: {', '.join(question_ids)}.", errors=errors)


class ApplicationAnswerMissing(_AnswersRefused):
    """A request left a required application question unanswered."""

    error_code = "application_answer_missing"
    problem = "Answer the required application question(s)"


class ApplicationAnswerInvalid(_AnswersRefused):
    """An answer that fits no question of the request's type, or not its question."""

    error_code = "application_answer_invalid"
    problem = "Invalid answer(s) to application question(s)"


class RuleQuestionUnknown(Unprocessable):
    """A partnership rule names a question the product does not ask."""

    error_code = "rule_question_unknown"

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(
            "A partnership rule names an application question the product does not ask.",
            errors=fields,
        )
