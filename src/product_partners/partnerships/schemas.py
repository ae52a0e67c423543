"""Wire shapes of partnerships: Scalev's ProductPartner and friends."""

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from product_partners.businesses.schemas import UNIQUE_ID_PATTERN, BusinessSimple
from product_partners.kit.ids import MAX_ID
from product_partners.kit.pagination import PaginatedFields
from product_partners.partnerships.enums import AffiliateStatus, BanReason, PartnershipType
from product_partners.partnerships.etags import MAX_VERSION
from product_partners.partnerships.questions import ANSWER_LENGTH, MAX_QUESTIONS, QuestionKind
from product_partners.partnerships.rules import MAX_RULES, PartnershipRule

CommissionRate = Annotated[
    Decimal,
    Field(
        ge=0,
        le=100,
        max_digits=5,
        decimal_places=2,
        description="Percent, 0 to 100, up to two decimals. A JSON number or a numeric string.",
    ),
]

# A tag: after trimming and lowercasing, 1 to 32 of a-z 0-9 _ - : . (no space: the stored form
# separates tags with spaces, see db/tables.py).
TAG_PATTERN = re.compile(r"^[a-z0-9_\-:.]{1,32}$")
MAX_TAGS = 20


def normalized_tags(values: list[str]) -> list[str]:
    """Tags trimmed and lowercased, duplicates collapsed, sorted; ValueError naming a bad one."""
    tags = set()
    for value in values:
        tag = value.strip().lower()
        if not TAG_PATTERN.match(tag):
            raise ValueError(
                f"{value!r} is not a tag (1 to 32 of a-z, 0-9, _ - : . after trimming)"
            )
        tags.add(tag)
    return sorted(tags)


class Domain(BaseModel):
    """A custom domain, as Scalev lists it on a partnership."""

    model_config = ConfigDict(title="Domain")

    id: int = Field(description="Unique identifier of the custom domain")
    business_id: int = Field(description="Business ID that owns the custom domain")
    full_url: str = Field(description="Full URL of the custom domain")


class AffiliateProLink(BaseModel):
    model_config = ConfigDict(title="AffiliateProLink")

    domain: str = Field(description="Custom domain for the affiliate pro link")
    product_url: str = Field(
        description="Affiliate Pro product page URL (carries ap=<store unique id>)"
    )
    checkout_url: str = Field(
        description="Affiliate Pro checkout page URL (carries ap=<store unique id>)"
    )


class ProductPartner(BaseModel):
    """A partner associated with a product (Scalev's ProductPartner)."""

    model_config = ConfigDict(title="ProductPartner")

    id: int = Field(description="Unique identifier of the product partner")
    partner: BusinessSimple
    partnership_type: PartnershipType = Field(
        description="Type of partnership (affiliate, affiliate_pro, or reseller)"
    )
    affiliate_status: AffiliateStatus = Field(
        description="Status of the partnership (pending, approved, rejected, banned)"
    )
    message_to_product_owner: str | None = Field(
        description="Message from partner when requesting partnership"
    )
    requested_at: str | None = Field(json_schema_extra={"format": "date-time"})
    approved_at: str | None = Field(json_schema_extra={"format": "date-time"})
    rejected_at: str | None = Field(json_schema_extra={"format": "date-time"})
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    store_id: int | None = Field(description="Store ID assigned for affiliate_pro routing")
    custom_domains: list[Domain] = Field(
        description="List of custom domains where the product page can be viewed"
    )
    affiliate_pro_domains: list[Domain] = Field(
        description="Approved affiliate_pro custom domains for this partnership"
    )
    affiliate_pro_links: list[AffiliateProLink] = Field(
        description="Affiliate Pro links (product + checkout, include ap=<store unique id>)"
    )
    # Ours (Scalev's ProductPartner allows additional properties).
    product_id: int = Field(description="Ours: the product of this partnership.")
    banned_at: str | None = Field(
        description="Ours: when the partnership was banned.",
        json_schema_extra={"format": "date-time"},
    )
    updated_at: str = Field(
        description="Ours: last change of the partnership.",
        json_schema_extra={"format": "date-time"},
    )
    rejection_reason: str | None = Field(
        description="Ours: the owner's reason for the rejection, readable by the partner."
    )
    ban_reason: str | None = Field(
        description=f"Ours: why the partner was banned, one of: {', '.join(BanReason)}."
    )
    ban_note: str | None = Field(description="Ours: the owner's note on the ban.")
    version: int = Field(
        description=(
            'Ours: bumped on every change. The ETag of the partnership is `"<version>"`; send '
            "it as If-Match on a change to fail with 412 instead of overwriting another change."
        )
    )
    product_owner: BusinessSimple = Field(
        description="Ours: the product's owner (the partner always sees who added it)."
    )
    partner_consented_at: str | None = Field(
        description="Ours: when the partner agreed to share its contact data with the owner "
        "(by asking to join, or accepting); until then `partner` is its unique id alone.",
        json_schema_extra={"format": "date-time"},
    )
    affiliate_pro_consented_at: str | None = Field(
        description="Ours: when the partner agreed to affiliate_pro routing on this "
        "partnership; until then the owner cannot approve its domains.",
        json_schema_extra={"format": "date-time"},
    )
    commission_rate: str | None = Field(
        default=None,
        description="Ours: the owner's commission rate for this partner (percent, a decimal "
        "string); null follows the product's rate for the partnership's type.",
    )
    effective_commission_rate: str | None = Field(
        default=None,
        description="Ours: the rate that applies: `commission_rate`, else the product's "
        "`affiliate_commission_rate` (affiliate) or `affiliate_pro_commission_rate` "
        "(affiliate_pro); null for a reseller (no commission) or when none is set.",
    )
    tags: list[str] | None = Field(
        default=None,
        description="Ours, the owner's only: its private labels, sorted. Absent from "
        "everything the partner sees (its views, its events).",
    )


class CreatePartnerRequest(BaseModel):
    """Scalev's CreatePartnerRequest: add a business as partner of a product."""

    model_config = ConfigDict(title="CreatePartnerRequest", extra="forbid")

    partner_unique_id: str = Field(
        min_length=1, max_length=64, description="Partner Unique ID (the business's unique id)"
    )

    @field_validator("partner_unique_id")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        if not re.fullmatch(UNIQUE_ID_PATTERN, value):
            # No business can have it: refused for its form, which says nothing of who exists.
            raise ValueError("is not a unique id (letters, digits and . _ -, at most 64)")
        return value


class ListProductPartnersResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListProductPartnersResponseBody")

    data: list[ProductPartner]


class ListMyPartnershipsResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListMyPartnershipsResponseBody")

    data: list[ProductPartner]


class PartnershipRequest(BaseModel):
    """Ours: a partner business asks to join a product's programme."""

    model_config = ConfigDict(title="PartnershipRequest", extra="forbid")

    partnership_type: PartnershipType = Field(
        description="affiliate (needs is_affiliate_enabled), affiliate_pro "
        "(is_affiliate_pro_enabled) or reseller (is_product_sharing)."
    )
    message_to_product_owner: str | None = Field(default=None, max_length=2000)
    store_id: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="affiliate_pro only: one of your own stores, used for routing (ap=...).",
    )
    answers: (
        dict[
            Annotated[str, Field(max_length=40)],
            Annotated[str, Field(max_length=ANSWER_LENGTH[QuestionKind.long_text])],
        ]
        | None
    ) = Field(
        default=None,
        max_length=MAX_QUESTIONS,
        description="Answers to the product's application questions (`application_questions` "
        "of the product asked of this type), by question id. A required one unanswered is 400 "
        "`application_answer_missing`; an answer that does not fit its question, or to no "
        "question of this type, 400 `application_answer_invalid` (`errors` names "
        "`answers.<question id>`).",
    )


class ProductPartnerUpdate(BaseModel):
    """Ours: the owner changes a partnership's type, or clears its routing store (omitted =
    unchanged). The store itself is the partner's choice."""

    model_config = ConfigDict(title="ProductPartnerUpdate", extra="forbid")

    partnership_type: PartnershipType | None = Field(
        default=None,
        description="New type; changing it clears `store_id` and the partner's affiliate_pro "
        "consent (the partner agreed to the type it asked for or accepted).",
    )
    store_id: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="Only null (clear the store): the partner chooses its store, so any other "
        "value is 400 `store_is_partners_choice`.",
    )
    commission_rate: CommissionRate | None = Field(
        default=None,
        description="The partner's own commission rate; null clears it (the product's rate "
        "for the type applies). A reseller earns no commission: 400 "
        "`commission_not_applicable`. Changing the type to reseller clears it.",
    )


class RejectProductPartnerRequest(BaseModel):
    model_config = ConfigDict(title="RejectProductPartnerRequest", extra="forbid")

    reason: str | None = Field(
        default=None, max_length=1000, description="Shown to the partner (rejection_reason)."
    )


class BanProductPartnerRequest(BaseModel):
    model_config = ConfigDict(title="BanProductPartnerRequest", extra="forbid")

    reason: BanReason = Field(description="Why, one of a fixed list; shown to the partner.")
    note: str | None = Field(
        default=None, max_length=2000, description="Free text, shown to the partner."
    )


class AffiliateProDomainCandidate(BaseModel):
    """A verified domain of the partner business, and whether it is approved here."""

    model_config = ConfigDict(title="AffiliateProDomainCandidate")

    id: int = Field(description="Custom domain ID")
    business_id: int = Field(description="The partner business, owner of the domain")
    full_url: str
    is_approved: bool = Field(description="Approved for this partnership's affiliate_pro links")


class ListAffiliateProDomainCandidatesResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListAffiliateProDomainCandidatesResponseBody")

    data: list[AffiliateProDomainCandidate]


class AcceptPartnershipRequest(BaseModel):
    """Ours: the partner accepts a partnership an owner created."""

    model_config = ConfigDict(title="AcceptPartnershipRequest", extra="forbid")

    store_id: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="affiliate_pro only: one of your own stores, to route the partnership to "
        "(ap=...); null clears it. Accept again to change it.",
    )


class BanBusinessRequest(BaseModel):
    """Ours: block a business from a product by its unique id, partner or not."""

    model_config = ConfigDict(title="BanBusinessRequest", extra="forbid")

    partner_unique_id: str = Field(min_length=1, max_length=64, pattern=UNIQUE_ID_PATTERN)
    reason: BanReason = Field(description="Why, one of a fixed list; shown to the business.")
    note: str | None = Field(default=None, max_length=2000, description="Shown to the business.")


# --- review at scale: the transition table, bulk decisions, dry runs ---------------------------


class PartnershipTransition(BaseModel):
    """Ours: one row of the partnership lifecycle (the table the service enforces)."""

    model_config = ConfigDict(title="PartnershipTransition", populate_by_name=True)

    actor: str = Field(description="owner, partner, or system (the service itself)")
    from_: AffiliateStatus | None = Field(
        alias="from", description="The status it starts from; null: no partnership yet"
    )
    action: str
    to: AffiliateStatus | None = Field(description="The status it leads to; null: deleted")
    operation_id: str = Field(description="The operation that makes this move")
    note: str


class ListPartnershipTransitionsResponseBody(BaseModel):
    model_config = ConfigDict(title="ListPartnershipTransitionsResponseBody")

    data: list[PartnershipTransition]


class BulkAction(StrEnum):
    approve = "approve"
    reject = "reject"
    ban = "ban"
    unban = "unban"
    delete = "delete"
    set_commission = "set_commission"
    lock_commission = "lock_commission"


class BulkMode(StrEnum):
    all_or_nothing = "all_or_nothing"
    best_effort = "best_effort"


MAX_BULK_ITEMS = 100


class BulkItem(BaseModel):
    model_config = ConfigDict(title="BulkReviewItem", extra="forbid")

    id: StrictInt = Field(ge=1, le=MAX_ID, description="A partnership (ProductPartner id)")
    version: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_VERSION,
        description="If-Match for this item: the version you read (else: whatever it is now)",
    )


class BulkReviewRequest(BaseModel):
    """Ours: one decision on up to 100 partnerships of one product."""

    model_config = ConfigDict(title="BulkReviewRequest", extra="forbid")

    action: BulkAction
    items: list[BulkItem] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_BULK_ITEMS,
        description="The partnerships (required, except for lock_commission: without items it "
        "locks every approved partnership of the product)",
    )
    mode: BulkMode = Field(
        default=BulkMode.best_effort,
        description="all_or_nothing: one transaction, nothing saved unless every item "
        "succeeds; best_effort: each item on its own",
    )
    reason: str | None = Field(
        default=None,
        max_length=2000,
        description="reject: shown as rejection_reason (optional); ban: one of the ban "
        "reasons (required)",
    )
    note: str | None = Field(default=None, max_length=2000, description="ban only")
    commission_rate: CommissionRate | None = Field(
        default=None,
        description="set_commission only (required): the rate, or null to clear it",
    )

    @field_validator("items")
    @classmethod
    def _distinct(cls, items: list[BulkItem] | None) -> list[BulkItem] | None:
        ids = [item.id for item in items or ()]
        if len(set(ids)) != len(ids):
            raise ValueError("names a partnership more than once")
        return items

    @model_validator(mode="after")
    def _fields_of_action(self) -> "BulkReviewRequest":
        if self.items is None and self.action != BulkAction.lock_commission:
            raise ValueError(f"{self.action} needs items")
        commission_sent = "commission_rate" in self.model_fields_set
        if commission_sent != (self.action == BulkAction.set_commission):
            raise ValueError("commission_rate is for set_commission, which needs it (or null)")
        if self.action == BulkAction.ban:
            if self.reason not in tuple(BanReason):
                raise ValueError(f"ban needs a reason, one of: {', '.join(BanReason)}")
        elif self.note is not None:
            raise ValueError("note is for ban only")
        elif self.reason is not None and self.action != BulkAction.reject:
            raise ValueError("reason is for reject and ban only")
        return self


class BulkItemResult(BaseModel):
    model_config = ConfigDict(title="BulkReviewItemResult")

    id: int
    outcome: str = Field(
        description="applied, would_apply (dry run, or all_or_nothing rolled back because of "
        "another item), unchanged (lock_commission: nothing to lock, `message` says why), "
        "or failed"
    )
    affiliate_status: AffiliateStatus | None = Field(
        description="The new status (null: deleted, or failed)"
    )
    version: int | None = Field(description="The new version (null: deleted, or failed)")
    commission_rate: str | None = Field(
        default=None, description="set_commission, lock_commission: the partnership's rate"
    )
    error_code: str | None = Field(description="failed: the error the single operation gives")
    status: int = Field(description="The HTTP status the single operation would answer")
    message: str | None = None


class BulkReviewResponse(BaseModel):
    model_config = ConfigDict(title="BulkReviewResponse")

    action: BulkAction
    mode: BulkMode
    dry_run: bool
    applied: bool = Field(description="Whether anything was saved")
    succeeded: int
    failed: int
    items: list[BulkItemResult]


class DecisionPreview(BaseModel):
    """Ours: ``?dry_run=true`` on a decision: what it would do; nothing is saved."""

    model_config = ConfigDict(title="DecisionPreview")

    dry_run: bool
    result: ProductPartner | None = Field(
        description="The partnership the decision would leave (null: deleted)"
    )
    links_added: list[AffiliateProLink]
    links_removed: list[AffiliateProLink]
    events: list[dict[str, Any]] = Field(
        description="The events it would emit: type (e.g. product_partner.approved), "
        "partnership_id, product_id, from, to"
    )


class ImportRowResult(BaseModel):
    """importProductPartners: the answer for one row of the file."""

    model_config = ConfigDict(title="ImportRowResult")

    line: int = Field(description="The row's line number in the file (the header is line 1)")
    partner_unique_id: str = Field(description="The unique id the row names")
    outcome: str = Field(description="added, already_partner or invalid")
    id: int | None = Field(description="The partnership added, or the one already there")
    affiliate_status: AffiliateStatus | None = Field(
        description="The partnership's status (added: approved; already_partner: its own)"
    )
    error_code: str | None = Field(description="invalid: why, as an error code")
    message: str | None = Field(description="invalid: why, in words")


class ImportProductPartnersResponse(BaseModel):
    model_config = ConfigDict(title="ImportProductPartnersResponse")

    added: int = Field(description="Rows added")
    already_partner: int = Field(description="Rows that named a partner already there")
    invalid: int = Field(description="Rows refused (see each row's error_code)")
    ignored_columns: list[str] = Field(description="Header columns the import does not read")
    rows: list[ImportRowResult]


# --- the owner's bookkeeping: tags, notes -------------------------------------------------------


def valid_tags(values: list[str]) -> list[str]:
    """A set of tags as stored: normalized; ValueError naming a bad one, or past MAX_TAGS."""
    tags = normalized_tags(values)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return tags


class SetTagsRequest(BaseModel):
    """Ours: replace a partnership's tags."""

    model_config = ConfigDict(title="SetProductPartnerTagsRequest", extra="forbid")

    tags: list[str] = Field(
        max_length=100,
        description=f"The tags (at most {MAX_TAGS}): each trimmed and lowercased, 1 to 32 of "
        "a-z 0-9 _ - : . ; duplicates collapse. [] removes them all.",
    )

    @field_validator("tags")
    @classmethod
    def _valid(cls, values: list[str]) -> list[str]:
        return valid_tags(values)


class ChangeTagsRequest(BaseModel):
    """Ours: add and remove some tags, leaving the others."""

    model_config = ConfigDict(title="ChangeProductPartnerTagsRequest", extra="forbid")

    add: list[str] = Field(default_factory=list, max_length=100)
    remove: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("add", "remove")
    @classmethod
    def _valid(cls, values: list[str]) -> list[str]:
        return valid_tags(values)

    @model_validator(mode="after")
    def _something(self) -> "ChangeTagsRequest":
        if not self.add and not self.remove:
            raise ValueError("name tags to add or to remove")
        if set(self.add) & set(self.remove):
            raise ValueError("a tag cannot be both added and removed")
        return self


class CreateNoteRequest(BaseModel):
    model_config = ConfigDict(title="CreateProductPartnerNoteRequest", extra="forbid")

    body: str = Field(min_length=1, max_length=5000, description="The note (plain text).")

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class NoteAuthor(BaseModel):
    """Who wrote a note, as the event log records an actor."""

    model_config = ConfigDict(title="ProductPartnerNoteAuthor")

    type: str = Field(description="api_key, user (a dashboard user) or business (the CLI)")
    business_id: int | None
    api_key_id: int | None
    user_id: int | None


class ProductPartnerNote(BaseModel):
    """Ours: an owner's private note on a partnership (never shown to the partner)."""

    model_config = ConfigDict(title="ProductPartnerNote")

    id: int
    partnership_id: int
    body: str
    author: NoteAuthor
    created_at: str = Field(json_schema_extra={"format": "date-time"})


class ListProductPartnerNotesResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListProductPartnerNotesResponseBody")

    data: list[ProductPartnerNote]


# --- decisions on requests: traces and the dry run of rules ---------------------------------


class ConditionTrace(BaseModel):
    model_config = ConfigDict(title="PartnershipRuleConditionTrace")

    fact: str
    op: str
    value: Any = Field(description="The rule's value.")
    question_id: str | None = None
    input: Any = Field(description="What the request's fact was when the rule looked.")
    holds: bool


class RuleTrace(BaseModel):
    model_config = ConfigDict(title="PartnershipRuleTrace")

    index: int | None = Field(
        description="The rule's place in `partnership_rules`; null for the implicit last rule "
        "`is_affiliate_auto_accept`."
    )
    name: str
    outcome: str = Field(description="approve, reject or review: the rule's outcome.")
    conditions: list[ConditionTrace]
    matched: bool = Field(description="Every condition held: this rule decided.")


class DecisionTrace(BaseModel):
    """The rules' decision on one request: outcome, and per rule evaluated (in order, up to
    the first that matched) each condition with its input and result."""

    model_config = ConfigDict(title="PartnershipDecisionTrace")

    outcome: str = Field(description="approve, reject or review (left to the owner).")
    reason: str | None = Field(description="A reject rule's reason.")
    matched_rule: int | str | None = Field(
        description="The deciding rule's index, `is_affiliate_auto_accept`, or null (none "
        "matched: review)."
    )
    facts: dict[str, Any] = Field(
        description="partnership_type, verified_domains, active_stores, business_age_days, "
        "banned_by_other_owners, answers."
    )
    rules: list[RuleTrace]


class ProductPartnerDecision(DecisionTrace):
    """Ours: the answers a partner's request carried and the decision made on it (for a
    partnership the owner added directly: `outcome` and `decided_at` null, nothing else)."""

    model_config = ConfigDict(title="ProductPartnerDecision")

    partnership_id: int
    product_id: int
    affiliate_status: AffiliateStatus = Field(description="The partnership's status now.")
    outcome: str | None = Field(  # type: ignore[assignment]
        description="approve, reject or review (left to the owner); null: added directly."
    )
    decided_at: str | None = Field(json_schema_extra={"format": "date-time"})
    answers: dict[str, str] = Field(description="The request's answers, by question id.")


class RulesPreviewRequest(BaseModel):
    """Ours: the rules to try over the pending queue (omitted: the saved ones)."""

    model_config = ConfigDict(title="PartnershipRulesPreviewRequest", extra="forbid")

    partnership_rules: list[PartnershipRule] | None = Field(
        default=None, max_length=MAX_RULES, description="Proposed rules; omitted: the saved."
    )


class RulesPreviewItem(DecisionTrace):
    model_config = ConfigDict(title="PartnershipRulesPreviewItem")

    partnership_id: int
    partner_unique_id: str
    partnership_type: str


class RulesPreviewResponse(BaseModel):
    model_config = ConfigDict(title="PartnershipRulesPreview")

    product_id: int
    rules: str = Field(description="`proposed` (the body's) or `saved`.")
    data: list[RulesPreviewItem] = Field(description="Oldest pending requests first.")
    summary: dict[str, int] = Field(description="How many of `data` each outcome got.")
    has_more: bool
    next_after_id: int | None = Field(description="Send as `after_id` for the next page.")
