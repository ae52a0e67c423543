"""Request dependencies of the partnership routes (and the hot path): list filters, If-Match,
and the owner's budget of partners added."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query
from starlette.requests import Request

from product_partners.kit.http.ratelimit import spend_budget
from product_partners.partnerships.enums import AffiliateStatus, PartnershipType
from product_partners.partnerships.errors import InvalidTagFilter, PartnerAddsLimited
from product_partners.partnerships.etags import parse_if_match
from product_partners.partnerships.schemas import MAX_TAGS, normalized_tags

# app.state's name of the budget of partners an owner may add (app.py builds it).
PARTNER_ADDS = "partner_adds"


async def spend_partner_add(
    request: Request, owner_business_id: int, once_per_request: bool = True
) -> None:
    """Count one partner added by the owner (products and bundles alike): 429 beyond.
    ``once_per_request=False``: for each row of an import."""
    await spend_budget(
        request, PARTNER_ADDS, str(owner_business_id), PartnerAddsLimited, once_per_request
    )


@dataclass(frozen=True, slots=True)
class PartnershipFilters:
    affiliate_status: str | None
    partnership_type: str | None


async def _filters(
    affiliate_status: Annotated[
        AffiliateStatus | None, Query(description="Ours: only partnerships in this status.")
    ] = None,
    partnership_type: Annotated[
        PartnershipType | None, Query(description="Ours: only partnerships of this type.")
    ] = None,
) -> PartnershipFilters:
    return PartnershipFilters(
        affiliate_status.value if affiliate_status else None,
        partnership_type.value if partnership_type else None,
    )


# The list filters shared by the owner's and the partner's lists.
Filters = Annotated[PartnershipFilters, Depends(_filters)]


async def _tags(
    tag: Annotated[
        list[str] | None,
        Query(
            description="Ours: only partnerships carrying this tag (the owner's labels); "
            "repeat it for partnerships carrying every tag named."
        ),
    ] = None,
) -> list[str]:
    if not tag:
        return []
    if len(tag) > MAX_TAGS:
        raise InvalidTagFilter(f"at most {MAX_TAGS} tags")
    try:
        return normalized_tags(tag)
    except ValueError as error:
        raise InvalidTagFilter(str(error)) from None


# ?tag=...: the owner's list only (tags are the owner's).
TagFilter = Annotated[list[str], Depends(_tags)]


async def _if_match(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The partnership\'s ETag (`"<version>"`): refuse with 412 if it changed.',
        ),
    ] = None,
) -> list[int] | None:
    return parse_if_match(if_match)


# The versions an If-Match header names (None: no precondition).
IfMatch = Annotated[list[int] | None, Depends(_if_match)]


async def _dry_run(
    dry_run: Annotated[
        bool,
        Query(
            description="Ours: answer what the decision would do (the resulting body, the "
            "links added and removed, the events it would emit) and save nothing."
        ),
    ] = False,
) -> bool:
    return dry_run


# ?dry_run=true on a decision: run it in a transaction that is rolled back (partnerships.dryrun).
DryRun = Annotated[bool, Depends(_dry_run)]
