"""The outbox's own rules, on both databases: a tenant's provider tasks run one at a
time and in order, a failure backs off and holds that tenant's later tasks (only its
own), and finished rows are forgotten after 35 days while anything still owed stays."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import func, select

from models.kernel.clock import FixedClock
from models.kernel.enums import DeliveryStatus, EventType, ProviderTaskKind, TaskStatus
from models.payments import tasks as provider_tasks
from models.platform import events, outbox
from models.platform.access import operator
from models.platform.deps import Deps
from models.tables import EventRow, ProviderTaskRow, WebhookDeliveryRow, WebhookEndpointRow
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate


class Mirroring:
    """Only what queueing reads of a provider: that it mirrors (no call is made here)."""

    name = "mirroring"
    mirrors = True


async def _tenant(deps: Deps, name: str) -> str:
    row = await tenants.create_tenant(
        deps, operator(), TenantCreate.parse({"name": name, "email": "a@b.example", "currency": "USD"})
    )
    return row.id


async def _queue_collect(deps: Deps, tenant_id: str, subject: str) -> None:
    async with deps.store.transaction() as session:
        outbox.queue_provider_task(
            session,
            deps,
            tenant_id=tenant_id,
            kind=ProviderTaskKind.COLLECT_INVOICE,
            subject_id=subject,
            now=deps.clock.now(),
        )


async def test_a_tenants_tasks_run_one_at_a_time_in_order_and_a_failure_holds_only_its_own(
    deps: Deps, clock: FixedClock
) -> None:
    deps = dataclasses.replace(deps, provider=Mirroring())
    a, b = await _tenant(deps, "A"), await _tenant(deps, "B")  # each queues its SYNC_CUSTOMER
    await _queue_collect(deps, a, "inv_a1")
    await _queue_collect(deps, b, "inv_b1")

    first = await provider_tasks.claim_provider_tasks(deps)
    assert [(t.tenant_id, t.kind, t.attempts) for t in first] == [
        (a, "SYNC_CUSTOMER", 1),
        (b, "SYNC_CUSTOMER", 1),
    ]
    assert (
        await provider_tasks.claim_provider_tasks(deps) == []
    )  # leased, and the collections wait behind them

    await provider_tasks.finish_provider_task(deps, first[0], error="Stripe is down", retryable=True)
    await provider_tasks.finish_provider_task(deps, first[1])
    (b_next,) = await provider_tasks.claim_provider_tasks(deps)  # A backs off; B moves on
    assert (b_next.tenant_id, b_next.subject_id) == (b, "inv_b1")

    clock.set(clock.now() + timedelta(seconds=1.9))
    assert await provider_tasks.claim_provider_tasks(deps) == []
    clock.set(clock.now() + timedelta(seconds=0.1))  # 2 s after the first failure
    (retry,) = await provider_tasks.claim_provider_tasks(deps)
    assert (retry.id, retry.attempts) == (first[0].id, 2)
    failed = await provider_tasks.finish_provider_task(deps, retry, error="still down", retryable=True)
    assert failed.next_attempt_at == clock.now() + timedelta(seconds=4)  # then 4 s
    assert failed.last_error == "still down"

    clock.set(failed.next_attempt_at)
    (again,) = await provider_tasks.claim_provider_tasks(deps)
    await provider_tasks.finish_provider_task(deps, again, error="No such customer", retryable=False)
    (a_next,) = await provider_tasks.claim_provider_tasks(deps)  # FAILED for good no longer holds the queue
    assert (a_next.tenant_id, a_next.subject_id) == (a, "inv_a1")
    async with deps.store.read() as session:
        statuses = dict((await session.execute(select(ProviderTaskRow.id, ProviderTaskRow.status))).all())
    assert statuses[first[0].id] == TaskStatus.FAILED.value


async def test_a_claim_whose_worker_died_is_claimed_again_when_its_lease_ends(
    deps: Deps, clock: FixedClock
) -> None:
    deps = dataclasses.replace(deps, provider=Mirroring())
    await _tenant(deps, "A")
    (claimed,) = await provider_tasks.claim_provider_tasks(deps)
    clock.set(clock.now() + outbox.LEASE - timedelta(seconds=1))
    assert await provider_tasks.claim_provider_tasks(deps) == []
    clock.set(clock.now() + timedelta(seconds=1))
    (again,) = await provider_tasks.claim_provider_tasks(deps)
    assert (again.id, again.attempts) == (claimed.id, 2)


async def test_nothing_is_queued_without_a_provider_that_mirrors(deps: Deps) -> None:
    await _tenant(deps, "Local")
    async with deps.store.read() as session:
        assert await session.scalar(select(func.count()).select_from(ProviderTaskRow)) == 0


async def test_finished_rows_are_forgotten_after_35_days_and_owed_ones_kept(
    deps: Deps, clock: FixedClock
) -> None:
    deps = dataclasses.replace(deps, provider=Mirroring())
    tenant = await _tenant(deps, "Old")
    (task,) = await provider_tasks.claim_provider_tasks(deps)
    await provider_tasks.finish_provider_task(deps, task)
    async with deps.store.transaction() as session:
        session.add(
            WebhookEndpointRow(
                id="we_1",
                url="https://x.example/",
                events=["seats.changed"],
                secret="whsec_x",
                created_at=clock.now(),
            )
        )
        delivered = events.record_event(
            session, deps.bus, EventType.SEATS_CHANGED, tenant, {"n": 1}, clock.now()
        )
        owed = events.record_event(session, deps.bus, EventType.SEATS_CHANGED, tenant, {"n": 2}, clock.now())
    async with deps.store.transaction() as session:
        for event, status in ((delivered, DeliveryStatus.SUCCEEDED), (owed, DeliveryStatus.PENDING)):
            (await session.get(EventRow, event.id)).dispatched = True
            session.add(
                WebhookDeliveryRow(
                    id=f"msg_{event.id}",
                    endpoint_id="we_1",
                    event_id=event.id,
                    event_type=event.type,
                    status=status.value,
                    next_attempt_at=clock.now(),
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )

    clock.set(clock.now() + outbox.RETENTION - timedelta(seconds=1))
    assert await outbox.purge_finished(deps) == 0
    clock.set(clock.now() + timedelta(seconds=2))
    assert await outbox.purge_finished(deps) == 3  # the delivered event, its delivery, the DONE task
    async with deps.store.read() as session:
        assert (await session.scalars(select(EventRow.id))).all() == [owed.id]
        assert (await session.scalars(select(WebhookDeliveryRow.event_id))).all() == [owed.id]
        assert await session.scalar(select(func.count()).select_from(ProviderTaskRow)) == 0


async def test_a_result_that_comes_back_after_its_lease_is_dropped(deps: Deps, clock: FixedClock) -> None:
    deps = dataclasses.replace(deps, provider=Mirroring())
    await _tenant(deps, "Slow")
    (slow,) = await provider_tasks.claim_provider_tasks(deps)
    clock.set(clock.now() + outbox.LEASE)
    (fresh,) = await provider_tasks.claim_provider_tasks(deps)  # the slow worker looked dead
    done = await provider_tasks.finish_provider_task(deps, fresh)
    late = await provider_tasks.finish_provider_task(deps, slow, error="timed out", retryable=False)
    assert (done.status, late.status, late.last_error) == ("DONE", "DONE", None)
