"""HTTP routes of the event log (ours): listEvents and getEvent."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from product_partners.auth.dependencies import EventList, EventRead
from product_partners.events import service
from product_partners.events.enums import ResourceType
from product_partners.events.errors import EventNotFound, InvalidEventCursor, UnknownEventType
from product_partners.events.schemas import Event, EventCollectionResponseBody
from product_partners.kit.http.deps import Conn
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.ids import MAX_ID
from product_partners.kit.jsonutil import json_response
from product_partners.kit.pagination import MAX_PAGE_SIZE

router = APIRouter(prefix="/v3", tags=["Events"])


@router.get(
    "/events",
    response_model=EventCollectionResponseBody,
    operation_id="listEvents",
    summary="List events (the audit trail and feed)",
    response_description="Events, oldest first",
    responses=error_responses(InvalidEventCursor, UnknownEventType),
)
async def list_events(
    caller: EventList,
    conn: Conn,
    after: Annotated[
        str | None,
        Query(max_length=32, description="An event id: the events after it (resume a feed)."),
    ] = None,
    next_cursor: Annotated[
        str | None, Query(max_length=32, description="The same as `after`.")
    ] = None,
    previous_cursor: Annotated[
        str | None,
        Query(max_length=200, description="Not accepted: the feed reads forward (400)."),
    ] = None,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (1 to 25).")
    ] = MAX_PAGE_SIZE,
    type: Annotated[
        list[str] | None,
        Query(description="Event types (repeat, or separate with commas)."),
    ] = None,
    resource_type: Annotated[ResourceType | None, Query()] = None,
    resource_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    product_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The events your business is the audience of (as owner or as partner), oldest first.

    `next_cursor` is the last event's id whenever the page has events: pass it as `after`
    to read on, also after catching up (`has_next` false) to poll for newer events."""
    if previous_cursor is not None:
        raise InvalidEventCursor("previous_cursor")
    body = await service.list_events(
        conn,
        caller.business_id,
        after=after or next_cursor,
        cursor_name="after" if after else "next_cursor",
        page_size=page_size,
        types=type,
        resource_type=resource_type,
        resource_id=resource_id,
        product_id=product_id,
    )
    return json_response(body)


@router.get(
    "/events/{id}",
    response_model=Event,
    operation_id="getEvent",
    summary="Get an event",
    response_description="Event",
    responses=error_responses(EventNotFound),
)
async def get_event(id: str, caller: EventRead, conn: Conn) -> Response:
    """One event your business is the audience of, by its `evt_...` id."""
    return json_response(await service.get_event(conn, caller.business_id, id))
