"""The worker's fan-out (webhooks/fanout.py), run in tests until no logged event waits."""

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.webhooks.fanout import BATCH_SIZE, fan_out, waiting


async def fan_out_all(
    engine: AsyncEngine, *, limit: int = BATCH_SIZE, pause: float = 0.02, seconds: float = 30
) -> None:
    """Queue the deliveries of every event logged so far, ``limit`` events a round. The
    fan-out's horizon is the cluster's: a transaction of another test process may hold it a
    moment; one held longer than ``seconds`` fails the test."""
    deadline = time.monotonic() + seconds
    async with engine.connect() as conn:
        left = waiting(conn.dialect.name)
        while (await conn.execute(left)).scalar_one():
            assert time.monotonic() < deadline, "events still waiting to be fanned out"
            if not await fan_out(conn, limit):
                await asyncio.sleep(pause)
