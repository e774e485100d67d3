"""The process's event hub: live GraphQL subscriptions and the outbox workers hear
here of what committed.

On SQLite (one process) the committing code hands its events straight to the hub.
On PostgreSQL every committing transaction NOTIFYs them (``models.platform.events``)
and each worker process LISTENs on its own connection, so a subscriber connected to
one worker hears of an invite made through another. The committing process hears
its own NOTIFY too, so there ``published`` only wakes the outbox workers.

The same connection LISTENs for revoked API keys (``models.api_keys.cache``), and a
round trip on it (``synced``) is what lets a worker trust the keys it remembers: every
revocation committed before the round trip began has arrived when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from models.api_keys import cache as key_cache
from models.kernel.enums import Role
from models.platform.events import CHANNEL, OPERATOR, Event, Holder, Holdings
from models.platform.store import Store
from models.tables import EventRow

log = logging.getLogger("gateway.live")

# Options of the URL that SQLAlchemy's asyncpg dialect consumes itself; asyncpg would
# send them to the server as settings, which it refuses.
_DIALECT_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn")


def connect_params(store: Store) -> dict[str, Any]:
    """asyncpg.connect's arguments for the store's own URL, translated as SQLAlchemy
    translates them (``?ssl=require``, several hosts...), so the listening connection
    goes where, and how, the engine's connections go."""
    _, params = store.engine.dialect.create_connect_args(store.engine.url)
    return {key: value for key, value in params.items() if key not in _DIALECT_ONLY}


# Events a slow subscriber may fall behind by before it is dropped.
QUEUE_SIZE = 1000
# NOTIFY payloads received but not yet fanned out (a burst while loading big events).
INBOX_SIZE = 10_000
# Reconnect backoff of the LISTEN connection, and how often an idle one is pinged
# (a silently dropped connection would otherwise never be noticed).
BACKOFF_MIN, BACKOFF_MAX = 0.5, 30.0
PING_SECONDS = 30.0
PING_TIMEOUT = 10.0
# How long `start` waits for the first LISTEN before letting the app start anyway.
START_WAIT_SECONDS = 10.0


class Subscriber:
    """One subscriber's events, registered with the hub as soon as it is made (not on
    the first ``__anext__``), so nothing committed after ``Hub.subscribe`` returns is
    missed. Iteration ends when the subscriber fell ``QUEUE_SIZE`` events behind (it
    was dropped; it sees the events queued before) or is closed."""

    def __init__(self, hub: Hub, tenant_id: str, types: frozenset[str], holder: Holder) -> None:
        self.hub = hub
        self.tenant_id = tenant_id
        self.types = types
        self.holder = holder
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = False
        hub._subscribers.add(self)

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Event:
        if self.dropped and self.queue.empty():
            raise StopAsyncIteration
        return await self.queue.get()

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        self.hub._subscribers.discard(self)

    def offer(self, event: Event) -> None:
        """Queue without waiting: a full queue drops the subscriber, never blocks the publisher."""
        if self.dropped:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = True
            self.close()
            log.warning(
                "a live subscriber of tenant %s fell %d events behind at %s; dropped it",
                self.tenant_id,
                QUEUE_SIZE,
                event.id,
            )


class Hub:
    def __init__(self, dialect: str = "sqlite") -> None:
        self.dialect = dialect
        self._subscribers: set[Subscriber] = set()
        self._wakeups: list[asyncio.Event] = []
        self._store: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._inbox: asyncio.Queue[str] = asyncio.Queue(INBOX_SIZE)
        self._connection: asyncpg.Connection | None = None
        # Bumped for every new LISTEN connection: notifications sent between two are lost.
        self._generation = 0
        self._round: asyncio.Future[bool] | None = None  # callers waiting for the next round trip
        self._pinger: asyncio.Task[None] | None = None
        # Set while the LISTEN connection is up (tests and `start` wait on it).
        self.listening = asyncio.Event()

    async def start(self, store: Store) -> None:
        """On PostgreSQL, LISTEN for every process's events on a dedicated connection,
        reconnecting with backoff when it drops. Waits up to START_WAIT_SECONDS for the
        first LISTEN; if the database is down the app starts anyway and keeps trying."""
        if store.dialect != "postgresql" or self._tasks:
            return
        self._store = store
        self._tasks = [
            asyncio.create_task(self._listen(connect_params(store))),
            asyncio.create_task(self._deliver()),
        ]
        try:
            await asyncio.wait_for(self.listening.wait(), START_WAIT_SECONDS)
        except TimeoutError:
            log.error("live events: not listening yet after %.0f s; still trying", START_WAIT_SECONDS)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        tasks = [*self._tasks, *([self._pinger] if self._pinger else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # EventBus
    def published(self, events: Sequence[Event]) -> None:
        self.work_queued()
        if self.dialect != "postgresql":
            self.fan_out(events)

    def work_queued(self) -> None:
        for wakeup in self._wakeups:
            wakeup.set()

    def subscribe(self, tenant_id: str, types: frozenset[str], holder: Holder = OPERATOR) -> Subscriber:
        """The tenant's events of these types from now on; close it (or ``aclose``) when done."""
        return Subscriber(self, tenant_id, types, holder)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def holdings(self, tenant_id: str, holder: Holder) -> Holdings:
        """What the holder's key, the tenant's keys of each role, hold right now."""
        by_key = 0
        by_role: dict[Role, int] = {}
        for subscriber in self._subscribers:
            if subscriber.holder == holder:
                by_key += 1
            if subscriber.tenant_id == tenant_id:
                role = subscriber.holder.role
                by_role[role] = by_role.get(role, 0) + 1
        return Holdings(by_key=by_key, by_role=by_role)

    def fan_out(self, events: Sequence[Event]) -> None:
        for event in events:
            for subscriber in list(self._subscribers):
                if subscriber.tenant_id == event.tenant_id and event.type in subscriber.types:
                    subscriber.offer(event)

    # What API-key caches ask (models.api_keys.cache.Freshness)
    @property
    def generation(self) -> int | None:
        """Which LISTEN connection revocations arrive by (0 off PostgreSQL, where they
        arrive in-process); None while none listens."""
        if self.dialect != "postgresql":
            return 0
        return self._generation if self._connection is not None else None

    async def synced(self) -> int | None:
        """``generation`` after a round trip on the LISTEN connection that began after
        this call: PostgreSQL sends a listener the notifications committed before a
        statement ahead of its answer, and asyncpg hands them over before the answer, so
        every revocation committed before the call has been forgotten. Concurrent
        callers share round trips (one in flight at a time). None: not listening, or the
        round trip failed."""
        generation = self.generation
        if self.dialect != "postgresql" or generation is None:
            return generation
        if self._round is None:
            self._round = asyncio.get_running_loop().create_future()
            if self._pinger is None:
                self._pinger = asyncio.create_task(self._round_trips())
        answered = await asyncio.shield(self._round)
        return generation if answered and self.generation == generation else None

    async def _round_trips(self) -> None:
        """Answer the waiting callers with one round trip each time, until none waits."""
        waiting: asyncio.Future[bool] | None = None
        try:
            while (waiting := self._round) is not None:
                self._round = None
                answered = False
                connection = self._connection
                if connection is not None:
                    try:
                        await connection.execute("SELECT 1", timeout=PING_TIMEOUT)
                        answered = True
                    except Exception as exc:  # the connection is failing: _listen reconnects
                        log.warning("live events: a round trip on the LISTEN connection failed (%s)", exc)
                waiting.set_result(answered)
                waiting = None
        finally:
            self._pinger = None
            for left in (waiting, self._round):  # cancelled (stop): nobody waits forever
                if left is not None and not left.done():
                    left.set_result(False)
            self._round = None

    def wakeup(self) -> asyncio.Event:
        """An asyncio.Event set whenever outbox work is queued (one per worker loop)."""
        wakeup = asyncio.Event()
        self._wakeups.append(wakeup)
        return wakeup

    # PostgreSQL LISTEN
    async def _listen(self, params: dict[str, Any]) -> None:
        delay = BACKOFF_MIN
        connected_before = False
        while True:
            try:
                connection = await asyncpg.connect(**params, timeout=10)
            except Exception as exc:  # any failure: log, back off, try again; never end the app
                log.warning(
                    "live events: cannot connect to PostgreSQL (%s); retrying in %.1f s",
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            try:
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._on_notify)
                await connection.add_listener(key_cache.CHANNEL, self._on_keys_revoked)
                self._generation += 1
                self._connection = connection
                self.listening.set()
                delay = BACKOFF_MIN
                if connected_before:
                    # NOTIFYs sent while disconnected are gone: live subscribers missed
                    # them; the outbox workers catch up by looking now.
                    log.warning("live events: listening again; events committed meanwhile were not streamed")
                    self.work_queued()
                connected_before = True
                await self._watch(connection, lost)
                log.warning("live events: the LISTEN connection dropped; reconnecting")
            except Exception as exc:  # any failure: log, back off, try again; never end the app
                log.warning(
                    "live events: the LISTEN connection failed (%s); reconnecting in %.1f s",
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
            finally:
                self.listening.clear()
                self._connection = None
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))

    async def _watch(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return when the connection is gone: closed under us, or an idle ping fails
        (a round trip of ``synced``: one statement at a time on the connection)."""
        while not lost.is_set() and not connection.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), PING_SECONDS)
                return
            if await self.synced() is None:
                return

    @staticmethod
    def _on_keys_revoked(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        key_cache.forget_notified(payload)

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._inbox.put_nowait(payload)
        except asyncio.QueueFull:
            log.warning("live events: %d notifications waiting; dropped one", INBOX_SIZE)

    async def _deliver(self) -> None:
        """Fan out what other processes (and this one) committed, in commit order."""
        while True:
            payload = await self._inbox.get()
            try:
                event = await self._event(payload)
            except Exception:
                log.exception("live events: could not read a notification")
                continue
            if event is not None:
                self.fan_out([event])
            # Other processes' outbox work (webhook deliveries) wakes this one too.
            self.work_queued()

    async def _event(self, payload: str) -> Event | None:
        message = json.loads(payload)
        if "data" in message:
            return Event(
                message["id"],
                message["type"],
                message.get("tenant_id"),
                message["data"],
                datetime.fromisoformat(message["at"]),
            )
        # Too big for a NOTIFY: only the id came; the row committed before the notification.
        async with self._store.read() as session:
            row = await session.get(EventRow, message["id"])
        if row is None:
            log.warning("live events: event %s was notified but is not stored", message["id"])
            return None
        return Event.from_row(row)
