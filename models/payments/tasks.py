"""The provider-task outbox: calls owed to the payment provider, claimed by a worker at
most one per tenant at a time and in order, retried with backoff until the provider
answers or refuses for good."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.kernel.enums import ProviderTaskKind, TaskStatus
from models.kernel.errors import NotFound
from models.platform import locks
from models.platform.access import Principal, require_admin
from models.platform.deps import Deps
from models.platform.outbox import claim_rows, queue_provider_task, work_queued
from models.platform.provider import KEY_REFUSED
from models.tables import (
    InvoiceRow,
    ProviderTaskRow,
    TenantRow,
)

log = logging.getLogger("models.payments.tasks")

# Provider tasks: 2 s after the first failure, doubling, at most an hour apart; tried
# until they succeed (a provider outage delays collection, it never drops it).
PROVIDER_FIRST_RETRY = timedelta(seconds=2)


PROVIDER_MAX_RETRY = timedelta(hours=1)


def provider_retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (1, 2, ...)."""
    return min(PROVIDER_FIRST_RETRY * 2 ** min(attempts - 1, 30), PROVIDER_MAX_RETRY)


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
        .where(
            ~exists().where(
                older.tenant_id == ProviderTaskRow.tenant_id,
                older.status == TaskStatus.PENDING,
                older.id < ProviderTaskRow.id,
            )
        )
        .order_by(ProviderTaskRow.id)
        .limit(limit)
    )
    async with deps.store.transaction() as session:
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = (await session.scalars(query)).all()
        return await claim_rows(session, ProviderTaskRow, ids, now)


async def collection_queued(session: AsyncSession, invoice_id: str) -> bool:
    """Whether a collection of the invoice was ever queued (whatever came of it): the
    provider may hold it even though no provider invoice id was recorded (an attempt
    whose answer was lost, or one still waiting to run)."""
    query = select(ProviderTaskRow.id).where(
        ProviderTaskRow.kind == ProviderTaskKind.COLLECT_INVOICE, ProviderTaskRow.subject_id == invoice_id
    )
    return (await session.scalar(query.limit(1))) is not None


async def tell_provider_if_it_holds(
    session: AsyncSession, deps: Deps, invoice: InvoiceRow, kind: ProviderTaskKind
) -> None:
    """Queue ``kind`` (void it, mark it paid out of band) for the provider's copy of the
    invoice, when there is a provider and it may hold one."""
    if deps.mirrors and (
        invoice.provider_invoice_id is not None or await collection_queued(session, invoice.id)
    ):
        queue_provider_task(
            session, deps, tenant_id=invoice.tenant_id, kind=kind, subject_id=invoice.id, now=deps.clock.now()
        )


async def finish_provider_task(
    deps: Deps, task: ProviderTaskRow, *, error: str | None = None, retryable: bool = True
) -> ProviderTaskRow:
    """Record how an attempt went: DONE; PENDING again after the backoff; or FAILED
    when the provider refused it for good. Fenced by the claim: once another worker
    has claimed the task again (its lease ran out), this late result is dropped."""
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        row = await locks.provider_task(session, task.id)
        if row.status != TaskStatus.PENDING or row.attempts != task.attempts:
            log.warning(
                "provider task %s: attempt %d finished after its lease; kept the newer claim's state",
                task.id,
                task.attempts,
            )
            return row
        if error is None:
            row.status, row.last_error = TaskStatus.DONE, None
        elif retryable:
            row.next_attempt_at, row.last_error = now + provider_retry_delay(row.attempts), error[:1000]
        else:
            row.status, row.last_error = TaskStatus.FAILED, error[:1000]
        row.updated_at = now
    return row


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


async def requeue_key_refused(deps: Deps) -> int:
    """Queue again, due now, every provider task refused for the gateway's API key
    (``KEY_REFUSED``); how many. `serve` calls it at start, where a new key takes
    effect: if the key is still refused, each fails again at its first attempt."""
    if not deps.mirrors:
        return 0
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        result = await session.execute(
            update(ProviderTaskRow)
            .where(
                ProviderTaskRow.status == TaskStatus.FAILED,
                ProviderTaskRow.last_error.startswith(KEY_REFUSED, autoescape=True),
            )
            .values(status=TaskStatus.PENDING, next_attempt_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        requeued = result.rowcount or 0
        if requeued:
            work_queued(session, deps)
    return requeued
