"""The vocabulary of webhook deliveries."""

from enum import StrEnum


class DeliveryStatus(StrEnum):
    scheduled = "scheduled"  # waiting for its next attempt (or being attempted, under a lease)
    delivered = "delivered"  # a 2xx answer
    failed = "failed"  # every attempt failed: no more retries


class DisabledReason(StrEnum):
    failing = "failing"  # the service disabled it: a delivery exhausted its retries
