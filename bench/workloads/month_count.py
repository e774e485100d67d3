"""meterUnitMonthCount over millions of points: service and HTTP vs one SQL statement.

One tenant (timezone UTC, so a local day is a UTC day) and one SUM meter get points
spread evenly over a year from 2025-01-01, one every ``365 days / largest size``
seconds. For each size of ``profile.point_sizes`` (each dividing the next), the points
that take the meter to that size are bulk-loaded with the bare driver (asyncpg
``copy_records_to_table``, sqlite ``executemany``), then ``usage_days`` is rebuilt from
all the meter's points by one INSERT ... SELECT ... GROUP BY computing what ingestion
maintains (bench.workloads.rollup). Then, cycling over the year's full months, timed
one at a time after a few untimed calls:

- service: ``usage.counts(deps, operator(), tenant, meter, Span(month=True, day=...))``;
- http: ``meterUnitMonthCount`` through a real `serve` process (one kept-alive connection);
- sql (the baseline): ``SELECT SUM(total) FROM usage_days`` over the month's days,
  hand-written, through the same driver.

Every answer is checked against the baseline's sum.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.core import BenchError, Check, Context, Row, measure, percentile, workload
from bench.databases import Raw
from bench.workloads.rollup import rebuild_days
from models.services import api_keys, usage

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
    """Point i of the largest size is at START + i * step; a size of n points holds
    every (largest // n)-th of them, so each size holds the smaller ones' points."""

    def __init__(self, sizes: tuple[int, ...]) -> None:
        self.largest = sizes[-1]
        for small, big in zip(sizes, sizes[1:], strict=False):
            if big % small:
                raise ValueError(f"point sizes must each divide the next: {sizes}")
        if self.largest % sizes[0]:
            raise ValueError(f"point sizes must divide the largest: {sizes}")
        self.step = max(1, SPAN_SECONDS // self.largest)
        self.start = int(START.timestamp())

    def indices(self, size: int, previous: int | None) -> Iterator[int]:
        """The points a meter at ``previous`` points lacks to be at ``size``."""
        stride = self.largest // size
        before = self.largest // previous if previous else None
        for i in range(0, self.largest, stride):
            if before is None or i % before:
                yield i

    def record(self, tenant_id: str, meter_id: str, i: int) -> tuple[str, str, int, int]:
        return tenant_id, meter_id, self.start + i * self.step, (i * 7919 % 1000 + 1) * 1000

    def months(self) -> list[date]:
        """The full months the points span."""
        last = datetime.fromtimestamp(self.start + (self.largest - 1) * self.step, UTC).date()
        months, first = [], START.date()
        while True:
            following = (first + timedelta(days=32)).replace(day=1)
            if following > last + timedelta(days=1):
                return months
            months.append(first)
            first = following


def _month_end(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


async def _load(raw: Raw, points: Points, tenant_id: str, meter_id: str, size: int, previous: int | None) -> None:
    columns = ("tenant_id", "meter_id", "ts", "value")
    pending = points.indices(size, previous)
    while True:
        chunk = [points.record(tenant_id, meter_id, i) for _, i in zip(range(LOAD_CHUNK), pending, strict=False)]
        if not chunk:
            return
        async with raw.transaction():
            await raw.load("usage_points", columns, chunk)


async def _timed(
    ctx: Context, months: list[date], expected: dict[date, int], call: Callable[[date], Awaitable[int]], what: str,
) -> list[float]:
    """Milliseconds of each timed call; every answer must be the month's SQL sum."""
    samples = []
    for n in range(ctx.profile.warmup + ctx.profile.count_calls):
        month = months[n % len(months)]
        began = time.perf_counter()
        value = await call(month)
        elapsed = time.perf_counter() - began
        if value != expected[month]:
            raise BenchError(f"{what} counted {value} for {month:%Y-%m}; the SQL sum is {expected[month]}")
        if n >= ctx.profile.warmup:
            samples.append(elapsed * 1000)
    return samples


@workload("month_count", "meterUnitMonthCount at millions of points vs one SUM over usage_days")
async def month_count(ctx: Context) -> list[Row]:
    db = ctx.database
    sizes = ctx.profile.point_sizes
    points = Points(sizes)
    months = points.months()
    tenant_id = await ctx.new_tenant("Bench counts")
    meter_id, meter = await ctx.new_meter("bench_counts")
    server = await ctx.server()
    raw = await ctx.db.connect()
    rows: list[Row] = []
    try:
        if raw.kind == "sqlite":
            await raw.execute("PRAGMA synchronous=OFF")  # a bulk load; the timed reads are not affected
        previous = None
        for size in sizes:
            ctx.log(f"month_count: loading {label(size)} points")
            began = time.perf_counter()
            await _load(raw, points, tenant_id, meter_id, size, previous)
            loaded = time.perf_counter() - began
            await rebuild_days(raw, tenant_id, meter_id)
            if raw.kind == "postgres":
                await raw.execute("ANALYZE usage_points")  # as autovacuum would after such a load
                await raw.execute("ANALYZE usage_days")
            setup = time.perf_counter() - began
            previous = size
            stored = await raw.fetchval(
                "SELECT SUM(points) FROM usage_days WHERE tenant_id = ? AND meter_id = ?", tenant_id, meter_id
            )
            if int(stored) != size:
                raise BenchError(f"usage_days counts {stored} points; {size} were loaded")

            async def sql(month: date) -> int:
                return int(await raw.fetchval(SQL_SUM, tenant_id, meter_id, month, _month_end(month)))

            async def service(month: date) -> int:
                (count,) = await usage.counts(
                    ctx.deps, api_keys.operator(), tenant_id, meter, usage.Span(month=True, day=month)
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
                "service": await _timed(ctx, months, expected, service, "usage.counts"),
                "http": await _timed(ctx, months, expected, http, "meterUnitMonthCount"),
            }
            at = f"@ {label(size)} points"
            targets = [Check("<=", TARGET_MS)] if size >= TARGET_FROM_POINTS else []
            loader = "copy_records_to_table" if raw.kind == "postgres" else "executemany"
            rows.append(measure(
                "month_count/setup", db, f"load + rollup {at}", setup, "s",
                note=f"{loader} {loaded:.1f} s, rollup {setup - loaded:.1f} s; {len(months)} months, UTC",
            ))
            for path, samples in timed.items():
                rows.append(measure(
                    f"month_count/{path}", db, f"p50 {at}", percentile(samples, 50), "ms",
                    baseline=percentile(baseline, 50), targets=targets, headline=size == sizes[-1],
                ))
                rows.append(measure(
                    f"month_count/{path}", db, f"p95 {at}", percentile(samples, 95), "ms",
                    baseline=percentile(baseline, 95),
                ))
    finally:
        await raw.close()
    return rows
