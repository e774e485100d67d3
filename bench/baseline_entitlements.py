"""The baseline of the entitlement check (``POST /entitlement {tenantId, featureCode}``,
served by bench.baseline): what a good engineer would write by hand with the bare
driver, answering ``{"entitlement": ENTITLEMENT}`` exactly as the gateway's ``data``
does for bench.workloads.entitlements.CHECK.

On the request's connection: the key lookup (one indexed SELECT on the secret's
SHA-256, as bench.baseline's other routes), then one statement joining the tenant, its
test clock, the feature, its meter, the live subscription, what the tenant holds of the
feature and the grants of its plan and held add-ons (a row per grant); for a METERED
feature a third one reads the period's usage: the whole local days in between from the
daily rollups, the two edge days from their points (as models/metering/billing.py
defines a period's usage). The rules (standing, the PAST_DUE grace, limits summed over
units, BLOCK and ALLOW, rounding) are written out here again, in a few lines.

Left out, so that it stays a floor: member checks (``memberId``, seat types), archived
or unknown features and tenants other than as a 404, and any caching.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

MICRO = 1_000_000
GRACE = timedelta(days=14)  # GATEWAY_PAST_DUE_GRACE_DAYS' default, which the bench's server runs with

KEY = "SELECT role, tenant_id FROM api_keys WHERE secret_hash = ? AND revoked_at IS NULL"
CHECK = """SELECT t.timezone, c.frozen_time, f.kind, f.meter_id, m.aggregation,
  s.status, s.current_period_start, s.current_period_end, s.past_due_at, u.used_micros,
  g.id, g.limit_units, g.overage, g.addon_id, sa.quantity
FROM tenants t
JOIN features f ON f.code = ? AND f.archived_at IS NULL
LEFT JOIN test_clocks c ON c.id = t.test_clock_id
LEFT JOIN meters m ON m.id = f.meter_id
LEFT JOIN subscriptions s ON s.tenant_id = t.id AND s.status <> 'CANCELLED'
LEFT JOIN feature_usage u ON u.tenant_id = t.id AND u.feature_id = f.id
LEFT JOIN feature_grants g ON g.feature_id = f.id AND g.revoked_at IS NULL AND (g.plan_id = s.plan_id
  OR g.addon_id IN (SELECT addon_id FROM subscription_addons WHERE subscription_id = s.id))
LEFT JOIN subscription_addons sa ON sa.subscription_id = s.id AND sa.addon_id = g.addon_id
WHERE t.id = ?"""
USAGE = """SELECT total, points, max_value, latest_ts, latest_value FROM usage_days
WHERE tenant_id = ? AND meter_id = ? AND day > ? AND day < ?
UNION ALL
SELECT value, 1, value, ts, value FROM usage_points
WHERE tenant_id = ? AND meter_id = ? AND ((ts >= ? AND ts < ?) OR (ts >= ? AND ts < ?))"""


def _local(ts: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, zone).date()


def _midnight(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


async def _metered(
    conn: Any, tenant_id: str, meter_id: str, aggregation: str, zone: ZoneInfo, start: datetime, end: datetime
) -> int:
    """The meter's count over [start, end) in millionths."""
    first_ts, stop_ts = math.ceil(start.timestamp()), math.ceil(end.timestamp())
    first_day, last_day = _local(first_ts, zone), _local(stop_ts - 1, zone)
    first_stop = _midnight(first_day + timedelta(days=1), zone)
    last_start = _midnight(last_day, zone) if last_day != first_day else first_stop
    rows = await conn.fetch(
        USAGE,
        tenant_id,
        meter_id,
        conn.day(first_day),
        conn.day(last_day),
        tenant_id,
        meter_id,
        first_ts,
        min(first_stop, stop_ts),
        max(last_start, first_ts),
        stop_ts,
    )
    if not rows:
        return 0
    total = sum(int(r[0]) for r in rows)
    if aggregation == "SUM":
        return total
    if aggregation == "MAX":
        return max(int(r[2]) for r in rows)
    if aggregation == "COUNT":
        return sum(int(r[1]) for r in rows) * MICRO
    return int(max(rows, key=lambda r: r[3])[4])


def _shown(
    kind: str,
    enabled: bool,
    reason: str | None,
    limit: int | None,
    used: int | None,
    overage: str | None,
    resets: str | None,
) -> dict[str, Any]:
    return {
        "featureCode": None,  # filled by the caller, first
        "kind": kind,
        "enabled": enabled,
        "reason": reason,
        "limit": limit,
        "used": None if used is None else -(-used // MICRO),
        "remaining": None if limit is None or used is None else max(limit * MICRO - used, 0) // MICRO,
        "overage": overage,
        "resetsAt": resets,
    }


async def check_entitlement(conn: Any, tenant_id: str, code: str) -> dict[str, Any] | None:
    """The tenant's entitlement to the feature, or None when either is unknown."""
    rows = await conn.fetch(CHECK, code, tenant_id)
    if not rows:
        return None
    timezone, frozen, kind, meter_id, aggregation, status, start, end, past_due_at, held = rows[0][:10]
    grants = {r[10]: (r[11], r[12], 1 if r[13] is None else int(r[14])) for r in rows if r[10] is not None}
    now = conn.instant(frozen) if frozen is not None else datetime.now(ZoneInfo("UTC"))
    if kind == "BOOLEAN":
        used = None
    elif kind == "LIMIT":
        used = int(held or 0)
    elif status is None:
        used = 0
    else:
        used = await _metered(
            conn, tenant_id, meter_id, aggregation, ZoneInfo(timezone), conn.instant(start), conn.instant(end)
        )
    if status is None or not grants:
        answer = _shown(
            kind, False, "SUBSCRIPTION_INACTIVE" if status is None else "NOT_IN_PLAN", None, used, None, None
        )
    else:
        limits = [limit for limit, _, _ in grants.values()]
        limit = (
            None if kind == "BOOLEAN" or None in limits else sum(l * units for l, _, units in grants.values())
        )
        overage = (
            None
            if kind == "BOOLEAN"
            else ("ALLOW" if any(o == "ALLOW" for _, o, _ in grants.values()) else "BLOCK")
        )
        resets = conn.time(end) if kind == "METERED" else None
        standing = status in ("TRIALING", "ACTIVE") or (
            status == "PAST_DUE" and (past_due_at is None or now < conn.instant(past_due_at) + GRACE)
        )
        reason = None
        if not standing:
            reason = "SUBSCRIPTION_INACTIVE"
        elif limit is not None and overage == "BLOCK" and (used or 0) >= limit * MICRO:
            reason = "LIMIT_REACHED"
        answer = _shown(kind, reason is None, reason, limit, used, overage, resets)
    answer["featureCode"] = code
    return answer


def may_read(role: str, key_tenant: str | None, tenant_id: str) -> bool:
    """ADMIN keys, and the tenant's own TENANT and PARTNER keys, read its entitlements."""
    return role == "ADMIN" or (role in ("TENANT", "PARTNER") and key_tenant == tenant_id)
