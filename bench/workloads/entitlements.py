"""The entitlement check: ``entitlement(tenantId, featureCode)``, which apps call on every
request of their own, under ``profile.clients`` concurrent clients, against a bare
Starlette route answering the same JSON from hand-written SQL.

Seed (once per database, timed as ``entitlements/setup``), all through the product's
services: a SUM meter; three features, ``bench_sso`` (BOOLEAN), ``bench_projects`` (LIMIT)
and ``bench_api_requests`` (METERED on the meter); a plan granting all three (projects:
20, requests: 1,000,000 a period) and a project pack add-on (+10 projects a unit);
``profile.entitlement_tenants`` tenants in four timezones, each with a TENANT key of its
own, subscribed (every third buys two packs). Half live on a test clock started 20 days
ago and then advanced to now, so their billing period holds 20 local days of rollups
besides its two edge days; the others subscribe on the system clock. Each tenant then
holds some projects (``consumeEntitlement``) and records
``profile.entitlement_points`` usage points of the meter spread over its period so far
(``usage.record_batch``).

Every (tenant, feature) pair is one request, signed with the tenant's own key: CHECK
over POST /graphql to `billing-gateway serve`, and POST /entitlement {tenantId,
featureCode} to bench.baseline, which answers ``{"entitlement": ...}``. Each pair is
compared first (the product's ``data`` must equal the baseline's answer; BenchError
otherwise). Then each path gets ``profile.clients`` kept-alive connections that send the
requests in turn, each connection starting at another one, for
``profile.load_seconds`` after ``profile.warmup`` untimed requests each (a third of the
checks are METERED). Reported: checks/s, and the latency p50 and p99 of each check
under that load; the targets (≥ 1,500 checks/s, p99 ≤ 10 ms) are PostgreSQL's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.core import BenchError, Check, Context, Row, differences, measure, percentile, workload
from bench.server import Response, run_mixed_load
from bench.workloads.dashboard import (
    baseline_data,
    baseline_request,
    counting_statements,
    graphql_request,
    product_data,
)
from models.api_keys import service as api_keys
from models.api_keys.inputs import ApiKeyCreate
from models.catalog import service as catalog
from models.catalog.inputs import AddonCreate, PlanCreate
from models.entitlements import consume as consumption
from models.entitlements import service as entitlements
from models.entitlements.inputs import Consumption, FeatureCreate, FeatureGrantCreate
from models.metering import ingest as usage
from models.metering import service as meters
from models.metering.inputs import MeterCreate
from models.platform.access import operator
from models.platform.deps import Deps
from models.platform.store import Store
from models.subscriptions import service as subscriptions
from models.subscriptions.inputs import SubscriptionCreate
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate
from models.test_clocks import service as test_clocks

CHECK = """query Check($tenantId: ID!, $featureCode: String!) {
  entitlement(tenantId: $tenantId, featureCode: $featureCode) {
    featureCode kind enabled reason limit used remaining overage resetsAt
  }
}"""
METER = "bench_ent_requests"
FEATURES = (
    ("bench_sso", "BOOLEAN", None),
    ("bench_projects", "LIMIT", 20),
    ("bench_api_requests", "METERED", 1_000_000),
)
PACK_PROJECTS = 10
TIMEZONES = ("UTC", "Asia/Tokyo", "Europe/Berlin", "America/New_York")
HISTORY = timedelta(days=20)  # how far into its period a test-clock tenant is
RATE_TARGET = 1_500  # checks/s with 8 clients, on PostgreSQL
P99_TARGET = 10.0  # ms, on PostgreSQL


@dataclass(frozen=True, slots=True)
class Seeded:
    checks: list[tuple[str, str, str]]  # (tenant id, its key's secret, feature code)
    seconds: float
    note: str


async def seeded(ctx: Context) -> Seeded:
    if "entitlements" not in ctx.shared:
        ctx.shared["entitlements"] = await _seed(ctx)
    return ctx.shared["entitlements"]


async def _catalog(ctx: Context) -> tuple[str, str]:
    """(plan id, pack add-on id), the features granted."""
    deps, admin = ctx.deps, operator()
    await meters.create_meter(deps, admin, MeterCreate.parse({"name": METER, "aggregation": "SUM"}))
    plan = await catalog.create_plan(
        deps,
        admin,
        PlanCreate.parse({"code": "bench_ent", "name": "Entitled", "currency": "USD", "base_price": 29_00}),
    )
    pack = await catalog.create_addon(
        deps,
        admin,
        AddonCreate.parse(
            {"code": "bench_ent_pack", "name": "Project pack", "currency": "USD", "price": 5_00}
        ),
    )
    await catalog.attach_addon(deps, admin, plan.id, pack.id)
    for code, kind, limit in FEATURES:
        spec: dict[str, Any] = {"code": code, "name": code.replace("_", " "), "kind": kind}
        if kind == "METERED":
            spec["meter_name"] = METER
        await entitlements.create_feature(deps, admin, FeatureCreate.parse(spec))
        await entitlements.grant_feature(
            deps, admin, FeatureGrantCreate.parse({"plan_id": plan.id, "feature_code": code, "limit": limit})
        )
    await entitlements.grant_feature(
        deps,
        admin,
        FeatureGrantCreate.parse(
            {"addon_id": pack.id, "feature_code": "bench_projects", "limit": PACK_PROJECTS}
        ),
    )
    return plan.id, pack.id


def _usage(tenant_id: str, start: datetime, now: datetime, points: int) -> list[dict[str, Any]]:
    """``points`` events from just after ``start`` up to ``now``, evenly spread."""
    first = int(start.timestamp()) + 1
    span = max(int(now.timestamp()) - first, 1)
    return [
        {
            "tenantId": tenant_id,
            "meterName": METER,
            "value": (k * 7 % 13 + 1) / 2,
            "timestamp": datetime.fromtimestamp(first + k * span // points, UTC),
        }
        for k in range(points)
    ]


async def _seed(ctx: Context) -> Seeded:
    deps, admin, profile = ctx.deps, operator(), ctx.profile
    began = time.perf_counter()
    plan_id, pack_id = await _catalog(ctx)
    now = datetime.now(UTC).replace(microsecond=0)
    clock = await test_clocks.create_test_clock(deps, admin, now - HISTORY, name="bench entitlements")
    ctx.log(f"entitlements: seeding {profile.entitlement_tenants} tenants through the product")
    made: list[tuple[str, str, datetime | None]] = []  # (tenant id, secret, period start off the clock)
    for n in range(profile.entitlement_tenants):
        on_clock = n % 2 == 0
        spec: dict[str, Any] = {
            "name": f"Entitled {n:03d}",
            "email": "apps@example.com",
            "currency": "USD",
            "timezone": TIMEZONES[n % len(TIMEZONES)],
        }
        if on_clock:
            spec["test_clock_id"] = clock.id
        tenant = await tenants.create_tenant(deps, admin, TenantCreate.parse(spec))
        addons = [{"addon_id": pack_id, "quantity": 2}] if n % 3 == 0 else []
        subscription = await subscriptions.subscribe(
            deps,
            admin,
            SubscriptionCreate.parse({"tenant_id": tenant.id, "plan_id": plan_id, "addons": addons}),
        )
        _, secret = await api_keys.create_api_key(
            deps, admin, ApiKeyCreate.parse({"role": "TENANT", "name": "app", "tenant_id": tenant.id})
        )
        made.append((tenant.id, secret, None if on_clock else subscription.current_period_start))
    await test_clocks.advance_test_clock(deps, admin, clock.id, now)
    events: list[dict[str, Any]] = []
    for n, (tenant_id, _, started) in enumerate(made):
        await consumption.consume(
            deps,
            admin,
            Consumption.parse(
                {
                    "tenant_id": tenant_id,
                    "feature_code": "bench_projects",
                    "amount": 3 + n % 7,
                    "idempotency_key": f"seed-{n}",
                }
            ),
        )
        if started is None:  # on the test clock, 20 days into its period
            events.extend(_usage(tenant_id, now - HISTORY, now, profile.entitlement_points))
        else:  # on the system clock: its period began when it subscribed, moments ago
            events.extend(_usage(tenant_id, started, datetime.now(UTC), profile.entitlement_points))
    for first in range(0, len(events), usage.BATCH_LIMIT):
        chunk = events[first : first + usage.BATCH_LIMIT]
        outcome = await usage.record_batch(deps, admin, chunk)
        if outcome.errors or outcome.accepted != len(chunk):
            raise BenchError(f"record_batch refused seed usage: {outcome.errors[:3]}")
    checks = [(tenant_id, secret, code) for tenant_id, secret, _ in made for code, _, _ in FEATURES]
    note = (
        f"{len(made)} tenants x {len(FEATURES)} features (half on a test clock 20 days into the period), "
        f"{len(events):,} usage events"
    )
    return Seeded(checks, time.perf_counter() - began, note)


def _requests(seed: Seeded, product_port: int, baseline_port: int) -> tuple[list[bytes], list[bytes]]:
    product = [
        graphql_request(product_port, secret, CHECK, {"tenantId": tenant_id, "featureCode": code})
        for tenant_id, secret, code in seed.checks
    ]
    hand_written = [
        baseline_request(baseline_port, secret, "/entitlement", {"tenantId": tenant_id, "featureCode": code})
        for tenant_id, secret, code in seed.checks
    ]
    return product, hand_written


def _check_seed(answers: list[dict[str, Any]]) -> None:
    """The checks answer what the seed made: every feature on, projects and requests used."""
    off = [a for a in answers if not a["enabled"]]
    unused = [a for a in answers if a["kind"] != "BOOLEAN" and not a["used"]]
    if off or unused:
        raise BenchError(f"the seed is not what the workload measures: off {off[:2]}, unused {unused[:2]}")


def _same_as(references: list[Response], what: str) -> Any:
    def check(index: int, response: Response) -> None:
        if response.status != 200 or response.body != references[index].body:
            raise BenchError(
                f"{what} answered check {index} differently under load ({response.status}): "
                f"{response.body[:300]!r} (first: {references[index].body[:300]!r})"
            )

    return check


@contextmanager
def _fast_path_counts() -> Iterator[list[int]]:
    """The statements each check on the fast path ran, as it logs them (DEBUG,
    ``gateway.entitlements``); it runs them on the bare driver, out of SQLAlchemy's sight."""
    counts: list[int] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: counts.append(int(getattr(record, "statements", -1)))  # type: ignore[method-assign]
    logger = logging.getLogger("gateway.entitlements")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # counted here, not printed among the bench's progress lines
    try:
        yield counts
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


async def _ask(http: Any, tenant_id: str, secret: str, code: str) -> None:
    response = await http.post(
        "/graphql",
        json={"query": CHECK, "variables": {"tenantId": tenant_id, "featureCode": code}},
        headers={"Authorization": f"Bearer {secret}"},
    )
    if response.status_code != 200 or response.json().get("errors"):
        raise BenchError(f"the in-process check failed: {response.text[:300]}")


async def statements(ctx: Context, checks: list[tuple[str, str, str]]) -> dict[str, tuple[int, int]]:
    """Feature code -> (SQL statements one check costs on the fast path, on the general
    path): counted on the product's app in this process, through httpx's ASGITransport,
    the key lookup included (and, on SQLite, each of the general path's BEGINs)."""
    import httpx

    from gateway.app import create_app
    from gateway.settings import Settings

    found: dict[str, tuple[int, int]] = {}
    store = Store(ctx.db.url)
    try:
        apps = [
            create_app(
                Settings(database_url=ctx.db.url, log_level="WARNING", fast_entitlements=fast),
                deps=Deps(store=store),
            )
            for fast in (True, False)
        ]
        for tenant_id, secret, code in checks:
            counted = []
            for app in apps:
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                    await _ask(http, tenant_id, secret, code)  # warm: compiles what later ones reuse
                    with counting_statements(store) as general, _fast_path_counts() as direct:
                        await _ask(http, tenant_id, secret, code)
                    counted.append(sum(direct) + len(general))
            found[code] = (counted[0], counted[1])
    finally:
        await store.dispose()
    return found


@workload(
    "entitlements",
    "the entitlement check: checks/s and latency under concurrent clients vs hand-written SQL",
)
async def entitlement_check(ctx: Context) -> list[Row]:
    seed = await seeded(ctx)
    server, baseline = await ctx.server(), await ctx.baseline()
    db, profile = ctx.database, ctx.profile
    product, hand_written = _requests(seed, server.port, baseline.port)

    conn, other = await server.connect(), await baseline.connect()
    references: dict[str, list[Response]] = {"http": [], "baseline": []}
    answers = []
    try:
        for index, (mine, theirs) in enumerate(zip(product, hand_written, strict=True)):
            first, second = await conn.send(mine), await other.send(theirs)
            data = product_data(first, f"check {index}")
            found = differences(data, baseline_data(second, f"check {index}"))
            if found:
                raise BenchError(
                    f"check {index}: the product's answer is not the baseline's: " + "; ".join(found)
                )
            references["http"].append(first)
            references["baseline"].append(second)
            answers.append(data["entitlement"])
    finally:
        await conn.close()
        await other.close()
    _check_seed(answers)

    loads = {}
    for path, process, requests in (("http", server, product), ("baseline", baseline, hand_written)):
        ctx.log(f"entitlements: {profile.clients} clients for {profile.load_seconds:g} s, {path}")
        connections = [await process.connect() for _ in range(profile.clients)]
        try:
            loads[path] = await run_mixed_load(
                connections,
                requests,
                seconds=profile.load_seconds,
                warmup=profile.warmup,
                check=_same_as(references[path], f"the {path} check"),
            )
        finally:
            for c in connections:
                await c.close()
    http, hand = loads["http"], loads["baseline"]
    on_postgres = db == "postgres"
    first = {code: (tenant_id, secret, code) for tenant_id, secret, code in reversed(seed.checks)}
    counted = await statements(ctx, list(first.values()))
    theirs = {
        code: int(references["baseline"][seed.checks.index(check)].headers["x-bench-statements"])
        for code, check in first.items()
    }
    kinds = [code for code, _, _ in FEATURES]
    clients = f"{profile.clients} clients"
    return [
        measure(
            "entitlements/setup", db, "seed tenants, features and usage", seed.seconds, "s", note=seed.note
        ),
        measure(
            "entitlements/http",
            db,
            f"checks/s, {clients}",
            http.rate,
            "checks/s",
            baseline=hand.rate,
            targets=[Check(">=", RATE_TARGET)] if on_postgres else [],
            headline=True,
            note=f"{len(http.latencies)} vs {len(hand.latencies)} checks in {profile.load_seconds:g} s "
            f"over {len(product)} (tenant, feature) pairs; a third METERED",
        ),
        measure(
            "entitlements/http",
            db,
            f"latency p50, {clients}",
            percentile(http.latencies, 50) * 1000,
            "ms",
            baseline=percentile(hand.latencies, 50) * 1000,
        ),
        measure(
            "entitlements/http",
            db,
            f"latency p99, {clients}",
            percentile(http.latencies, 99) * 1000,
            "ms",
            baseline=percentile(hand.latencies, 99) * 1000,
            targets=[Check("<=", P99_TARGET)] if on_postgres else [],
        ),
        measure(
            "entitlements/sql",
            db,
            "SQL statements per check, most of any feature",
            max(counted[code][0] for code in kinds),
            "statements",
            baseline=max(theirs.values()),
            note="product "
            + ", ".join(f"{code.removeprefix('bench_')} {counted[code][0]}" for code in kinds)
            + " (general path "
            + ", ".join(str(counted[code][1]) for code in kinds)
            + "); baseline "
            + ", ".join(str(theirs[code]) for code in kinds)
            + "; the key lookup included",
        ),
    ]
