"""Daily rollups computed in one statement from the points: what ingestion maintains.

For a tenant in UTC (every bench tenant is), a point's local day is its epoch second
divided by 86,400, so one GROUP BY over ``usage_points`` gives each day's total, number
of points, largest value, and latest point (its second and value). The ingestion
workload checks this against the rows ingestion maintained; the month-count workload
builds ``usage_days`` with it after bulk-loading points.
"""

from __future__ import annotations

from typing import Any

from bench.databases import Raw

_DAY = {
    "sqlite": "date(g.dn * 86400, 'unixepoch')",
    "postgres": "DATE '1970-01-01' + CAST(g.dn AS INTEGER)",
}

_SELECT = """
SELECT g.tenant_id, g.meter_id, {day} AS day, g.total, g.points, g.max_value, g.latest_ts,
       (SELECT p.value FROM usage_points p
         WHERE p.tenant_id = g.tenant_id AND p.meter_id = g.meter_id AND p.ts = g.latest_ts) AS latest_value
FROM (SELECT tenant_id, meter_id, ts / 86400 AS dn, SUM(value) AS total, COUNT(*) AS points,
             MAX(value) AS max_value, MAX(ts) AS latest_ts
        FROM usage_points WHERE tenant_id = ? AND meter_id = ?
       GROUP BY tenant_id, meter_id, ts / 86400) g
"""

COLUMNS = "tenant_id, meter_id, day, total, points, max_value, latest_ts, latest_value"


def rollup_select(kind: str) -> str:
    return _SELECT.format(day=_DAY[kind])


async def rebuild_days(raw: Raw, tenant_id: str, meter_id: str) -> None:
    """Replace the meter's stored days with the ones its points make (one transaction)."""
    async with raw.transaction():
        await raw.execute("DELETE FROM usage_days WHERE tenant_id = ? AND meter_id = ?", tenant_id, meter_id)
        await raw.execute(
            f"INSERT INTO usage_days ({COLUMNS}) {rollup_select(raw.kind)}", tenant_id, meter_id
        )


def _normal(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((t, m, str(day), *(int(v) for v in rest)) for t, m, day, *rest in rows)


async def rollup_differences(raw: Raw, tenant_id: str, meter_id: str) -> list[str]:
    """Where the stored days differ from the ones computed from the points (none: equal)."""
    computed = _normal(await raw.fetch(rollup_select(raw.kind), tenant_id, meter_id))
    stored = _normal(
        await raw.fetch(
            f"SELECT {COLUMNS} FROM usage_days WHERE tenant_id = ? AND meter_id = ?", tenant_id, meter_id
        )
    )
    if computed == stored:
        return []
    missing = [r for r in computed if r not in stored]
    extra = [r for r in stored if r not in computed]
    return [f"computed, not stored: {r}" for r in missing[:3]] + [
        f"stored, not computed: {r}" for r in extra[:3]
    ]
