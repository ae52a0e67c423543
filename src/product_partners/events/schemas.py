"""Wire shapes of the event log (ours: Scalev has no event feed)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from product_partners.events.enums import ActorType, EventType, ResourceType
from product_partners.kit.pagination import PaginatedFields


class EventActor(BaseModel):
    model_config = ConfigDict(title="EventActor")

    type: ActorType = Field(description="Who made the change.")
    business_id: int | None = None
    api_key_id: int | None = None
    user_id: int | None = None


class EventResource(BaseModel):
    model_config = ConfigDict(title="EventResource")

    type: ResourceType
    id: int
    product_id: int | None = Field(
        default=None, description="The product of a partnership or of its settings."
    )


class Event(BaseModel):
    """One change, as recorded in the transaction that made it. Also the body of a webhook."""

    model_config = ConfigDict(title="Event")

    id: str = Field(description="Stable event id (`evt_...`), the `webhook-id` of deliveries.")
    type: EventType
    occurred_at: str = Field(json_schema_extra={"format": "date-time"})
    actor: EventActor
    resource: EventResource
    from_status: str | None
    to_status: str | None
    reason: str | None
    note: str | None
    request_id: str | None = Field(description="The X-Request-Id of the request that made it.")
    owner_business_id: int | None
    partner_business_id: int | None
    data: Any = Field(description="The resource's body after the change.")


class EventCollectionResponseBody(PaginatedFields):
    model_config = ConfigDict(title="EventCollectionResponseBody")

    data: list[Event]
