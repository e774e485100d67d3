"""A few of the store's pooled connections, kept checked out for the entitlement check.

Checking a connection out of SQLAlchemy's pool for every request costs more than the
check: on PostgreSQL the pre-ping is a BEGIN, a ``;`` and a ROLLBACK (three round trips,
~0.2 ms of CPU), and the return a reset. The check's statements are single SELECTs, each
its own implicit transaction on the raw driver connection, so a connection that served
one is as clean as one fresh from the pool. The lane opens up to ``size`` of them on
demand and hands each to one check at a time; a check that finds them all busy waits
for the next one released (a statement takes a fraction of a millisecond, a checkout
more than that).

The connections stay the pool's: they count against its size (four of PostgreSQL's
twenty), and when the store is disposed (``Store.dispose``: `serve`'s shutdown, a test's
end) the lane closes them (SQLAlchemy's ``engine_disposed`` event). A connection whose
statement failed is invalidated, never reused: the pool replaces it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from models.platform.store import Store

log = logging.getLogger("gateway.lane")

LANE_SIZE = 4


class Lane:
    def __init__(self, store: Store, size: int = LANE_SIZE) -> None:
        self.store = store
        self.size = size
        self._idle: list[PoolProxiedConnection] = []
        self._kept: set[PoolProxiedConnection] = set()
        self._waiting: deque[asyncio.Future[PoolProxiedConnection | None]] = deque()
        self._closed = False
        event.listen(store.engine.sync_engine, "engine_disposed", self._on_disposed)

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[Any]:
        """A raw driver connection (asyncpg's or aiosqlite's) for one check."""
        connection = await self._take()
        try:
            yield connection.driver_connection
        except BaseException:
            await self._drop(connection)
            raise
        if connection in self._kept:
            self._give_back(connection)
        else:  # opened once the store was going away
            await greenlet_spawn(connection.close)

    async def _take(self) -> PoolProxiedConnection:
        while True:
            if self._idle:
                return self._idle.pop()
            if self._closed or len(self._kept) < self.size:
                connection = await self.store.engine.raw_connection()
                if not self._closed:
                    self._kept.add(connection)
                return connection
            waiter: asyncio.Future[PoolProxiedConnection | None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and (given := waiter.result()) is not None:
                    self._give_back(given)  # handed over as the wait was cancelled: pass it on
                raise
            if handed is not None:
                return handed
            # None: a kept connection broke, so there is room to open one; go round again.

    def _give_back(self, connection: PoolProxiedConnection) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    async def _drop(self, connection: PoolProxiedConnection) -> None:
        self._kept.discard(connection)
        try:
            await greenlet_spawn(connection.invalidate)
        finally:
            while self._waiting:
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    break

    def _on_disposed(self, _engine: Any) -> None:
        """The store is going away: close what the lane keeps (it runs inside
        ``AsyncEngine.dispose``'s greenlet, where the driver's close can be awaited)."""
        self._closed = True
        kept, self._kept, self._idle = self._kept, set(), []
        for connection in kept:
            try:
                connection.invalidate()
            except Exception:  # a connection already broken: nothing left to close
                log.debug("closing a lane connection failed", exc_info=True)
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
