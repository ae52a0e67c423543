"""Rows of ``events`` to the Event body: the one renderer, for listEvents, getEvent, the CLI's
export and webhook payloads alike."""

from typing import Any

import orjson


def event(row: Any) -> dict[str, Any]:
    return {
        "id": row.public_id,
        "type": row.type,
        "occurred_at": row.occurred_at,
        "actor": {
            "type": row.actor_type,
            "business_id": row.actor_business_id,
            "api_key_id": row.actor_api_key_id,
            "user_id": row.actor_user_id,
        },
        "resource": {
            "type": row.resource_type,
            "id": row.resource_id,
            "product_id": row.product_id,
        },
        "from_status": row.from_status,
        "to_status": row.to_status,
        "reason": row.reason,
        "note": row.note,
        "request_id": row.request_id,
        "owner_business_id": row.owner_business_id,
        "partner_business_id": row.partner_business_id,
        "data": orjson.loads(row.data),
    }
