"""Helpers for the dashboard's tests: a browser-like client (cookies, CSRF tokens read from
the pages) and people who sign in."""

import random
import re
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from product_partners.users.service import create_user
from tests.support.api import Actor, Api, unique

PASSWORD = "a long test password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


class Browser:
    """A client that keeps cookies like a browser, on a loopback address (the session cookie
    is Secure anywhere else), from a client address of its own (sign-in limits count per
    address)."""

    def __init__(self, app: FastAPI) -> None:
        address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        self.csrf = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.get(path, **kwargs)
        if response.status_code < 500 and 'name="csrf_token"' in response.text:
            self.csrf = csrf_of(response.text)
        return response

    async def post(self, path: str, data: dict[str, Any], csrf: bool = True) -> httpx.Response:
        body = {"csrf_token": self.csrf, **data} if csrf else data
        response = await self.client.post(path, data=body)
        if 'name="csrf_token"' in response.text:
            self.csrf = csrf_of(response.text)
        return response

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/dashboard/login")
        response = await self.post("/dashboard/login", {"email": email, "password": password})
        if response.status_code == 303:
            await self.get(response.headers["location"])
        return response


@dataclass
class Person:
    actor: Actor
    email: str

    @property
    def business_id(self) -> int:
        return self.actor.id


async def person(api: Api, actor: Actor | None = None) -> Person:
    """A business (with an API key) and a dashboard user of it."""
    actor = actor or await api.actor()
    email = f"{unique('user')}@example.com"
    async with api.engine.connect() as conn:
        await create_user(conn, actor.unique_id, email, PASSWORD)
    return Person(actor, email)


async def signed_in(app: FastAPI, api: Api, actor: Actor | None = None) -> tuple[Browser, Person]:
    who = await person(api, actor)
    browser = Browser(app)
    response = await browser.sign_in(who.email)
    assert response.status_code == 303, response.text
    return browser, who


async def linked_partnership(
    conn: Any, owner_id: int, partner_id: int, product_id: int, host: str
) -> dict[str, Any]:
    """An approved affiliate_pro partnership with a link: the partner's verified domain and
    store, its request, the owner's approval of both (all through the services)."""
    from product_partners.domains.service import create_domain, set_verified
    from product_partners.partnerships import pro_domains, service
    from product_partners.partnerships.schemas import PartnershipRequest
    from product_partners.stores.schemas import BusinessStoreCreateRequest
    from product_partners.stores.service import create_store

    domain = await create_domain(conn, partner_id, host)
    await set_verified(conn, domain["id"])
    store = await create_store(conn, partner_id, BusinessStoreCreateRequest(name="Shop"))
    request = PartnershipRequest.model_validate(
        {"partnership_type": "affiliate_pro", "store_id": store["id"]}
    )
    asked = await service.request_partnership(conn, partner_id, product_id, request, "https")
    await service.approve_partner(conn, owner_id, product_id, asked["id"], "https")
    return await pro_domains.approve_domain(
        conn, owner_id, product_id, asked["id"], domain["id"], "https"
    )
