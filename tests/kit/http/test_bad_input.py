"""Bad input never crashes the service or gets a vague answer (generated over the route table).

Decisions (README, "Bad input"):
- a body over MAX_BODY_BYTES is 413; a non-JSON Content-Type with a body is 415; a body
  without Content-Type is read as JSON; invalid UTF-8 is 400 ``invalid_encoding``; JSON
  nested deeper than 32 levels is 400 ``too_deeply_nested`` (guards.py);
- unknown body fields are 400 on every body, naming the field (createProduct and
  createBundle included: a Scalev field this service does not keep is 400 too);
- unknown query parameters are ignored;
- ids that cannot exist (not digits, zero, negative, beyond 2**63-1) are 404;
- page_size outside 1..25 is 400; a cursor this service did not issue is 400
  ``invalid_cursor`` naming the parameter.
"""

from typing import Any

import pytest
from pydantic import BaseModel

from product_partners.kit.http.guards import MAX_DEPTH, json_depth
from tests.support.api import Api
from tests.support.routes import (
    BOLA_TABLE,
    SHARED_LISTS,
    World,
    app_for_docs,
    build_world,
    fill_path,
    v3_routes,
)

ROUTES = v3_routes()
BODY_ROUTES = [r for r in ROUTES if r.method in ("POST", "PATCH", "PUT")]
_DOC = app_for_docs().openapi()
# Operations that read a JSON body (the others ignore whatever is sent).
JSON_BODY_ROUTES = [
    r for r in BODY_ROUTES if "requestBody" in _DOC["paths"][r.path][r.method.lower()]
]
LISTS = [r for r in ROUTES if r.method == "GET" and not r.path_params]
ID_ROUTES = [r for r in ROUTES if r.path_params]
# Bodies that may ignore unknown fields: none (a Scalev field this service does not keep is
# refused naming it, never accepted and dropped).
IGNORES_UNKNOWN_FIELDS: set[str] = set()


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api.client, api.engine)


def _path(route: Any, world: World) -> str:
    owner_values = world.path_values(route.path)
    return fill_path(route, owner_values or dict.fromkeys(route.path_params, 1))


def _who(route: Any, world: World) -> Any:
    return world.p if route.path.startswith("/v3/partnerships") else world.a


async def _post_raw(api: Api, route: Any, world: World, content: bytes, **headers: str) -> Any:
    return await api.client.request(
        route.method,
        _path(route, world),
        content=content,
        headers={**_who(route, world).headers, **headers},
    )


def _assert_error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_code", "message", "errors"}
    if code:
        assert body["error_code"] == code, body
    assert response.headers.get("x-request-id")


async def test_oversized_bodies_are_413_everywhere(api: Api, world: World) -> None:
    limit = api.client._transport.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    big = b'{"name": "' + b"x" * limit + b'"}'
    for route in BODY_ROUTES:
        response = await _post_raw(api, route, world, big, **{"content-type": "application/json"})
        _assert_error(response, 413, "request_too_large")


async def test_wrong_content_type_is_415_everywhere(api: Api, world: World) -> None:
    for route in BODY_ROUTES:
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "application/json; charset=latin-1",
        ):
            response = await _post_raw(api, route, world, b"{}", **{"content-type": content_type})
            _assert_error(response, 415, "unsupported_media_type")


async def test_a_body_without_content_type_is_read_as_json(api: Api, world: World) -> None:
    response = await api.client.post(
        "/v3/products",
        content=b'{"name": "no content type", "item_type": "physical"}',
        headers={**world.a.headers},
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "no content type"
    ok = await api.client.post(
        "/v3/products",
        content=b'{"name": "vendor json", "item_type": "physical"}',
        headers={**world.a.headers, "content-type": "application/vnd.api+json; charset=UTF-8"},
    )
    assert ok.status_code == 200, ok.text


async def test_invalid_utf8_is_400_everywhere(api: Api, world: World) -> None:
    for route in BODY_ROUTES:
        for raw in (b'{"name": "\xff\xfe"}', b'{"name": "\xc3"}', b'{"a": "\xed\xa0\x80"}'):
            response = await _post_raw(
                api, route, world, raw, **{"content-type": "application/json"}
            )
            _assert_error(response, 400, "invalid_encoding")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 20000])
async def test_deeply_nested_json_is_400_everywhere(api: Api, world: World, depth: int) -> None:
    nested = b'{"name": ' + b"[" * depth + b"]" * depth + b"}"
    for route in BODY_ROUTES:
        response = await _post_raw(
            api, route, world, nested, **{"content-type": "application/json"}
        )
        _assert_error(response, 400, "too_deeply_nested")


async def test_nesting_within_the_limit_is_left_to_validation(api: Api, world: World) -> None:
    nested = b'{"name": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    response = await api.client.post(
        "/v3/products",
        content=nested,
        headers={**world.a.headers, "content-type": "application/json"},
    )
    _assert_error(response, 400, "validation_error")


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{\\"[["}') == 1
    assert json_depth(b"[[[]],[[[{}]]]]") == 5
    assert json_depth(b'"no nesting"') == 0


async def test_malformed_json_is_400_everywhere(api: Api, world: World) -> None:
    for route in JSON_BODY_ROUTES:
        for raw in (b"{", b'{"name": }', b"nul", b"{'name': 'single quotes'}", b"\x00"):
            response = await _post_raw(
                api, route, world, raw, **{"content-type": "application/json"}
            )
            assert response.status_code == 400, (route.label, raw, response.text)
            _assert_error(response, response.status_code)


def _body_models() -> dict[str, type[BaseModel]]:
    """Each body operation's request model (from the route table's dependants)."""
    from tests.support.routes import _effective_routes

    models: dict[str, type[BaseModel]] = {}
    for route in _effective_routes(app_for_docs()):
        dependant = getattr(route, "dependant", None)
        for param in getattr(dependant, "body_params", []) or []:
            annotation = param.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                models[route.operation_id or route.path] = annotation
    return models


def test_unknown_fields_policy_is_the_same_for_every_body() -> None:
    models = _body_models()
    assert models
    for operation_id, model in models.items():
        extra = model.model_config.get("extra")
        title = model.model_config.get("title") or model.__name__
        if title in IGNORES_UNKNOWN_FIELDS:
            assert extra == "ignore", f"{operation_id}: {title} must ignore unknown fields"
        else:
            assert extra == "forbid", (
                f"{operation_id}: {title} must refuse unknown fields (extra='forbid'), "
                "or be added to IGNORES_UNKNOWN_FIELDS with a reason"
            )


async def test_unknown_fields_are_400_naming_the_field(api: Api, world: World) -> None:
    response = await api.client.post(
        "/v3/stores", json={"name": "s", "colour": "red"}, headers=world.a.headers
    )
    _assert_error(response, 400, "validation_error")
    assert "colour" in response.json()["errors"]
    # Scalev's big create bodies too: a field this service does not keep is refused, named.
    response = await api.client.post(
        "/v3/products",
        json={"name": "p", "item_type": "physical", "variants": [{"sku": "x"}]},
        headers=world.a.headers,
    )
    _assert_error(response, 400, "validation_error")
    assert response.json()["errors"] == {"variants": ["is not supported by this service"]}


async def test_unknown_query_parameters_are_ignored(api: Api, world: World) -> None:
    for route in LISTS:
        response = await api.client.get(
            route.path, params={"colour": "red", "page": "2"}, headers=_who(route, world).headers
        )
        assert response.status_code == 200, (route.label, response.text)


SQL_AND_UNICODE = [
    "' OR '1'='1",
    "'; DROP TABLE products; --",
    '" OR ""="',
    "%_%\\",
    "\\x00\\'",
    "Robert'); DELETE FROM api_keys;--",
    "日本語のテキスト",
    "emoji 🎉👩‍👩‍👧 zwj",
    "RTL \u202e gnirts",
    "combining e\u0301\u0301\u0301",
    "\ufeffBOM",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
]


@pytest.mark.parametrize("text", SQL_AND_UNICODE)
async def test_sql_metacharacters_and_unicode_are_stored_verbatim(api: Api, text: str) -> None:
    owner = await api.actor()
    created = await api.client.post(
        "/v3/products",
        json={
            "name": text,
            "item_type": "physical",
            "description": text,
            "partnership_sales_letter": text,
        },
        headers=owner.headers,
    )
    assert created.status_code == 200, created.text
    product = created.json()
    assert product["name"] == product["description"] == text
    got = await api.client.get(f"/v3/products/{product['id']}", headers=owner.headers)
    assert got.json()["name"] == text
    # Search treats the text literally (no LIKE wildcards, no injection).
    found = await api.client.get("/v3/products", params={"search": text}, headers=owner.headers)
    assert found.status_code == 200, found.text
    assert [p["id"] for p in found.json()["data"]] == [product["id"]]
    for path, body in (
        ("/v3/stores", {"name": text}),
        ("/v3/bundles", {"name": text, "public_name": text}),
        (f"/v3/products/{product['id']}/partners", {"partner_unique_id": text}),
    ):
        response = await api.client.post(path, json=body, headers=owner.headers)
        assert response.status_code < 500, (path, response.text)
        if response.status_code == 200:
            stored = response.json()
            assert stored.get("name", stored.get("partner", {}).get("unique_id")) == text
    other = await api.actor()
    listed = await api.client.get("/v3/products", params={"search": text}, headers=other.headers)
    assert listed.json()["data"] == []


async def test_strings_in_every_query_parameter_never_500(api: Api, world: World) -> None:
    document = app_for_docs().openapi()
    for route in ROUTES:
        if route.method != "GET":
            continue
        op = document["paths"][route.path]["get"]
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
        for text in SQL_AND_UNICODE:
            response = await api.client.get(
                _path(route, world),
                params=dict.fromkeys(names, text),
                headers=_who(route, world).headers,
            )
            assert response.status_code < 500, (route.label, text, response.text)
            assert response.status_code in (200, 400, 404), (route.label, response.text)


BAD_IDS = ["0", "-1", "9223372036854775808", "99999999999999999999999", "1e3", "0x10", "١٢", "%20"]


async def test_ids_that_cannot_exist_are_404_everywhere(api: Api, world: World) -> None:
    problems = []
    for route in ID_ROUTES:
        good = world.path_values(route.path) or dict.fromkeys(route.path_params, 1)
        for param in route.path_params:
            for bad in BAD_IDS:
                path = fill_path(route, {**good, param: bad})
                kwargs: dict[str, Any] = {"headers": _who(route, world).headers}
                if route.method in ("POST", "PATCH", "PUT"):
                    body = BOLA_TABLE.get(route.operation_id, ("a", None))[1] or {}
                    kwargs["json"] = {
                        k: (world.b.unique_id if v == "{b}" else v) for k, v in body.items()
                    }
                response = await api.client.request(route.method, path, **kwargs)
                if response.status_code != 404:
                    problems.append(f"{route.label} {param}={bad}: {response.status_code}")
                else:
                    _assert_error(response, 404)
    assert not problems, "\n".join(problems)


# Scalev documents no page_size maximum for the store lists (any positive size; a page holds
# at most kit.pagination.UNBOUNDED_PAGE_LIMIT); every other list is 1..25.
UNBOUNDED_LISTS = {"listBusinessStores", "listBusinessStoresSimplified"}
# The paginated lists (the transition table is one short, unpaginated list).
PAGINATED_LISTS = [
    r
    for r in ROUTES
    if r.method == "GET"
    and r.operation_id.startswith("list")
    and r.operation_id not in SHARED_LISTS
    and r.operation_id.startswith("list")
    and r.operation_id not in SHARED_LISTS
]


@pytest.mark.parametrize("page_size", ["0", "-1", "26", "1000000000000", "abc", "1.5", ""])
async def test_bad_page_sizes_are_400_on_every_list(api: Api, world: World, page_size: str) -> None:
    for route in PAGINATED_LISTS:
        if route.operation_id in UNBOUNDED_LISTS and page_size.isdigit() and int(page_size):
            continue
        response = await api.client.get(
            _path(route, world), params={"page_size": page_size}, headers=_who(route, world).headers
        )
        _assert_error(response, 400, "validation_error")
        assert "page_size" in response.json()["errors"], response.text


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "!!!!", "MTp4", "Mjox", "MTow", "MTotMQ", "MTo5OTk5OTk5OTk5OTk5OTk5OTk5OQ", "%FF"],
)
async def test_cursors_that_do_not_decode_are_400_on_every_list(
    api: Api, world: World, cursor: str
) -> None:
    for route in PAGINATED_LISTS:
        for name in ("next_cursor", "previous_cursor"):
            response = await api.client.get(
                _path(route, world), params={name: cursor}, headers=_who(route, world).headers
            )
            _assert_error(response, 400, "invalid_cursor")
            body = response.json()
            assert name in body["errors"] and name in body["message"], body
