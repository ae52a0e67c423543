"""One structured line per request, never a key or token; readable text on a terminal.

Honest logs and metrics: every request labelled with its route template on both paths (the
hot path's successes included), log fields escaped in every format, unmatched paths logged
without their query and with key-shaped tokens masked, no redirect built from the Host
header."""

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.kit.ops.logs import (
    JsonFormatter,
    LineHandler,
    TextFormatter,
    access_log,
    logging_config,
    resolve_format,
)
from product_partners.settings import Settings
from tests.support.api import Api, assert_error
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


def _counts(text: str) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "product_partners_http_requests_total"
    }


async def test_successes_of_both_paths_carry_their_route_template(
    engine: AsyncEngine, access_records: list[logging.LogRecord]
) -> None:
    async with app_client(engine, rate_limit_enabled=False) as (client, _app):
        api = Api(client, engine)
        owner = await api.actor()
        partner = await api.business()
        product = await api.product(owner)
        partners = f"/v3/products/{product['id']}/partners"
        access_records.clear()
        added = await api.add_partner(owner, product["id"], partner["unique_id"])
        assert added.status_code == 200, added.text
        ppid = added.json()["id"]
        assert (await client.get(partners, headers=owner.headers)).status_code == 200
        assert (await client.get(f"{partners}/{ppid}", headers=owner.headers)).status_code == 200
        # A body without Content-Type (read as JSON) is labelled too.
        other = await api.business()
        untyped = await client.post(
            partners,
            content=b'{"partner_unique_id": "%s"}' % other["unique_id"].encode(),
            headers=owner.headers,
        )
        assert untyped.status_code == 200, untyped.text
        counts = _counts((await client.get("/metrics")).text)

    template = "/v3/products/{product_id}/partners"
    assert counts.get(("POST", template, "200")) == 2, counts
    assert counts.get(("GET", template, "200")) == 1, counts
    assert counts.get(("GET", template + "/{id}", "200")) == 1, counts
    assert not any(route == "unmatched" for (_, route, _) in counts), counts
    paths = [r.fields["path"] for r in access_records]
    assert paths == [template, template, template + "/{id}", template], paths


async def test_unmatched_paths_are_logged_escaped_without_query_and_keys(
    engine: AsyncEngine, access_records: list[logging.LogRecord]
) -> None:
    key = "ppk_0123456789ab_" + "s" * 43
    async with app_client(engine, rate_limit_enabled=False) as (client, _app):
        response = await client.get(
            f"/nothing/{key}/x%0A2026-01-01T00:00:00Z INFO forged: line?token={key}&a=1"
        )
        assert_error(response, 404)
    (record,) = access_records
    path = record.fields["path"]
    assert key not in path and "0123456789ab" not in path and "token=" not in path, path
    assert "ppk_***" in path
    for formatter in (TextFormatter(), JsonFormatter()):
        line = formatter.format(record)
        assert "\n" not in line and "\r" not in line, line
        assert key not in line
    assert "\\n" in TextFormatter().format(record)


def test_text_fields_and_messages_are_escaped() -> None:
    record = logging.LogRecord(
        "product_partners.http", logging.WARNING, "", 0, "bad %s", ("a\nb\x1b[31m",), None
    )
    record.fields = {"path": "/x\r\ny=1", "method": "GET"}
    line = TextFormatter().format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line, line
    assert 'path="/x\\r\\ny=1"' in line


async def test_trailing_slash_redirect_is_not_built_from_the_host_header(
    engine: AsyncEngine,
) -> None:
    async with app_client(engine, rate_limit_enabled=False) as (client, _app):
        api = Api(client, engine)
        owner = await api.actor()
        response = await client.get(
            "/v3/stores/", headers={**owner.headers, "Host": "evil.example"}
        )
    assert "evil.example" not in response.headers.get("location", "")
    assert_error(response, 404)


def _line_handler(**options: Any) -> tuple[LineHandler, io.StringIO]:
    stream = io.StringIO()
    handler = LineHandler(stream, **options)
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler, stream


def _record(message: str, *args: Any, logger: str = access_log.name) -> logging.LogRecord:
    return logging.LogRecord(logger, logging.INFO, "", 0, message, args, None)


async def test_the_line_handler_writes_a_loops_lines_together_and_in_order() -> None:
    handler, stream = _line_handler(interval=0.05, capacity=100)
    words = ["first"]
    handler.handle(_record("one %s", words))
    words[0] = "changed"  # the line says what it said when it was logged
    handler.handle(_record("two"))
    assert stream.getvalue() == ""  # held while the loop runs
    await asyncio.sleep(0.3)
    assert stream.getvalue() == "one ['first']\ntwo\n"

    # Another thread writes at once, after what the loop holds: lines keep their order.
    handler.handle(_record("three"))
    await asyncio.to_thread(handler.handle, _record("four"))
    assert stream.getvalue().splitlines()[2:] == ["three", "four"]

    # Only request lines wait: a server's own line (e.g. "Shutting down", after which a
    # worker may end by a signal, without exit handlers) goes at once, after them.
    handler.handle(_record("five"))
    handler.handle(_record("Shutting down", logger="uvicorn.error"))
    assert stream.getvalue().splitlines()[4:] == ["five", "Shutting down"]


async def test_the_line_handler_writes_when_full_and_when_flushed() -> None:
    handler, stream = _line_handler(interval=60, capacity=3)
    for n in range(3):
        handler.handle(_record(f"line {n}"))
    assert stream.getvalue().splitlines() == ["line 0", "line 1", "line 2"]  # full: written
    handler.handle(_record("held"))
    assert "held" not in stream.getvalue()
    handler.flush()  # as logging.shutdown does at exit
    assert stream.getvalue().splitlines()[-1] == "held"


def test_the_line_handler_writes_at_once_without_a_loop() -> None:
    handler, stream = _line_handler()
    handler.handle(_record("now"))
    assert stream.getvalue() == "now\n"


def test_serve_logs_through_the_line_handler() -> None:
    config = logging_config(Settings(log_format="json"))
    handler = config["handlers"][config["root"]["handlers"][0]]
    assert handler["class"] == f"{LineHandler.__module__}.{LineHandler.__qualname__}"


def test_the_line_handler_writes_a_later_loops_lines_after_a_loop_ended_holding_some() -> None:
    handler, stream = _line_handler(interval=60)

    async def log(message: str, wait: float) -> None:
        handler.handle(_record(message))
        await asyncio.sleep(wait)

    asyncio.run(log("from a loop that ends at once", 0))
    assert stream.getvalue() == ""  # held: that loop's timer never fired
    handler.interval = 0.05
    asyncio.run(log("from the next loop", 0.3))
    assert stream.getvalue().splitlines() == ["from a loop that ends at once", "from the next loop"]


class _FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


async def test_the_line_handler_reports_a_failed_write_and_never_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = LineHandler(_FullDisk(), interval=60, capacity=2)
    handler.setFormatter(logging.Formatter("%(message)s"))
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    handler.handle(_record("held"))
    handler.handle(_record("full: written now"))  # capacity reached: the write fails
    handler.handle(_record("Shutting down", logger="uvicorn.error"))  # written at once: fails
    handler.flush()
    assert [r.getMessage() for r in reported] == ["full: written now", "Shutting down"]
