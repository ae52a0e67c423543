"""Fast JSON responses (orjson), with Scalev's date-time format: RFC 3339, UTC, ``Z``."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import Response

# Naive datetimes come back from SQLite and are UTC by construction; all output ends in "Z".
JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=JSON_OPTIONS, default=_default)


def _default(value: Any) -> Any:
    # Decimal commission rates travel as strings ("12.50"), as in Scalev's spec.
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def json_response(
    data: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        content=dumps(data),
        status_code=status_code,
        headers=dict(headers) if headers else None,
        media_type="application/json",
    )
