"""Errors of webhook endpoints."""

from product_partners.kit.errors import NotFound, Unprocessable


class WebhookEndpointNotFound(NotFound):
    """No such endpoint, or another business's: the two are never told apart."""

    error_code = "webhook_endpoint_not_found"
    message = "No such webhook endpoint."


class InvalidWebhookUrl(Unprocessable):
    error_code = "invalid_webhook_url"

    def __init__(self, problem: str) -> None:
        super().__init__(f"The webhook URL {problem}.", errors={"url": [problem]})


class NoEventTypes(Unprocessable):
    error_code = "validation_error"

    def __init__(self) -> None:
        super().__init__(
            'Subscribe to at least one event type, or to ["*"] for every type.',
            errors={"event_types": ['must name at least one event type, or be ["*"]']},
        )


class ReplayStartMissing(Unprocessable):
    def __init__(self) -> None:
        super().__init__(
            "Say where the replay starts: `after` (an event id) or `since` (a time).",
            errors={"after": ["give after or since"]},
        )
