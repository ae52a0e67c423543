"""Wire shapes of webhook endpoints and their deliveries (ours: Scalev's webhooks are for
orders only)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from product_partners.kit.pagination import PaginatedFields

EVENT_TYPES_DOC = 'Event types to receive, or `["*"]` (the default) for every type.'


class WebhookEndpoint(BaseModel):
    model_config = ConfigDict(title="WebhookEndpoint")

    id: int
    url: str
    description: str | None
    event_types: list[str] = Field(description=EVENT_TYPES_DOC)
    enabled: bool
    disabled_reason: str | None = Field(
        description="`failing` when the service disabled it after repeated failures."
    )
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})


class WebhookEndpointWithSecret(WebhookEndpoint):
    """Answer of create and rotate: the only times the signing secret is shown."""

    model_config = ConfigDict(title="WebhookEndpointWithSecret")

    secret: str = Field(description="`whsec_...`: verify signatures with it. Shown once.")


class WebhookEndpointCreateRequest(BaseModel):
    model_config = ConfigDict(title="WebhookEndpointCreateRequest", extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="https URL of your receiver.")
    description: str | None = Field(default=None, max_length=1000)
    event_types: list[str] | None = Field(default=None, max_length=64, description=EVENT_TYPES_DOC)
    enabled: StrictBool = True


class WebhookEndpointUpdateRequest(BaseModel):
    model_config = ConfigDict(title="WebhookEndpointUpdateRequest", extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    description: str | None = Field(default=None, max_length=1000)
    event_types: list[str] | None = Field(default=None, max_length=64, description=EVENT_TYPES_DOC)
    enabled: StrictBool | None = Field(
        default=None, description="`true` also re-enables an endpoint the service disabled."
    )


class WebhookEndpointCollectionResponseBody(PaginatedFields):
    model_config = ConfigDict(title="WebhookEndpointCollectionResponseBody")

    data: list[WebhookEndpoint]


class ResendEventRequest(BaseModel):
    model_config = ConfigDict(title="ResendEventRequest", extra="forbid")

    event_id: str = Field(min_length=1, max_length=32, description="The event's `evt_...` id.")


class ReplayRequest(BaseModel):
    model_config = ConfigDict(title="ReplayWebhookEndpointRequest", extra="forbid")

    after: str | None = Field(
        default=None, max_length=32, description="Replay the events after this event id."
    )
    since: datetime | None = Field(
        default=None, description="Replay the events that occurred at or after this time."
    )


class WebhookDelivery(BaseModel):
    """One delivery (an event to an endpoint) as queued."""

    model_config = ConfigDict(title="WebhookDelivery")

    id: int
    event_id: str
    endpoint_id: int
    status: str = Field(description="`scheduled`, `delivered` or `failed` (retries exhausted).")
    attempts: int
    next_attempt_at: str | None = Field(json_schema_extra={"format": "date-time"})


class ReplayResponse(BaseModel):
    model_config = ConfigDict(title="ReplayWebhookEndpointResponse")

    queued: int = Field(description="Deliveries queued by this call.")
    last_event_id: str | None = Field(description="The last event queued.")
    has_more: bool = Field(description="More events remain: replay again `after` the last one.")


class WebhookAttempt(BaseModel):
    """One attempt to deliver one event to the endpoint."""

    model_config = ConfigDict(title="WebhookAttempt")

    id: int
    delivery_id: int
    event_id: str
    event_type: str
    attempt: int
    attempted_at: str = Field(json_schema_extra={"format": "date-time"})
    status_code: int | None = Field(description="The receiver's HTTP status, if it answered.")
    duration_ms: int
    error: str | None
    next_retry_at: str | None = Field(json_schema_extra={"format": "date-time"})
    delivery_status: str


class WebhookAttemptCollectionResponseBody(PaginatedFields):
    model_config = ConfigDict(title="WebhookAttemptCollectionResponseBody")

    data: list[WebhookAttempt]
