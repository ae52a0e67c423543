"""Concurrent distinct adds against a live ``serve``, and the checks that no acknowledged write
was lost or duplicated and that no fault reached a client as anything but a 503.

Used by the fault tests (real PostgreSQL restarts, worker kills, ``max_connections``) and the
backup tests: each add is of a partner no other add uses, so every 200 is one new row whose id
the answer carries.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.db.tables import businesses, product_partners
from tests.support.api import ERROR_FIELDS, Actor, Api

LOST = -1  # the connection died without an answer (a killed worker): outcome unknown


async def seed_partners(engine: AsyncEngine, count: int) -> list[str]:
    """``count`` new businesses in one statement; their unique ids."""
    tag = uuid.uuid4().hex[:8]
    uids = [f"load-{tag}-{n}" for n in range(count)]
    rows = [
        {"unique_id": u, "username": u, "account_holder": u, "email": f"{u}@example.com"}
        for u in uids
    ]
    async with engine.connect() as conn:
        await conn.execute(insert(businesses), rows)
    return uids


async def owner_and_product(base: str, engine: AsyncEngine) -> tuple[Actor, int]:
    """A new owner business with a key, and a product of its own created through ``base``."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        api = Api(client, engine)
        owner = await api.actor()
        product = await api.product(owner)
    return owner, product["id"]


async def stored_partnerships(engine: AsyncEngine, product_id: int) -> dict[str, list[int]]:
    """The partnerships of ``product_id`` in the database: partner unique id -> row ids."""
    query = (
        select(businesses.c.unique_id, product_partners.c.id)
        .join(businesses, businesses.c.id == product_partners.c.partner_business_id)
        .where(product_partners.c.product_id == product_id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    found: dict[str, list[int]] = {}
    for unique_id, row_id in rows:
        found.setdefault(unique_id, []).append(row_id)
    return found


@dataclass
class Answer:
    status: int
    body: Any
    retry_after: str | None
    at: float  # time.monotonic() when the answer arrived
    seconds: float  # how long it took


@dataclass
class WriteLoad:
    """``clients`` concurrent clients adding the partners of ``partners`` to one product, each
    request on a new connection (so requests spread over the worker processes)."""

    base: str
    owner: Actor
    product_id: int
    partners: list[str]
    clients: int = 32
    answers: dict[str, Answer] = field(default_factory=dict)
    _acknowledged: int = 0
    _finished: bool = False
    _progress: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Add partners until ``stop`` is set or none is left."""
        pending = iter(self.partners)
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=self.base, timeout=30, limits=limits) as client:

            async def one_client() -> None:
                for uid in pending:
                    if stop.is_set():
                        return
                    self._record(uid, await self._add(client, uid))

            try:
                await asyncio.gather(*(one_client() for _ in range(self.clients)))
            finally:
                self._finished = True
                self._progress.set()

    def _record(self, uid: str, answer: Answer) -> None:
        self.answers[uid] = answer
        if answer.status == 200:
            self._acknowledged += 1
            self._progress.set()

    async def wait_until_acknowledged(self, count: int) -> None:
        """Until ``count`` adds in all were answered 200."""
        while self._acknowledged < count:
            assert not self._finished, f"the load ended before {count} adds were acknowledged"
            self._progress.clear()
            await self._progress.wait()

    async def _add(self, client: httpx.AsyncClient, uid: str) -> Answer:
        started = time.monotonic()
        try:
            response = await client.post(
                f"/v3/products/{self.product_id}/partners",
                json={"partner_unique_id": uid},
                headers=self.owner.headers,
            )
        except httpx.TransportError:
            return _answer(started, LOST)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return _answer(started, response.status_code, body, response.headers.get("retry-after"))

    def acknowledged(self) -> dict[str, int]:
        """Partner unique id -> the partnership id of every add answered 200."""
        return {uid: a.body["id"] for uid, a in self.answers.items() if a.status == 200}

    def count(self, status: int) -> int:
        return sum(1 for a in self.answers.values() if a.status == status)

    def slowest(self) -> float:
        return max(a.seconds for a in self.answers.values())

    def first_success_after(self, moment: float) -> float | None:
        times = [a.at for a in self.answers.values() if a.status == 200 and a.at >= moment]
        return min(times) if times else None

    def assert_faults_answered_503(self) -> None:
        """No 500 (or any status but 200, 503 and a lost connection), and every 503 in the
        contract's error body with Retry-After."""
        unexpected = {
            uid: (a.status, a.body)
            for uid, a in self.answers.items()
            if a.status not in (200, 503, LOST)
        }
        sample = list(unexpected.items())[:5]
        assert not unexpected, f"{len(unexpected)} unexpected answers: {sample}"
        for a in self.answers.values():
            if a.status == 503:
                assert isinstance(a.body, dict) and set(a.body) == ERROR_FIELDS, a.body
                assert a.body["error_code"] == "service_unavailable", a.body
                assert a.retry_after is not None, a.body

    async def assert_no_write_lost_or_duplicated(self, engine: AsyncEngine) -> None:
        """Every acknowledged add is in the database with the id its answer gave; each partner
        has at most one row; rows without an acknowledgement are adds whose answer was a 503
        or lost (committed, but the answer did not get back), never a partner not sent."""
        stored = await stored_partnerships(engine, self.product_id)
        duplicated = {uid: ids for uid, ids in stored.items() if len(ids) > 1}
        assert not duplicated, f"duplicates: {list(duplicated.items())[:5]}"
        acknowledged = self.acknowledged()
        lost = {uid: i for uid, i in acknowledged.items() if stored.get(uid) != [i]}
        assert not lost, f"{len(lost)} acknowledged writes lost or changed: {list(lost)[:5]}"
        ids = list(acknowledged.values())
        assert len(set(ids)) == len(ids), "two acknowledged adds share an id"
        unexplained = set(stored) - set(self.answers)
        assert not unexplained, f"rows for partners never sent: {list(unexplained)[:5]}"


def _answer(
    started: float, status: int, body: Any = None, retry_after: str | None = None
) -> Answer:
    now = time.monotonic()
    return Answer(status, body, retry_after, now, now - started)
