"""The entitlement check in as few statements as it takes: one, and a second for a
METERED feature of a tenant with a live subscription.

The first statement (``CHECK``) reads, for one request, everything ``service.entitlement``
reads in seven: the API key by its secret's hash (when the caller sent a stored key),
the tenant and its test clock, the member (when asked about one), the unarchived
feature and its meter, the live subscription, what the tenant holds of a LIMIT feature,
and the grants of the feature by the subscription's plan and held add-ons, one row per
grant (every other column repeated). The answer is then ``rules.decide``, the very rule
the service applies, and every failure the service raises is raised here in the same
order (an invisible or unknown tenant, an unknown member, an unknown feature).

A METERED feature's usage is its meter's count over the billing period, which
``metering.billing.usage_between`` defines by local days of the tenant's timezone: the
whole days from their rollups, the two edge days from their points. The days depend on
the period and the timezone, which the first statement reads, so the second
(``usage_statement``) reads the rollups of the days in between and the edge days'
points, folded by the database into one row per edge (sum, count, maximum, latest)
when every second of that edge lies on its local day at one UTC offset. Where a
timezone's offset changes within an edge day, its points are read one by one and
assigned to days in Python exactly as ``usage_between`` does.

The statements run on one raw driver connection (``Reader``: asyncpg or aiosqlite),
each as its own implicit transaction: no BEGIN, no ROLLBACK, no pre-ping.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.entitlements.rules import Entitlement, Grant, Standing, decide
from models.kernel.enums import Aggregation, FeatureKind, Overage, Role, SeatType, SubscriptionStatus
from models.kernel.errors import DomainError, NotFound
from models.metering.rules import DayStats, count_of, day_bounds, fold_days, local_day, stats_of_points
from models.platform.access import Principal
from models.platform.deps import Deps

# ?1 the key's hash (NULL: no stored key), ?2 the tenant, ?3 the member (NULL: none), ?4 the feature's code.
CHECK = """SELECT k.role, k.tenant_id, k.id, t.id, t.timezone, c.frozen_time, m.seat_type,
  f.id, f.kind, f.meter_id, mt.aggregation,
  s.status, s.current_period_start, s.current_period_end, s.past_due_at, u.used_micros,
  g.id, g.limit_units, g.overage, g.seat_types, g.addon_id, sa.quantity
FROM (SELECT 1 AS one) AS q
LEFT JOIN api_keys k ON k.secret_hash = ?1 AND k.revoked_at IS NULL
LEFT JOIN tenants t ON t.id = ?2
LEFT JOIN test_clocks c ON c.id = t.test_clock_id
LEFT JOIN members m ON m.id = ?3 AND m.tenant_id = t.id AND m.status = 'ACTIVE'
LEFT JOIN features f ON f.code = ?4 AND f.archived_at IS NULL
LEFT JOIN meters mt ON mt.id = f.meter_id
LEFT JOIN subscriptions s ON s.tenant_id = t.id AND s.status <> 'CANCELLED'
LEFT JOIN feature_usage u ON u.tenant_id = t.id AND u.feature_id = f.id
LEFT JOIN feature_grants g ON g.feature_id = f.id AND g.revoked_at IS NULL AND (g.plan_id = s.plan_id
  OR g.addon_id IN (SELECT h.addon_id FROM subscription_addons h WHERE h.subscription_id = s.id))
LEFT JOIN subscription_addons sa ON sa.subscription_id = s.id AND sa.addon_id = g.addon_id"""

# The parts of the usage statement; ?1 the tenant, ?2 the meter.
_DAYS = (  # the whole local days between the edges, from their rollups
    "SELECT 0, total, points, max_value, latest_ts, latest_value FROM usage_days "
    "WHERE tenant_id = ?1 AND meter_id = ?2 AND day >= ?{0} AND day <= ?{1}"
)
_EDGE = (  # an edge day folded by the database: its sum, count, maximum and latest point
    "SELECT 1, SUM(p.value), COUNT(*), MAX(p.value), MAX(p.ts), (SELECT l.value FROM usage_points l "
    "WHERE l.tenant_id = ?1 AND l.meter_id = ?2 AND l.ts >= ?{0} AND l.ts < ?{1} ORDER BY l.ts DESC LIMIT 1) "
    "FROM usage_points p WHERE p.tenant_id = ?1 AND p.meter_id = ?2 AND p.ts >= ?{0} AND p.ts < ?{1}"
)
_POINTS = (  # an edge day whose UTC offset changes: its points, each assigned to its day here
    "SELECT 2, value, 1, value, ts, value FROM usage_points "
    "WHERE tenant_id = ?1 AND meter_id = ?2 AND ts >= ?{0} AND ts < ?{1}"
)


class Reader:
    """One raw driver connection: asyncpg's (PostgreSQL) or aiosqlite's (SQLite, in
    autocommit mode, as the store's connections are). SQL is written with ``?N``
    placeholders; ``statements`` counts what was run."""

    def __init__(self, driver: Any, dialect: str) -> None:
        self.driver = driver
        self.postgres = dialect == "postgresql"
        self.statements = 0

    async def fetch(self, sql: str, args: Sequence[Any]) -> list[Sequence[Any]]:
        self.statements += 1
        if self.postgres:
            return list(await self.driver.fetch(_numbered(sql), *args))
        return list(await self.driver.execute_fetchall(sql, args))

    def instant(self, value: Any) -> datetime | None:
        """A UTCDateTime column's value, as SQLAlchemy reads it: aware, in UTC."""
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value  # SQLite: text
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def day(self, value: date) -> Any:
        return value if self.postgres else value.isoformat()


@functools.cache
def _numbered(sql: str) -> str:
    """``?N`` as asyncpg's ``$N``."""
    return sql.replace("?", "$")


@dataclass(frozen=True, slots=True)
class Answer:
    """Who asked (None: the stored key is unknown or revoked) and what they are told:
    the entitlement, or the error the service raises (NOT_FOUND)."""

    principal: Principal | None
    entitlement: Entitlement | None = None
    error: DomainError | None = None


async def check(
    reader: Reader,
    deps: Deps,
    *,
    key_hash: str | None,
    principal: Principal | None,
    tenant_id: str,
    code: str,
    member_id: str | None,
) -> Answer:
    """``service.entitlement(deps, principal, tenant_id, code, member_id)``, with the
    caller found by ``key_hash`` when given (``principal`` otherwise)."""
    rows = await reader.fetch(CHECK, (key_hash, tenant_id, member_id or None, code))
    head = rows[0]
    if key_hash is not None:
        role, key_tenant, key_id = head[0], head[1], head[2]
        principal = None if role is None else Principal(Role(role), key_tenant, key_id)
    if principal is None:
        return Answer(None)
    found, timezone, frozen, seat_type, feature_id, kind, meter_id, aggregation = head[3:11]
    if not principal.can_meter(tenant_id) or found is None:
        return Answer(principal, error=NotFound("Tenant", tenant_id))
    if member_id and seat_type is None:
        return Answer(principal, error=NotFound("Member", member_id))
    if feature_id is None:
        return Answer(principal, error=NotFound("Feature", code))
    status, period_start, period_end, past_due_at, held = head[11:16]
    now = reader.instant(frozen) or deps.clock.now()
    feature_kind = FeatureKind(kind)
    start, end = reader.instant(period_start), reader.instant(period_end)
    used = 0
    if feature_kind is FeatureKind.LIMIT:
        used = held or 0
    elif feature_kind is FeatureKind.METERED and status is not None and start and end:
        used = await period_usage(reader, tenant_id, meter_id, Aggregation(aggregation), timezone, start, end)
    standing = None
    if status is not None:
        standing = Standing(
            SubscriptionStatus(status), reader.instant(past_due_at), deps.policy.past_due_grace
        )
    decided = decide(
        code,
        feature_kind,
        [_grant(row) for row in rows if row[16] is not None],
        standing,
        now,
        seat_type=SeatType(seat_type) if member_id else None,
        used_micros=used,
        resets_at=end,
    )
    return Answer(principal, decided)


def _grant(row: Sequence[Any]) -> Grant:
    limit, overage, seat_types, addon_id, quantity = row[17:22]
    if isinstance(seat_types, str):  # SQLite's JSON is text; asyncpg's codec decodes it
        seat_types = json.loads(seat_types)
    return Grant(
        limit_units=limit,
        overage=Overage(overage),
        seat_types=frozenset(SeatType(s) for s in seat_types) if seat_types is not None else None,
        units=(quantity or 0) if addon_id else 1,
    )


async def period_usage(
    reader: Reader,
    tenant_id: str,
    meter_id: str,
    aggregation: Aggregation,
    timezone: str,
    start: datetime,
    stop: datetime,
) -> int:
    """The meter's count over the seconds [start, stop), as ``usage_between`` and
    ``count_of`` make it, in one statement."""
    zone = ZoneInfo(timezone)
    first_ts, stop_ts = math.ceil(start.timestamp()), math.ceil(stop.timestamp())
    if stop_ts <= first_ts:
        return 0
    first_day, last_day = local_day(first_ts, zone), local_day(stop_ts - 1, zone)
    _, first_stop = day_bounds(first_day, zone)
    last_start, _ = day_bounds(last_day, zone)
    spans = (
        [(first_ts, stop_ts)] if first_day == last_day else [(first_ts, first_stop), (last_start, stop_ts)]
    )
    parts: list[str] = []
    args: list[Any] = [tenant_id, meter_id]
    if (last_day - first_day).days > 1:
        parts.append(_DAYS.format(len(args) + 1, len(args) + 2))
        args += [reader.day(first_day + timedelta(days=1)), reader.day(last_day - timedelta(days=1))]
    for low, high in spans:
        low, high = max(low, first_ts), min(high, stop_ts)
        clean = _one_day(timezone, low, high, (first_day, last_day))
        parts.append((_EDGE if clean else _POINTS).format(len(args) + 1, len(args) + 2))
        args += [low, high]
    days: list[DayStats] = []
    points: list[tuple[int, int]] = []
    for part, total, count, biggest, latest_ts, latest_value in await reader.fetch(
        " UNION ALL ".join(parts), args
    ):
        if part == 2:
            if local_day(latest_ts, zone) in (first_day, last_day):
                points.append((latest_ts, latest_value))
        elif count:
            days.append(DayStats(int(total), int(count), int(biggest), int(latest_ts), int(latest_value)))
    edge = stats_of_points(sorted(set(points)))
    return count_of(fold_days([*days, edge] if edge else days), aggregation)


QUARTER_HOUR = 900  # every UTC offset in use since 1970 is a whole number of quarter hours


@functools.lru_cache(maxsize=4096)
def _one_day(timezone: str, low: int, high: int, days: tuple[date, date]) -> bool:
    """Whether every second of [low, high) falls on one of ``days`` at one UTC offset,
    so the database may fold the span's points without asking which day each is on.
    Looked at quarter hour by quarter hour (and at both ends), once per span."""
    zone = ZoneInfo(timezone)
    offset = datetime.fromtimestamp(low, zone).utcoffset()
    probes = [*range(low, high, QUARTER_HOUR), high - 1]
    if any(datetime.fromtimestamp(ts, zone).utcoffset() != offset for ts in probes):
        return False
    return local_day(low, zone) == local_day(high - 1, zone) and local_day(low, zone) in days
