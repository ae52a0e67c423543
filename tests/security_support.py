"""Shared by the fuzz, tenant-isolation, security, bad-input and fault suites.

Everything here is derived from the app itself (its route table and its OpenAPI document), so a
route added tomorrow is picked up by every suite without editing them: either it is covered at
once, or a suite fails and names it until it is registered in a table.
"""

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.app import create_app
from product_partners.settings import Settings

_PARAM = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Route:
    """One operation of the app's route table."""

    method: str
    path: str
    operation_id: str
    scopes: tuple[str, ...]
    path_params: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path} ({self.operation_id})"

    def resource_of(self, param: str) -> str:
        """The collection a path parameter names: the path segment right before it."""
        segments = self.path.strip("/").split("/")
        index = segments.index("{" + param + "}")
        return segments[index - 1]


def _scopes(dependant: Dependant) -> Iterator[str]:
    for dep in dependant.dependencies:
        scope = getattr(dep.call, "required_scope", None)
        if scope is not None:
            yield scope
        yield from _scopes(dep)


def app_for_docs() -> FastAPI:
    """An app used only to read its routes and OpenAPI document (never started)."""
    return create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))


def api_routes(app: FastAPI | None = None) -> list[Route]:
    """Every documented API operation of the app (FastAPI's own docs routes excluded)."""
    app = app or app_for_docs()
    routes = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            routes.append(
                Route(
                    method=method,
                    path=route.path,
                    operation_id=route.operation_id or route.unique_id,
                    scopes=tuple(dict.fromkeys(_scopes(route.dependant))),
                    path_params=tuple(_PARAM.findall(route.path)),
                )
            )
    return routes


def v3_routes(app: FastAPI | None = None) -> list[Route]:
    return [r for r in api_routes(app) if r.path.startswith("/v3/")]


def fill_path(route: Route, values: dict[str, Any]) -> str:
    return _PARAM.sub(lambda m: str(values[m.group(1)]), route.path)


@dataclass
class World:
    """Two unrelated businesses (``a`` owns things, ``b`` is the intruder), a partner ``p`` of
    ``a``'s product, and the ids of what ``a`` owns, by collection name (path segment)."""

    a: Any
    b: Any
    p: Any
    ids: dict[str, list[int]] = field(default_factory=dict)
    # Per (collection, parent id): e.g. ("partners", product id) -> partnership ids.
    extra: dict[str, Any] = field(default_factory=dict)

    def first(self, collection: str) -> int | None:
        values = self.ids.get(collection) or []
        return values[0] if values else None


async def build_world(client: httpx.AsyncClient, engine: AsyncEngine) -> World:
    """Seed a world through the public API (and the services the CLI uses for tenants)."""
    from tests.support import Api

    api = Api(client, engine)
    a, b, p = await asyncio.gather(api.actor(), api.actor(), api.actor())
    world = World(a=a, b=b, p=p)
    product = await api.product(a, name="Fuzz ' OR 1=1 -- product", is_affiliate_enabled=True)
    other = await api.product(a, name="Second product", is_product_sharing=True)
    world.ids["products"] = [product["id"], other["id"]]
    added = await api.add_partner(a, product["id"], p.unique_id)
    assert added.status_code == 200, added.text
    world.ids["partners"] = [added.json()["id"]]
    world.extra["partner_product"] = product["id"]
    return world
