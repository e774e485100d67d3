"""Batched usage ingestion: over HTTP, through the service, and the bare driver.

Each path gets its own tenant and meter and sends ``profile.batches`` batches of
``profile.batch_size`` events one after another, as a partner would: distinct seconds
in the past week, each event with its own idempotency key. Timed per batch:

- http: POST /graphql ``recordUsageBatch(events: $events)`` to a real `serve` process
  (the body encoded beforehand; the time is the round trip), then the server's peak
  RSS (VmHWM of the serving process);
- service: ``usage.record_batch(deps, operator(), events)`` on a Store of the same kind;
- driver (the baseline): the same rows (tenant_id, meter_id, ts, value) inserted with
  one ``executemany`` per batch, in one transaction, into ``bench_usage_points``, a copy
  of ``usage_points`` (same columns, primary key and foreign keys). Ingestion also keeps
  daily rollups and idempotency keys, so the baseline is a floor, not its equal.

After the service's batches, the daily rollups ingestion maintained are checked against
the ones computed from the points (bench.workloads.rollup), which the month-count
workload relies on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bench.core import BenchError, Check, Context, Row, measure, median, percentile, workload
from bench.workloads.rollup import rollup_differences
from models.metering import ingest as usage
from models.metering.rules import to_micros
from models.platform.access import operator

BATCH_MUTATION = """mutation Ingest($events: [RecordUsageInput!]!) {
  recordUsageBatch(events: $events) {
    __typename
    ... on UsageBatchRecorded { accepted duplicates errors { index code message field } }
    ... on ValidationError { message field }
  }
}"""

CREATE_TENANT = """mutation($input: CreateTenantInput!) { createTenant(input: $input) {
  __typename ... on Tenant { id } ... on Error { code message } } }"""

CREATE_METER = """mutation($input: CreateMeterInput!) { createMeter(input: $input) {
  __typename ... on Meter { id name } ... on Error { code message } } }"""

BASELINE_TABLE = """CREATE TABLE bench_usage_points (
  tenant_id VARCHAR(40) NOT NULL REFERENCES tenants (id),
  meter_id VARCHAR(40) NOT NULL REFERENCES meters (id),
  ts BIGINT NOT NULL,
  value BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, meter_id, ts)
)"""

RSS_TARGET_MB = 300
HTTP_RATE_TARGET = 20_000  # events/s, on SQLite
HTTP_RATIO_TARGET = 0.5  # of the bare driver's rate


class Batches:
    """The events of every batch: batch b, event i is at second start + b * size + i."""

    def __init__(self, count: int, size: int) -> None:
        self.count = count
        self.size = size
        self.start = int(time.time()) - 7 * 86_400

    def events(self, batch: int) -> list[tuple[int, float, str]]:
        """(epoch second, value, idempotency key) of each event of a batch."""
        first = self.start + batch * self.size
        return [(first + i, float(i % 20 + 1) / 4, f"evt-{batch:04d}-{i:05d}") for i in range(self.size)]

    @property
    def total(self) -> int:
        return self.count * self.size


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rates(seconds: Sequence[float], size: int) -> tuple[float, float, float]:
    """(events/s of the median batch, events/s over all batches, median batch ms)."""
    return size / median(seconds), size * len(seconds) / sum(seconds), percentile(seconds, 50) * 1000


async def _driver(ctx: Context, plan: Batches) -> list[float]:
    tenant_id = await ctx.new_tenant("Bench driver")
    meter_id, _ = await ctx.new_meter("bench_driver")
    raw = await ctx.db.connect()
    try:
        await raw.execute("DROP TABLE IF EXISTS bench_usage_points")
        await raw.execute(BASELINE_TABLE)
        insert = "INSERT INTO bench_usage_points (tenant_id, meter_id, ts, value) VALUES (?, ?, ?, ?)"
        seconds = []
        for batch in range(plan.count):
            rows = [(tenant_id, meter_id, ts, to_micros(value)) for ts, value, _ in plan.events(batch)]
            began = time.perf_counter()
            async with raw.transaction():
                await raw.executemany(insert, rows)
            seconds.append(time.perf_counter() - began)
        stored = await raw.fetchval("SELECT COUNT(*) FROM bench_usage_points WHERE tenant_id = ?", tenant_id)
        await raw.execute("DROP TABLE bench_usage_points")
    finally:
        await raw.close()
    if stored != plan.total:
        raise BenchError(f"the driver stored {stored} rows of {plan.total}")
    return seconds


async def _service(ctx: Context, plan: Batches) -> list[float]:
    tenant_id = await ctx.new_tenant("Bench service")
    meter_id, meter = await ctx.new_meter("bench_service")
    seconds = []
    for batch in range(plan.count):
        events = [
            {
                "tenantId": tenant_id,
                "meterName": meter,
                "value": value,
                "timestamp": datetime.fromtimestamp(ts, UTC),
                "idempotencyKey": key,
            }
            for ts, value, key in plan.events(batch)
        ]
        began = time.perf_counter()
        outcome = await usage.record_batch(ctx.deps, operator(), events)
        seconds.append(time.perf_counter() - began)
        if outcome.accepted != plan.size or outcome.errors:
            raise BenchError(f"record_batch accepted {outcome.accepted} of {plan.size}: {outcome.errors[:3]}")
    raw = await ctx.db.connect()
    try:
        differences = await rollup_differences(raw, tenant_id, meter_id)
    finally:
        await raw.close()
    if differences:
        raise BenchError(
            "the rollup the bench computes is not what ingestion keeps: " + "; ".join(differences)
        )
    return seconds


async def _http(ctx: Context, plan: Batches) -> tuple[list[float], int, list[int]]:
    server = await ctx.server()
    tenant = await server.graphql(
        CREATE_TENANT,
        {
            "input": {
                "name": "Bench HTTP",
                "email": "bench@example.com",
                "currency": "USD",
                "timezone": "UTC",
            }
        },
    )
    meter = await server.graphql(CREATE_METER, {"input": {"name": "bench_http", "aggregation": "SUM"}})
    tenant_id, meter_name = tenant["createTenant"].get("id"), meter["createMeter"].get("name")
    if not tenant_id or not meter_name:
        raise BenchError(f"could not create the tenant or meter: {tenant} {meter}")
    seconds = []
    for batch in range(plan.count):
        events = [
            {
                "tenantId": tenant_id,
                "meterName": meter_name,
                "value": value,
                "timestamp": _iso(ts),
                "idempotencyKey": key,
            }
            for ts, value, key in plan.events(batch)
        ]
        body = json.dumps({"query": BATCH_MUTATION, "variables": {"events": events}}).encode()
        began = time.perf_counter()
        response = await server.post(body)
        seconds.append(time.perf_counter() - began)
        result: Any = response.json() if response.status_code == 200 else None
        recorded = (result or {}).get("data", {}) or {}
        recorded = recorded.get("recordUsageBatch") or {}
        if recorded.get("accepted") != plan.size or recorded.get("errors"):
            raise BenchError(f"recordUsageBatch answered {response.status_code}: {response.text[:500]}")
    peak_kb, pids = server.peak_rss()
    return seconds, peak_kb, pids


@workload("ingest", "recordUsageBatch of 10,000 events: HTTP and service vs bare-driver executemany")
async def ingest(ctx: Context) -> list[Row]:
    plan = Batches(ctx.profile.batches, ctx.profile.batch_size)
    db = ctx.database
    ctx.log(f"ingest: {plan.count} batches of {plan.size:,} events, bare driver")
    driver = _rates(await _driver(ctx, plan), plan.size)
    ctx.log("ingest: service")
    service = _rates(await _service(ctx, plan), plan.size)
    ctx.log("ingest: HTTP")
    http_seconds, peak_kb, pids = await _http(ctx, plan)
    http = _rates(http_seconds, plan.size)

    http_targets = [Check(">=", HTTP_RATE_TARGET)] if db == "sqlite" else []
    http_targets.append(Check(">=", HTTP_RATIO_TARGET, on="ratio"))
    batches = f"{plan.count} x {plan.size:,}"
    return [
        measure(
            "ingest/http",
            db,
            "events/s, median batch",
            http[0],
            "events/s",
            baseline=driver[0],
            targets=http_targets,
            headline=True,
            note=batches,
        ),
        measure("ingest/http", db, "events/s, all batches", http[1], "events/s", baseline=driver[1]),
        measure("ingest/http", db, "batch latency p50", http[2], "ms", baseline=driver[2]),
        measure(
            "ingest/http",
            db,
            "server peak RSS (VmHWM)",
            peak_kb / 1024,
            "MB",
            targets=[Check("<=", RSS_TARGET_MB)],
            note=f"pid {', '.join(map(str, pids))}",
        ),
        measure(
            "ingest/service",
            db,
            "events/s, median batch",
            service[0],
            "events/s",
            baseline=driver[0],
            headline=True,
            note=batches,
        ),
        measure("ingest/service", db, "events/s, all batches", service[1], "events/s", baseline=driver[1]),
        measure("ingest/service", db, "batch latency p50", service[2], "ms", baseline=driver[2]),
    ]
