"""Domain events: written in the transaction that made them happen, published once it
commits. Outbound webhooks deliver them from the ``events`` table; live GraphQL
subscriptions receive them through the process's ``EventBus`` (on PostgreSQL via
LISTEN/NOTIFY, so every worker process sees every event)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import EventType, Role
from models.kernel.ids import new_id
from models.platform.payloads import EventPayload
from models.platform.store import after_commit, before_commit
from models.tables import EventRow

CHANNEL = "gateway_events"
# PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more: bigger events go by id.
MAX_NOTIFY_BYTES = 7000


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    tenant_id: str | None
    data: dict[str, Any]
    at: datetime

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "type": self.type,
                "tenant_id": self.tenant_id,
                "data": self.data,
                "at": self.at.isoformat(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_row(cls, row: EventRow) -> Event:
        return cls(row.id, row.type, row.tenant_id, row.data, row.created_at)


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a subscription: the key's role and id (None: the operator's key)."""

    role: Role
    key_id: str | None


OPERATOR = Holder(Role.ADMIN, None)


@dataclass(frozen=True, slots=True)
class Holdings:
    by_key: int  # the key's subscriptions, whatever their tenant
    by_role: dict[Role, int]  # the tenant's subscriptions, by the role of the key that holds them


class EventBus(Protocol):
    """The process's receiver of what committed (``gateway.live.Hub``)."""

    def published(self, events: Sequence[Event]) -> None:
        """Called in the committing process right after the commit."""
        ...

    def work_queued(self) -> None:
        """Provider tasks or webhook deliveries are waiting: wake the outbox worker."""
        ...

    def holdings(self, tenant_id: str, holder: Holder) -> Holdings:
        """How many live subscriptions the holder's key, and the tenant's keys by role, hold here."""
        ...

    def subscribe(
        self, tenant_id: str, types: frozenset[str], holder: Holder = OPERATOR
    ) -> AsyncIterator[Event]:
        """The tenant's events of these types, from now on, as they commit (in any
        worker process), until the consumer stops iterating."""
        ...


# What other domains do, in the same transaction, about the events it records (the
# entitlements domain announces the entitlements a plan change moved). Each is called
# once, just before the commit, with the transaction's events; it may emit more.
# (Their second argument is the use case's ``Deps``, which depends on this module.)
Reaction = Callable[[AsyncSession, Any, Sequence[Event]], Awaitable[None]]
_REACTIONS: list[Reaction] = []


def react(reaction: Reaction) -> Reaction:
    """Register a reaction (a decorator; the reacting domain's module registers it when
    imported, and every entry point imports ``models.reactions``)."""
    if reaction not in _REACTIONS:
        _REACTIONS.append(reaction)
    return reaction


class Emitting(Protocol):
    """What emitting needs of ``Deps``: the process's bus (the reactions get all of it)."""

    @property
    def bus(self) -> EventBus | None: ...


def emit(session: AsyncSession, deps: Emitting, payload: EventPayload, at: datetime) -> Event:
    """Record an event in the caller's transaction; the bus hears of it after the
    commit (and never if the transaction rolls back). Its type is its payload's. The
    registered reactions see it before the commit."""
    if _REACTIONS and "reacted" not in session.info:
        seen: list[Event] = []
        session.info["reacted"] = seen
        before_commit(session, lambda: _react(session, deps, seen))
    event = record_event(session, deps.bus, payload.type, payload.tenant_id, payload.data(), at)
    reacted: list[Event] | None = session.info.get("reacted")
    if reacted is not None:
        reacted.append(event)
    return event


async def _react(session: AsyncSession, deps: Emitting, seen: list[Event]) -> None:
    """Run every reaction on the events emitted so far; on what those emit, again."""
    done = 0
    while done < len(seen):
        batch, done = tuple(seen[done:]), len(seen)
        for reaction in _REACTIONS:
            await reaction(session, deps, batch)


def record_event(
    session: AsyncSession,
    bus: EventBus | None,
    type: EventType,
    tenant_id: str | None,
    data: dict[str, Any],
    at: datetime,
) -> Event:
    """``emit``'s primitive: an event of ``type`` carrying ``data`` as it is."""
    event = Event(new_id("evt"), type.value, tenant_id, data, at)
    session.add(EventRow(id=event.id, type=event.type, tenant_id=tenant_id, data=data, created_at=at))
    pending: list[Event] = session.info.setdefault("events", [])
    if not pending:
        before_commit(session, lambda: _notify(session, pending))
        if bus is not None:
            after_commit(session, lambda: bus.published(tuple(pending)))
    pending.append(event)
    return event


async def _notify(session: AsyncSession, pending: list[Event]) -> None:
    """On PostgreSQL, NOTIFY every listening process (every worker's live
    subscriptions) of the transaction's events; PostgreSQL sends them at the commit."""
    session.info.pop("events", None)
    if session.bind.dialect.name != "postgresql":
        return
    for event in pending:
        payload = event.to_json()
        if len(payload.encode()) > MAX_NOTIFY_BYTES:
            payload = json.dumps({"id": event.id, "type": event.type, "tenant_id": event.tenant_id})
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )
