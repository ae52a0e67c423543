"""Read replicas at the edge of a request (installed only with ``DATABASE_REPLICA_URLS``).

- A GET request that a replica failed (down, too slow, a recovery conflict) before anything
  was answered runs again, once, on the primary: a replica's fault is never the client's.
- After a successful write (any other method, answered below 400) by a business, the primary's
  position is remembered for that business (``Replicas.wrote``) and sent as
  ``X-Write-Position``; the request's credential is remembered as that business's, so that
  its next reads can be routed before the key is read (``db.replicas.Hints``).
- Reads are counted by the database that served them (``product_partners_database_reads_total``).

Which database serves a read is decided in ``db.connections.chosen_engine`` and
``db.replicas.Replicas.choose``; this layer only reacts to the outcome.
"""

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from product_partners.db.connections import PRIMARY_ONLY, READ_METHODS, REPLICA
from product_partners.db.replicas import (
    UNKNOWN,
    WRITE_POSITION_HEADER,
    Replicas,
    format_lsn,
    run_on_primary,
)


class ReadRouting:
    def __init__(self, app: ASGIApp, replicas: Replicas, metrics: Any = None) -> None:
        self.app = app
        self.replicas = replicas
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["state"]
        started = False
        reads = scope["method"] in READ_METHODS

        async def send_after_write(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                await self._answered(scope, state, message, reads)
            await send(message)

        if not reads:
            await self.app(scope, receive, send_after_write)
            return
        received: list[Message] = []

        async def recording(message_source: Receive = receive) -> Message:
            message = await message_source()
            received.append(message)
            return message

        try:
            await self.app(scope, recording, send_after_write)
        except Exception as exc:
            replica = state.get(REPLICA)
            if started or replica is None or not run_on_primary(exc):
                raise
            self.replicas.failed(replica, exc)
            state[PRIMARY_ONLY] = True
            state[REPLICA] = None
            await self.app(scope, _replayed(received, receive), send_after_write)
        self._count(state)

    async def _answered(
        self, scope: Scope, state: dict[str, Any], message: Message, reads: bool
    ) -> None:
        business_id = state.get("business_id")
        if business_id is None:
            return
        for name, value in scope["headers"]:
            if name == b"authorization":
                self.replicas.hints.learn(value, business_id)
                break
        if reads or message["status"] >= 400:
            return
        position = await self.replicas.wrote(business_id)
        if position != UNKNOWN:
            headers = list(message.get("headers", ()))
            headers.append((WRITE_POSITION_HEADER, format_lsn(position).encode()))
            message["headers"] = headers

    def _count(self, state: dict[str, Any]) -> None:
        if self.metrics is not None and REPLICA in state:
            self.metrics.reads.labels("primary" if state[REPLICA] is None else "replica").inc()


def _replayed(received: list[Message], receive: Receive) -> Receive:
    """A receive that hands out the messages the first run read, then the client's."""
    pending = list(received)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
