"""The durable outbox: work owed to the outside world (provider calls, webhook
deliveries) is written in the transaction of the change that owes it, then claimed by
a worker, attempted outside any transaction, and retried with backoff until it is done.

A claim leases the row: ``next_attempt_at`` moves a lease ahead and ``attempts`` goes
up, so a worker that dies mid-call leaves the row to be claimed again when the lease
ends; on PostgreSQL ``SKIP LOCKED`` keeps two workers off the same row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import DeliveryStatus, ProviderTaskKind, TaskStatus
from models.platform.deps import Deps
from models.platform.store import after_commit
from models.tables import (
    EventRow,
    ProviderEventRow,
    ProviderTaskRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
)

# How long a claimed row is left to the worker that claimed it: longer than the worst
# run (an invoice's calls, each with the client's 30 s timeout), so a slow provider is
# not mistaken for a dead worker. Results are fenced anyway (``finish_provider_task``).
LEASE = timedelta(minutes=15)

Row = TypeVar("Row", bound=Any)
log = logging.getLogger("models.platform.outbox")


def work_queued(session: AsyncSession, deps: Deps) -> None:
    """Wake the process's outbox worker once this transaction commits."""
    if deps.bus is not None and not session.info.get("work_queued"):
        session.info["work_queued"] = True
        after_commit(session, deps.bus.work_queued)


def queue_provider_task(
    session: AsyncSession,
    deps: Deps,
    *,
    tenant_id: str,
    kind: ProviderTaskKind,
    subject_id: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> ProviderTaskRow | None:
    """Owe the provider a call, in the caller's transaction. Nothing with ``local``."""
    if not deps.mirrors:
        return None
    task = ProviderTaskRow(
        tenant_id=tenant_id,
        kind=kind,
        subject_id=subject_id,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    work_queued(session, deps)
    return task


async def claim_rows(session: AsyncSession, table: type[Row], ids: Sequence[Any], now: datetime) -> list[Row]:
    """Lease the rows ``ids`` (already chosen, and locked on PostgreSQL)."""
    if not ids:
        return []
    result = await session.scalars(
        update(table)
        .where(table.id.in_(ids))
        .values(next_attempt_at=now + LEASE, attempts=table.attempts + 1)
        .returning(table)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.all(), key=lambda row: row.id)


# What the outbox keeps once it is done with it: the delivery log and the events behind
# it, finished provider tasks, and inbound event ids (longer than the 3 days a provider
# redelivers for).
RETENTION = timedelta(days=35)


async def purge_finished(deps: Deps) -> int:
    """Forget finished outbox rows older than ``RETENTION`` (the worker and `bill` run
    it): events no delivery still waits on, with their deliveries and attempts; DONE
    provider tasks; inbound provider event ids. FAILED tasks stay until someone looks."""
    cutoff = deps.clock.now() - RETENTION
    waiting = select(WebhookDeliveryRow.event_id).where(WebhookDeliveryRow.status == DeliveryStatus.PENDING)
    old = (
        select(EventRow.id)
        .where(EventRow.created_at < cutoff, EventRow.dispatched.is_(True), EventRow.id.not_in(waiting))
        .scalar_subquery()
    )
    deliveries = select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.event_id.in_(old)).scalar_subquery()
    removed = 0
    async with deps.store.transaction() as session:
        for statement in (
            delete(WebhookAttemptRow).where(WebhookAttemptRow.delivery_id.in_(deliveries)),
            delete(WebhookDeliveryRow).where(WebhookDeliveryRow.event_id.in_(old)),
            delete(EventRow).where(EventRow.id.in_(old)),
            delete(ProviderTaskRow).where(
                ProviderTaskRow.status == TaskStatus.DONE, ProviderTaskRow.updated_at < cutoff
            ),
            delete(ProviderEventRow).where(ProviderEventRow.received_at < cutoff),
        ):
            removed += (await session.execute(statement)).rowcount or 0
    return removed
