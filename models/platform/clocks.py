"""The clock a tenant lives on: its test clock's frozen time, else the process clock.
Every time-dependent rule asks here what "now" is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import (
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.clock import Clock, FixedClock
from models.platform.deps import Deps
from models.platform.reads import fetch, keyed
from models.tables import (
    TenantRow,
    TestClockRow,
)
from models.tables.base import table_of

CLOCKS = table_of(TestClockRow)


@dataclass(frozen=True, slots=True)
class TenantNow:
    row: TenantRow
    now: datetime
    """A tenant with its clock's now and its timezone."""

    row: TenantRow
    now: datetime
    zone: ZoneInfo


_CLOCKS = keyed(select(CLOCKS), CLOCKS.c.id)


async def with_clocks(session: AsyncSession, deps: Deps, rows: Sequence[TenantRow]) -> dict[str, TenantNow]:
    """Each tenant with its clock's now, loading their test clocks in one statement."""
    clock_ids = {r.test_clock_id for r in rows if r.test_clock_id}
    clocks = {c.id: c for c in await fetch(session, _CLOCKS, keys=sorted(clock_ids))} if clock_ids else {}
    return {
        r.id: TenantNow(
            r, clock_for_tenant(deps, r, clocks.get(r.test_clock_id or "")).now(), ZoneInfo(r.timezone)
        )
        for r in rows
    }


def clock_for_tenant(deps: Deps, tenant: TenantRow, test_clock: TestClockRow | None) -> Clock:
    """The clock a tenant lives on: its test clock's frozen time, else the process clock."""
    if tenant.test_clock_id is None:
        return deps.clock
    if test_clock is None or test_clock.id != tenant.test_clock_id:
        raise ValueError("pass the tenant's own test clock")
    return FixedClock(test_clock.frozen_time)


async def tenant_clock(session: AsyncSession, deps: Deps, tenant: TenantRow) -> Clock:
    """``clock_for_tenant``, loading the tenant's test clock in this session."""
    test_clock = await session.get(TestClockRow, tenant.test_clock_id) if tenant.test_clock_id else None
    return clock_for_tenant(deps, tenant, test_clock)
