"""Rows to the webhook bodies."""

from typing import Any

from product_partners.webhooks.repository import ALL_TYPES


def event_types(stored: str) -> list[str]:
    return [ALL_TYPES] if stored == ALL_TYPES else stored.split()


def endpoint(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "event_types": event_types(row.event_types),
        "enabled": bool(row.enabled),
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def delivery(row: Any, event_public_id: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": event_public_id,
        "endpoint_id": row.endpoint_id,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
    }


def attempt(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "delivery_id": row.delivery_id,
        "event_id": row.event_public_id,
        "event_type": row.event_type,
        "attempt": row.attempt,
        "attempted_at": row.attempted_at,
        "status_code": row.status_code,
        "duration_ms": row.duration_ms,
        "error": row.error,
        "next_retry_at": row.next_retry_at,
        "delivery_status": row.delivery_status,
    }
