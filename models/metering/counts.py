"""Counts: a meter's day, month or period, read from its daily rollups (31 rows a
month at most), for one tenant or, batched, for a list of tenants."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import Aggregation
from models.kernel.errors import NotFound, ValidationFailed
from models.metering.rollups import DAYS, read_days
from models.metering.rules import DayStats, count_of, fold_days, month_days
from models.platform.access import Principal, require_visible
from models.platform.clocks import TenantNow, with_clocks
from models.platform.deps import Deps
from models.platform.reads import any_of, compiled_once, fetch
from models.tables import (
    MeterRow,
    TenantRow,
)
from models.tables.base import table_of

MAX_PERIOD_DAYS = 366


@dataclass(frozen=True, slots=True)
class Count:
    meter: MeterRow
    value: int  # millionths

    @property
    def aggregation(self) -> Aggregation:
        return self.meter.aggregation


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    value: int


async def _tenant(session: AsyncSession, deps: Deps, actor: Principal, tenant_id: str) -> TenantNow:
    require_visible(actor.can_meter(tenant_id), "Tenant", tenant_id)
    row = await session.get(TenantRow, tenant_id)
    if row is None:
        raise NotFound("Tenant", tenant_id)
    return (await with_clocks(session, deps, [row]))[row.id]


_METERS = compiled_once(
    select(table_of(MeterRow)).order_by(table_of(MeterRow).c.created_at, table_of(MeterRow).c.id)
)
_METER = compiled_once(_METERS.where(table_of(MeterRow).c.name == bindparam("name")))


async def _meters(session: AsyncSession, meter_name: str | None) -> list[MeterRow]:
    if meter_name is None:
        meters: list[MeterRow] = await fetch(session, _METERS)
    else:
        meters = await fetch(session, _METER, name=meter_name)
    if meter_name is not None and not meters:
        raise NotFound("Meter", meter_name)
    return meters


async def counts(
    deps: Deps, actor: Principal, tenant_id: str, meter_name: str | None, span: Span
) -> list[Count]:
    """One count per meter (or for the one named) over a day or a month: its day
    rollups (31 rows a meter at most) folded here, which measured faster for one
    tenant than the database's fold that lists of tenants use (``folded_days``)."""
    async with deps.store.read() as session:
        tenant = await _tenant(session, deps, actor, tenant_id)
        meters = await _meters(session, meter_name)
        first, last = span.days(tenant)
        stored = await read_days(session, tenant_id, [m.id for m in meters], first, last)
    return [Count(m, count_of(fold_days(s for _, s in stored.get(m.id, [])), m.aggregation)) for m in meters]


def _counts_of(
    meters: Sequence[MeterRow],
    stats: Mapping[tuple[tuple[date, date], str, str], DayStats],
    days: tuple[date, date],
    tenant_id: str,
) -> list[Count]:
    return [Count(m, count_of(stats.get((days, tenant_id, m.id)), m.aggregation)) for m in meters]


async def folded_days(
    session: AsyncSession, spans: Mapping[tuple[date, date], Sequence[str]], meter_ids: Sequence[str]
) -> dict[tuple[tuple[date, date], str, str], DayStats]:
    """(span, tenant id, meter id) -> the statistics of the meter's days in the span
    (both ends included), for each span's tenants: folded by the database in one
    statement, so a month costs one row per meter, and a hundred tenants one statement."""
    if not spans or not meter_ids:
        return {}
    ranges = list(spans)
    values: dict[str, Any] = {"meters": list(meter_ids)}
    for n, (first, last) in enumerate(ranges):
        values |= {f"tenants_{n}": list(spans[first, last]), f"first_{n}": first, f"last_{n}": last}
    values |= {"low": min(first for first, _ in ranges), "high": max(last for _, last in ranges)}
    query = _folded(len(ranges))
    return {
        (ranges[row.span], row.tenant_id, row.meter_id): DayStats(
            int(row.total), int(row.points), int(row.max_value), int(row.latest_ts), int(row.latest_value)
        )
        for row in await fetch(session, query, **values)
    }


@functools.lru_cache(maxsize=32)
def _folded(spans: int) -> Any:
    """``folded_days``'s statement for this many spans, built once: each span's tenants,
    first and last day, the meters and the outer bounds are its parameters."""
    folds = [
        select(
            literal(n, Integer).label("span"),
            DAYS.c.tenant_id,
            DAYS.c.meter_id,
            func.sum(DAYS.c.total).label("total"),
            func.sum(DAYS.c.points).label("points"),
            func.max(DAYS.c.max_value).label("max_value"),
            func.max(DAYS.c.latest_ts).label("latest_ts"),
        )
        .where(
            any_of(DAYS.c.tenant_id, f"tenants_{n}"),
            any_of(DAYS.c.meter_id, "meters"),
            DAYS.c.day >= bindparam(f"first_{n}", type_=DAYS.c.day.type),
            DAYS.c.day <= bindparam(f"last_{n}", type_=DAYS.c.day.type),
        )
        .group_by(DAYS.c.tenant_id, DAYS.c.meter_id)
        for n in range(spans)
    ]
    folded = (folds[0] if spans == 1 else union_all(*folds)).subquery()
    # The latest point's value, from the one day holding the span's latest second (a
    # second falls on one local day); the outer bounds of the spans keep it an index range.
    latest = DAYS.alias("latest")
    return compiled_once(
        select(folded, latest.c.latest_value).join(
            latest,
            and_(
                latest.c.tenant_id == folded.c.tenant_id,
                latest.c.meter_id == folded.c.meter_id,
                latest.c.day >= bindparam("low", type_=DAYS.c.day.type),
                latest.c.day <= bindparam("high", type_=DAYS.c.day.type),
                latest.c.latest_ts == folded.c.latest_ts,
            ),
        )
    )


async def month_counts_of(
    session: AsyncSession, deps: Deps, keys: Sequence[tuple[TenantRow, date | None]]
) -> list[list[Count] | ValidationFailed]:
    """For DataLoaders: for each (tenant, first day of a month or None for the month
    its clock is in), every meter's count in that month, meters oldest first. A
    constant number of statements for any number of tenants; it checks no scope, so
    the tenants must be ones the caller may see."""
    tenants = await with_clocks(session, deps, [row for row, _ in keys])
    meters = await _meters(session, None)
    # A tenant whose month cannot be named (its clock past 9999 in its timezone) fails
    # alone: a DataLoader hands an exception in the list to that key only.
    months: list[tuple[date, date] | ValidationFailed] = []
    for row, month in keys:
        try:
            months.append(Span(month=True, day=month).days(tenants[row.id]))
        except ValidationFailed as exc:
            months.append(exc)
    spans: dict[tuple[date, date], list[str]] = defaultdict(list)
    for (row, _), days in zip(keys, months, strict=True):
        if not isinstance(days, ValidationFailed):
            spans[days].append(row.id)
    stats = await folded_days(session, spans, [m.id for m in meters])
    return [
        days if isinstance(days, ValidationFailed) else _counts_of(meters, stats, days, row.id)
        for (row, _), days in zip(keys, months, strict=True)
    ]


async def period_counts(
    deps: Deps, actor: Principal, tenant_id: str, meter_name: str, first: date, last: date
) -> tuple[MeterRow, list[DayCount]]:
    """One count per day from ``first`` to ``last`` (both included), zeros too: for charts."""
    if last < first:
        raise ValidationFailed("to", f"must not be before from ({first.isoformat()})")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise ValidationFailed("to", f"spans more than {MAX_PERIOD_DAYS} days; ask for a year at most")
    async with deps.store.read() as session:
        await _tenant(session, deps, actor, tenant_id)
        (meter,) = await _meters(session, meter_name)
        stored = dict((await read_days(session, tenant_id, [meter.id], first, last)).get(meter.id, []))
    aggregation = meter.aggregation
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return meter, [DayCount(day, count_of(stored.get(day), aggregation)) for day in days]


@dataclass(frozen=True, slots=True)
class Span:
    """A day or a month, given or (None) the one the tenant's clock is in."""

    month: bool
    day: date | None = None

    def days(self, tenant: TenantNow) -> tuple[date, date]:
        """The first and the last day, both included."""
        if self.day is not None:
            anchor = self.day
        else:
            try:
                anchor = tenant.now.astimezone(tenant.zone).date()
            except OverflowError:
                raise ValidationFailed(
                    "tenantId", "the tenant's clock is past the end of the year 9999 in its timezone"
                ) from None
        return month_days(anchor) if self.month else (anchor, anchor)
