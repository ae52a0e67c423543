"""HTTP routes of webhook endpoints (ours), under /v3/webhook-endpoints."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from product_partners.auth.dependencies import (
    WebhookCreate,
    WebhookDelete,
    WebhookList,
    WebhookRead,
    WebhookUpdate,
)
from product_partners.events.errors import EventNotFound, UnknownEventType
from product_partners.kit.http.deps import Conn, Page
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.jsonutil import json_response
from product_partners.webhooks import service
from product_partners.webhooks.errors import (
    InvalidWebhookUrl,
    NoEventTypes,
    ReplayStartMissing,
    WebhookEndpointNotFound,
)
from product_partners.webhooks.schemas import (
    ReplayRequest,
    ReplayResponse,
    ResendEventRequest,
    WebhookAttemptCollectionResponseBody,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCollectionResponseBody,
    WebhookEndpointCreateRequest,
    WebhookEndpointUpdateRequest,
    WebhookEndpointWithSecret,
)

router = APIRouter(prefix="/v3", tags=["Webhooks"])


async def _loopback_http(request: Request) -> bool:
    return bool(request.app.state.settings.allows_loopback_http)


# Whether endpoint URLs may be plain http on the loopback interface (WEBHOOK_LOOPBACK_HTTP).
LoopbackHttp = Annotated[bool, Depends(_loopback_http)]

_URL_ERRORS = (InvalidWebhookUrl, UnknownEventType, NoEventTypes)


@router.post(
    "/webhook-endpoints",
    response_model=WebhookEndpointWithSecret,
    operation_id="createWebhookEndpoint",
    summary="Create a webhook endpoint",
    response_description="The endpoint, with its signing secret (shown this once)",
    responses=error_responses(*_URL_ERRORS),
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreateRequest, caller: WebhookCreate, conn: Conn, loopback: LoopbackHttp
) -> Response:
    """Receive the events of your business (as owner or partner) at an https URL, signed to
    the Standard Webhooks specification with the `whsec_...` secret in the answer."""
    return json_response(await service.create_endpoint(conn, caller.business_id, body, loopback))


@router.get(
    "/webhook-endpoints",
    response_model=WebhookEndpointCollectionResponseBody,
    operation_id="listWebhookEndpoints",
    summary="List webhook endpoints",
    response_description="Paginated webhook endpoints",
    responses=error_responses(),
)
async def list_webhook_endpoints(caller: WebhookList, conn: Conn, page: Page) -> Response:
    """Your business's webhook endpoints, newest first (never their secrets)."""
    return json_response(await service.list_endpoints(conn, caller.business_id, page))


@router.get(
    "/webhook-endpoints/{id}",
    response_model=WebhookEndpoint,
    operation_id="getWebhookEndpoint",
    summary="Get a webhook endpoint",
    response_description="Webhook endpoint",
    responses=error_responses(WebhookEndpointNotFound),
)
async def get_webhook_endpoint(id: str, caller: WebhookRead, conn: Conn) -> Response:
    return json_response(await service.get_endpoint(conn, caller.business_id, id))


@router.patch(
    "/webhook-endpoints/{id}",
    response_model=WebhookEndpoint,
    operation_id="updateWebhookEndpoint",
    summary="Update a webhook endpoint",
    response_description="Webhook endpoint",
    responses=error_responses(WebhookEndpointNotFound, *_URL_ERRORS),
)
async def update_webhook_endpoint(
    id: str,
    body: WebhookEndpointUpdateRequest,
    caller: WebhookUpdate,
    conn: Conn,
    loopback: LoopbackHttp,
) -> Response:
    """Change the URL, description, event types or `enabled` (only the fields sent)."""
    return json_response(
        await service.update_endpoint(conn, caller.business_id, id, body, loopback)
    )


@router.delete(
    "/webhook-endpoints/{id}",
    status_code=204,
    operation_id="deleteWebhookEndpoint",
    summary="Delete a webhook endpoint",
    response_description="Success with no response body",
    responses=error_responses(WebhookEndpointNotFound),
)
async def delete_webhook_endpoint(id: str, caller: WebhookDelete, conn: Conn) -> Response:
    await service.delete_endpoint(conn, caller.business_id, id)
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{id}/rotate-secret",
    response_model=WebhookEndpointWithSecret,
    operation_id="rotateWebhookEndpointSecret",
    summary="Rotate a webhook endpoint's secret",
    response_description="The endpoint, with its new signing secret (shown this once)",
    responses=error_responses(WebhookEndpointNotFound),
)
async def rotate_webhook_endpoint_secret(
    id: str, request: Request, caller: WebhookUpdate, conn: Conn
) -> Response:
    """A new secret. The previous one keeps signing too (a second `v1,` signature in
    `webhook-signature`) for WEBHOOK_SECRET_OVERLAP_SECONDS (a day by default)."""
    overlap = timedelta(seconds=request.app.state.settings.webhook_secret_overlap_seconds)
    return json_response(await service.rotate_secret(conn, caller.business_id, id, overlap))


@router.post(
    "/webhook-endpoints/{id}/resend",
    response_model=WebhookDelivery,
    operation_id="resendEvent",
    summary="Send one event to an endpoint again",
    response_description="The queued delivery",
    responses=error_responses(WebhookEndpointNotFound, EventNotFound),
)
async def resend_event(
    id: str, body: ResendEventRequest, caller: WebhookUpdate, conn: Conn
) -> Response:
    """Queue one of your events for this endpoint (whatever its subscription); it carries
    the same `webhook-id` as before, so a receiver that has it can tell."""
    return json_response(await service.resend_event(conn, caller.business_id, id, body.event_id))


@router.post(
    "/webhook-endpoints/{id}/replay",
    response_model=ReplayResponse,
    operation_id="replayWebhookEndpoint",
    summary="Replay events to an endpoint",
    response_description="How many deliveries were queued",
    responses=error_responses(WebhookEndpointNotFound, EventNotFound, ReplayStartMissing),
)
async def replay_webhook_endpoint(
    id: str, body: ReplayRequest, caller: WebhookUpdate, conn: Conn
) -> Response:
    """Queue every event the endpoint subscribes to after an event id (`after`) or since a
    time (`since`), oldest first, at most 1000 per call (`has_more`: call again `after`
    `last_event_id`)."""
    return json_response(await service.replay(conn, caller.business_id, id, body))


@router.get(
    "/webhook-endpoints/{id}/deliveries",
    response_model=WebhookAttemptCollectionResponseBody,
    operation_id="listWebhookDeliveries",
    summary="List an endpoint's delivery attempts",
    response_description="Delivery attempts, newest first",
    responses=error_responses(WebhookEndpointNotFound),
)
async def list_webhook_deliveries(id: str, caller: WebhookRead, conn: Conn, page: Page) -> Response:
    """Every attempt: the event, the receiver's status code, the duration, the error, and
    when the next retry is due."""
    return json_response(await service.list_attempts(conn, caller.business_id, id, page))
