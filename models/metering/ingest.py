"""Usage: recording points and reading counts.

A batch is one transaction: its valid events are all committed together or, if the
process dies, none is; each invalid one is reported by index and skipped. Per
tenant, ingestion is serialized on the tenant's row, so the read-modify-write of
points and days is exact under any concurrency.

Each batch touches the database a fixed number of times, however many events it
holds: it loads the points and days it touches, folds the events in memory in order,
then writes points, days and idempotency keys with one executemany each. A day's
maximum or latest point is read back from that day's points only when the point it
named fell or went; sums and point counts always move by deltas.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from models.invoicing.rules import Line, check_representable
from models.kernel.errors import DomainError, IdempotencyConflict, NotFound, ValidationFailed
from models.metering.rules import (
    MAX_DAY_MICROS,
    Aggregation,
    DayStats,
    UsageCharge,
    UsageMethod,
    charge,
    count_of,
    day_bounds,
    fold_days,
    local_day,
    month_days,
    stats_of_points,
    to_micros,
)
from models.metering.service import usage_price
from models.platform.access import Principal, require_visible
from models.platform.deps import Deps
from models.platform.events import EventType, emit
from models.platform.store import ROW_LOCK
from models.tables import (
    MeterRow,
    SubscriptionRow,
    TenantRow,
    TestClockRow,
    UsageChargeRow,
    UsageDayRow,
    UsageKeyRow,
    UsagePointRow,
)
from models.test_clocks.service import clock_for_tenant

BATCH_LIMIT = 10_000
FUTURE_SLACK = timedelta(minutes=5)
KEY_RETENTION = timedelta(days=35)
MAX_PERIOD_DAYS = 366
# The last second whose day is a date in every timezone (UTC+14 included).
LAST_TS = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp()) - 1
# Rows per IN (...) list: well under SQLite's and asyncpg's bind-parameter limits.
CHUNK = 2_000

POINTS = UsagePointRow.__table__  # type: ignore[attr-defined]
DAYS = UsageDayRow.__table__  # type: ignore[attr-defined]
KEYS = UsageKeyRow.__table__  # type: ignore[attr-defined]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Tenant:
    row: TenantRow
    now: datetime
    zone: ZoneInfo

    @property
    def latest_ts(self) -> int:
        """The last second an event may carry: 5 minutes after the tenant's clock."""
        return min(math.floor(self.now.timestamp()) + int(FUTURE_SLACK.total_seconds()), LAST_TS)


@dataclass(frozen=True, slots=True)
class Event:
    """One validated usage event. ``method`` None deletes the point."""

    index: int
    tenant_id: str
    meter: MeterRow
    method: UsageMethod | None
    value: int  # millionths, never negative
    ts: int
    ts_given: bool
    key: str | None


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one event left: the point's value now (0 once deleted)."""

    meter_name: str
    timestamp: datetime
    value: int
    duplicate: bool
    existed: bool = True  # for a delete: whether there was a point


@dataclass(slots=True)
class BatchOutcome:
    accepted: int = 0
    duplicates: int = 0
    errors: list[tuple[int, DomainError]] = field(default_factory=list)
    recorded: dict[int, Recorded] = field(default_factory=dict)


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


async def _lock_tenants(session: AsyncSession, deps: Deps, actor: Principal, ids: Iterable[Any]) -> dict[str, _Tenant]:
    """The tenants the actor may meter, row-locked in id order (no deadlocks between
    batches naming several tenants), each with its clock's now and timezone."""
    visible = sorted(i for i in set(ids) if isinstance(i, str) and actor.can_meter(i))
    if not visible:
        return {}
    rows = (await session.scalars(
        select(TenantRow).where(TenantRow.id.in_(visible)).order_by(TenantRow.id).with_for_update(**ROW_LOCK)
    )).all()
    return await _with_clocks(session, deps, rows)


async def _with_clocks(session: AsyncSession, deps: Deps, rows: Sequence[TenantRow]) -> dict[str, _Tenant]:
    clock_ids = {r.test_clock_id for r in rows if r.test_clock_id}
    clocks = {c.id: c for c in (await session.scalars(select(TestClockRow).where(TestClockRow.id.in_(clock_ids)))).all()} if clock_ids else {}
    return {
        r.id: _Tenant(r, clock_for_tenant(deps, r, clocks.get(r.test_clock_id or "")).now(), ZoneInfo(r.timezone))
        for r in rows
    }


def _parse(
    index: int, item: Mapping[str, Any], path: str, tenants: Mapping[str, _Tenant], meters: Mapping[str, MeterRow],
    latest: Mapping[str, int], single: bool, delete_point: bool = False,
) -> Event:
    """One event, validated; the field paths of its errors start at ``path`` (with
    ``[index]`` appended for a batch)."""
    try:
        return _parse_event(index, item, tenants, meters, latest, delete_point)
    except _Invalid as exc:
        prefix = path if single else f"{path}[{index}]"
        raise ValidationFailed(f"{prefix}.{exc.field}", exc.message) from None


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message


def _parse_event(
    index: int, item: Mapping[str, Any], tenants: Mapping[str, _Tenant], meters: Mapping[str, MeterRow],
    latest: Mapping[str, int], delete_point: bool,
) -> Event:
    tenant_id = item.get("tenantId")
    tenant = tenants.get(tenant_id)  # type: ignore[arg-type]
    if tenant is None:
        raise NotFound("Tenant", str(tenant_id))
    meter = meters.get(item.get("meterName"))  # type: ignore[arg-type]
    if meter is None:
        raise NotFound("Meter", str(item.get("meterName")))
    if delete_point:
        method, value = None, 0
    else:
        method = item.get("method") or UsageMethod.ADD
        if method.__class__ is not UsageMethod:
            try:
                method = UsageMethod(method)
            except ValueError:
                raise _Invalid("method", "must be ADD, SUB or DIRECT") from None
        raw = item.get("value")
        if raw.__class__ is not float and (raw.__class__ is not int):
            if not isinstance(raw, (int, float)) or isinstance(raw, bool):
                raise _Invalid("value", "must be a number")
        try:
            value = to_micros(raw)
        except ValueError as exc:
            raise _Invalid("value", str(exc)) from None
        if value < 0:
            raise _Invalid("value", "must not be negative; use method SUB to take usage away")
    at = item.get("timestamp")
    if at is None:
        at, given = tenant.now, False
        ts = math.floor(at.timestamp())
        if ts > LAST_TS:
            raise _Invalid("timestamp", "the tenant's clock is at the end of the calendar; give a timestamp")
    else:
        given = True
        if not isinstance(at, datetime) or at.utcoffset() is None:
            raise _Invalid("timestamp", "needs a UTC offset, e.g. 2026-11-21T09:30:00Z")
        ts = math.floor(at.timestamp())
        if ts > latest[tenant_id]:
            raise _Invalid(
                "timestamp",
                f"is more than 5 minutes after the tenant's clock ({tenant.now.isoformat()}); "
                "record usage when it happens",
            )
        if ts < 0:
            raise _Invalid("timestamp", "must not be before 1970-01-01T00:00:00Z")
    key = item.get("idempotencyKey")
    if key is not None:
        key = key.strip() if isinstance(key, str) else key
        if not isinstance(key, str) or not key or len(key) > 255:
            raise _Invalid("idempotencyKey", "must be 1 to 255 characters when given")
    return Event(index, tenant.row.id, meter, method, value, ts, given, key)


class _DayFinder:
    """``local_day`` for many timestamps of one timezone, by quarter hours: every
    offset in use since 1970 is a whole quarter hour, and a quarter hour whose first
    and last seconds fall on one local day lies wholly in it (checked, not assumed)."""

    QUARTER = 900

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.known: dict[int, date | None] = {}

    def day(self, ts: int) -> date:
        bucket = ts // self.QUARTER
        found = self.known.get(bucket, False)
        if found is False:
            start = bucket * self.QUARTER
            first, last = local_day(start, self.zone), local_day(start + self.QUARTER - 1, self.zone)
            found = self.known[bucket] = first if first == last else None
        return found if found is not None else local_day(ts, self.zone)  # type: ignore[return-value]


def _same_event(prior: Any, event: Event) -> bool:
    return (
        prior.meter_id == event.meter.id and prior.method == (event.method.value if event.method else "DELETE")
        and prior.value == event.value and prior.ts_given == event.ts_given
        and (not event.ts_given or prior.ts == event.ts)
    )


async def _load_keys(session: AsyncSession, events: Sequence[Event]) -> dict[tuple[str, str], Any]:
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e.key is not None:
            by_tenant[e.tenant_id].append(e.key)
    found: dict[tuple[str, str], Any] = {}
    postgres = _is_postgres(session)
    for tenant_id, keys in by_tenant.items():
        for chunk in [sorted(set(keys))] if postgres else _chunks(sorted(set(keys))):
            if postgres:
                rows = await session.execute(_PG_KEYS, {"t": tenant_id, "keys": chunk})
            else:
                rows = await session.execute(
                    select(KEYS.c.key, KEYS.c.meter_id, KEYS.c.method, KEYS.c.value, KEYS.c.ts, KEYS.c.ts_given)
                    .where(KEYS.c.tenant_id == tenant_id, KEYS.c.key.in_(chunk))
                )
            for row in rows:
                found[(tenant_id, row.key)] = row
    return found


# On PostgreSQL, one lookup per value through the primary key, whatever the table's
# statistics say: right after a bulk load the planner would otherwise scan every
# point of the meter and filter (seconds per batch, growing with the table).
_PG_POINTS = text(
    "SELECT v.ts, p.value FROM unnest(CAST(:stamps AS BIGINT[])) AS v(ts) JOIN LATERAL "
    "(SELECT value FROM usage_points WHERE tenant_id = :t AND meter_id = :m AND ts = v.ts) AS p ON true"
)
_PG_KEYS = text(
    "SELECT k.key, k.meter_id, k.method, k.value, k.ts, k.ts_given FROM unnest(CAST(:keys AS VARCHAR[])) AS v(key) "
    "JOIN LATERAL (SELECT * FROM usage_keys WHERE tenant_id = :t AND key = v.key) AS k ON true"
)


async def _insert_many(session: AsyncSession, table: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """INSERT new ``rows`` with the driver itself, inside the session's transaction:
    COPY on PostgreSQL (a third of executemany's time for 10,000 rows), executemany
    on SQLite. SQLAlchemy's per-row parameter processing cost as much as the inserts
    themselves; the rows must hold values the driver takes as they are."""
    connection = await session.connection()
    driver: Any = (await connection.get_raw_connection()).driver_connection
    if connection.dialect.name == "postgresql":
        if not driver.is_in_transaction():  # SQLAlchemy begins on its first statement: make sure it has
            await session.execute(text("SELECT 1"))
        await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
    else:
        marks = ", ".join("?" for _ in columns)
        await driver.executemany(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows)


async def _driver_value(session: AsyncSession, column: Any, value: Any) -> Any:
    """``value`` as the column's type hands it to the driver (a UTC datetime: text on SQLite)."""
    processor = column.type.bind_processor((await session.connection()).dialect)
    return processor(value) if processor else value


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def _load_points(
    session: AsyncSession, touched: Mapping[tuple[str, str], set[int]]
) -> dict[tuple[str, str, int], int]:
    found: dict[tuple[str, str, int], int] = {}
    postgres = _is_postgres(session)
    for (tenant_id, meter_id), stamps in touched.items():
        for chunk in [sorted(stamps)] if postgres else _chunks(sorted(stamps)):
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


def _stats(row: Any) -> DayStats:
    return DayStats(row.total, row.points, row.max_value, row.latest_ts, row.latest_value)


async def _load_days(
    session: AsyncSession, touched: Mapping[tuple[str, str], set[date]]
) -> dict[tuple[str, str, date], DayStats]:
    found: dict[tuple[str, str, date], DayStats] = {}
    for (tenant_id, meter_id), days in touched.items():
        for chunk in _chunks(sorted(days)):
            rows = await session.execute(
                select(DAYS).where(DAYS.c.tenant_id == tenant_id, DAYS.c.meter_id == meter_id, DAYS.c.day.in_(chunk))
            )
            for row in rows:
                found[(tenant_id, meter_id, row.day)] = _stats(row)
    return found


class _Fold:
    """The batch's events applied in order to the points they touch, in memory."""

    def __init__(self, points: dict[tuple[str, str, int], int], days: dict[tuple[str, str, date], DayStats]) -> None:
        self.initial = points
        self.current: dict[tuple[str, str, int], int | None] = dict(points)
        self.day_stats = days
        self.day_totals: dict[tuple[str, str, date], int] = {k: v.total for k, v in days.items()}

    def apply(self, event: Event, day: date, prefix: str) -> tuple[int | None, int | None]:
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
                f"{prefix}.value", f"would take the day's usage of {event.meter.name!r} past {MAX_DAY_MICROS // 10**6:,} "
                "units, the most one day can hold",
            )
        self.current[point] = new
        self.day_totals[day_key] = total
        return old, new


async def _write(
    session: AsyncSession, fold: _Fold, days_of: Mapping[tuple[str, str, int], date], zones: Mapping[str, ZoneInfo]
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
    point_key = and_(POINTS.c.tenant_id == bindparam("t"), POINTS.c.meter_id == bindparam("m"), POINTS.c.ts == bindparam("s"))
    if inserts:
        await _insert_many(session, POINTS, ("tenant_id", "meter_id", "ts", "value"), inserts)
    if updates:
        await session.execute(update(POINTS).where(point_key).values(value=bindparam("v")), updates)
    if deletes:
        await session.execute(delete(POINTS).where(point_key), deletes)
    await _write_days(session, fold, changed, zones)


def _next_day(stats: DayStats | None, changes: list[tuple[int, int | None, int | None]]) -> tuple[DayStats | None, bool]:
    """The day after its points changed, and whether its maximum or latest point must
    be read back from the points (the one they named fell or was deleted)."""
    total = (stats.total if stats else 0) + sum((new or 0) - (old or 0) for _, old, new in changes)
    points = (stats.points if stats else 0) + sum((new is not None) - (old is not None) for _, old, new in changes)
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
    session: AsyncSession, fold: _Fold, changed: Mapping[tuple[str, str, date], list[tuple[int, int | None, int | None]]],
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
            "total": after.total, "points": after.points, "max_value": after.max_value,
            "latest_ts": after.latest_ts, "latest_value": after.latest_value,
        }
        if before is None:
            inserts.append({"tenant_id": tenant_id, "meter_id": meter_id, "day": day, **values})
        else:
            updates.append({**params, **{f"n_{k}": v for k, v in values.items()}})
    day_key_clause = and_(DAYS.c.tenant_id == bindparam("t"), DAYS.c.meter_id == bindparam("m"), DAYS.c.day == bindparam("d"))
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
    rows = (await session.execute(
        select(POINTS.c.ts, POINTS.c.value).where(
            POINTS.c.tenant_id == tenant_id, POINTS.c.meter_id == meter_id, POINTS.c.ts >= first, POINTS.c.ts < stop
        )
    )).all()
    stats = stats_of_points((ts, value) for ts, value in rows if local_day(ts, zone) == day)
    assert stats is not None, "a stored day has points"
    await session.execute(
        update(DAYS).where(DAYS.c.tenant_id == tenant_id, DAYS.c.meter_id == meter_id, DAYS.c.day == day)
        .values(max_value=stats.max_value, latest_ts=stats.latest_ts, latest_value=stats.latest_value)
    )


async def record_batch(
    deps: Deps, actor: Principal, raw: Sequence[Mapping[str, Any]], *, path: str = "events",
    single: bool = False, delete_point: bool = False,
) -> BatchOutcome:
    """Record usage events (camelCase mappings, as the API names their fields) in one
    transaction. Errors are per event: ``outcome.errors`` holds (index, error)."""
    if len(raw) > BATCH_LIMIT:
        raise ValidationFailed(
            path, f"holds {len(raw):,} events; at most {BATCH_LIMIT:,} fit in one call, so split it into smaller batches"
        )
    outcome = BatchOutcome()
    if not raw:
        return outcome
    now = deps.clock.now()
    async with deps.store.transaction() as session:
        tenants = await _lock_tenants(session, deps, actor, (item.get("tenantId") for item in raw))
        names = {item.get("meterName") for item in raw}
        meters = {
            m.name: m for m in (await session.scalars(
                select(MeterRow).where(MeterRow.name.in_([n for n in names if isinstance(n, str)]))
            )).all()
        }
        events: list[Event] = []
        latest = {tenant_id: t.latest_ts for tenant_id, t in tenants.items()}
        for index, item in enumerate(raw):
            try:
                events.append(_parse(index, item, path, tenants, meters, latest, single, delete_point))
            except DomainError as exc:
                outcome.errors.append((index, exc))
        zones = {tenant_id: t.zone for tenant_id, t in tenants.items()}
        day_finders = {tenant_id: _DayFinder(zone) for tenant_id, zone in zones.items()}
        days_of: dict[tuple[str, str, int], date] = {}
        touched_points: dict[tuple[str, str], set[int]] = defaultdict(set)
        touched_days: dict[tuple[str, str], set[date]] = defaultdict(set)
        for e in events:
            point = (e.tenant_id, e.meter.id, e.ts)
            if point not in days_of:
                days_of[point] = day = day_finders[e.tenant_id].day(e.ts)
                touched_points[(e.tenant_id, e.meter.id)].add(e.ts)
                touched_days[(e.tenant_id, e.meter.id)].add(day)
        known_keys = await _load_keys(session, events)
        fold = _Fold(await _load_points(session, touched_points), await _load_days(session, touched_days))
        new_keys: dict[tuple[str, str], Any] = {}
        accepted_by: dict[str, Counter[str]] = defaultdict(Counter)
        for e in events:
            prefix = path if single else f"{path}[{e.index}]"
            if e.key is not None:
                prior = known_keys.get((e.tenant_id, e.key)) or new_keys.get((e.tenant_id, e.key))
                if prior is not None:
                    if not _same_event(prior, e):
                        outcome.errors.append((e.index, IdempotencyConflict(
                            f"Idempotency key {e.key!r} ({prefix}.idempotencyKey) was first used for a different "
                            "usage event; use a new key for a new event."
                        )))
                        continue
                    outcome.duplicates += 1
                    if single:  # the point the first event made, as it is now
                        point = (e.tenant_id, e.meter.id, prior.ts)
                        value = fold.current[point] if point in fold.current else await session.scalar(
                            select(POINTS.c.value).where(
                                POINTS.c.tenant_id == e.tenant_id, POINTS.c.meter_id == e.meter.id,
                                POINTS.c.ts == prior.ts,
                            )
                        )
                        outcome.recorded[e.index] = Recorded(
                            e.meter.name, datetime.fromtimestamp(prior.ts, UTC), value or 0, True, value is not None
                        )
                    continue
            try:
                old, new = fold.apply(e, days_of[(e.tenant_id, e.meter.id, e.ts)], prefix)
            except DomainError as exc:
                outcome.errors.append((e.index, exc))
                continue
            outcome.accepted += 1
            accepted_by[e.tenant_id][e.meter.name] += 1
            if e.key is not None:
                new_keys[(e.tenant_id, e.key)] = _KeyRow(e.meter.id, e.method.value if e.method else "DELETE", e.value, e.ts, e.ts_given)
            if single:
                outcome.recorded[e.index] = Recorded(
                    e.meter.name, datetime.fromtimestamp(e.ts, UTC), new or 0, False, old is not None
                )
        await _write(session, fold, days_of, zones)
        if new_keys:
            columns = ("tenant_id", "key", "meter_id", "method", "value", "ts", "ts_given", "created_at")
            at = await _driver_value(session, KEYS.c.created_at, now)
            await _insert_many(session, KEYS, columns, [
                (t, k, r.meter_id, r.method, r.value, r.ts, r.ts_given, at) for (t, k), r in new_keys.items()
            ])
        for tenant_id, meters_accepted in accepted_by.items():
            emit(session, deps.bus, EventType.USAGE_RECORDED, tenant_id, {
                "tenantId": tenant_id, "accepted": meters_accepted.total(), "meters": dict(meters_accepted),
            }, now)
    outcome.errors.sort(key=lambda pair: pair[0])
    return outcome


@dataclass(frozen=True, slots=True)
class _KeyRow:
    meter_id: str
    method: str
    value: int
    ts: int
    ts_given: bool


async def record_usage(deps: Deps, actor: Principal, item: Mapping[str, Any]) -> Recorded:
    outcome = await record_batch(deps, actor, [item], path="input", single=True)
    if outcome.errors:
        raise outcome.errors[0][1]
    return outcome.recorded[0]


async def delete_usage(deps: Deps, actor: Principal, tenant_id: str, meter_name: str, timestamp: datetime) -> Recorded:
    """Remove the point at ``timestamp`` (as SaaSus's DeleteMeteringUnitTimestampCount)."""
    item = {"tenantId": tenant_id, "meterName": meter_name, "timestamp": timestamp}
    outcome = await record_batch(deps, actor, [item], path="input", single=True, delete_point=True)
    if outcome.errors:
        error = outcome.errors[0][1]
        if isinstance(error, ValidationFailed):  # deleteUsage takes arguments, not an input object
            problems = [(f.removeprefix("input."), m) for f, m in error.problems]
            raise ValidationFailed(problems[0][0], problems[0][1], problems=problems) from None
        raise error
    return outcome.recorded[0]


async def purge_expired_keys(deps: Deps) -> int:
    """Forget usage idempotency keys older than 35 days (the worker and `bill` run it)."""
    async with deps.store.transaction() as session:
        result = await session.execute(delete(KEYS).where(KEYS.c.created_at < deps.clock.now() - KEY_RETENTION))
    return result.rowcount or 0


# -- counts --------------------------------------------------------------------


async def read_days(
    session: AsyncSession, tenant_id: str, meter_ids: Sequence[str], first: date, last: date
) -> dict[str, list[tuple[date, DayStats]]]:
    """Each meter's stored days from ``first`` to ``last`` (both included), oldest
    first: one indexed range read."""
    rows = await session.execute(
        select(DAYS).where(
            DAYS.c.tenant_id == tenant_id, DAYS.c.meter_id.in_(meter_ids), DAYS.c.day >= first, DAYS.c.day <= last
        ).order_by(DAYS.c.meter_id, DAYS.c.day)
    )
    result: dict[str, list[tuple[date, DayStats]]] = defaultdict(list)
    for row in rows:
        result[row.meter_id].append((row.day, _stats(row)))
    return result


@dataclass(frozen=True, slots=True)
class Count:
    meter: MeterRow
    value: int  # millionths

    @property
    def aggregation(self) -> Aggregation:
        return Aggregation(self.meter.aggregation)


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    value: int


async def _tenant(session: AsyncSession, deps: Deps, actor: Principal, tenant_id: str) -> _Tenant:
    require_visible(actor.can_meter(tenant_id), "Tenant", tenant_id)
    row = await session.get(TenantRow, tenant_id)
    if row is None:
        raise NotFound("Tenant", tenant_id)
    return (await _with_clocks(session, deps, [row]))[row.id]


async def _meters(session: AsyncSession, meter_name: str | None) -> list[MeterRow]:
    query = select(MeterRow).order_by(MeterRow.created_at, MeterRow.id)
    if meter_name is not None:
        query = query.where(MeterRow.name == meter_name)
    meters = list((await session.scalars(query)).all())
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
    return [
        Count(m, count_of(fold_days(s for _, s in stored.get(m.id, [])), Aggregation(m.aggregation)))
        for m in meters
    ]


def _counts_of(
    meters: Sequence[MeterRow], stats: Mapping[tuple[tuple[date, date], str, str], DayStats],
    days: tuple[date, date], tenant_id: str,
) -> list[Count]:
    return [Count(m, count_of(stats.get((days, tenant_id, m.id)), Aggregation(m.aggregation))) for m in meters]


async def folded_days(
    session: AsyncSession, spans: Mapping[tuple[date, date], Sequence[str]], meter_ids: Sequence[str]
) -> dict[tuple[tuple[date, date], str, str], DayStats]:
    """(span, tenant id, meter id) -> the statistics of the meter's days in the span
    (both ends included), for each span's tenants: folded by the database in one
    statement, so a month costs one row per meter, and a hundred tenants one statement."""
    if not spans or not meter_ids:
        return {}
    ranges = list(spans)
    folds = [
        select(
            literal(n, Integer).label("span"), DAYS.c.tenant_id, DAYS.c.meter_id,
            func.sum(DAYS.c.total).label("total"), func.sum(DAYS.c.points).label("points"),
            func.max(DAYS.c.max_value).label("max_value"), func.max(DAYS.c.latest_ts).label("latest_ts"),
        )
        .where(
            DAYS.c.tenant_id.in_(spans[first, last]), DAYS.c.meter_id.in_(meter_ids),
            DAYS.c.day >= first, DAYS.c.day <= last,
        )
        .group_by(DAYS.c.tenant_id, DAYS.c.meter_id)
        for n, (first, last) in enumerate(ranges)
    ]
    folded = (folds[0] if len(folds) == 1 else union_all(*folds)).subquery()
    # The latest point's value, from the one day holding the span's latest second (a
    # second falls on one local day); the outer bounds of the spans keep it an index range.
    latest = DAYS.alias("latest")
    query = select(folded, latest.c.latest_value).join(
        latest,
        and_(
            latest.c.tenant_id == folded.c.tenant_id, latest.c.meter_id == folded.c.meter_id,
            latest.c.day >= min(first for first, _ in ranges), latest.c.day <= max(last for _, last in ranges),
            latest.c.latest_ts == folded.c.latest_ts,
        ),
    )
    return {
        (ranges[row.span], row.tenant_id, row.meter_id): DayStats(
            int(row.total), int(row.points), int(row.max_value), int(row.latest_ts), int(row.latest_value)
        )
        for row in await session.execute(query)
    }


async def month_counts_of(
    session: AsyncSession, deps: Deps, keys: Sequence[tuple[TenantRow, date | None]]
) -> list[list[Count] | ValidationFailed]:
    """For DataLoaders: for each (tenant, first day of a month or None for the month
    its clock is in), every meter's count in that month, meters oldest first. A
    constant number of statements for any number of tenants; it checks no scope, so
    the tenants must be ones the caller may see."""
    tenants = await _with_clocks(session, deps, [row for row, _ in keys])
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
    aggregation = Aggregation(meter.aggregation)
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return meter, [DayCount(day, count_of(stored.get(day), aggregation)) for day in days]


@dataclass(frozen=True, slots=True)
class Span:
    """A day or a month, given or (None) the one the tenant's clock is in."""

    month: bool
    day: date | None = None

    def days(self, tenant: _Tenant) -> tuple[date, date]:
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


# -- billing -------------------------------------------------------------------


async def usage_between(
    session: AsyncSession, tenant: TenantRow, meter_ids: Sequence[str], start: datetime, stop: datetime
) -> dict[str, DayStats | None]:
    """Each meter's statistics over the seconds [start, stop): the whole local days in
    between from their rollups, the two partial days at the ends from their points
    (a primary-key range read each)."""
    zone = ZoneInfo(tenant.timezone)
    first_ts, stop_ts = math.ceil(start.timestamp()), math.ceil(stop.timestamp())
    if stop_ts <= first_ts or not meter_ids:
        return dict.fromkeys(meter_ids)
    first_day, last_day = local_day(first_ts, zone), local_day(stop_ts - 1, zone)
    middle: dict[str, list[tuple[date, DayStats]]] = {}
    if (last_day - first_day).days > 1:
        middle = await read_days(
            session, tenant.id, meter_ids, first_day + timedelta(days=1), last_day - timedelta(days=1)
        )
    # The end days' points: up to the end of the first day, and from the start of the last.
    _, first_stop = day_bounds(first_day, zone)
    last_start, _ = day_bounds(last_day, zone)
    spans = [(first_ts, stop_ts)] if first_day == last_day else [(first_ts, first_stop), (last_start, stop_ts)]
    edges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for low, high in spans:
        rows = await session.execute(
            select(POINTS.c.meter_id, POINTS.c.ts, POINTS.c.value).where(
                POINTS.c.tenant_id == tenant.id, POINTS.c.meter_id.in_(meter_ids),
                POINTS.c.ts >= max(low, first_ts), POINTS.c.ts < min(high, stop_ts),
            )
        )
        for meter_id, ts, value in rows:
            if local_day(ts, zone) in (first_day, last_day):
                edges[meter_id].append((ts, value))
    result: dict[str, DayStats | None] = {}
    for meter_id in meter_ids:
        days = [stats for _, stats in middle.get(meter_id, [])]
        edge = stats_of_points(sorted(set(edges.get(meter_id, []))))
        result[meter_id] = fold_days([*days, edge] if edge else days)
    return result


@dataclass(frozen=True, slots=True)
class PlanSpan:
    """A plan the subscription had, until when (the last one: until the bill's end)."""

    plan_id: str
    until: datetime


def plan_spans(subscription: SubscriptionRow, cut: datetime) -> list[PlanSpan]:
    """The plans of the current period in order: the ones it switched from, then the
    one it has now, up to ``cut``."""
    earlier = [PlanSpan(s["plan_id"], datetime.fromisoformat(s["until"])) for s in subscription.usage_plans or []]
    return [*earlier, PlanSpan(subscription.plan_id, cut)]


async def usage_charges(
    session: AsyncSession, tenant: TenantRow, subscription: SubscriptionRow, cut: datetime,
) -> list[UsageCharge]:
    """The usage of the subscription's current period up to ``cut``, to the second,
    priced by the plans it had in that time (see ``charge``): one charge per meter any
    of them charges for, in name order. Periods do not overlap and each bill ends where
    the next period starts, so every second of usage is billed once."""
    spans = plan_spans(subscription, cut)
    plan_ids = list(dict.fromkeys(s.plan_id for s in spans))
    rows = (await session.execute(
        select(UsageChargeRow, MeterRow).join(MeterRow, MeterRow.id == UsageChargeRow.meter_id)
        .where(UsageChargeRow.plan_id.in_(plan_ids)).order_by(MeterRow.name)
    )).all()
    if not rows:
        return []
    prices = {(c.plan_id, m.id): usage_price(c) for c, m in rows}
    meters = {m.id: m for _, m in rows}
    start = subscription.current_period_start
    stats_by_span = []
    for span in spans:
        stats_by_span.append(await usage_between(session, tenant, list(meters), start, min(span.until, cut)))
        start = max(start, span.until)
    result = [
        charge(
            [(prices.get((span.plan_id, meter.id)), stats[meter.id]) for span, stats in zip(spans, stats_by_span,
                                                                                              strict=True)],
            meter_name=meter.name, display_name=meter.display_name, aggregation=Aggregation(meter.aggregation),
            currency=tenant.currency, period=(subscription.current_period_start, cut),
        )
        for meter in sorted(meters.values(), key=lambda m: m.name)
    ]
    check_representable(
        [c.line() for c in result], *(c.quantity for c in result), field="usage",
        what=f"the usage of subscription {subscription.id!r} in this period (a line's units or amount, or their "
        "total) would exceed",
    )
    return result


def usage_lines(charges: Sequence[UsageCharge]) -> list[Line]:
    return [c.line() for c in charges]
