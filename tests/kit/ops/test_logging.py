"""One structured line per request, never a key or token; readable text on a terminal."""

import io
import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.kit.ops.logs import JsonFormatter, TextFormatter, access_log, resolve_format
from tests.support.api import Api
from tests.support.ops import app_client


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access_records() -> Iterator[list[logging.LogRecord]]:
    handler = _Collect()
    previous = access_log.level
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    yield handler.records
    access_log.removeHandler(handler)
    access_log.setLevel(previous)


async def test_one_json_line_per_request_with_template_status_and_ids(
    engine: AsyncEngine, access_records: list[logging.LogRecord]
) -> None:
    async with app_client(engine, rate_limit_enabled=False) as (client, _app):
        api = Api(client, engine)
        owner = await api.actor()
        product = await api.product(owner)
        access_records.clear()
        response = await client.get(
            f"/v3/products/{product['id']}/partners?page_size=5",
            headers={**owner.headers, "X-Request-Id": "req-123"},
        )
        assert response.headers["x-request-id"] == "req-123"
        unauthenticated = await client.get("/v3/products")

    assert len(access_records) == 2
    line = JsonFormatter().format(access_records[0])
    assert "\n" not in line
    data = json.loads(line)
    assert data["msg"] == "request" and data["level"] == "info" and data["ts"].endswith("Z")
    assert {k: data[k] for k in ("method", "path", "status", "request_id", "business_id")} == {
        "method": "GET",
        "path": "/v3/products/{product_id}/partners",
        "status": 200,
        "request_id": "req-123",
        "business_id": owner.id,
    }
    assert isinstance(data["duration_ms"], float) and data["duration_ms"] >= 0
    # Nothing secret, and no query string.
    assert owner.key not in line and "Bearer" not in line and "page_size" not in line
    assert owner.key.split("_")[1] not in line  # not even the key's public prefix

    other = json.loads(JsonFormatter().format(access_records[1]))
    assert other["status"] == 401 and other["business_id"] is None
    assert other["request_id"] == unauthenticated.headers["x-request-id"]


async def test_probes_are_logged_at_debug_only(
    engine: AsyncEngine, access_records: list[logging.LogRecord]
) -> None:
    async with app_client(engine) as (client, _app):
        await client.get("/healthz")
    assert access_records == []


def test_text_format_is_one_readable_line() -> None:
    record = logging.LogRecord("product_partners.access", logging.INFO, "", 0, "request", (), None)
    record.fields = {"method": "GET", "path": "/v3/products", "status": 200, "business_id": None}
    line = TextFormatter().format(record)
    assert "INFO" in line and "method=GET path=/v3/products status=200" in line
    assert "business_id" not in line and not line.startswith("{")


def test_auto_format_is_text_on_a_terminal_and_json_otherwise() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_format("auto", Tty()) == "text"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("JSON", Tty()) == "json"
    with pytest.raises(ValueError):
        resolve_format("xml")
