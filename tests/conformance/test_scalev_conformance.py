"""Conformance with Scalev's v3 spec, operation by operation, from a committed extract.

``scalev_extract.json`` holds the operations of Scalev's spec this service claims (its
``source`` names the spec's repository, file and commit and how each fact was read). For each
operation this checks, against the service's ``/openapi.json``: path, method, operationId,
success code, scope, every documented query parameter (name and type, ``maximum``, enums),
the request body's required fields and field types, the response's field names and types
(nullable only where the spec says so) and required fields; and against live answers: the
success code, the fields the service sends (types, no null where the spec has none), every
documented filter either honoured (200) or refused (400 ``filter_not_supported`` naming it),
every documented request field either kept or refused (400 naming it), and the error body.
"""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from product_partners.kit.http.deps import UNSUPPORTED
from tests.support.api import Api, assert_error
from tests.support.routes import World, build_world, v3_routes

EXTRACT = json.loads((Path(__file__).parent / "scalev_extract.json").read_text())
OPERATIONS: list[dict[str, Any]] = EXTRACT["operations"]
BY_ID = {spec["operationId"]: spec for spec in OPERATIONS}
PAGINATION = {"page_size", "next_cursor", "previous_cursor"}
# A value of each documented type that passes validation (the first enum value otherwise).
SAMPLE = {"integer": "1", "boolean": "true", "string": "x"}


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _shape(schema: dict[str, Any], document: dict[str, Any]) -> tuple[set[str], bool, Any]:
    """(JSON types, nullable, enum) of one of our schemas, through $ref and anyOf."""
    schema = _resolve(schema, document)
    alternatives = schema.get("anyOf") or schema.get("oneOf") or [schema]
    types: set[str] = set()
    nullable, enum = False, schema.get("enum")
    for alternative in alternatives:
        alternative = _resolve(alternative, document)
        kind = alternative.get("type")
        if kind == "null":
            nullable = True
        elif kind:
            types.add(kind)
        elif "properties" in alternative:
            types.add("object")
        if "const" in alternative:  # a one-value enum, as pydantic writes it
            enum = enum or [alternative["const"]]
        enum = enum or alternative.get("enum")
    return types, nullable, enum


def _check_type(
    where: str, want: dict[str, Any], ours: dict[str, Any], document: dict, sent: bool = True
) -> None:
    """Our schema has the spec's type and enum; when the service ``sent`` the value (a
    response), null only where the spec allows it (a query parameter is never null, and a
    request field that also takes null refuses nothing the spec allows)."""
    if want["type"] == "any":
        return
    types, nullable, enum = _shape(ours, document)
    assert types == {want["type"]}, f"{where}: type {types}, the spec's is {want['type']}"
    assert not (sent and nullable) or want.get("nullable"), f"{where}: nullable, the spec's is not"
    if "enum" in want:
        assert enum is not None and set(enum) == set(want["enum"]), f"{where}: enum {enum}"


def _schema_of(content: dict[str, Any]) -> dict[str, Any]:
    return content["application/json"]["schema"]


@pytest.mark.parametrize("spec", OPERATIONS, ids=[s["operationId"] for s in OPERATIONS])
async def test_operation_matches_the_spec_in_openapi(spec: dict[str, Any], openapi: Any) -> None:
    document = openapi.document
    method, path, op = openapi.operation(spec["operationId"])
    name = spec["operationId"]
    assert (method, path) == (spec["method"], spec["path"]), name
    # Scalev's success code, and no other but ours for ``?dry_run=true`` (an answer a Scalev
    # client, which never sends dry_run, cannot get).
    successes = sorted(
        code
        for code, response in op["responses"].items()
        if code.startswith("2") and "dry_run" not in response.get("description", "")
    )
    assert successes == [str(spec["success"])], f"{name}: success {successes}"
    scopes = {r.scopes for r in v3_routes() if r.operation_id == name}
    assert scopes == {(spec["scope"],)}, f"{name}: scopes {scopes}"

    params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    for param, want in spec["query"].items():
        assert param in params, f"{name}: the documented query parameter {param} is missing"
        ours = params[param]["schema"]
        _check_type(f"{name}?{param}", want, ours, document, sent=False)
        resolved = _resolve(ours, document)
        assert resolved.get("maximum") == want.get("maximum"), f"{name}?{param}: maximum"

    if "request" in spec:
        body = _body_schema(op, document)
        if spec["request"]["schema"]:
            assert body.get("title") == spec["request"]["schema"], f"{name}: body schema"
        missing = set(spec["request"]["required"]) - set(body.get("required", []))
        assert not missing, f"{name}: the spec requires {sorted(missing)}"
        for field, want in spec["request"]["fields"].items():
            if field in body.get("properties", {}):
                ours = body["properties"][field]
                _check_type(f"{name} body.{field}", want, ours, document, sent=False)
            else:
                assert body.get("additionalProperties") is False, (
                    f"{name}: {field} is neither kept nor refused"
                )

    response = spec.get("response")
    if response:
        schema = _resolve(_schema_of(op["responses"][str(spec["success"])]["content"]), document)
        assert schema.get("title") == response["schema"], f"{name}: response schema"
        missing = set(response.get("required", [])) - set(schema.get("required", []))
        assert not missing, f"{name}: the spec requires {sorted(missing)} in the response"
        _check_fields(name, response.get("fields", {}), schema, document)
        if "items" in response:
            items = _resolve(schema["properties"]["data"]["items"], document)
            _check_fields(f"{name} data[]", response["items"], items, document)


def _body_schema(op: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """The request body's model (an optional body is ``anyOf: [model, null]``)."""
    schema = _schema_of(op["requestBody"]["content"])
    for alternative in schema.get("anyOf", [schema]):
        if alternative.get("type") != "null":
            return _resolve(alternative, document)
    raise AssertionError("a request body of null only")


def _check_fields(where: str, fields: dict, schema: dict, document: dict) -> None:
    properties = schema.get("properties", {})
    for field, want in fields.items():
        if field in properties:
            _check_type(f"{where}.{field}", want, properties[field], document)


async def test_error_body_is_the_spec_s_api_error_response(openapi: Any) -> None:
    schema = openapi.document["components"]["schemas"]["ApiErrorResponse"]
    assert set(schema["properties"]) == set(EXTRACT["error_body"]["fields"])
    assert schema.get("additionalProperties") is False
    business = openapi.document["components"]["schemas"]["BusinessSimple"]
    _check_fields("BusinessSimple", EXTRACT["business_simple"], business, openapi.document)


# --- live answers -------------------------------------------------------------------------


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api.client, api.engine)


def _live_fields(where: str, body: dict[str, Any], fields: dict[str, Any]) -> None:
    """Every field the service sent that the spec documents has the spec's type; null only
    where the spec allows it."""
    python = {"integer": int, "string": str, "boolean": bool, "array": list, "object": dict}
    for field, value in body.items():
        want = fields.get(field)
        if want is None or want["type"] == "any":
            continue
        if value is None:
            assert want.get("nullable"), f"{where}.{field} is null; the spec's type is not"
            continue
        kind = python[want["type"]]
        assert isinstance(value, kind) and not (kind is int and isinstance(value, bool)), (
            f"{where}.{field} = {value!r}, the spec's type is {want['type']}"
        )
        if "enum" in want:
            assert value in want["enum"], f"{where}.{field} = {value!r}"
        if want.get("schema") == "BusinessSimple":
            _live_fields(f"{where}.{field}", value, EXTRACT["business_simple"])


def _who(spec: dict[str, Any], world: World) -> Any:
    return world.p if spec["path"].startswith("/v3/partnerships") else world.a


async def test_reads_answer_the_spec_s_code_and_field_types(api: Api, world: World) -> None:
    for spec in OPERATIONS:
        if spec["method"] != "GET":
            continue
        values = world.path_values(spec["path"])
        assert values is not None, f"nothing seeded for {spec['operationId']}"
        path = spec["path"].format(**values)
        response = await api.client.get(path, headers=_who(spec, world).headers)
        assert response.status_code == spec["success"], (spec["operationId"], response.text)
        _check_live_body(spec, response.json())


def _check_live_body(spec: dict[str, Any], body: Any) -> None:
    response = spec.get("response") or {}
    name = spec["operationId"]
    for field in response.get("required", []):
        assert field in body, f"{name}: the spec requires {field}"
    _live_fields(name, body, response.get("fields", {}))
    if "items" in response:
        assert body["data"], f"{name}: nothing listed to check"
        for item in body["data"]:
            _live_fields(f"{name} data[]", item, response["items"])


async def test_every_documented_filter_is_honoured_or_refused_by_name(
    api: Api, world: World, openapi: Any
) -> None:
    for spec in OPERATIONS:
        if spec["method"] != "GET":
            continue
        _, _, op = openapi.operation(spec["operationId"])
        documented = {p["name"]: p.get("description", "") for p in op.get("parameters", [])}
        path = spec["path"].format(**(world.path_values(spec["path"]) or {}))
        for param, want in spec["query"].items():
            if param in PAGINATION:
                continue
            value = want["enum"][0] if "enum" in want else SAMPLE[want["type"]]
            response = await api.client.get(
                path, params={param: value}, headers=_who(spec, world).headers
            )
            label = f"{spec['operationId']}?{param}={value}"
            if documented[param] == UNSUPPORTED:
                body = assert_error(response, 400, "filter_not_supported")
                assert body["errors"] == {param: ["is not supported by this service"]}, label
            else:
                assert response.status_code == spec["success"], (label, response.text)


async def _post(api: Api, path: str, body: dict[str, Any], who: Any) -> httpx.Response:
    return await api.client.post(path, json=body, headers=who.headers)


MINIMAL_BODIES = {
    "createProduct": {"name": "Conformance", "item_type": "digital"},
    "createBundle": {"name": "Conformance", "public_name": "Conformance set"},
    "createBusinessStore": {"name": "Conformance store"},
}


async def test_documented_request_fields_are_kept_or_refused_by_name(
    api: Api, world: World, openapi: Any
) -> None:
    for operation_id, minimal in MINIMAL_BODIES.items():
        spec = BY_ID[operation_id]
        _, _, op = openapi.operation(operation_id)
        kept = _body_schema(op, openapi.document)["properties"]
        created = await _post(api, spec["path"], minimal, world.a)
        assert created.status_code == spec["success"], (operation_id, created.text)
        _check_live_body(spec, created.json())
        samples = {"string": "x", "integer": 1, "boolean": True, "array": [], "object": {}}
        for field, want in spec["request"]["fields"].items():
            if field in kept or field in minimal:
                continue
            sent = {**minimal, field: samples[want["type"]]}
            refused = await _post(api, spec["path"], sent, world.a)
            body = assert_error(refused, 400, "validation_error")
            assert body["errors"] == {field: ["is not supported by this service"]}, operation_id


async def test_writes_answer_the_spec_s_codes(api: Api, world: World) -> None:
    owner, partner = world.a, await api.actor()
    product = await _post(api, "/v3/products", MINIMAL_BODIES["createProduct"], owner)
    product_id = product.json()["id"]
    added = await _post(
        api, f"/v3/products/{product_id}/partners", {"partner_unique_id": partner.unique_id}, owner
    )
    assert added.status_code == BY_ID["createProductPartner"]["success"], added.text
    _check_live_body(BY_ID["createProductPartner"], added.json())
    # The flag a partner uses to find shared products, set the way Scalev clients set it.
    shared = await api.client.patch(
        f"/v3/products/{product_id}", json={"is_product_sharing": True}, headers=owner.headers
    )
    assert shared.status_code == BY_ID["updateProduct"]["success"], shared.text
    assert shared.json()["is_product_sharing"] is True
    _check_live_body(BY_ID["updateProduct"], shared.json())
    bundle = await _post(api, "/v3/bundles", MINIMAL_BODIES["createBundle"], owner)
    bundle_id = bundle.json()["id"]
    bundle_partner = await _post(
        api, f"/v3/bundles/{bundle_id}/partners", {"partner_unique_id": partner.unique_id}, owner
    )
    assert bundle_partner.status_code == BY_ID["createBundlePartner"]["success"]
    _check_live_body(BY_ID["createBundlePartner"], bundle_partner.json())
    updated = await api.client.patch(
        f"/v3/bundles/{bundle_id}", json={"is_bundle_sharing": True}, headers=owner.headers
    )
    assert updated.status_code == BY_ID["updateBundle"]["success"], updated.text
    deletes = [
        ("deleteProductPartner", f"/v3/products/{product_id}/partners/{added.json()['id']}"),
        ("deleteProduct", f"/v3/products/{product_id}"),
        ("deleteBundlePartner", f"/v3/bundles/{bundle_id}/partners/{bundle_partner.json()['id']}"),
        ("deleteBundle", f"/v3/bundles/{bundle_id}"),
    ]
    for operation_id, path in deletes:
        response = await api.client.delete(path, headers=owner.headers)
        assert response.status_code == BY_ID[operation_id]["success"], (path, response.text)


async def test_bad_input_is_400_with_the_text_in_error(api: Api, world: World) -> None:
    product_id = world.ids["products"][0]
    response = await _post(api, f"/v3/products/{product_id}/partners", {}, world.a)
    body = assert_error(response, EXTRACT["error_body"]["bad_input_status"], "validation_error")
    assert body["errors"] == {"partner_unique_id": ["is required"]}
    # As the spec's examples: the human-readable text, not the status phrase.
    assert body["error"] == body["message"] and body["error"] != "Bad Request"
