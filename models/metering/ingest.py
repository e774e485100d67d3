"""Ingestion: recording usage events as points and daily rollups.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import UsageMethod
from models.kernel.errors import DomainError, IdempotencyConflict, NotFound, ValidationFailed
from models.metering.rollups import POINTS, DayFinder, Fold, UsageEvent, load_days, load_points, write_fold
from models.metering.rules import to_micros
from models.platform import locks
from models.platform.access import Principal
from models.platform.bulk import chunks, driver_value, insert_many, is_postgres
from models.platform.clocks import TenantNow, with_clocks
from models.platform.deps import Deps
from models.platform.events import emit
from models.platform.payloads import UsageRecordedPayload
from models.tables import (
    MeterRow,
    UsageKeyRow,
)
from models.tables.base import table_of
from models.tables.metering import UsageBillingRow

BATCH_LIMIT = 10_000
FUTURE_SLACK = timedelta(minutes=5)
KEY_RETENTION = timedelta(days=35)
# The last second whose day is a date in every timezone (UTC+14 included).
LAST_TS = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp()) - 1

KEYS = table_of(UsageKeyRow)


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


async def _lock_tenants(
    session: AsyncSession, deps: Deps, actor: Principal, ids: Iterable[Any]
) -> dict[str, TenantNow]:
    """The tenants the actor may meter, row-locked in id order (no deadlocks between
    batches naming several tenants), each with its clock's now and timezone."""
    visible = sorted(i for i in set(ids) if isinstance(i, str) and actor.can_meter(i))
    if not visible:
        return {}
    return await with_clocks(session, deps, await locks.tenants(session, visible))


def _latest_ts(tenant: TenantNow) -> int:
    """The last second an event may carry: 5 minutes after the tenant's clock."""
    return min(math.floor(tenant.now.timestamp()) + int(FUTURE_SLACK.total_seconds()), LAST_TS)


def _parse(
    index: int,
    item: Mapping[str, Any],
    path: str,
    tenants: Mapping[str, TenantNow],
    meters: Mapping[str, MeterRow],
    latest: Mapping[str, int],
    single: bool,
    delete_point: bool = False,
) -> UsageEvent:
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
    index: int,
    item: Mapping[str, Any],
    tenants: Mapping[str, TenantNow],
    meters: Mapping[str, MeterRow],
    latest: Mapping[str, int],
    delete_point: bool,
) -> UsageEvent:
    tenant_id, meter_name = item.get("tenantId"), item.get("meterName")
    tenant = tenants.get(tenant_id) if isinstance(tenant_id, str) else None
    if tenant is None:
        raise NotFound("Tenant", str(tenant_id))
    meter = meters.get(meter_name) if isinstance(meter_name, str) else None
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
    return UsageEvent(index, tenant.row.id, meter, method, value, ts, given, key)


def _same_event(prior: Any, event: UsageEvent) -> bool:
    return (
        prior.meter_id == event.meter.id
        and prior.method == (event.method.value if event.method else "DELETE")
        and prior.value == event.value
        and prior.ts_given == event.ts_given
        and (not event.ts_given or prior.ts == event.ts)
    )


async def _load_keys(session: AsyncSession, events: Sequence[UsageEvent]) -> dict[tuple[str, str], Any]:
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e.key is not None:
            by_tenant[e.tenant_id].append(e.key)
    found: dict[tuple[str, str], Any] = {}
    postgres = is_postgres(session)
    for tenant_id, keys in by_tenant.items():
        for chunk in [sorted(set(keys))] if postgres else chunks(sorted(set(keys))):
            if postgres:
                rows = await session.execute(_PG_KEYS, {"t": tenant_id, "keys": chunk})
            else:
                rows = await session.execute(
                    select(
                        KEYS.c.key, KEYS.c.meter_id, KEYS.c.method, KEYS.c.value, KEYS.c.ts, KEYS.c.ts_given
                    ).where(KEYS.c.tenant_id == tenant_id, KEYS.c.key.in_(chunk))
                )
            for row in rows:
                found[(tenant_id, row.key)] = row
    return found


_PG_KEYS = text(
    "SELECT k.key, k.meter_id, k.method, k.value, k.ts, k.ts_given FROM unnest(CAST(:keys AS VARCHAR[])) "
    "AS v(key) "
    "JOIN LATERAL (SELECT * FROM usage_keys WHERE tenant_id = :t AND key = v.key) AS k ON true"
)


async def record_batch(
    deps: Deps,
    actor: Principal,
    raw: Sequence[Mapping[str, Any]],
    *,
    path: str = "events",
    single: bool = False,
    delete_point: bool = False,
) -> BatchOutcome:
    """Record usage events (camelCase mappings, as the API names their fields) in one
    transaction. Errors are per event: ``outcome.errors`` holds (index, error)."""
    if len(raw) > BATCH_LIMIT:
        raise ValidationFailed(
            path,
            f"holds {len(raw):,} events; at most {BATCH_LIMIT:,} fit in one call, so split it into smaller "
            "batches",
        )
    if not raw:
        return BatchOutcome()
    async with deps.store.transaction() as session:
        return await record_in(session, deps, actor, raw, path=path, single=single, delete_point=delete_point)


async def record_in(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    raw: Sequence[Mapping[str, Any]],
    *,
    path: str = "events",
    single: bool = False,
    delete_point: bool = False,
) -> BatchOutcome:
    """``record_batch``'s work in the caller's transaction (which may already hold the
    tenants' locks: consumeEntitlement checks a limit and records under one)."""
    outcome = BatchOutcome()
    now = deps.clock.now()
    tenants = await _lock_tenants(session, deps, actor, (item.get("tenantId") for item in raw))
    names = {item.get("meterName") for item in raw}
    meters = {
        m.name: m
        for m in (
            await session.scalars(
                select(MeterRow).where(MeterRow.name.in_([n for n in names if isinstance(n, str)]))
            )
        ).all()
    }
    events: list[UsageEvent] = []
    latest = {tenant_id: _latest_ts(t) for tenant_id, t in tenants.items()}
    for index, item in enumerate(raw):
        try:
            events.append(_parse(index, item, path, tenants, meters, latest, single, delete_point))
        except DomainError as exc:
            outcome.errors.append((index, exc))
    zones = {tenant_id: t.zone for tenant_id, t in tenants.items()}
    day_finders = {tenant_id: DayFinder(zone) for tenant_id, zone in zones.items()}
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
    fold = Fold(await load_points(session, touched_points), await load_days(session, touched_days))
    new_keys: dict[tuple[str, str], Any] = {}
    accepted_by: dict[str, Counter[str]] = defaultdict(Counter)
    # Usage for time already billed is late: the next invoice that bills usage bills it.
    billed_until = {
        tenant_id: math.ceil(t.row.usage_billed_until.timestamp())
        for tenant_id, t in tenants.items()
        if t.row.usage_billed_until is not None
    }
    late: dict[str, list[int]] = {}
    for e in events:
        prefix = path if single else f"{path}[{e.index}]"
        if e.key is not None:
            prior = known_keys.get((e.tenant_id, e.key)) or new_keys.get((e.tenant_id, e.key))
            if prior is not None:
                if not _same_event(prior, e):
                    outcome.errors.append(
                        (
                            e.index,
                            IdempotencyConflict(
                                f"Idempotency key {e.key!r} ({prefix}.idempotencyKey) was first used "
                                "for a different "
                                "usage event; use a new key for a new event."
                            ),
                        )
                    )
                    continue
                outcome.duplicates += 1
                if single:  # the point the first event made, as it is now
                    point = (e.tenant_id, e.meter.id, prior.ts)
                    value = (
                        fold.current[point]
                        if point in fold.current
                        else await session.scalar(
                            select(POINTS.c.value).where(
                                POINTS.c.tenant_id == e.tenant_id,
                                POINTS.c.meter_id == e.meter.id,
                                POINTS.c.ts == prior.ts,
                            )
                        )
                    )
                    outcome.recorded[e.index] = Recorded(
                        e.meter.name,
                        datetime.fromtimestamp(prior.ts, UTC),
                        value or 0,
                        True,
                        value is not None,
                    )
                continue
        try:
            old, new = fold.apply(e, days_of[(e.tenant_id, e.meter.id, e.ts)], prefix)
        except DomainError as exc:
            outcome.errors.append((e.index, exc))
            continue
        outcome.accepted += 1
        accepted_by[e.tenant_id][e.meter.name] += 1
        if e.ts < billed_until.get(e.tenant_id, LAST_TS + 1):
            late.setdefault(e.tenant_id, []).append(e.ts)
        if e.key is not None:
            new_keys[(e.tenant_id, e.key)] = _KeyRow(
                e.meter.id, e.method.value if e.method else "DELETE", e.value, e.ts, e.ts_given
            )
        if single:
            outcome.recorded[e.index] = Recorded(
                e.meter.name, datetime.fromtimestamp(e.ts, UTC), new or 0, False, old is not None
            )
    await write_fold(session, fold, days_of, zones)
    await _mark_late(session, late)
    if new_keys:
        columns = ("tenant_id", "key", "meter_id", "method", "value", "ts", "ts_given", "created_at")
        at = await driver_value(session, KEYS.c.created_at, now)
        await insert_many(
            session,
            KEYS,
            columns,
            [(t, k, r.meter_id, r.method, r.value, r.ts, r.ts_given, at) for (t, k), r in new_keys.items()],
        )
    for tenant_id, meters_accepted in accepted_by.items():
        recorded = UsageRecordedPayload(
            tenant_id=tenant_id, accepted=meters_accepted.total(), meters=dict(meters_accepted)
        )
        emit(session, deps, recorded, now)
    outcome.errors.sort(key=lambda pair: pair[0])
    return outcome


async def _mark_late(session: AsyncSession, late: Mapping[str, list[int]]) -> None:
    """Mark the billed periods that late usage changed (``subscriptions.usage_billing``)."""
    for tenant_id, stamps in late.items():
        first, last = (datetime.fromtimestamp(ts, UTC) for ts in (min(stamps), max(stamps)))
        await session.execute(
            update(UsageBillingRow)
            .where(
                UsageBillingRow.tenant_id == tenant_id,
                UsageBillingRow.finalized_at.is_not(None),
                UsageBillingRow.period_start <= last,
                UsageBillingRow.period_end > first,
            )
            .values(stale=True)
            .execution_options(synchronize_session=False)
        )


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


async def delete_usage(
    deps: Deps, actor: Principal, tenant_id: str, meter_name: str, timestamp: datetime
) -> Recorded:
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
        result = await session.execute(
            delete(KEYS).where(KEYS.c.created_at < deps.clock.now() - KEY_RETENTION)
        )
    return result.rowcount or 0


# -- counts --------------------------------------------------------------------


# -- billing -------------------------------------------------------------------
