"""Errors of the event log."""

from product_partners.kit.errors import InvalidCursor, NotFound, Unprocessable


class EventNotFound(NotFound):
    """No such event, or one the caller's business is not the audience of."""

    error_code = "event_not_found"
    message = "No such event."


class InvalidEventCursor(InvalidCursor):
    """A cursor that names no event; or any previous_cursor (the feed reads forward only)."""

    def __init__(self, name: str = "after") -> None:
        if name == "previous_cursor":
            message = (
                "The event feed reads forward only: send after (or next_cursor), "
                "not previous_cursor."
            )
        else:
            message = (
                f"The {name} is not an event id of this service: pass an event's id or a "
                "next_cursor of listEvents."
            )
        super().__init__(name, message)


class UnknownEventType(Unprocessable):
    def __init__(self, name: str, field: str = "type") -> None:
        super().__init__(
            f"{name!r} is not an event type; see the README's list of event types.",
            errors={field: [f"unknown event type {name!r}"]},
        )
