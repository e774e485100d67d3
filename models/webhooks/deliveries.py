"""Deliveries: an event committed by a service is dispatched into one delivery per
matching endpoint (``dispatch_events``); a worker claims due deliveries under a lease
(``claim_due_deliveries``), fairly across tenants, POSTs them outside any transaction
(``gateway.webhooks``) and records how each attempt went (``record_attempt``), which
schedules the next one on the Standard Webhooks schedule or gives up, and counts an
endpoint's timeouts towards its circuit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, literal, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import DeliveryStatus
from models.kernel.ids import new_id
from models.platform import locks
from models.platform.deps import Deps
from models.platform.events import Event
from models.platform.outbox import claim_rows
from models.platform.reads import rows_by_ids
from models.platform.store import ROW_LOCK
from models.tables import (
    EventRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
)
from models.webhooks.rules import MAX_TEXT, circuit_pause, webhook_retry_delay
from models.webhooks.service import DeliveryLog


async def dispatch_events(deps: Deps, limit: int = 500) -> int:
    """Turn undispatched events, oldest first, into one delivery per enabled endpoint
    that wants them (its tenant's or every tenant's, subscribed to the type), due now.
    Returns how many events it dispatched."""
    now = deps.clock.now()
    # Spelled as the partial index's predicate, so SQLite uses it too (not "dispatched = 0").
    query = (
        select(EventRow)
        .where(text("NOT events.dispatched"))
        .order_by(EventRow.created_at, EventRow.id)
        .limit(limit)
    )
    async with deps.store.transaction() as session:
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        events = (await session.scalars(query)).all()
        if not events:
            return 0
        tenants = {e.tenant_id for e in events if e.tenant_id is not None}
        # KEY SHARE: an endpoint being deleted is waited for, then skipped.
        endpoints = (
            await session.scalars(
                select(WebhookEndpointRow)
                .where(~WebhookEndpointRow.disabled)
                .where(or_(WebhookEndpointRow.tenant_id.is_(None), WebhookEndpointRow.tenant_id.in_(tenants)))
                .with_for_update(**ROW_LOCK)
            )
        ).all()
        for event in events:
            for endpoint in endpoints:
                if event.type in endpoint.events and endpoint.tenant_id in (None, event.tenant_id):
                    session.add(
                        WebhookDeliveryRow(
                            id=new_id("msg"),
                            endpoint_id=endpoint.id,
                            event_id=event.id,
                            event_type=event.type,
                            next_attempt_at=now,
                            created_at=now,
                            updated_at=now,
                        )
                    )
        await session.execute(
            update(EventRow)
            .where(EventRow.id.in_([e.id for e in events]))
            .values(dispatched=True)
            .execution_options(synchronize_session=False)
        )
    return len(events)


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A claimed delivery and what sending it takes. ``owner``: whose share of the
    sending capacity it takes (its endpoint's tenant; "" for the operator's all-tenant
    endpoints). ``allow_private``: it may go to a private address (registered so by an
    ADMIN key, and the operator still allows it)."""

    delivery: WebhookDeliveryRow
    url: str
    secret: str
    event: Event
    owner: str = ""
    allow_private: bool = False


# Whose share a delivery takes: its endpoint's tenant, or "" (all-tenant endpoints).
OWNER = func.coalesce(WebhookEndpointRow.tenant_id, "")


def _fair_due(now: datetime, limit: int, per_tenant: int, busy: Mapping[str, int]) -> Select[Any]:
    """Due deliveries of enabled, unpaused endpoints, tenants taken in turn: each
    tenant's soonest first, ranked within the tenant, and the first of every tenant
    before the second of any. A tenant gets ``per_tenant`` less what it has in flight
    (``busy``), so one tenant's backlog or slow endpoints never fill the claim."""
    rank = func.row_number().over(
        partition_by=OWNER, order_by=(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
    )
    due = (
        select(
            WebhookDeliveryRow.id,
            WebhookDeliveryRow.next_attempt_at,
            OWNER.label("owner"),
            rank.label("rank"),
        )
        .join(WebhookEndpointRow, WebhookEndpointRow.id == WebhookDeliveryRow.endpoint_id)
        .where(
            WebhookDeliveryRow.status == DeliveryStatus.PENDING,
            WebhookDeliveryRow.next_attempt_at <= now,
            ~WebhookEndpointRow.disabled,
            or_(WebhookEndpointRow.paused_until.is_(None), WebhookEndpointRow.paused_until <= now),
        )
        .subquery()
    )
    in_flight = case(dict(busy), value=due.c.owner, else_=0) if busy else literal(0)
    return (
        select(due.c.id)
        .where(due.c.rank <= per_tenant - in_flight)
        .order_by(due.c.rank, due.c.next_attempt_at, due.c.id)
        .limit(limit)
    )


async def claim_due_deliveries(
    deps: Deps, limit: int = 50, *, per_tenant: int | None = None, busy: Mapping[str, int] | None = None
) -> list[DueDelivery]:
    """Lease up to ``limit`` due deliveries, fairly across tenants (``_fair_due``);
    ``per_tenant`` defaults to ``limit``. On PostgreSQL, rows another worker holds are
    skipped, never waited for."""
    now = deps.clock.now()
    if limit <= 0:
        return []
    chosen = _fair_due(now, limit, per_tenant or limit, busy or {})
    async with deps.store.transaction() as session:
        ids = (await session.scalars(chosen)).all()
        ids = await _lockable(session, ids, now)
        deliveries = await claim_rows(session, WebhookDeliveryRow, ids, now)
        if not deliveries:
            return []
        endpoints = await rows_by_ids(session, WebhookEndpointRow, [d.endpoint_id for d in deliveries])
        events = await rows_by_ids(session, EventRow, [d.event_id for d in deliveries])
    # An endpoint registered as private goes there only while the operator still allows
    # it: turning GATEWAY_WEBHOOKS_ALLOW_PRIVATE off stops them all at once.
    private_allowed = deps.policy.webhooks.allow_private
    return [
        DueDelivery(
            d,
            endpoint.url,
            endpoint.secret,
            Event.from_row(event),
            owner=endpoint.tenant_id or "",
            allow_private=endpoint.allow_private and private_allowed,
        )
        for d, endpoint, event in zip(deliveries, endpoints, events, strict=True)
    ]


async def _lockable(session: AsyncSession, ids: Sequence[str], now: datetime) -> list[str]:
    """Those of ``ids`` still due, locked; on PostgreSQL without those another worker
    holds (``SKIP LOCKED``: the window that chose them cannot take a row lock)."""
    if not ids:
        return []
    query = select(WebhookDeliveryRow.id).where(
        WebhookDeliveryRow.id.in_(ids),
        WebhookDeliveryRow.status == DeliveryStatus.PENDING,
        WebhookDeliveryRow.next_attempt_at <= now,
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list((await session.scalars(query)).all())


async def record_attempt(
    deps: Deps,
    delivery: WebhookDeliveryRow,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    response_body: str | None = None,
    *,
    timed_out: bool = False,
) -> DeliveryLog | None:
    """Log one attempt: a 2xx answer is SUCCEEDED; anything else (another status, no
    answer) is tried again after the schedule's next wait, or FAILED once it is
    spent. None if the delivery was deleted meanwhile. The returned log holds the
    new attempt only. Fenced by the claim: when the delivery was claimed again or
    redelivered meanwhile, the attempt is logged but the newer state stands. A timeout
    counts towards the endpoint's circuit, an answer closes it (``_count``)."""
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        endpoint = await locks.webhook_endpoint_of_attempt(session, delivery.endpoint_id)
        row = None if endpoint is None else await locks.webhook_delivery(session, delivery.id)
        if endpoint is None or row is None:
            return None
        last = await session.scalar(
            select(func.max(WebhookAttemptRow.attempt)).where(WebhookAttemptRow.delivery_id == row.id)
        )
        attempt = WebhookAttemptRow(
            id=new_id("att"),
            delivery_id=row.id,
            attempt=(last or 0) + 1,
            at=now,
            status_code=status_code,
            error=error[:MAX_TEXT] if error else None,
            response_body=response_body[:MAX_TEXT] if response_body else None,
            duration_ms=duration_ms,
        )
        session.add(attempt)
        if row.status != DeliveryStatus.PENDING or row.attempts != delivery.attempts:
            pass  # another claim (or a redeliver) owns what happens next
        elif status_code is not None and 200 <= status_code < 300:
            row.status = DeliveryStatus.SUCCEEDED
        elif (wait := webhook_retry_delay(row.attempts)) is None:
            row.status = DeliveryStatus.FAILED
        else:
            row.status, row.next_attempt_at = DeliveryStatus.PENDING, now + wait
        row.updated_at = now
        _count(endpoint, answered=status_code is not None, timed_out=timed_out, now=now)
    return DeliveryLog(row, [attempt])


def _count(endpoint: WebhookEndpointRow, *, answered: bool, timed_out: bool, now: datetime) -> None:
    """The circuit (``rules.circuit_pause``): one more timeout in a row, and maybe a
    pause; an answer, whatever its status, resets it. A refused connection does
    neither: it fails fast and holds no slot for long."""
    if timed_out:
        endpoint.consecutive_timeouts += 1
        pause = circuit_pause(endpoint.consecutive_timeouts)
        if pause is not None:
            endpoint.paused_until = now + pause
    elif answered and (endpoint.consecutive_timeouts or endpoint.paused_until is not None):
        endpoint.consecutive_timeouts, endpoint.paused_until = 0, None
