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

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.kernel.enums import DeliveryStatus, ProviderTaskKind, TaskStatus
from models.kernel.errors import NotFound
from models.platform.access import Principal, require_admin
from models.platform.deps import Deps
from models.platform.store import after_commit
from models.tables import (
    EventRow,
    ProviderEventRow,
    ProviderTaskRow,
    TenantRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
)

# How long a claimed row is left to the worker that claimed it: longer than the worst
# run (an invoice's calls, each with the client's 30 s timeout), so a slow provider is
# not mistaken for a dead worker. Results are fenced anyway (``finish_provider_task``).
LEASE = timedelta(minutes=15)
# Provider tasks: 2 s after the first failure, doubling, at most an hour apart; tried
# until they succeed (a provider outage delays collection, it never drops it).
PROVIDER_FIRST_RETRY = timedelta(seconds=2)
PROVIDER_MAX_RETRY = timedelta(hours=1)
# Webhook deliveries (the Standard Webhooks schedule): when each attempt is due,
# counted from the failure of the one before; after the last, the delivery FAILED.
WEBHOOK_SCHEDULE = (
    timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
    timedelta(hours=2), timedelta(hours=5), timedelta(hours=10),
)

Row = TypeVar("Row", bound=Any)
log = logging.getLogger("models.platform.outbox")


def provider_retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (1, 2, ...)."""
    return min(PROVIDER_FIRST_RETRY * 2 ** min(attempts - 1, 30), PROVIDER_MAX_RETRY)


def webhook_retry_delay(attempts: int) -> timedelta | None:
    """The wait after the ``attempts``-th failed attempt; None once the schedule is spent."""
    return WEBHOOK_SCHEDULE[attempts] if attempts < len(WEBHOOK_SCHEDULE) else None


def work_queued(session: AsyncSession, deps: Deps) -> None:
    """Wake the process's outbox worker once this transaction commits."""
    if deps.bus is not None and not session.info.get("work_queued"):
        session.info["work_queued"] = True
        after_commit(session, deps.bus.work_queued)


def queue_provider_task(
    session: AsyncSession, deps: Deps, *, tenant_id: str, kind: ProviderTaskKind, subject_id: str,
    now: datetime, payload: dict[str, Any] | None = None,
) -> ProviderTaskRow | None:
    """Owe the provider a call, in the caller's transaction. Nothing with ``local``."""
    if not deps.mirrors:
        return None
    task = ProviderTaskRow(
        tenant_id=tenant_id, kind=kind, subject_id=subject_id, payload=payload,
        next_attempt_at=now, created_at=now, updated_at=now,
    )
    session.add(task)
    work_queued(session, deps)
    return task


async def claim_rows(
    session: AsyncSession, table: type[Row], ids: Sequence[Any], now: datetime
) -> list[Row]:
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


async def claim_provider_tasks(deps: Deps, limit: int = 5) -> list[ProviderTaskRow]:
    """Due provider tasks, at most one per tenant: the oldest pending one, so a
    tenant's calls happen one at a time and in order. Few at a time: they run one
    after another under one lease, which must outlast them all (an invoice's few
    calls, 30 s each at worst)."""
    now = deps.clock.now()
    older = aliased(ProviderTaskRow)
    pending = ProviderTaskRow.status == TaskStatus.PENDING
    query = (
        select(ProviderTaskRow.id)
        .where(pending, ProviderTaskRow.next_attempt_at <= now)
        .where(~exists().where(
            older.tenant_id == ProviderTaskRow.tenant_id, older.status == TaskStatus.PENDING,
            older.id < ProviderTaskRow.id,
        ))
        .order_by(ProviderTaskRow.id)
        .limit(limit)
    )
    async with deps.store.transaction() as session:
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = (await session.scalars(query)).all()
        return await claim_rows(session, ProviderTaskRow, ids, now)


async def finish_provider_task(
    deps: Deps, task: ProviderTaskRow, *, error: str | None = None, retryable: bool = True
) -> ProviderTaskRow:
    """Record how an attempt went: DONE; PENDING again after the backoff; or FAILED
    when the provider refused it for good. Fenced by the claim: once another worker
    has claimed the task again (its lease ran out), this late result is dropped."""
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        row = await session.get(ProviderTaskRow, task.id, with_for_update=True)
        if row.status != TaskStatus.PENDING or row.attempts != task.attempts:
            log.warning("provider task %s: attempt %d finished after its lease; kept the newer claim's state",
                        task.id, task.attempts)
            return row
        if error is None:
            row.status, row.last_error = TaskStatus.DONE, None
        elif retryable:
            row.next_attempt_at, row.last_error = now + provider_retry_delay(row.attempts), error[:1000]
        else:
            row.status, row.last_error = TaskStatus.FAILED, error[:1000]
        row.updated_at = now
    return row


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


async def retry_failed_tasks(deps: Deps, actor: Principal, tenant_id: str) -> int:
    """Queue again, due now, every provider task of the tenant the provider refused
    for good (after the cause was fixed: a key, a customer, an amount); how many."""
    require_admin(actor, "retryProviderTasks")
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        if await session.get(TenantRow, tenant_id) is None:
            raise NotFound("Tenant", tenant_id)
        result = await session.execute(
            update(ProviderTaskRow)
            .where(ProviderTaskRow.tenant_id == tenant_id, ProviderTaskRow.status == TaskStatus.FAILED)
            .values(status=TaskStatus.PENDING, next_attempt_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        retried = result.rowcount or 0
        if retried:
            work_queued(session, deps)
    return retried
