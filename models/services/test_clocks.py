"""Test clocks (as in Stripe): freeze time for the tenants attached to one, then
advance it. Every time-dependent rule asks ``clock_for_tenant`` what "now" is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.clock import Clock, FixedClock, as_utc
from models.errors import NotFound, ValidationFailed
from models.ids import new_id
from models.services.access import Principal, require_admin
from models.services.base import Deps
from models.tables import TenantRow, TestClockRow


def clock_for_tenant(deps: Deps, tenant: TenantRow, test_clock: TestClockRow | None) -> Clock:
    """The clock a tenant lives on: its test clock's frozen time, else the process clock."""
    if tenant.test_clock_id is None:
        return deps.clock
    if test_clock is None or test_clock.id != tenant.test_clock_id:
        raise ValueError("pass the tenant's own test clock")
    return FixedClock(test_clock.frozen_time)


async def tenant_now(session: AsyncSession, deps: Deps, tenant: TenantRow) -> datetime:
    test_clock = (
        await session.get(TestClockRow, tenant.test_clock_id) if tenant.test_clock_id else None
    )
    return clock_for_tenant(deps, tenant, test_clock).now()


def _aware(field: str, value: datetime) -> datetime:
    try:
        return as_utc(value)
    except ValueError:
        raise ValidationFailed(field, "needs a UTC offset, e.g. 2026-01-15T00:00:00Z") from None


async def create_test_clock(
    deps: Deps, actor: Principal, frozen_time: datetime, name: str | None = None
) -> TestClockRow:
    require_admin(actor, "createTestClock")
    row = TestClockRow(
        id=new_id("clock"),
        name=(name or "").strip() or None,
        frozen_time=_aware("frozenTime", frozen_time),
        created_at=deps.clock.now(),
    )
    async with deps.store.transaction() as session:
        session.add(row)
    return row


async def advance_test_clock(
    deps: Deps, actor: Principal, clock_id: str, frozen_time: datetime
) -> TestClockRow:
    """Move a test clock forward (test clocks belong to ADMIN keys; any other key
    gets NOT_FOUND, as for every object it may not see)."""
    if not actor.is_admin:
        raise NotFound("TestClock", clock_id)
    target = _aware("frozenTime", frozen_time)
    async with deps.store.transaction() as session:
        row = await session.scalar(
            select(TestClockRow).where(TestClockRow.id == clock_id).with_for_update()
        )
        if row is None:
            raise NotFound("TestClock", clock_id)
        if target <= row.frozen_time:
            raise ValidationFailed(
                "frozenTime",
                f"must be later than the clock's current time {row.frozen_time.isoformat()}; "
                "test clocks only move forward",
            )
        row.frozen_time = target
    return row


async def get_test_clock(deps: Deps, actor: Principal, clock_id: str) -> TestClockRow:
    if not actor.is_admin:
        raise NotFound("TestClock", clock_id)
    async with deps.store.read() as session:
        row = await session.get(TestClockRow, clock_id)
    if row is None:
        raise NotFound("TestClock", clock_id)
    return row
