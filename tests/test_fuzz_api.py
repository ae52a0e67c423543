"""Property-based fuzzing of every operation in the app's own OpenAPI document (schemathesis).

Runs on the real PostgreSQL, with a real API key holding every scope, positive and negative
data, and path ids that often name rows that exist (seeded, see ``security_support.World``).
Each response must: not be a 5xx; have a documented status code; have the documented content
type; match the documented schema (errors included: they are all ``ApiErrorResponse``); carry
``X-Request-Id``. Every successful read of an object by its owner is replayed with a second
business's key, which must get 404 and none of the object (object-level authorization).

Short by default (``PP_FUZZ_CASES``, about 400 generated cases in all, part of ``make test``);
``make fuzz`` sets ``PP_FUZZ_CASES=12000`` and prints the counts per operation and status.
"""

import asyncio
import json
import os
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from product_partners.app import create_app
from product_partners.db.engine import create_engine
from product_partners.db.migrate import upgrade
from product_partners.settings import Settings
from tests.support.routes import (
    DOWNLOADS,
    SHARED_LISTS,
    World,
    app_for_docs,
    build_world,
    downloaded_ids,
)

TOTAL_CASES = int(os.environ.get("PP_FUZZ_CASES", "400"))
LONG_RUN = TOTAL_CASES > 2000

DOCUMENT = app_for_docs().openapi()
OPERATIONS = [
    (path, method)
    for path, ops in DOCUMENT["paths"].items()
    for method, op in ops.items()
    if isinstance(op, dict) and "operationId" in op
]
PER_OPERATION = max(20, -(-TOTAL_CASES // max(1, len(OPERATIONS))))

schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.update(base_url="http://testserver")
# Credentials are ours (a real key, added to every call); ignored_auth checks their absence.
# Unknown query parameters are ignored by design (README), so they are not "negative" data.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    with_security_parameters=False,
    allow_extra_parameters=False,
)

# A body over the size limit is refused with 413 before it is even parsed: a rejection too.
schema.config.checks.negative_data_rejection.expected_statuses.append("413")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
]

# Filled by the fixture before any case is generated; read by the map_case hook below.
STATE: dict[str, Any] = {}
COUNTS: Counter[tuple[str, int]] = Counter()
FAILED_CASES: Counter[str] = Counter()


@schema.hook
def map_case(context: Any, case: Any) -> Any:
    """Point path ids at seeded rows two times out of three (only when the path part of the
    case is positive data: a negative case must stay negative). Deterministic in the generated
    values, so hypothesis can replay and shrink."""
    world: World | None = STATE.get("world")
    if world is None or not case.path_parameters:
        return case
    meta = case.meta
    component = meta.components.get(ParameterLocation.PATH) if meta is not None else None
    if component is not None and component.mode is not GenerationMode.POSITIVE:
        return case
    path = case.operation.path
    generated = repr(sorted(case.path_parameters.items()))
    pick = zlib.crc32(f"{path}:{generated}".encode()) % 3
    if pick == 2:
        return case  # keep the generated ids
    values = world.path_values(path, pick)
    if values is None:
        return case
    replaced = {name: str(value) for name, value in values.items()}
    case.path_parameters = replaced
    return case


def _request_body_schema(case: Any) -> dict[str, Any] | None:
    body = case.operation.definition.raw.get("requestBody", {})
    return body.get("content", {}).get("application/json", {}).get("schema")


def _is_real(failure: Any, case: Any, response: Any) -> bool:
    """False for "negative data accepted" when the body *as sent* is valid: the generator builds
    strings with separate surrogate halves, which JSON-escaped arrive as one character, so a
    "too long" string can be within maxLength on the wire. Every other failure is real."""
    if not isinstance(failure, AcceptedNegativeData) or case.meta is None:
        return True
    negated = {loc for loc, c in case.meta.components.items() if c.mode is GenerationMode.NEGATIVE}
    body_schema = _request_body_schema(case)
    if negated != {ParameterLocation.BODY} or body_schema is None:
        return True
    try:
        sent = json.loads(response.request.body or b"null")
    except ValueError:
        return True
    validator = jsonschema.Draft202012Validator(
        {**body_schema, "components": DOCUMENT["components"]},
        format_checker=jsonschema.FormatChecker(),
    )
    return not validator.is_valid(sent)


@pytest.fixture(scope="module")
def fuzz_env(pg_database_url: str, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    upgrade(pg_database_url)
    settings = Settings(database_url=pg_database_url, rate_limit_enabled=False, log_format="json")

    async def seed() -> World:
        engine = create_engine(settings)
        try:
            app = create_app(settings, engine=engine)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await build_world(client, engine)
        finally:
            await engine.dispose()

    world = asyncio.run(seed())
    STATE["world"] = world
    # Its own app: schemathesis runs it (and its lifespan, which opens the engine) on its own
    # event loop thread.
    STATE["app"] = create_app(settings)
    yield STATE
    STATE.clear()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and COUNTS:
        with capture.global_and_fixture_disabled():
            _report(reporter)


def _report(reporter: Any) -> None:
    if COUNTS:
        total = sum(COUNTS.values())
        server_errors = sum(n for (_, status), n in COUNTS.items() if status >= 500)
        reporter.write_line("")
        reporter.write_line(
            f"fuzz: {total} requests over {len({op for op, _ in COUNTS})} operations, "
            f"{server_errors} server errors, {sum(FAILED_CASES.values())} failing cases "
            f"(while shrinking included) in {len(FAILED_CASES)} operations"
        )
        for (op, status), n in sorted(COUNTS.items()):
            reporter.write_line(f"fuzz:   {op:<55} {status}  x{n}")


def _assert_error_shape_and_request_id(response: Any) -> None:
    assert response.headers.get("x-request-id"), "every response carries X-Request-Id"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error", "error_code", "message", "errors"}, body


def _replay_as_intruder(case: Any, response: Any, env: dict[str, Any]) -> None:
    """Object-level authorization: another business reads what the owner just read."""
    world: World = env["world"]
    if case.method.upper() != "GET" or not 200 <= response.status_code < 300:
        return
    replay = case.call(headers=world.b.headers)
    COUNTS[(f"{case.operation.label} [as other business]", replay.status_code)] += 1
    if case.path_parameters:
        assert replay.status_code == 404, (
            f"another business read {case.formatted_path}: {replay.status_code} {replay.text[:300]}"
        )
        return
    if case.operation.definition.raw.get("operationId") in SHARED_LISTS:
        return  # the same table for every caller
    # A list: the other business's view holds none of the owner's rows.
    assert replay.status_code == 200, replay.text[:300]
    if case.operation.definition.raw.get("operationId") in DOWNLOADS:
        leaked = downloaded_ids(response) & downloaded_ids(replay)
        assert not leaked, f"rows leaked across tenants: {leaked}"
        return
    owner_ids = {row["id"] for row in response.json().get("data", [])}
    their_ids = {row["id"] for row in replay.json().get("data", [])}
    assert not owner_ids & their_ids, f"rows leaked across tenants: {owner_ids & their_ids}"


@schema.parametrize()
@hypothesis_settings(
    max_examples=PER_OPERATION,
    deadline=None,
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_fuzz_operation(case: Any, fuzz_env: dict[str, Any]) -> None:
    world: World = fuzz_env["world"]
    case.operation.app = case.operation.schema.app = fuzz_env["app"]
    response = case.call(headers=world.a.headers)
    COUNTS[(case.operation.label, response.status_code)] += 1
    try:
        case.validate_response(
            response,
            checks=CHECKS,
            headers=world.a.headers,
            transport_kwargs={"headers": world.a.headers},
        )
    except FailureGroup as group:
        if any(_is_real(failure, case, response) for failure in group.exceptions):
            FAILED_CASES[case.operation.label] += 1
            raise
        COUNTS[(f"{case.operation.label} [wire-valid 'negative' body]", response.status_code)] += 1
    _assert_error_shape_and_request_id(response)
    _replay_as_intruder(case, response, fuzz_env)


def test_every_documented_error_response_is_api_error_response() -> None:
    document = app_for_docs().openapi()
    missing = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            for status, response in op.get("responses", {}).items():
                if not status.startswith(("4", "5")):
                    continue
                ref = response.get("content", {}).get("application/json", {}).get("schema", {})
                if ref.get("$ref") != "#/components/schemas/ApiErrorResponse":
                    missing.append(f"{method.upper()} {path} {status}")
    assert not missing, f"error responses not documented as ApiErrorResponse: {missing}"
    assert document["components"]["schemas"]["ApiErrorResponse"]["additionalProperties"] is False


def test_every_operation_is_fuzzed() -> None:
    """Each operation of the document is a parametrized case of test_fuzz_operation."""
    operation_ids = {
        op["operationId"]
        for ops in DOCUMENT["paths"].values()
        for op in ops.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert len(operation_ids) == len(OPERATIONS) >= 5
    fuzzed = {op.ok().label for op in schema.get_all_operations()}
    assert {f"{method.upper()} {path}" for path, method in OPERATIONS} <= fuzzed
