"""Test clocks (as in Stripe): freeze time for the tenants attached to one, then
advance it, and what fell due on the way runs. Every time-dependent rule asks
``platform.clocks`` what "now" is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.clock import as_utc
from models.kernel.enums import Role
from models.kernel.errors import ValidationFailed
from models.kernel.ids import new_id
from models.platform import locks
from models.platform.access import Principal, require_admin, require_visible
from models.platform.deps import Deps
from models.subscriptions.timeline import renew_due
from models.tables import TenantRow, TestClockRow
from models.test_clocks.inputs import TestClockCreate


def _aware(value: datetime) -> datetime:
    try:
        return as_utc(value)
    except ValueError:
        raise ValidationFailed("frozenTime", "needs a UTC offset, e.g. 2026-01-15T00:00:00Z") from None
    except OverflowError:
        raise ValidationFailed("frozenTime", "is outside the years 1 to 9999 once in UTC") from None


async def create_test_clock(
    deps: Deps, actor: Principal, frozen_time: datetime, name: str | None = None
) -> TestClockRow:
    require_admin(actor, "createTestClock")
    spec = TestClockCreate.parse({"frozen_time": frozen_time, "name": name}, path="")
    row = TestClockRow(
        id=new_id("clock"),
        name=(spec.name or "").strip() or None,
        frozen_time=_aware(spec.frozen_time),
        created_at=deps.clock.now(),
    )
    async with deps.store.transaction() as session:
        session.add(row)
    return row


async def move_test_clock(deps: Deps, actor: Principal, clock_id: str, frozen_time: datetime) -> TestClockRow:
    """Only move a test clock forward (``advance_test_clock`` also runs what fell due).
    Test clocks belong to ADMIN keys: any other key gets NOT_FOUND, or FORBIDDEN if its
    tenant lives on the clock and so may see it."""
    target = _aware(frozen_time)
    async with deps.store.transaction() as session:
        row = await locks.test_clock(session, clock_id)
        require_visible(row is not None and await _may_see(session, actor, row.id), "TestClock", clock_id)
        require_admin(actor, "advanceTestClock")
        if target <= row.frozen_time:
            raise ValidationFailed(
                "frozenTime",
                f"must be later than the clock's current time {row.frozen_time.isoformat()}; "
                "test clocks only move forward",
            )
        row.frozen_time = target
    return row


async def get_test_clock(deps: Deps, actor: Principal, clock_id: str) -> TestClockRow:
    async with deps.store.read() as session:
        row = await session.get(TestClockRow, clock_id)
        require_visible(row is not None and await _may_see(session, actor, clock_id), "TestClock", clock_id)
    return row


async def _may_see(session: AsyncSession, actor: Principal, clock_id: str) -> bool:
    """ADMIN keys see every clock; a TENANT key the one its tenant lives on."""
    if actor.is_admin:
        return True
    if actor.role is not Role.TENANT or actor.tenant_id is None:
        return False
    tenant = await session.get(TenantRow, actor.tenant_id)
    return tenant is not None and tenant.test_clock_id == clock_id


async def advance_test_clock(
    deps: Deps, actor: Principal, clock_id: str, frozen_time: datetime
) -> TestClockRow:
    """Move a test clock forward, then run what fell due for its tenants: each
    period that ended on the way renews, in order (three months ahead: three
    renewal invoices)."""
    row = await move_test_clock(deps, actor, clock_id, frozen_time)
    await renew_due(deps, test_clock_id=row.id)
    return row
