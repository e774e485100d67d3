"""Deliveries: an event committed by a service is dispatched into one delivery per
matching endpoint (``dispatch_events``); a worker claims due deliveries under a lease
(``claim_due_deliveries``), POSTs them outside any transaction (``gateway.webhooks``) and
records how each attempt went (``record_attempt``), which schedules the next one on the
Standard Webhooks schedule or gives up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select, text, update

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
from models.webhooks.rules import MAX_TEXT, webhook_retry_delay
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
    """A claimed delivery and what sending it takes."""

    delivery: WebhookDeliveryRow
    url: str
    secret: str
    event: Event


async def claim_due_deliveries(deps: Deps, limit: int = 50) -> list[DueDelivery]:
    """Lease due deliveries of enabled endpoints, soonest due first."""
    now = deps.clock.now()
    query = (
        select(WebhookDeliveryRow.id)
        .join(WebhookEndpointRow, WebhookEndpointRow.id == WebhookDeliveryRow.endpoint_id)
        .where(
            WebhookDeliveryRow.status == DeliveryStatus.PENDING,
            WebhookDeliveryRow.next_attempt_at <= now,
            ~WebhookEndpointRow.disabled,
        )
        .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
        .limit(limit)
    )
    async with deps.store.transaction() as session:
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=WebhookDeliveryRow)
        ids = (await session.scalars(query)).all()
        deliveries = await claim_rows(session, WebhookDeliveryRow, ids, now)
        if not deliveries:
            return []
        endpoints = await rows_by_ids(session, WebhookEndpointRow, [d.endpoint_id for d in deliveries])
        events = await rows_by_ids(session, EventRow, [d.event_id for d in deliveries])
    return [
        DueDelivery(d, endpoint.url, endpoint.secret, Event.from_row(event))
        for d, endpoint, event in zip(deliveries, endpoints, events, strict=True)
    ]


async def record_attempt(
    deps: Deps,
    delivery: WebhookDeliveryRow,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    response_body: str | None = None,
) -> DeliveryLog | None:
    """Log one attempt: a 2xx answer is SUCCEEDED; anything else (another status, no
    answer) is tried again after the schedule's next wait, or FAILED once it is
    spent. None if the delivery was deleted meanwhile. The returned log holds the
    new attempt only. Fenced by the claim: when the delivery was claimed again or
    redelivered meanwhile, the attempt is logged but the newer state stands."""
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        row = await locks.webhook_delivery(session, delivery.id)
        if row is None:
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
    return DeliveryLog(row, [attempt])
