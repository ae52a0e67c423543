"""Validate response bodies against the app's own OpenAPI document (jsonschema)."""

from typing import Any

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


class OpenApi:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry = Registry().with_resource(
            "urn:openapi", Resource.from_contents(document, DRAFT202012)
        )

    def schema_ref(self, name: str) -> dict[str, Any]:
        assert name in self.document["components"]["schemas"], f"no schema {name!r}"
        return {"$ref": f"urn:openapi#/components/schemas/{name}"}

    def validate(self, body: Any, schema_name: str) -> None:
        self._validate_against(body, self.schema_ref(schema_name))

    def _validate_against(self, body: Any, schema: dict[str, Any]) -> None:
        validator = jsonschema.Draft202012Validator(
            schema, registry=self.registry, format_checker=jsonschema.FormatChecker()
        )
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors)

    def operation(self, operation_id: str) -> tuple[str, str, dict[str, Any]]:
        for path, ops in self.document["paths"].items():
            for method, op in ops.items():
                if isinstance(op, dict) and op.get("operationId") == operation_id:
                    return method.upper(), path, op
        raise AssertionError(f"no operation {operation_id!r} in /openapi.json")

    def response_schema_name(self, operation_id: str, status: int) -> str:
        _, _, op = self.operation(operation_id)
        response = op["responses"][str(status)]
        ref = response["content"]["application/json"]["schema"]["$ref"]
        return ref.rsplit("/", 1)[-1]

    def validate_response(self, operation_id: str, response: httpx.Response) -> None:
        """The status is documented for the operation and the body matches its schema."""
        _, _, op = self.operation(operation_id)
        status = str(response.status_code)
        assert status in op["responses"], (
            f"{operation_id} answered undocumented status {status}: {response.text[:300]}"
        )
        content = op["responses"][status].get("content")
        if not content:
            assert not response.content, "a documented empty response carried a body"
            return
        assert response.headers["content-type"].startswith("application/json")
        self._validate_against(response.json(), _rebased(content["application/json"]["schema"]))


def _rebased(schema: Any) -> Any:
    """An operation's response schema (a ``$ref``, or ``anyOf`` of them: a decision and its
    dry run) with its references resolved against the document."""
    if isinstance(schema, dict):
        return {
            k: f"urn:openapi{v}" if k == "$ref" and v.startswith("#") else _rebased(v)
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebased(item) for item in schema]
    return schema


async def load_openapi(client: httpx.AsyncClient) -> OpenApi:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return OpenApi(response.json())
