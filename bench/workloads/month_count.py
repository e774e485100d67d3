"""meterUnitMonthCount over millions of points: service and HTTP vs one SQL statement.

One tenant, in timezone UTC so that a local day is a UTC day. For each size of
``profile.point_sizes``, a SUM meter of its own gets that many points spread evenly
over a year from 2025-01-01 (one every ``365 days / size`` seconds), bulk-loaded with
the bare driver in primary-key order (asyncpg ``copy_records_to_table``, sqlite
``executemany``); its ``usage_days`` are then built from its points by one INSERT ...
SELECT ... GROUP BY computing what ingestion maintains (bench.workloads.rollup). The
table keeps the smaller sizes' points, so at 5M the meter has 5M points and
``usage_points`` 6M. Then, cycling over the year's full months, each path is timed
call by call, back to back, after a round of untimed calls over every month:

- service: ``metering_counts.counts(deps, operator(), tenant, meter, Span(month=True, day=...))``;
- http: ``meterUnitMonthCount`` through a real `serve` process (one kept-alive connection);
- sql (the baseline): ``SELECT SUM(total) FROM usage_days`` over the month's days,
  hand-written, through the same driver.

Every answer is checked against the baseline's sum.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.core import BenchError, Check, Context, Row, measure, percentile, workload
from bench.databases import Raw
from bench.server import Server
from bench.workloads.rollup import rebuild_days
from models.metering import counts as metering_counts
from models.platform.access import operator

START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 365 * 86_400
TARGET_MS = 5.0
TARGET_FROM_POINTS = 5_000_000
LOAD_CHUNK = 500_000

MONTH_COUNT = """query($tenantId: ID!, $meterName: String!, $month: String!) {
  meterUnitMonthCount(tenantId: $tenantId, meterName: $meterName, month: $month) { count }
}"""

SQL_SUM = """SELECT COALESCE(SUM(total), 0) FROM usage_days
WHERE tenant_id = ? AND meter_id = ? AND day >= ? AND day < ?"""


def label(points: int) -> str:
    return f"{points // 1_000_000}M" if points % 1_000_000 == 0 else f"{points:,}"


class Points:
    """``size`` points of one meter, one every ``365 days / size`` seconds from START, in
    the order of the primary key: a bulk load that appends to the index."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.step = max(1, SPAN_SECONDS // size)
        self.start = int(START.timestamp())

    def records(
        self, tenant_id: str, meter_id: str, first: int, stop: int
    ) -> list[tuple[str, str, int, int]]:
        return [
            (tenant_id, meter_id, self.start + i * self.step, (i * 7919 % 1000 + 1) * 1000)
            for i in range(first, min(stop, self.size))
        ]

    def months(self) -> list[date]:
        """The full months the points span."""
        last = datetime.fromtimestamp(self.start + (self.size - 1) * self.step, UTC).date()
        months, first = [], START.date()
        while True:
            following = _month_end(first)
            if following > last + timedelta(days=1):
                return months
            months.append(first)
            first = following


def _month_end(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


async def _load(raw: Raw, points: Points, tenant_id: str, meter_id: str) -> None:
    chunks = (
        points.records(tenant_id, meter_id, first, first + LOAD_CHUNK)
        for first in range(0, points.size, LOAD_CHUNK)
    )
    await raw.bulk_load("usage_points", ("tenant_id", "meter_id", "ts", "value"), chunks)


async def _timed(
    ctx: Context,
    months: list[date],
    expected: dict[date, int],
    call: Callable[[date], Awaitable[int]],
    path: str,
) -> list[float]:
    """Milliseconds of each timed call, back to back, once every month was asked untimed.
    (Alternating paths call by call slows all three, the baseline most, by waking the
    other process or thread each time: a cost of the harness, not of any path.) Every
    answer must be the month's SQL sum."""
    samples = []
    warmup = max(ctx.profile.warmup, len(months))
    for n in range(warmup + ctx.profile.count_calls):
        month = months[n % len(months)]
        began = time.perf_counter()
        value = await call(month)
        elapsed = time.perf_counter() - began
        if value != expected[month]:
            raise BenchError(f"{path} counted {value} for {month:%Y-%m}; the SQL sum is {expected[month]}")
        if n >= warmup:
            samples.append(elapsed * 1000)
    return samples


async def _measure_size(ctx: Context, raw: Raw, server: Server, tenant_id: str, size: int) -> list[Row]:
    db = ctx.database
    points = Points(size)
    months = points.months()
    meter_id, meter = await ctx.new_meter(f"bench_counts_{size}")
    ctx.log(f"month_count: loading {label(size)} points")
    began = time.perf_counter()
    await _load(raw, points, tenant_id, meter_id)
    loaded = time.perf_counter() - began
    await rebuild_days(raw, tenant_id, meter_id)
    if raw.kind == "postgres":
        await raw.execute("ANALYZE usage_points")  # as autovacuum would after such a load
        await raw.execute("ANALYZE usage_days")
    else:
        await raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # reads start without the load's WAL to search
    setup = time.perf_counter() - began
    stored = await raw.fetchval(
        "SELECT SUM(points) FROM usage_days WHERE tenant_id = ? AND meter_id = ?", tenant_id, meter_id
    )
    if int(stored or 0) != size:
        raise BenchError(f"usage_days counts {stored} points; {size} were loaded")

    async def sql(month: date) -> int:
        return int(await raw.fetchval(SQL_SUM, tenant_id, meter_id, month, _month_end(month)))

    async def service(month: date) -> int:
        (count,) = await metering_counts.counts(
            ctx.deps, operator(), tenant_id, meter, metering_counts.Span(month=True, day=month)
        )
        return count.value

    async def http(month: date) -> int:
        data: Any = await server.graphql(
            MONTH_COUNT, {"tenantId": tenant_id, "meterName": meter, "month": f"{month:%Y-%m}"}
        )
        return round(data["meterUnitMonthCount"]["count"] * 1_000_000)

    ctx.log(f"month_count: {ctx.profile.count_calls} calls per path at {label(size)} points")
    expected = {month: await sql(month) for month in months}
    baseline = await _timed(ctx, months, expected, sql, "the SQL baseline")
    timed = {
        "service": await _timed(ctx, months, expected, service, "metering_counts.counts"),
        "http": await _timed(ctx, months, expected, http, "meterUnitMonthCount"),
    }
    at = f"@ {label(size)} points"
    targets = [Check("<=", TARGET_MS)] if size >= TARGET_FROM_POINTS else []
    loader = "copy_records_to_table" if raw.kind == "postgres" else "executemany"
    rows = [
        measure(
            "month_count/setup",
            db,
            f"load + rollup {at}",
            setup,
            "s",
            note=f"{loader} {loaded:.1f} s, rollup {setup - loaded:.1f} s; {len(months)} full months, UTC",
        )
    ]
    for path, samples in timed.items():
        rows.append(
            measure(
                f"month_count/{path}",
                db,
                f"p50 {at}",
                percentile(samples, 50),
                "ms",
                baseline=percentile(baseline, 50),
                targets=targets,
                headline=size == max(ctx.profile.point_sizes),
            )
        )
        rows.append(
            measure(
                f"month_count/{path}",
                db,
                f"p95 {at}",
                percentile(samples, 95),
                "ms",
                baseline=percentile(baseline, 95),
            )
        )
    return rows


@workload("month_count", "meterUnitMonthCount at millions of points vs one SUM over usage_days")
async def month_count(ctx: Context) -> list[Row]:
    tenant_id = await ctx.new_tenant("Bench counts")
    server = await ctx.server()
    raw = await ctx.db.connect()
    try:
        if raw.kind == "sqlite":
            await raw.execute("PRAGMA synchronous=OFF")  # this connection's bulk loads; it only times reads
        rows: list[Row] = []
        for size in ctx.profile.point_sizes:
            rows.extend(await _measure_size(ctx, raw, server, tenant_id, size))
        return rows
    finally:
        await raw.close()
