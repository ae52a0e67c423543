"""HTTP routes of partnerships: thin handlers over ``service`` and ``pro_domains``.

The three operations that carry most traffic (createProductPartner, getProductPartner,
listProductPartners) are also served by ``hotpath`` on PostgreSQL, which takes their path
and required scope from these routes and hands every refusal back to them.
"""

import io
import re
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from product_partners.auth.dependencies import ProductList, ProductRead, ProductUpdate
from product_partners.businesses.errors import BusinessBanned
from product_partners.kit.http.deps import Conn, LinkScheme, Page
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.ids import MAX_ID
from product_partners.kit.jsonutil import json_response
from product_partners.partnerships import (
    bookkeeping,
    bulk,
    decisions,
    dryrun,
    export,
    importer,
    pro_domains,
    service,
    transitions,
)
from product_partners.partnerships.dependencies import (
    DryRun,
    Filters,
    IfMatch,
    TagFilter,
    spend_partner_add,
)
from product_partners.partnerships.enums import BanReason
from product_partners.partnerships.errors import (
    AffiliateProDomainNotFound,
    ApplicationAnswerInvalid,
    ApplicationAnswerMissing,
    CommissionNotApplicable,
    ConcurrentChange,
    DomainNotVerified,
    ImportFileInvalid,
    InvalidTagFilter,
    InvalidTransition,
    NotAffiliatePro,
    NoteNotFound,
    PartnerAddsLimited,
    PartnerAlreadyExists,
    PartnerConsentRequired,
    PartnerDomainNotFound,
    PartnerNotFound,
    PartnershipTypeNotOpen,
    PartnerStoreNotFound,
    RerequestCooldown,
    RuleQuestionUnknown,
    SelfPartnership,
    StalePartnership,
    StoreIsPartnersChoice,
    StoreRequiresAffiliatePro,
    TooManyEtags,
    TooManyImportRows,
    TooManyTags,
)
from product_partners.partnerships.etags import etag
from product_partners.partnerships.schemas import (
    AcceptPartnershipRequest,
    BanBusinessRequest,
    BanProductPartnerRequest,
    BulkReviewRequest,
    BulkReviewResponse,
    ChangeTagsRequest,
    CreateNoteRequest,
    CreatePartnerRequest,
    DecisionPreview,
    ImportProductPartnersResponse,
    ListAffiliateProDomainCandidatesResponseBody,
    ListMyPartnershipsResponseBody,
    ListPartnershipTransitionsResponseBody,
    ListProductPartnerNotesResponseBody,
    ListProductPartnersResponseBody,
    PartnershipRequest,
    ProductPartner,
    ProductPartnerDecision,
    ProductPartnerNote,
    ProductPartnerUpdate,
    RejectProductPartnerRequest,
    RulesPreviewRequest,
    RulesPreviewResponse,
    SetTagsRequest,
)
from product_partners.products.errors import ProductNotFound

router = APIRouter(prefix="/v3", tags=["Product partners"])


_ETAG_HEADER = {
    "ETag": {
        "description": 'The partnership\'s version, `"<version>"`; send it back as If-Match.',
        "schema": {"type": "string"},
    }
}


def _one(body: dict[str, Any]) -> Response:
    return json_response(body, headers={"ETag": etag(body["version"])})


def _responses(*errors: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"headers": _ETAG_HEADER}, **error_responses(*errors)}


def _doc(text: str, actor: str, action: str) -> str:
    return f"{text}\n\n{transitions.describe(actor, action)}"


_DRY_RUN_DOC = (
    "\n\n`?dry_run=true`: 200 with what the decision would do and nothing saved: `result` "
    "(the resulting ProductPartner, null if deleted), `links_added`, `links_removed` (its "
    "affiliate_pro links) and `events` (the events it would emit); a refused decision gives "
    "the same error as without it."
)


async def _decided(
    conn: Any,
    owner_business_id: int,
    product_id: str,
    partnership_id: str,
    scheme: str,
    action: str,
    work: Callable[[], Awaitable[dict[str, Any] | None]],
    dry_run: bool,
) -> Response:
    """The owner's decision ``work``, or its dry run (``partnerships.dryrun``)."""
    if dry_run:
        body = await dryrun.decision(
            conn, owner_business_id, product_id, partnership_id, scheme, action, work
        )
        return json_response(body)
    result = await work()
    return Response(status_code=204) if result is None else _one(result)


# What each kind of write can be refused with.
_DECISION_ERRORS = (
    ProductNotFound,
    PartnerNotFound,
    InvalidTransition,
    StalePartnership,
    TooManyEtags,
)
_PARTNER_PATH = "/products/{product_id}/partners/{id}"


@router.post(
    "/products/{product_id}/partners",
    status_code=200,
    response_model=ProductPartner,
    operation_id="createProductPartner",
    summary="Add a partner to a product",
    response_description="Product partner created successfully",
    responses=error_responses(
        ProductNotFound,
        PartnerAlreadyExists,
        SelfPartnership,
        BusinessBanned,
        PartnerAddsLimited,
    ),
)
async def create_product_partner(
    request: Request,
    product_id: str,
    body: CreatePartnerRequest,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
) -> Response:
    """Add the business ``partner_unique_id`` as a partner of one of your products.

    The partnership starts as an approved ``affiliate``. Until the partner consents (it asked
    to join one of your products, or accepts this partnership) its contact data is withheld:
    `partner` is the unique id you named, the same whether or not a business has it. 404 if
    the product is not yours; 409 if the unique id already is a partner; 400 for yourself, or
    for a banned business that consented to you; 429 `partner_adds_limited` beyond
    `PARTNER_ADD_LIMIT`.
    """
    await spend_partner_add(request, caller.business_id)
    created = await service.add_partner(
        conn, caller.business_id, product_id, body.partner_unique_id, scheme
    )
    return _one(created)


@router.get(
    "/products/{product_id}/partners",
    response_model=ListProductPartnersResponseBody,
    operation_id="listProductPartners",
    summary="List a product's partners",
    response_description="Paginated list of product partners",
    responses=error_responses(ProductNotFound, InvalidTagFilter),
)
async def list_product_partners(
    product_id: str,
    caller: ProductList,
    conn: Conn,
    page: Page,
    filters: Filters,
    tags: TagFilter,
    scheme: LinkScheme,
) -> Response:
    """The partners of one of your products, newest first, 25 per page at most. `tag`
    (repeatable): only partnerships carrying every tag named."""
    body = await service.list_partners(
        conn,
        caller.business_id,
        product_id,
        page,
        scheme,
        affiliate_status=filters.affiliate_status,
        partnership_type=filters.partnership_type,
        tags=tags,
    )
    return json_response(body)


# --- export and import (before /partners/{id}: "export" is no partnership id) ---------------

_FORMAT_DOC = "csv (a header line, then one line per partnership) or jsonl (one JSON object a line)"
ExportFormatQuery = Annotated[export.ExportFormat, Query(alias="format", description=_FORMAT_DOC)]
_EXPORT_DOC = (
    "\n\nThe body is streamed (`Content-Disposition: attachment`), read from the database in "
    "batches of `EXPORT_BATCH_SIZE`, in product then partnership id order. Columns, in order: "
    "`{columns}`: the owner's view of each partnership (getProductPartner's body) flattened "
    "(`partner_*`, `product_owner_*`; a partner's contact data is empty until it consents). "
    "CSV: empty for null, `true`/`false`, times RFC 3339 UTC, a list as its JSON text. A "
    "partnership changed while the export runs is exported as its batch read it."
).format(columns="`, `".join(export.COLUMN_NAMES))
_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The partnerships, as a file",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


def _exported(
    request: Request,
    conn: Any,
    owner_business_id: int,
    product_id: int | None,
    fmt: export.ExportFormat,
    scheme: str,
) -> StreamingResponse:
    # The request's connection stays checked out until the body is sent (FastAPI closes a
    # dependency after the response): each batch is one short statement on it.
    batch_size = request.app.state.settings.export_batch_size
    body = export.stream(conn, owner_business_id, product_id, fmt, scheme, batch_size)
    name = export.filename(product_id, fmt)
    return StreamingResponse(
        body,
        media_type=export.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/products/{product_id}/partners/export",
    operation_id="exportProductPartners",
    summary="Export a product's partners as CSV or JSON lines (ours)",
    response_class=StreamingResponse,
    responses={**_EXPORT_RESPONSES, **error_responses(ProductNotFound)},
)
async def export_product_partners(
    request: Request,
    product_id: str,
    caller: ProductList,
    conn: Conn,
    scheme: LinkScheme,
    fmt: ExportFormatQuery = export.ExportFormat.csv,
) -> StreamingResponse:
    """Every partnership of one of your products, as a file. 404 if the product is not
    yours (before any byte of the file)."""
    pid = await service.owned_product_id(conn, caller.business_id, product_id)
    return _exported(request, conn, caller.business_id, pid, fmt, scheme)


export_product_partners.__doc__ = f"{export_product_partners.__doc__}{_EXPORT_DOC}"


@router.get(
    "/product-partners/export",
    operation_id="exportAllProductPartners",
    summary="Export the partners of all your products as CSV or JSON lines (ours)",
    response_class=StreamingResponse,
    responses={**_EXPORT_RESPONSES, **error_responses()},
)
async def export_all_product_partners(
    request: Request,
    caller: ProductList,
    conn: Conn,
    scheme: LinkScheme,
    fmt: ExportFormatQuery = export.ExportFormat.csv,
) -> StreamingResponse:
    """Every partnership of every product of yours, as one file (`product_id` tells them
    apart)."""
    return _exported(request, conn, caller.business_id, None, fmt, scheme)


export_all_product_partners.__doc__ = f"{export_all_product_partners.__doc__}{_EXPORT_DOC}"

# The import's body is CSV (kit.http.guards lets text/csv through on these paths only).
CSV_BODY_PATHS = re.compile(r"/v3/products/[^/]+/partners/import")


@router.post(
    "/products/{product_id}/partners/import",
    response_model=ImportProductPartnersResponse,
    operation_id="importProductPartners",
    summary="Add partners to a product from a CSV of unique ids (ours)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
    responses=error_responses(ProductNotFound, ImportFileInvalid, TooManyImportRows, 413, 415),
)
async def import_product_partners(
    request: Request, product_id: str, caller: ProductUpdate, conn: Conn, scheme: LinkScheme
) -> Response:
    """A CSV (`Content-Type: text/csv`, UTF-8) with a header line naming
    `partner_unique_id`, and optionally `partnership_type` (or `type`: empty or
    `affiliate`), `affiliate_status` (or `status`: empty or `approved`) and `tags` (accepted,
    not used yet); other columns are ignored and listed in `ignored_columns` (an export's
    file imports as it is). At most 1000 rows (400 `too_many_import_rows`, nothing added) and
    `MAX_BODY_BYTES` bytes (413).

    Each row is added exactly as createProductPartner adds a partner (the same rules, the
    same `product_partner.created` event, the same budget of adds), on its own, and answered
    in `rows`: `added` (the new partnership's `id`), `already_partner` (the existing `id`
    and its `affiliate_status`), or `invalid` (`error_code` and `message`). Running the same
    file twice adds nothing the second time: every row is then `already_partner`. A unique
    id no business has is added, as createProductPartner adds it. 404 if the product is not
    yours."""
    await service.owned_product_id(conn, caller.business_id, product_id)  # 404 before the file
    text = (await request.body()).decode("utf-8-sig")
    ignored, rows = importer.read_csv(io.StringIO(text, newline=""))
    bounded = importer.bounded(rows)
    results = [
        result
        async for result in importer.import_rows(
            conn,
            caller.business_id,
            product_id,
            bounded,
            scheme,
            spend=lambda: spend_partner_add(request, caller.business_id, once_per_request=False),
        )
    ]
    return json_response(importer.summary(ignored, results))


# --- lifecycle: owner side ---------------------------------------------------------------------


@router.get(
    _PARTNER_PATH,
    response_model=ProductPartner,
    operation_id="getProductPartner",
    summary="Get one partner of a product (ours)",
    responses=_responses(ProductNotFound, PartnerNotFound),
    description=(
        "One partnership of one of your products, with its ETag. The whole lifecycle "
        "(every actor, status and action; anything else is 409 `invalid_transition`):\n\n"
        + transitions.markdown_table()
    ),
)
async def get_product_partner(
    product_id: str, id: str, caller: ProductRead, conn: Conn, scheme: LinkScheme
) -> Response:
    return _one(await service.get_partner(conn, caller.business_id, product_id, id, scheme))


@router.get(
    _PARTNER_PATH + "/decision",
    response_model=ProductPartnerDecision,
    operation_id="getProductPartnerDecision",
    summary="Why a request was approved, rejected or left for review (ours)",
    responses=error_responses(ProductNotFound, PartnerNotFound),
)
async def get_product_partner_decision(
    product_id: str, id: str, caller: ProductRead, conn: Conn
) -> Response:
    """The answers the partner's request carried and the decision the product's rules made
    on it when it arrived: `outcome`, the deciding rule, the facts read (partnership type,
    the partner's verified custom domains and active stores, its business's age in days, how
    many other owners ban it, its answers), and per rule evaluated, each condition with the
    input it saw and whether it held. Owner only (404 to anyone else). A partnership you
    added directly had no request to decide: `outcome` and `decided_at` are null."""
    body = await decisions.get_decision(conn, caller.business_id, product_id, id)
    return json_response(body)


@router.patch(
    _PARTNER_PATH,
    response_model=ProductPartner | DecisionPreview,
    operation_id="updateProductPartner",
    summary="Change a partnership's type, store or commission rate (ours)",
    responses=_responses(
        *_DECISION_ERRORS, ConcurrentChange, StoreIsPartnersChoice, CommissionNotApplicable
    ),
    description=_doc(
        "Change `partnership_type` (which clears the store and the partner's affiliate_pro "
        "consent), or clear `store_id` with null; the partner chooses its store (any other "
        "`store_id` is 400 `store_is_partners_choice`). `commission_rate` sets this partner's "
        "own rate, null clears it (the product's rate for the type applies again, see "
        "`effective_commission_rate`); a reseller earns no commission (400 "
        "`commission_not_applicable`), and becoming one clears it. A rate change records "
        "`product_partner.commission_changed`. Omitted fields stay.",
        transitions.OWNER,
        "update",
    )
    + _DRY_RUN_DOC,
)
async def update_product_partner(
    product_id: str,
    id: str,
    body: ProductPartnerUpdate,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
    versions: IfMatch,
    dry_run: DryRun,
) -> Response:
    def work() -> Awaitable[dict[str, Any]]:
        return service.update_partner(
            conn, caller.business_id, product_id, id, body, scheme, versions
        )

    return await _decided(conn, caller.business_id, product_id, id, scheme, "update", work, dry_run)


@router.delete(
    _PARTNER_PATH,
    status_code=204,
    operation_id="deleteProductPartner",
    summary="Remove a partner from a product",
    response_description="Success with no response body",
    responses={
        200: {"model": DecisionPreview, "description": "`?dry_run=true`: what it would do"},
        **error_responses(*_DECISION_ERRORS),
    },
    description=_doc(
        "Delete the partnership `id` (the ProductPartner id). A banned partnership must be "
        "unbanned first, so that a ban is never lifted by accident.",
        transitions.OWNER,
        "remove",
    )
    + _DRY_RUN_DOC,
)
async def delete_product_partner(
    product_id: str,
    id: str,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
    versions: IfMatch,
    dry_run: DryRun,
) -> Response:
    async def work() -> None:
        await service.remove_partner(conn, caller.business_id, product_id, id, versions)

    return await _decided(conn, caller.business_id, product_id, id, scheme, "remove", work, dry_run)


@router.post(
    _PARTNER_PATH + "/approve",
    response_model=ProductPartner | DecisionPreview,
    operation_id="approveProductPartner",
    summary="Approve a partner (ours)",
    responses=_responses(*_DECISION_ERRORS),
    description=_doc("Sets `approved_at`.", transitions.OWNER, "approve") + _DRY_RUN_DOC,
)
async def approve_product_partner(
    product_id: str,
    id: str,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
    versions: IfMatch,
    dry_run: DryRun,
) -> Response:
    def work() -> Awaitable[dict[str, Any]]:
        return service.approve_partner(conn, caller.business_id, product_id, id, scheme, versions)

    return await _decided(
        conn, caller.business_id, product_id, id, scheme, "approve", work, dry_run
    )


@router.post(
    _PARTNER_PATH + "/reject",
    response_model=ProductPartner | DecisionPreview,
    operation_id="rejectProductPartner",
    summary="Reject a partnership request (ours)",
    responses=_responses(*_DECISION_ERRORS),
    description=_doc(
        "Sets `rejected_at`; the optional `reason` is shown to the partner as "
        "`rejection_reason`. The partner may request again after the product's "
        "`rerequest_cooldown_seconds`.",
        transitions.OWNER,
        "reject",
    )
    + _DRY_RUN_DOC,
)
async def reject_product_partner(
    product_id: str,
    id: str,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
    versions: IfMatch,
    dry_run: DryRun,
    body: RejectProductPartnerRequest | None = None,
) -> Response:
    def work() -> Awaitable[dict[str, Any]]:
        return service.reject_partner(
            conn,
            caller.business_id,
            product_id,
            id,
            scheme,
            reason=body.reason if body else None,
            versions=versions,
        )

    return await _decided(conn, caller.business_id, product_id, id, scheme, "reject", work, dry_run)


@router.post(
    _PARTNER_PATH + "/ban",
    response_model=ProductPartner | DecisionPreview,
    operation_id="banProductPartner",
    summary="Ban a partner from a product (ours)",
    responses=_responses(*_DECISION_ERRORS),
    description=_doc(
        f"`reason` is one of: {', '.join(f'`{r}`' for r in BanReason)}; `note` is free text. "
        "Both are shown to the partner. A banned partner cannot request again.",
        transitions.OWNER,
        "ban",
    )
    + _DRY_RUN_DOC,
)
async def ban_product_partner(
    product_id: str,
    id: str,
    body: BanProductPartnerRequest,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
    versions: IfMatch,
    dry_run: DryRun,
) -> Response:
    def work() -> Awaitable[dict[str, Any]]:
        return service.ban_partner(
            conn,
            caller.business_id,
            product_id,
            id,
            scheme,
            reason=body.reason.value,
            note=body.note,
            versions=versions,
        )

    return await _decided(conn, caller.business_id, product_id, id, scheme, "ban", work, dry_run)


@router.post(
    _PARTNER_PATH + "/unban",
    response_model=ProductPartner | DecisionPreview,
    operation_id="unbanProductPartner",
    summary="Lift a ban (ours)",
    responses=_responses(*_DECISION_ERRORS),
    description=_doc(
        "The partnership becomes `rejected`: no access is granted; the partner may request "
        "again after the product's cool-down, counted from now.",
        transitions.OWNER,
        "unban",
    )
    + _DRY_RUN_DOC,
)
async def unban_product_partner(
    product_id: str,
    id: str,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
    versions: IfMatch,
    dry_run: DryRun,
) -> Response:
    def work() -> Awaitable[dict[str, Any]]:
        return service.unban_partner(conn, caller.business_id, product_id, id, scheme, versions)

    return await _decided(conn, caller.business_id, product_id, id, scheme, "unban", work, dry_run)


@router.post(
    "/products/{product_id}/banned-partners",
    response_model=ProductPartner,
    operation_id="banBusinessFromProduct",
    summary="Ban a business from a product by unique id (ours)",
    responses=_responses(
        ProductNotFound, InvalidTransition, SelfPartnership, ConcurrentChange, StalePartnership
    ),
    description=_doc(
        "The product's block list: ban the business `partner_unique_id`, whether or not it is "
        "a partner (it may have left, or never asked). One with a partnership is banned as "
        "`banProductPartner` bans it; one without gets a banned partnership and cannot ask to "
        "join. A unique id no business has is blocked alike.",
        transitions.OWNER,
        "ban",
    ),
)
async def ban_business_from_product(
    product_id: str,
    body: BanBusinessRequest,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
) -> Response:
    banned = await service.ban_business(
        conn,
        caller.business_id,
        product_id,
        body.partner_unique_id,
        scheme,
        reason=body.reason.value,
        note=body.note,
    )
    return _one(banned)


# --- the owner's bookkeeping: tags and notes --------------------------------------------------

_TAGS_PATH = _PARTNER_PATH + "/tags"
_NOTES_PATH = _PARTNER_PATH + "/notes"
_PRIVATE_DOC = (
    "\n\nThe owner's private bookkeeping: never shown to the partner (not in its views, not in "
    "the events it sees); it does not change the partnership's `version` (ETag)."
)


@router.put(
    _TAGS_PATH,
    response_model=ProductPartner,
    operation_id="setProductPartnerTags",
    summary="Replace a partnership's tags (ours)",
    responses=_responses(ProductNotFound, PartnerNotFound),
    description="`tags` replaces the partnership's tags (at most 20; each trimmed and "
    "lowercased, 1 to 32 of a-z 0-9 _ - : . ; duplicates collapse; `[]` clears them). "
    "Answers the ProductPartner, `tags` sorted; a change records "
    "`product_partner.tags_changed`." + _PRIVATE_DOC,
)
async def set_product_partner_tags(
    product_id: str,
    id: str,
    body: SetTagsRequest,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
) -> Response:
    result = await bookkeeping.set_tags(conn, caller.business_id, product_id, id, body.tags, scheme)
    return _one(result)


@router.patch(
    _TAGS_PATH,
    response_model=ProductPartner,
    operation_id="changeProductPartnerTags",
    summary="Add and remove some of a partnership's tags (ours)",
    responses=_responses(ProductNotFound, PartnerNotFound, TooManyTags),
    description="Adds the tags of `add` and removes those of `remove` (normalized as in "
    "setProductPartnerTags), leaving the others: two owners' tools labelling at once both "
    "land. More than 20 tags in all is 400 `too_many_tags`." + _PRIVATE_DOC,
)
async def change_product_partner_tags(
    product_id: str,
    id: str,
    body: ChangeTagsRequest,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
) -> Response:
    result = await bookkeeping.change_tags(
        conn, caller.business_id, product_id, id, body.add, body.remove, scheme
    )
    return _one(result)


@router.post(
    _NOTES_PATH,
    status_code=200,
    response_model=ProductPartnerNote,
    operation_id="createProductPartnerNote",
    summary="Add a private note to a partnership (ours)",
    responses=error_responses(ProductNotFound, PartnerNotFound),
    description="A note (`body`, plain text, at most 5000 characters) with its author (the "
    "API key and its business, or the dashboard user, as the event log records an actor) "
    "and time; records `product_partner.note_added`." + _PRIVATE_DOC,
)
async def create_product_partner_note(
    product_id: str, id: str, body: CreateNoteRequest, caller: ProductUpdate, conn: Conn
) -> Response:
    note = await bookkeeping.add_note(conn, caller.business_id, product_id, id, body.body)
    return json_response(note)


@router.get(
    _NOTES_PATH,
    response_model=ListProductPartnerNotesResponseBody,
    operation_id="listProductPartnerNotes",
    summary="A partnership's private notes (ours)",
    responses=error_responses(ProductNotFound, PartnerNotFound),
    description="The notes on one partnership of one of your products, newest first, "
    "paginated like every list." + _PRIVATE_DOC,
)
async def list_product_partner_notes(
    product_id: str, id: str, caller: ProductList, conn: Conn, page: Page
) -> Response:
    body = await bookkeeping.list_notes(conn, caller.business_id, product_id, id, page)
    return json_response(body)


@router.delete(
    _NOTES_PATH + "/{note_id}",
    status_code=204,
    operation_id="deleteProductPartnerNote",
    summary="Delete a private note (ours)",
    response_description="Success with no response body",
    responses=error_responses(ProductNotFound, PartnerNotFound, NoteNotFound),
    description="Records `product_partner.note_deleted` (with the note as it was)." + _PRIVATE_DOC,
)
async def delete_product_partner_note(
    product_id: str, id: str, note_id: str, caller: ProductUpdate, conn: Conn
) -> Response:
    await bookkeeping.delete_note(conn, caller.business_id, product_id, id, note_id)
    return Response(status_code=204)


# --- affiliate_pro domains (owner side) --------------------------------------------------------

_DOMAINS_PATH = _PARTNER_PATH + "/affiliate-pro-domains"


@router.get(
    _DOMAINS_PATH,
    response_model=ListAffiliateProDomainCandidatesResponseBody,
    operation_id="listAffiliateProDomainCandidates",
    summary="The partner's domains you may approve (ours)",
    responses=error_responses(PartnerNotFound, NotAffiliatePro),
)
async def list_affiliate_pro_domain_candidates(
    product_id: str, id: str, caller: ProductList, conn: Conn, page: Page
) -> Response:
    """The partner business's verified custom domains, each with `is_approved` for this
    affiliate_pro partnership of one of your products."""
    body = await pro_domains.list_candidates(conn, caller.business_id, product_id, id, page)
    return json_response(body)


@router.post(
    _DOMAINS_PATH + "/{domain_id}",
    response_model=ProductPartner,
    operation_id="approveAffiliateProDomain",
    summary="Approve a partner domain for affiliate_pro links (ours)",
    responses=error_responses(
        PartnerNotFound,
        PartnerDomainNotFound,
        NotAffiliatePro,
        PartnerConsentRequired,
        DomainNotVerified,
    ),
)
async def approve_affiliate_pro_domain(
    product_id: str,
    id: str,
    domain_id: str,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
) -> Response:
    """Approve one of the partner's verified domains on an affiliate_pro partnership of one of
    your products, once the partner agreed to affiliate_pro (it asked for it, or accepted the
    partnership as affiliate_pro: else 409 `partner_consent_required`). Returns the
    partnership; once it is approved and has a store, its `affiliate_pro_links` include this
    domain. 409 `not_affiliate_pro`, 400 `domain_not_verified`; approving twice changes
    nothing."""
    body = await pro_domains.approve_domain(
        conn, caller.business_id, product_id, id, domain_id, scheme
    )
    return json_response(body)


@router.delete(
    _DOMAINS_PATH + "/{domain_id}",
    response_model=ProductPartner,
    operation_id="revokeAffiliateProDomain",
    summary="Revoke a partner domain's approval (ours)",
    responses=error_responses(PartnerNotFound, AffiliateProDomainNotFound),
)
async def revoke_affiliate_pro_domain(
    product_id: str,
    id: str,
    domain_id: str,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
) -> Response:
    """Withdraw the approval of a domain; its links disappear. Returns the partnership."""
    body = await pro_domains.revoke_domain(
        conn, caller.business_id, product_id, id, domain_id, scheme
    )
    return json_response(body)


# --- lifecycle: partner side -------------------------------------------------------------------

_PARTNER_SIDE: list[str | Enum] = ["Partnerships (partner side)"]


@router.post(
    "/products/{product_id}/partnership-requests",
    status_code=200,
    response_model=ProductPartner,
    operation_id="requestProductPartnership",
    summary="Ask to become a partner of a product (ours)",
    tags=_PARTNER_SIDE,
    responses=_responses(
        ProductNotFound,
        InvalidTransition,
        RerequestCooldown,
        ConcurrentChange,
        SelfPartnership,
        PartnershipTypeNotOpen,
        StoreRequiresAffiliatePro,
        PartnerStoreNotFound,
        ApplicationAnswerMissing,
        ApplicationAnswerInvalid,
    ),
    description=_doc(
        "Your business asks to join the product's programme for `partnership_type` "
        "(affiliate needs `is_affiliate_enabled`, affiliate_pro `is_affiliate_pro_enabled`, "
        "reseller `is_product_sharing`), with `answers` to the product's "
        "`application_questions` asked of that type. Answers the ProductPartner: the "
        "product's `partnership_rules` decide at once (`approved`, or `rejected` with the "
        "rule's reason), else `is_affiliate_auto_accept` approves affiliate and "
        "affiliate_pro requests, else `pending`. A product open to no request is 404; one "
        "not open to this type is 400 `partnership_type_not_open`; during the cool-down "
        "after a rejection, 409 `rerequest_cooldown` with Retry-After. The decision's trace: "
        "getProductPartnerDecision.",
        transitions.PARTNER,
        "request",
    )
    + "\n\n"
    + transitions.describe(transitions.SYSTEM, "auto_reject"),
)
async def request_product_partnership(
    product_id: str,
    body: PartnershipRequest,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
) -> Response:
    created = await service.request_partnership(conn, caller.business_id, product_id, body, scheme)
    return _one(created)


@router.get(
    "/partnerships",
    response_model=ListMyPartnershipsResponseBody,
    operation_id="listMyPartnerships",
    summary="List your partnerships, as partner (ours)",
    tags=_PARTNER_SIDE,
    responses=error_responses(),
)
async def list_my_partnerships(
    caller: ProductList, conn: Conn, page: Page, filters: Filters, scheme: LinkScheme
) -> Response:
    """Every partnership where your business is the partner, across owners, newest first."""
    body = await service.list_my_partnerships(
        conn,
        caller.business_id,
        page,
        scheme,
        affiliate_status=filters.affiliate_status,
        partnership_type=filters.partnership_type,
    )
    return json_response(body)


@router.get(
    "/partnerships/{id}",
    response_model=ProductPartner,
    operation_id="getMyPartnership",
    summary="Get one of your partnerships, as partner (ours)",
    tags=_PARTNER_SIDE,
    responses=_responses(PartnerNotFound),
)
async def get_my_partnership(
    id: str, caller: ProductRead, conn: Conn, scheme: LinkScheme
) -> Response:
    """A partnership where your business is the partner (with reasons, links and ETag)."""
    return _one(await service.get_my_partnership(conn, caller.business_id, id, scheme))


_PARTNER_DELETE_ERRORS = (PartnerNotFound, InvalidTransition, StalePartnership, TooManyEtags)


@router.post(
    "/partnerships/{id}/accept",
    response_model=ProductPartner,
    operation_id="acceptProductPartnership",
    summary="Accept a partnership an owner created (ours)",
    tags=_PARTNER_SIDE,
    responses=_responses(
        *_PARTNER_DELETE_ERRORS,
        ConcurrentChange,
        NotAffiliatePro,
        PartnerStoreNotFound,
    ),
    description=_doc(
        "An owner added your business directly: accepting shares your contact data with that "
        "owner (until then it sees only your unique id). On an affiliate_pro partnership it "
        "also agrees to routing: `store_id` is one of your stores (accept again to change it), "
        "and the owner may then approve your domains for links. A `store_id` on a partnership "
        "that is not affiliate_pro (the owner may just have changed its type) is 409 "
        "`not_affiliate_pro`: read it again; nothing is accepted.",
        transitions.PARTNER,
        "accept",
    ),
)
async def accept_product_partnership(
    id: str,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
    versions: IfMatch,
    body: AcceptPartnershipRequest | None = None,
) -> Response:
    accepted = await service.accept_partnership(
        conn, caller.business_id, id, body or AcceptPartnershipRequest(), scheme, versions
    )
    return _one(accepted)


@router.post(
    "/partnerships/{id}/withdraw",
    status_code=204,
    operation_id="withdrawProductPartnership",
    summary="Withdraw a pending request (ours)",
    tags=_PARTNER_SIDE,
    response_description="Success with no response body",
    responses=error_responses(*_PARTNER_DELETE_ERRORS),
    description=_doc("Deletes your pending request.", transitions.PARTNER, "withdraw"),
)
async def withdraw_product_partnership(
    id: str, caller: ProductUpdate, conn: Conn, versions: IfMatch
) -> Response:
    await service.withdraw_partnership(conn, caller.business_id, id, versions)
    return Response(status_code=204)


@router.post(
    "/partnerships/{id}/leave",
    status_code=204,
    operation_id="leaveProductPartnership",
    summary="Leave a partnership (ours)",
    tags=_PARTNER_SIDE,
    response_description="Success with no response body",
    responses=error_responses(*_PARTNER_DELETE_ERRORS),
    description=_doc(
        "Ends your approved partnership (deleted; you may request again later).",
        transitions.PARTNER,
        "leave",
    ),
)
async def leave_product_partnership(
    id: str, caller: ProductUpdate, conn: Conn, versions: IfMatch
) -> Response:
    await service.leave_partnership(conn, caller.business_id, id, versions)
    return Response(status_code=204)


# --- the published lifecycle -------------------------------------------------------------------


@router.get(
    "/partnership-transitions",
    response_model=ListPartnershipTransitionsResponseBody,
    operation_id="listPartnershipTransitions",
    summary="The partnership lifecycle: who may move a partnership from which status (ours)",
    responses=error_responses(),
)
async def list_partnership_transitions(caller: ProductList) -> Response:
    """Every row of the transition table the service enforces (actor, from, action, to, the
    operation that makes the move): the same data, never a copy. Any move not listed is 409
    `invalid_transition`, whose `errors.allowed_actions` lists what the caller may do from the
    partnership's current status."""
    return json_response({"data": transitions.rows()})


# --- auto-approve rules: the dry run over the queue --------------------------------------------


@router.post(
    "/products/{product_id}/partnership-rules/preview",
    response_model=RulesPreviewResponse,
    operation_id="previewProductPartnershipRules",
    summary="What rules would decide on the pending requests (ours; nothing is saved)",
    responses=error_responses(ProductNotFound, RuleQuestionUnknown),
)
async def preview_product_partnership_rules(
    product_id: str,
    caller: ProductUpdate,
    conn: Conn,
    body: RulesPreviewRequest | None = None,
    limit: Annotated[int, Query(ge=1, le=decisions.PREVIEW_MAX)] = decisions.PREVIEW_LIMIT,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    """Runs `partnership_rules` (the body's, or the saved ones) over the product's pending
    requests, oldest first, `limit` at a time (default 100, at most 500; `after_id` from
    `next_after_id` for the next page): for each, the outcome (approve, reject, review) and
    the trace, as if it were requested now (facts read now, the answers its request
    carried). Reads only: nothing is decided, saved or recorded. Rules decide new requests
    when they arrive; to act on the queue, use bulkReviewProductPartners."""
    proposed = None
    if body is not None and body.partnership_rules is not None:
        proposed = [rule.model_dump(mode="json") for rule in body.partnership_rules]
    preview = await decisions.preview_rules(
        conn, caller.business_id, product_id, proposed, limit, after_id
    )
    return json_response(preview)


# --- bulk decisions ----------------------------------------------------------------------------


@router.post(
    "/products/{product_id}/partners/bulk",
    response_model=BulkReviewResponse,
    operation_id="bulkReviewProductPartners",
    summary="One decision on up to 100 partners of a product (ours)",
    responses=error_responses(ProductNotFound, CommissionNotApplicable),
)
async def bulk_review_product_partners(
    product_id: str,
    body: BulkReviewRequest,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
    dry_run: DryRun,
) -> Response:
    """`action` (approve, reject with an optional `reason`, ban with a `reason` from the ban
    reasons and a `note`, unban, delete) on up to 100 partnerships of one of your products
    (`items`: `id`, and `version` to act only if it is still at that version, as If-Match).
    Each item is decided exactly as the single operation decides it (same rules, same error
    codes, one winner against concurrent decisions). `mode` `best_effort` saves each item on
    its own; `all_or_nothing` saves every item in one transaction, or none if any fails (the
    others then answer `would_apply`). 200 lists every item, in the order sent, with its
    `outcome` (applied, would_apply, failed), new `affiliate_status` and `version`, or its
    `error_code` and `status`. `?dry_run=true` answers the same and saves nothing.

    Commissions: `set_commission` sets each item's `commission_rate` (null clears it), as
    updateProductPartner does. `lock_commission` gives every approved partnership that
    follows the product's rate (no `commission_rate` of its own) that rate as its own, before
    a programme-wide change: the `items` listed, or without `items` every approved
    partnership of the product (no 100 limit: it is one statement). It is all or nothing
    whatever the `mode`; a listed partnership with nothing to lock answers `unchanged` and
    says why in `message`; each one locked records `product_partner.commission_changed`."""
    result = await bulk.bulk_review(conn, caller.business_id, product_id, body, scheme, dry_run)
    return json_response(result)
