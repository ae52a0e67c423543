"""Shared by the fuzz, tenant-isolation, security, bad-input and fault suites.

Everything here is derived from the app itself (its route table and its OpenAPI document), so a
route added tomorrow is picked up by every suite without editing them: either it is covered at
once, or a suite fails and names it until it is registered in a table.
"""

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
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


def _effective_routes(app: FastAPI) -> Iterator[Any]:
    """Every route with its effective path, methods and dependencies (FastAPI >= 0.13x keeps
    included routers as wrappers; their routes carry the prefix only in their context)."""
    from fastapi import routing

    iterate = getattr(routing, "_iter_routes_with_context", None)
    if iterate is None:  # older FastAPI: a flat route list
        for route in app.routes:
            yield route
        return
    for route, context in iterate(app.routes):
        yield context if context is not None else route


def api_routes(app: FastAPI | None = None) -> list[Route]:
    """Every documented API operation of the app (FastAPI's own docs routes excluded)."""
    app = app or app_for_docs()
    routes = []
    for route in _effective_routes(app):
        dependant = getattr(route, "dependant", None)
        path = getattr(route, "path_format", None) or getattr(route, "path", "")
        if dependant is None or not getattr(route, "include_in_schema", False):
            continue
        original = getattr(route, "original_route", route)
        for method in sorted(set(getattr(route, "methods", ())) - {"HEAD", "OPTIONS"}):
            routes.append(
                Route(
                    method=method,
                    path=path,
                    operation_id=getattr(route, "operation_id", None)
                    or getattr(original, "operation_id", None)
                    or getattr(original, "unique_id", path),
                    scopes=tuple(dict.fromkeys(_scopes(dependant))),
                    path_params=tuple(_PARAM.findall(path)),
                )
            )
    return routes


def v3_routes(app: FastAPI | None = None) -> list[Route]:
    return [r for r in api_routes(app) if r.path.startswith("/v3/")]


def fill_path(route: Route, values: dict[str, Any]) -> str:
    return _PARAM.sub(lambda m: str(values[m.group(1)]), route.path)


def collection_of(path: str, param: str) -> str:
    """The collection a path parameter names: the segment before it, qualified by its parent
    collection when nested (``/v3/products/{product_id}/partners/{id}``: ``products/partners``)."""
    segments = path.strip("/").split("/")
    index = segments.index("{" + param + "}")
    name = segments[index - 1]
    if index >= 3 and segments[index - 2].startswith("{"):
        name = f"{segments[index - 3]}/{name}"
    return name


@dataclass
class World:
    """Two unrelated businesses (``a`` owns things, ``b`` is the intruder), a partner ``p`` of
    ``a``'s product and bundle, and the ids of what ``a`` owns by collection (see
    :func:`collection_of`), with each nested row's parent id."""

    a: Any
    b: Any
    p: Any
    ids: dict[str, list[int]] = field(default_factory=dict)
    parent: dict[tuple[str, int], int] = field(default_factory=dict)

    def add(self, collection: str, row_id: int, parent: int | None = None) -> None:
        self.ids.setdefault(collection, []).append(row_id)
        if parent is not None:
            self.parent[(collection, row_id)] = parent

    def path_values(self, path: str, choice: int = 0) -> dict[str, int] | None:
        """Values for every parameter of ``path`` naming seeded rows (the deepest parameter
        picks row ``choice``, its parents follow), or None if nothing is seeded there."""
        params = _PARAM.findall(path)
        if not params:
            return {}
        values: dict[str, int] = {}
        deepest = params[-1]
        collection = collection_of(path, deepest)
        rows = self.ids.get(collection)
        if not rows:
            return None
        values[deepest] = rows[choice % len(rows)]
        child_collection, child_id = collection, values[deepest]
        for param in reversed(params[:-1]):
            parent_id = self.parent.get((child_collection, child_id))
            if parent_id is None:
                return None
            values[param] = parent_id
            child_collection, child_id = collection_of(path, param), parent_id
        return values


def _operation_ids(app: FastAPI) -> set[str]:
    return {r.operation_id for r in api_routes(app)}


async def build_world(client: httpx.AsyncClient, engine: AsyncEngine) -> World:
    """Seed a world through the public API (and the services the CLI uses for tenants).

    Resources are seeded for every operation the app has, so suites keep working as routes land.
    """
    from tests.support.api import Api, unique

    api = Api(client, engine)
    ops = _operation_ids(client._transport.app)  # type: ignore[attr-defined]
    a, b, p = await asyncio.gather(api.actor(), api.actor(), api.actor())
    world = World(a=a, b=b, p=p)

    async def post(path: str, body: dict[str, Any], who: Any = a) -> dict[str, Any]:
        response = await client.post(path, json=body, headers=who.headers)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return response.json()

    product = await post(
        "/v3/products",
        {
            "name": "Fuzz ' OR 1=1 -- product",
            "item_type": "digital",
            "is_affiliate_enabled": True,
            "is_affiliate_pro_enabled": True,
            "is_product_sharing": True,
        },
    )
    other = await post("/v3/products", {"name": "Second product", "item_type": "physical"})
    world.add("products", product["id"])
    world.add("products", other["id"])
    partnership = await post(
        f"/v3/products/{product['id']}/partners", {"partner_unique_id": p.unique_id}
    )
    world.add("products/partners", partnership["id"], product["id"])
    world.add("partnerships", partnership["id"])
    if "createProductPartnerNote" in ops:
        note = await post(
            f"/v3/products/{product['id']}/partners/{partnership['id']}/notes",
            {"body": "Owner's note <b>'\"; --"},
        )
        world.add("partners/notes", note["id"], partnership["id"])
    if "createCustomDomain" in ops and "approveAffiliateProDomain" in ops:
        # The partner's own domain: a candidate for its affiliate_pro partnership.
        own = await post("/v3/custom-domains", {"full_url": f"{unique('pro')}.example.net"}, p)
        world.add("partners/affiliate-pro-domains", own["id"], partnership["id"])
    if "createCustomDomain" in ops:
        domain = await post("/v3/custom-domains", {"full_url": f"{unique('shop')}.example.com"})
        world.add("custom-domains", domain["id"])
        # Any domain id will do: the partnership scope refuses the intruder first.
        world.add("partners/affiliate-pro-domains", domain["id"], partnership["id"])
    if "createBusinessStore" in ops:
        store = await post("/v3/stores", {"name": "Store <script>'\"; DROP TABLE stores;--"})
        world.add("stores", store["id"])
    if "createWebhookEndpoint" in ops:
        # Disabled: no delivery is ever queued for it (the suites run no worker anyway).
        hook = await post(
            "/v3/webhook-endpoints", {"url": "https://hooks.invalid/a", "enabled": False}
        )
        world.add("webhook-endpoints", hook["id"])
    if "listEvents" in ops:
        response = await client.get("/v3/events", params={"page_size": 1}, headers=a.headers)
        assert response.status_code == 200, response.text
        world.add("events", response.json()["data"][0]["id"])  # an "evt_..." id
    if "createBundle" in ops:
        bundle = await post("/v3/bundles", {"name": "Bundle ü", "public_name": "Bündel"})
        world.add("bundles", bundle["id"])
        if "createBundlePartner" in ops:
            bp = await post(
                f"/v3/bundles/{bundle['id']}/partners", {"partner_unique_id": p.unique_id}
            )
            world.add("bundles/partners", bp["id"], bundle["id"])
    return world


# The tenant-isolation table (test_bola_tenant_isolation.py; test_bad_input.py plays it too):
# operation id -> (the business that owns the object: "a" the owner, "p" the partner, body).
# A body is sent as JSON for writes; it is valid, so only the tenant check can refuse it.
# Lists of no business's rows, the same for every caller (the tenant checks skip them).
SHARED_LISTS = frozenset({"listPartnershipTransitions"})
# Lists served as a file (CSV by default; ``?format=jsonl``: one JSON row a line), not as a
# JSON body.
DOWNLOADS = frozenset({"exportProductPartners", "exportAllProductPartners"})


def downloaded_ids(response: Any) -> set[int]:
    """The row ids of a download (one of ``DOWNLOADS``): CSV or JSON lines, as it says."""
    content_type = response.headers.get("content-type") or ""
    if isinstance(content_type, list):  # schemathesis's responses: each header a list
        content_type = content_type[0]
    if content_type.startswith("text/csv"):
        return {int(row["id"]) for row in csv.DictReader(io.StringIO(response.text, newline=""))}
    return {json.loads(line)["id"] for line in response.text.splitlines()}


BOLA_TABLE: dict[str, tuple[str, dict[str, Any] | None]] = {
    "getProduct": ("a", None),
    "updateProduct": ("a", {"is_product_sharing": False, "name": "taken over"}),
    "deleteProduct": ("a", None),
    "updateProductPartnership": ("a", {"is_affiliate_enabled": False}),
    "checkProductPartnershipChanges": ("a", {"is_affiliate_enabled": False}),
    "createProductPartner": ("a", {"partner_unique_id": "{b}"}),
    "listProductPartners": ("a", None),
    "getProductPartner": ("a", None),
    "updateProductPartner": ("a", {"partnership_type": "reseller"}),
    "deleteProductPartner": ("a", None),
    "approveProductPartner": ("a", None),
    "rejectProductPartner": ("a", {}),
    "banProductPartner": ("a", {"reason": "other"}),
    "unbanProductPartner": ("a", None),
    "banBusinessFromProduct": ("a", {"partner_unique_id": "{b}", "reason": "spam"}),
    "bulkReviewProductPartners": ("a", {"action": "approve", "items": [{"id": 1}]}),
    "exportProductPartners": ("a", None),
    # A JSON body is read as the CSV (it names no partner_unique_id column): only the tenant
    # check, made before the file is read, can refuse it with 404.
    "importProductPartners": ("a", {"partner_unique_id": "{b}"}),
    "setProductPartnerTags": ("a", {"tags": ["taken-over"]}),
    "changeProductPartnerTags": ("a", {"add": ["taken-over"]}),
    "createProductPartnerNote": ("a", {"body": "taken over"}),
    "listProductPartnerNotes": ("a", None),
    "deleteProductPartnerNote": ("a", None),
    "getProductPartnerDecision": ("a", None),
    "previewProductPartnershipRules": ("a", {}),
    # Asking to partner a product that is open to requests is everyone's right; asking to
    # partner one that is not (the second seeded product, see SEEDED_ROW) is 404.
    "requestProductPartnership": ("a", {"partnership_type": "affiliate"}),
    "getMyPartnership": ("p", None),
    "withdrawProductPartnership": ("p", None),
    "leaveProductPartnership": ("p", None),
    "acceptProductPartnership": ("p", None),
    "getBusinessStore": ("a", None),
    "updateBusinessStore": ("a", {"name": "taken over"}),
    "deleteBusinessStore": ("a", None),
    "getCustomDomain": ("a", None),
    "deleteCustomDomain": ("a", None),
    "verifyCustomDomain": ("a", None),
    "getBundle": ("a", None),
    "updateBundle": ("a", {"name": "taken over"}),
    "deleteBundle": ("a", None),
    "listBundlePartners": ("a", None),
    "createBundlePartner": ("a", {"partner_unique_id": "{b}"}),
    "deleteBundlePartner": ("a", None),
    "listAffiliateProDomainCandidates": ("a", None),
    "approveAffiliateProDomain": ("a", None),
    "revokeAffiliateProDomain": ("a", None),
    "getEvent": ("a", None),
    "getWebhookEndpoint": ("a", None),
    "updateWebhookEndpoint": ("a", {"description": "taken over"}),
    "deleteWebhookEndpoint": ("a", None),
    "rotateWebhookEndpointSecret": ("a", None),
    "resendEvent": ("a", {"event_id": "evt_01M974KHABAXP3EFNAHK56HW66"}),
    "replayWebhookEndpoint": ("a", {"since": "2020-01-01T00:00:00Z"}),
    "listWebhookDeliveries": ("a", None),
}


async def snapshot_reads(
    client: httpx.AsyncClient, world: World, routes: list[Route]
) -> dict[str, Any]:
    """What the owner of each object (``BOLA_TABLE``'s, else ``a``) reads at each of the GET
    ``routes`` with seeded values: path -> (status, body). Compared before and after requests
    that must change nothing."""
    shot: dict[str, Any] = {}
    for route in routes:
        owner = getattr(world, BOLA_TABLE.get(route.operation_id, ("a",))[0])
        values = world.path_values(route.path)
        if values is None:
            continue
        path = fill_path(route, values)
        response = await client.get(path, headers=owner.headers)
        is_json = response.headers["content-type"].startswith("application/json")
        shot[path] = (response.status_code, response.json() if is_json else response.text)
    return shot
