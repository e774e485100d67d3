"""Daily rollups: the points a batch touches and their days, folded in memory and
written back with one statement per kind of change.

Quantities are exact: integers of millionths of a unit. A day keeps every statistic
(sum, number of points, maximum, latest point), so a count in any aggregation is read
from days without touching points. Sums and point counts move by deltas; a day's
maximum or latest point is read back from that day's points only when the point it
named fell or went."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    and_,
    bindparam,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import UsageMethod
from models.kernel.errors import ValidationFailed
from models.metering.rules import MAX_DAY_MICROS, DayStats, day_bounds, local_day, stats_of_points
from models.platform.bulk import chunks, insert_many, is_postgres
from models.tables import (
    MeterRow,
    UsageDayRow,
    UsagePointRow,
)
from models.tables.base import table_of

POINTS = table_of(UsagePointRow)


DAYS = table_of(UsageDayRow)


class DayFinder:
    """``local_day`` for many timestamps of one timezone, by quarter hours: every
    offset in use since 1970 is a whole quarter hour, and a quarter hour whose first
    and last seconds fall on one local day lies wholly in it (checked, not assumed)."""

    QUARTER = 900

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.known: dict[int, date | None] = {}

    def day(self, ts: int) -> date:
        bucket = ts // self.QUARTER
        if bucket not in self.known:
            start = bucket * self.QUARTER
            first, last = local_day(start, self.zone), local_day(start + self.QUARTER - 1, self.zone)
            self.known[bucket] = first if first == last else None
        found = self.known[bucket]
        return found if found is not None else local_day(ts, self.zone)


# On PostgreSQL, one lookup per value through the primary key, whatever the table's
# statistics say: right after a bulk load the planner would otherwise scan every
# point of the meter and filter (seconds per batch, growing with the table).
_PG_POINTS = text(
    "SELECT v.ts, p.value FROM unnest(CAST(:stamps AS BIGINT[])) AS v(ts) JOIN LATERAL "
    "(SELECT value FROM usage_points WHERE tenant_id = :t AND meter_id = :m AND ts = v.ts) AS p ON true"
)


async def load_points(
    session: AsyncSession, touched: Mapping[tuple[str, str], set[int]]
) -> dict[tuple[str, str, int], int]:
    found: dict[tuple[str, str, int], int] = {}
    postgres = is_postgres(session)
    for (tenant_id, meter_id), stamps in touched.items():
        for chunk in [sorted(stamps)] if postgres else chunks(sorted(stamps)):
            if postgres:
                rows = await session.execute(_PG_POINTS, {"t": tenant_id, "m": meter_id, "stamps": chunk})
            else:
                rows = await session.execute(
                    select(POINTS.c.ts, POINTS.c.value).where(
                        POINTS.c.tenant_id == tenant_id, POINTS.c.meter_id == meter_id, POINTS.c.ts.in_(chunk)
                    )
                )
            for ts, value in rows:
                found[(tenant_id, meter_id, ts)] = value
    return found


def day_stats(row: Any) -> DayStats:
    return DayStats(row.total, row.points, row.max_value, row.latest_ts, row.latest_value)


async def load_days(
    session: AsyncSession, touched: Mapping[tuple[str, str], set[date]]
) -> dict[tuple[str, str, date], DayStats]:
    found: dict[tuple[str, str, date], DayStats] = {}
    for (tenant_id, meter_id), days in touched.items():
        for chunk in chunks(sorted(days)):
            rows = await session.execute(
                select(DAYS).where(
                    DAYS.c.tenant_id == tenant_id, DAYS.c.meter_id == meter_id, DAYS.c.day.in_(chunk)
                )
            )
            for row in rows:
                found[(tenant_id, meter_id, row.day)] = day_stats(row)
    return found


class Fold:
    """The batch's events applied in order to the points they touch, in memory."""

    def __init__(
        self, points: dict[tuple[str, str, int], int], days: dict[tuple[str, str, date], DayStats]
    ) -> None:
        self.initial = points
        self.current: dict[tuple[str, str, int], int | None] = dict(points)
        self.day_stats = days
        self.day_totals: dict[tuple[str, str, date], int] = {k: v.total for k, v in days.items()}

    def apply(self, event: UsageEvent, day: date, prefix: str) -> tuple[int | None, int | None]:
        point = (event.tenant_id, event.meter.id, event.ts)
        old = self.current.get(point)
        if event.method is None:
            new = None
        elif event.method is UsageMethod.ADD:
            new = (old or 0) + event.value
        elif event.method is UsageMethod.SUB:
            new = (old or 0) - event.value
        else:
            new = event.value
        day_key = (event.tenant_id, event.meter.id, day)
        total = self.day_totals.get(day_key, 0) + (new or 0) - (old or 0)
        if abs(new or 0) > MAX_DAY_MICROS or abs(total) > MAX_DAY_MICROS:
            raise ValidationFailed(
                f"{prefix}.value",
                f"would take the day's usage of {event.meter.name!r} past {MAX_DAY_MICROS // 10**6:,} "
                "units, the most one day can hold",
            )
        self.current[point] = new
        self.day_totals[day_key] = total
        return old, new


async def write_fold(
    session: AsyncSession,
    fold: Fold,
    days_of: Mapping[tuple[str, str, int], date],
    zones: Mapping[str, ZoneInfo],
) -> None:
    inserts: list[tuple[Any, ...]] = []
    updates, deletes = [], []
    changed: dict[tuple[str, str, date], list[tuple[int, int | None, int | None]]] = defaultdict(list)
    for point, new in fold.current.items():
        old = fold.initial.get(point)
        if old == new:
            continue
        tenant_id, meter_id, ts = point
        params = {"t": tenant_id, "m": meter_id, "s": ts}
        if new is None:
            deletes.append(params)
        elif old is None:
            inserts.append((tenant_id, meter_id, ts, new))
        else:
            updates.append({**params, "v": new})
        changed[(tenant_id, meter_id, days_of[point])].append((ts, old, new))
    point_key = and_(
        POINTS.c.tenant_id == bindparam("t"),
        POINTS.c.meter_id == bindparam("m"),
        POINTS.c.ts == bindparam("s"),
    )
    if inserts:
        await insert_many(session, POINTS, ("tenant_id", "meter_id", "ts", "value"), inserts)
    if updates:
        await session.execute(update(POINTS).where(point_key).values(value=bindparam("v")), updates)
    if deletes:
        await session.execute(delete(POINTS).where(point_key), deletes)
    await _write_days(session, fold, changed, zones)


def _next_day(
    stats: DayStats | None, changes: list[tuple[int, int | None, int | None]]
) -> tuple[DayStats | None, bool]:
    """The day after its points changed, and whether its maximum or latest point must
    be read back from the points (the one they named fell or was deleted)."""
    total = (stats.total if stats else 0) + sum((new or 0) - (old or 0) for _, old, new in changes)
    points = (stats.points if stats else 0) + sum(
        (new is not None) - (old is not None) for _, old, new in changes
    )
    if points == 0:
        return None, False
    present = [(ts, new) for ts, _, new in changes if new is not None]
    recompute = False
    maximum = stats.max_value if stats else None
    named_ts = stats.latest_ts if stats else None
    latest_ts, latest_value = (stats.latest_ts, stats.latest_value) if stats else (None, None)
    for ts, old, new in changes:
        if stats and old is not None and old == stats.max_value and (new is None or new < old):
            recompute = True  # the maximum fell: another point may now be the largest
        if ts == named_ts:
            if new is None:
                latest_ts = latest_value = None  # the latest point went
            else:
                latest_value = new
    if present:
        maximum = max([v for _, v in present] + ([maximum] if maximum is not None else []))
    # Points not touched are all older than the one the day named, so only a touched
    # point later than it can take its place.
    newer = [(ts, v) for ts, v in present if named_ts is None or ts > named_ts]
    if newer:
        latest_ts, latest_value = max(newer)
    if latest_ts is None:
        recompute = True
    return DayStats(total, points, maximum or 0, latest_ts or 0, latest_value or 0), recompute


async def _write_days(
    session: AsyncSession,
    fold: Fold,
    changed: Mapping[tuple[str, str, date], list[tuple[int, int | None, int | None]]],
    zones: Mapping[str, ZoneInfo],
) -> None:
    inserts, updates, deletes, recompute = [], [], [], []
    for day_key, changes in changed.items():
        before = fold.day_stats.get(day_key)
        after, stale = _next_day(before, changes)
        tenant_id, meter_id, day = day_key
        params = {"t": tenant_id, "m": meter_id, "d": day}
        if after is None:
            deletes.append(params)
            continue
        if stale:
            recompute.append(day_key)
        values = {
            "total": after.total,
            "points": after.points,
            "max_value": after.max_value,
            "latest_ts": after.latest_ts,
            "latest_value": after.latest_value,
        }
        if before is None:
            inserts.append({"tenant_id": tenant_id, "meter_id": meter_id, "day": day, **values})
        else:
            updates.append({**params, **{f"n_{k}": v for k, v in values.items()}})
    day_key_clause = and_(
        DAYS.c.tenant_id == bindparam("t"), DAYS.c.meter_id == bindparam("m"), DAYS.c.day == bindparam("d")
    )
    if inserts:
        await session.execute(insert(DAYS), inserts)
    if updates:
        columns = ("total", "points", "max_value", "latest_ts", "latest_value")
        await session.execute(
            update(DAYS).where(day_key_clause).values({c: bindparam(f"n_{c}") for c in columns}), updates
        )
    if deletes:
        await session.execute(delete(DAYS).where(day_key_clause), deletes)
    for tenant_id, meter_id, day in recompute:
        await _recompute(session, tenant_id, meter_id, day, zones[tenant_id])


async def _recompute(session: AsyncSession, tenant_id: str, meter_id: str, day: date, zone: ZoneInfo) -> None:
    """Read a day's maximum and latest point back from that day's points only."""
    # A day is not always one span of seconds (where a clock went back over midnight,
    # an hour of the day before comes after it), so read around it and keep its points.
    first, _ = day_bounds(day - timedelta(days=1), zone)
    _, stop = day_bounds(day + timedelta(days=1), zone)
    rows = (
        await session.execute(
            select(POINTS.c.ts, POINTS.c.value).where(
                POINTS.c.tenant_id == tenant_id,
                POINTS.c.meter_id == meter_id,
                POINTS.c.ts >= first,
                POINTS.c.ts < stop,
            )
        )
    ).all()
    stats = stats_of_points((ts, value) for ts, value in rows if local_day(ts, zone) == day)
    assert stats is not None, "a stored day has points"
    await session.execute(
        update(DAYS)
        .where(DAYS.c.tenant_id == tenant_id, DAYS.c.meter_id == meter_id, DAYS.c.day == day)
        .values(max_value=stats.max_value, latest_ts=stats.latest_ts, latest_value=stats.latest_value)
    )


async def read_days(
    session: AsyncSession, tenant_id: str, meter_ids: Sequence[str], first: date, last: date
) -> dict[str, list[tuple[date, DayStats]]]:
    """Each meter's stored days from ``first`` to ``last`` (both included), oldest
    first: one indexed range read."""
    rows = await session.execute(
        select(DAYS)
        .where(
            DAYS.c.tenant_id == tenant_id,
            DAYS.c.meter_id.in_(meter_ids),
            DAYS.c.day >= first,
            DAYS.c.day <= last,
        )
        .order_by(DAYS.c.meter_id, DAYS.c.day)
    )
    result: dict[str, list[tuple[date, DayStats]]] = defaultdict(list)
    for row in rows:
        result[row.meter_id].append((row.day, day_stats(row)))
    return result


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One validated usage event. ``method`` None deletes the point."""

    index: int
    tenant_id: str
    meter: MeterRow
    method: UsageMethod | None
    value: int  # millionths, never negative
    ts: int
    ts_given: bool
    key: str | None
