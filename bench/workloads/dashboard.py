"""The dashboard query and the fleet query: a tenant's subscription, plan, add-ons,
seats, this month's count of every meter and its last 10 invoices with their lines,
for one tenant (a frontend's dashboard) and for 100 (an internal tool's list).

Seed (once per database, shared by both workloads, timed as ``dashboard/setup``):
through the product's services, a plan with included seats and two add-ons (one a
seat add-on), five meters (SUM and MAX), and on one test clock started
``profile.history_months`` x 31 days ago: the dashboard's tenant and
``profile.fleet_templates`` other tenants, each subscribed with add-on quantities and
holding members; the clock is then advanced to now (``test_clocks.advance_test_clock``:
every month renews, one invoice each), and each gets usage this month in its own
timezone (``usage.record_batch``: ``profile.dashboard_points`` points per meter for the
dashboard's tenant, a fifteenth of that for the others). Renewing through the product
costs 10-25 ms a month per tenant, so the other ``profile.fleet_tenants`` - templates
tenants are copies of the templates made with the bare driver: every row of a template
(tenant, subscription, add-ons, members, invoices and lines, usage days and points)
with new ids, invoice numbers of its own, and nothing else changed (no audit entries or
events are copied).

The GraphQL operations are DASHBOARD and FLEET below; bench.baseline answers the same
from hand-written SQL (POST /dashboard, POST /fleet), and each workload first checks
that the product's ``data`` equals the baseline's answer (BenchError otherwise).
Both are called with a stored ADMIN key, which each looks up by hash per request.

- dashboard: ``profile.clients`` kept-alive clients send the query back to back for
  ``profile.load_seconds`` per path, product over HTTP then baseline over HTTP, after
  two untimed requests each (``profile.warmup`` if fewer); requests/s and latency
  percentiles (of each request, under that load).
- fleet: ``tenants(first: 100)`` on one connection, calls back to back per path:
  ``profile.fleet_calls``, or fewer (two at least) once they took
  ``profile.fleet_seconds`` (the calls that compared the answers, for 10 tenants and
  100, warmed both up); latency percentiles. Then the SQL statements one fleet query costs,
  for 10 tenants and for 100: counted in this process on the product's app through
  httpx's ASGITransport (a before_cursor_execute listener, as
  tests/api/test_query_cost.py does), beside the baseline's own count
  (X-Bench-Statements). They must not grow with the tenants.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlmodel import SQLModel

from bench.core import BenchError, Check, Context, Row, differences, measure, percentile, workload
from bench.databases import Raw
from bench.server import Process, Response, post_request, run_load
from models.catalog import service as catalog
from models.catalog.inputs import AddonCreate, PlanCreate
from models.kernel.ids import new_id
from models.members import service as members
from models.members.inputs import MemberInvite
from models.metering import ingest as usage
from models.metering import service as meters
from models.metering.inputs import MeterCreate
from models.platform.access import operator
from models.platform.store import Store
from models.subscriptions import service as subscriptions
from models.subscriptions.inputs import SubscriptionCreate
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate
from models.test_clocks import service as test_clocks

TENANT = """fragment Dashboard on Tenant {
  id name currency
  subscription {
    id status currentPeriodStart currentPeriodEnd
    plan { id code name basePrice { amount currency } includedSeats }
    addons { addon { id code name } quantity }
  }
  seats { included purchased total used available }
  meterUnitMonthCounts { meterName aggregation count }
  invoices(first: 10) { edges { node {
    id number status periodStart periodEnd total { amount currency } amountDue { amount currency }
    lines { kind description quantity amount { amount currency } }
  } } }
}"""
DASHBOARD = "query Dashboard($id: ID!) { tenant(id: $id) { ...Dashboard } }\n" + TENANT
FLEET = "query Fleet($first: Int!) { tenants(first: $first) { edges { node { ...Dashboard } } } }\n" + TENANT

METERS = (
    ("bench_api_calls", "SUM"),
    ("bench_emails_sent", "SUM"),
    ("bench_compute_minutes", "SUM"),
    ("bench_storage_gb", "MAX"),
    ("bench_active_users", "MAX"),
)
TIMEZONES = ("UTC", "Asia/Tokyo", "Europe/Berlin", "America/New_York")
FLEET_SIZE = 100
DASHBOARD_RATIO = 0.5  # of the baseline's requests/s
FLEET_RATIO = 3.0  # the baseline's latency, times
# Tables a copied tenant gets, parents first; each row is found by its tenant.
COPIED = {
    "tenants": "id = ?",
    "subscriptions": "tenant_id = ?",
    "subscription_addons": "subscription_id IN (SELECT id FROM subscriptions WHERE tenant_id = ?)",
    "members": "tenant_id = ?",
    "invoices": "tenant_id = ? ORDER BY id",
    "invoice_lines": "invoice_id IN (SELECT id FROM invoices WHERE tenant_id = ?)",
    "usage_days": "tenant_id = ?",
    "usage_points": "tenant_id = ?",
}


@dataclass(frozen=True, slots=True)
class Seeded:
    tenant_id: str  # the dashboard's
    tenants: int  # in the database, every workload's
    seconds: float
    note: str


# -- seeding ---------------------------------------------------------------------------


async def seeded(ctx: Context) -> Seeded:
    """The dashboard's tenant and the fleet, seeded on first use."""
    if "dashboard" not in ctx.shared:
        ctx.shared["dashboard"] = await _seed(ctx)
    return ctx.shared["dashboard"]


async def _team(
    ctx: Context, name: str, timezone: str, clock_id: str, plan_id: str, quantities: dict[str, int], team: int
) -> str:
    admin = operator()
    tenant = await tenants.create_tenant(
        ctx.deps,
        admin,
        TenantCreate.parse(
            {
                "name": name,
                "email": "billing@example.com",
                "currency": "USD",
                "timezone": timezone,
                "test_clock_id": clock_id,
            }
        ),
    )
    await subscriptions.subscribe(
        ctx.deps,
        admin,
        SubscriptionCreate.parse(
            {
                "tenant_id": tenant.id,
                "plan_id": plan_id,
                "addons": [{"addon_id": addon, "quantity": q} for addon, q in quantities.items()],
            }
        ),
    )
    for n in range(team):
        await members.invite_member(
            ctx.deps, admin, MemberInvite.parse({"tenant_id": tenant.id, "email": f"member{n}@example.com"})
        )
    return tenant.id


def _events(tenant_id: str, timezone: str, now: datetime, points: int) -> list[dict[str, Any]]:
    """``points`` usage events per meter from the start of ``now``'s month in
    ``timezone`` up to ``now``, evenly spread."""
    local = now.astimezone(ZoneInfo(timezone))
    start = int(local.replace(day=1, hour=0, minute=0, second=0).timestamp())
    span = max(int(now.timestamp()) - start, 1)
    return [
        {
            "tenantId": tenant_id,
            "meterName": name,
            "value": (k * 7 % 13 + 1) / 2 if aggregation == "SUM" else 10 + (k * 31 % 97) / 4,
            "timestamp": datetime.fromtimestamp(start + k * span // points, UTC),
        }
        for name, aggregation in METERS
        for k in range(points)
    ]


async def _seed(ctx: Context) -> Seeded:
    profile, deps, admin = ctx.profile, ctx.deps, operator()
    began = time.perf_counter()
    plan = await catalog.create_plan(
        deps,
        admin,
        PlanCreate.parse(
            {
                "code": "bench_team",
                "name": "Team",
                "currency": "USD",
                "base_price": 49_00,
                "included_seats": 5,
            }
        ),
    )
    seat = await catalog.create_addon(
        deps,
        admin,
        AddonCreate.parse(
            {
                "code": "bench_seat",
                "name": "Additional seat",
                "currency": "USD",
                "price": 12_00,
                "seat_type": "FULL",
            }
        ),
    )
    storage = await catalog.create_addon(
        deps,
        admin,
        AddonCreate.parse(
            {
                "code": "bench_storage",
                "name": "Extra storage 100 GB",
                "currency": "USD",
                "price": 5_00,
            }
        ),
    )
    for addon in (seat, storage):
        await catalog.attach_addon(deps, admin, plan.id, addon.id)
    for name, aggregation in METERS:
        await meters.create_meter(deps, admin, MeterCreate.parse({"name": name, "aggregation": aggregation}))

    now = datetime.now(UTC).replace(microsecond=0)
    clock = await test_clocks.create_test_clock(
        deps, admin, now - timedelta(days=31 * profile.history_months), name="bench dashboard"
    )
    ctx.log(f"dashboard: seeding 1 + {profile.fleet_templates} tenants through the product")
    made = [
        (
            "America/New_York",
            await _team(
                ctx, "Acme Dashboard", "America/New_York", clock.id, plan.id, {seat.id: 10, storage.id: 2}, 8
            ),
        )
    ]
    for i in range(profile.fleet_templates):
        timezone = TIMEZONES[i % len(TIMEZONES)]
        made.append(
            (
                timezone,
                await _team(
                    ctx,
                    f"Fleet template {i}",
                    timezone,
                    clock.id,
                    plan.id,
                    {seat.id: 2 + i, storage.id: 1 + i % 2},
                    2 + i % 3,
                ),
            )
        )
    renewing = time.perf_counter()
    await test_clocks.advance_test_clock(deps, admin, clock.id, now)
    renewed = time.perf_counter() - renewing
    events = _events(made[0][1], made[0][0], now, profile.dashboard_points)
    for timezone, tenant_id in made[1:]:
        events.extend(_events(tenant_id, timezone, now, max(profile.dashboard_points // 15, 5)))
    for first in range(0, len(events), usage.BATCH_LIMIT):
        outcome = await usage.record_batch(deps, admin, events[first : first + usage.BATCH_LIMIT])
        if outcome.errors or outcome.accepted != len(events[first : first + usage.BATCH_LIMIT]):
            raise BenchError(f"record_batch refused seed usage: {outcome.errors[:3]}")

    copies = max(profile.fleet_tenants - profile.fleet_templates, 0)
    ctx.log(f"dashboard: copying the templates into {copies} more tenants")
    copying = time.perf_counter()
    raw = await ctx.db.connect()
    try:
        await _copy(raw, [tenant_id for _, tenant_id in made[1:]], copies)
        if raw.kind == "postgres":
            for table in COPIED:  # as autovacuum would after such a load
                await raw.execute(f"ANALYZE {table}")
        else:
            await raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        count = int(await raw.fetchval("SELECT COUNT(*) FROM tenants"))
    finally:
        await raw.close()
    seconds = time.perf_counter() - began
    copied = time.perf_counter() - copying
    note = (
        f"{len(made)} tenants through the product ({profile.history_months} renewals each: {renewed:.1f} s; "
        f"{len(events):,} usage events), {copies} copies by the bare driver ({copied:.1f} s)"
    )
    return Seeded(made[0][1], count, seconds, note)


def _columns(table: str) -> list[str]:
    return list(SQLModel.metadata.tables[table].columns.keys())


def _renamed(
    rows: list[list[Any]], table: str, prefix: str, ids: dict[str, str], changes: dict[str, Any]
) -> list[list[Any]]:
    """A template's rows of ``table`` with new ids (recorded in ``ids``: template id ->
    its copy's) and ``changes`` (a column's new value, or a function of its old one)."""
    columns = _columns(table)
    copied = []
    for row in rows:
        new = list(row)
        if "id" in columns:
            at = columns.index("id")
            ids[row[at]] = new[at] = new_id(prefix)
        for column, change in changes.items():
            at = columns.index(column)
            new[at] = change(new[at]) if callable(change) else change
        copied.append(new)
    return copied


async def _copy(raw: Raw, templates: list[str], copies: int) -> None:
    """``copies`` tenants, each every row of a template (in turn) under new ids."""
    if not templates or not copies:
        return
    rows: dict[str, dict[str, list[list[Any]]]] = {}
    for template in templates:
        rows[template] = {
            table: [
                list(r)
                for r in await raw.fetch(
                    f"SELECT {', '.join(_columns(table))} FROM {table} WHERE {where}", template
                )
            ]
            for table, where in COPIED.items()
        }
    out: dict[str, list[list[Any]]] = {table: [] for table in COPIED}
    for n in range(copies):
        source = rows[templates[n % len(templates)]]
        ids: dict[str, str] = {}
        prefix = f"FLT{n:04d}"
        changes: dict[str, tuple[str, dict[str, Any]]] = {
            "tenants": ("ten", {"name": f"Fleet {n:03d}", "invoice_prefix": prefix}),
            "subscriptions": ("sub", {"tenant_id": ids.get}),
            "subscription_addons": ("", {"subscription_id": ids.get}),
            "members": ("mem", {"tenant_id": ids.get}),
            "invoices": (
                "inv",
                {
                    "tenant_id": ids.get,
                    "subscription_id": ids.get,
                    "provider_invoice_id": None,
                    "number": lambda number, prefix=prefix: f"{prefix}-{number.rsplit('-', 1)[1]}",
                },
            ),
            "invoice_lines": ("line", {"invoice_id": ids.get}),
            "usage_days": ("", {"tenant_id": ids.get}),
            "usage_points": ("", {"tenant_id": ids.get}),
        }
        for table in COPIED:  # parents first, so ``ids`` knows them when their children come
            id_prefix, change = changes[table]
            out[table].extend(_renamed(source[table], table, id_prefix, ids, change))
    for table, table_rows in out.items():  # COPY on PostgreSQL; the usage points are most of the rows
        if table_rows:
            await raw.bulk_load(table, _columns(table), [[tuple(row) for row in table_rows]])


# -- measuring -------------------------------------------------------------------------


def graphql_request(port: int, secret: str, query: str, variables: dict[str, Any]) -> bytes:
    body = json.dumps({"query": query, "variables": variables}).encode()
    return post_request(port, "/graphql", body, {"Authorization": f"Bearer {secret}"})


def baseline_request(port: int, secret: str, path: str, payload: dict[str, Any]) -> bytes:
    return post_request(port, path, json.dumps(payload).encode(), {"Authorization": f"Bearer {secret}"})


def product_data(response: Response, what: str) -> Any:
    if response.status != 200:
        raise BenchError(f"{what}: the gateway answered {response.status}: {response.body[:500]!r}")
    body = json.loads(response.body)
    if body.get("errors"):
        raise BenchError(f"{what}: GraphQL errors: {body['errors'][:3]}")
    return body["data"]


def baseline_data(response: Response, what: str) -> Any:
    if response.status != 200:
        raise BenchError(f"{what}: the baseline answered {response.status}: {response.body[:500]!r}")
    return json.loads(response.body)


async def compared(
    server: Process, product: bytes, baseline: Process, hand_written: bytes, what: str
) -> tuple[Response, Response, Any]:
    """One answer from each; BenchError unless the product's data is the baseline's."""
    conn, other = await server.connect(), await baseline.connect()
    try:
        first, second = await conn.send(product), await other.send(hand_written)
    finally:
        await conn.close()
        await other.close()
    data = product_data(first, what)
    found = differences(data, baseline_data(second, what))
    if found:
        raise BenchError(f"{what}: the product's answer is not the baseline's: " + "; ".join(found))
    return first, second, data


def same_as(reference: Response, what: str) -> Any:
    """A check for ``run_load``: every answer is the one checked against the baseline."""

    def check(response: Response) -> None:
        if response.status != 200 or response.body != reference.body:
            raise BenchError(
                f"{what} answered differently under load ({response.status}): {response.body[:300]!r}"
            )

    return check


def _check_seed(data: Any, ctx: Context) -> None:
    """The dashboard shows what the seed made, so the figures measure a full one."""
    tenant = data["tenant"]
    invoices = len(tenant["invoices"]["edges"])
    counted = [
        c for c in tenant["meterUnitMonthCounts"] if c["meterName"].startswith("bench_") and c["count"] > 0
    ]
    wanted = min(10, ctx.profile.history_months + 1)
    if invoices != wanted or len(counted) < len(METERS) or tenant["subscription"] is None:
        raise BenchError(
            f"the dashboard shows {invoices} invoices (not {wanted}) and {len(counted)} meters with usage "
            f"(not {len(METERS)}): the seed is not what the workload measures"
        )


@workload(
    "dashboard", "one tenant's dashboard query: requests/s under concurrent clients vs hand-written SQL"
)
async def dashboard(ctx: Context) -> list[Row]:
    seed = await seeded(ctx)
    server, baseline, secret = await ctx.server(), await ctx.baseline(), await ctx.admin_secret()
    db, profile = ctx.database, ctx.profile
    product = graphql_request(server.port, secret, DASHBOARD, {"id": seed.tenant_id})
    hand_written = baseline_request(baseline.port, secret, "/dashboard", {"tenantId": seed.tenant_id})
    first, second, data = await compared(server, product, baseline, hand_written, "the dashboard")
    _check_seed(data, ctx)

    loads = {}
    for path, process, request, reference in (
        ("http", server, product, first),
        ("baseline", baseline, hand_written, second),
    ):
        ctx.log(f"dashboard: {profile.clients} clients for {profile.load_seconds:g} s, {path}")
        connections = [await process.connect() for _ in range(profile.clients)]
        try:
            loads[path] = await run_load(
                connections,
                request,
                seconds=profile.load_seconds,
                warmup=min(profile.warmup, 2),
                check=same_as(reference, f"the {path} dashboard"),
            )
        finally:
            for conn in connections:
                await conn.close()
    http, hand = loads["http"], loads["baseline"]
    clients = f"{profile.clients} clients"
    return [
        measure("dashboard/setup", db, "seed dashboard and fleet", seed.seconds, "s", note=seed.note),
        measure(
            "dashboard/http",
            db,
            f"requests/s, {clients}",
            http.rate,
            "req/s",
            baseline=hand.rate,
            targets=[Check(">=", DASHBOARD_RATIO, on="ratio")],
            headline=True,
            note=f"{len(http.latencies)} vs {len(hand.latencies)} requests in {profile.load_seconds:g} s; "
            f"{len(first.body):,} bytes",
        ),
        measure(
            "dashboard/http",
            db,
            f"latency p50, {clients}",
            percentile(http.latencies, 50) * 1000,
            "ms",
            baseline=percentile(hand.latencies, 50) * 1000,
        ),
        measure(
            "dashboard/http",
            db,
            f"latency p95, {clients}",
            percentile(http.latencies, 95) * 1000,
            "ms",
            baseline=percentile(hand.latencies, 95) * 1000,
        ),
    ]


# -- fleet -----------------------------------------------------------------------------


@contextmanager
def counting_statements(store: Store) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)


async def product_statements(ctx: Context, secret: str, sizes: tuple[int, ...]) -> dict[int, int]:
    """SQL statements the product runs for one fleet query of each size, counted on its
    own app in this process (the key lookup included; on SQLite each session's BEGIN too)."""
    import httpx

    from gateway.app import create_app
    from gateway.settings import Settings
    from models.platform.deps import Deps

    store = Store(ctx.db.url)
    try:
        app = create_app(Settings(database_url=ctx.db.url, log_level="WARNING"), deps=Deps(store=store))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=300) as http:

            async def fleet(first: int) -> Any:
                response = await http.post(
                    "/graphql",
                    json={"query": FLEET, "variables": {"first": first}},
                    headers={"Authorization": f"Bearer {secret}"},
                )
                body = response.json()
                if response.status_code != 200 or body.get("errors"):
                    raise BenchError(f"the in-process fleet query failed: {response.text[:500]}")
                return body["data"]

            await fleet(1)  # warm: the first request compiles what later ones reuse
            counts = {}
            for size in sizes:
                with counting_statements(store) as statements:
                    await fleet(size)
                counts[size] = len(statements)
            return counts
    finally:
        await store.dispose()


async def _latencies(
    process: Process, request: bytes, reference: Response, ctx: Context, what: str
) -> list[float]:
    """Seconds of each call on one kept-alive connection, back to back: profile.fleet_calls,
    or fewer (two at least) once they have taken profile.fleet_seconds. (The calls that
    compared both answers have warmed both servers up.)"""
    conn = await process.connect()
    check = same_as(reference, what)
    samples: list[float] = []
    try:
        while len(samples) < ctx.profile.fleet_calls and (
            len(samples) < 2 or sum(samples) < ctx.profile.fleet_seconds
        ):
            began = time.perf_counter()
            answer = await conn.send(request)
            samples.append(time.perf_counter() - began)
            check(answer)
    finally:
        await conn.close()
    return samples


@workload(
    "fleet", "tenants(first: 100) with the dashboard's fields: latency and SQL statements vs hand-written SQL"
)
async def fleet(ctx: Context) -> list[Row]:
    seed = await seeded(ctx)
    server, baseline, secret = await ctx.server(), await ctx.baseline(), await ctx.admin_secret()
    db = ctx.database
    size = min(FLEET_SIZE, seed.tenants)

    answers = {}
    for first in (10, FLEET_SIZE):
        product = graphql_request(server.port, secret, FLEET, {"first": first})
        hand_written = baseline_request(baseline.port, secret, "/fleet", {"first": first})
        answers[first] = (
            product,
            hand_written,
            *await compared(server, product, baseline, hand_written, f"the fleet of {first}"),
        )
    product, hand_written, reference, hand_reference, data = answers[FLEET_SIZE]
    if len(data["tenants"]["edges"]) != size:
        raise BenchError(f"the fleet query shows {len(data['tenants']['edges'])} tenants of {size}")

    ctx.log(f"fleet: up to {ctx.profile.fleet_calls} calls per path")
    http = await _latencies(server, product, reference, ctx, "the fleet query")
    hand = await _latencies(baseline, hand_written, hand_reference, ctx, "the baseline fleet")
    counted = await product_statements(ctx, secret, (10, FLEET_SIZE))
    theirs = {first: int(answers[first][3].headers["x-bench-statements"]) for first in (10, FLEET_SIZE)}
    at = f"@ {size} tenants"
    return [
        measure(
            "fleet/http",
            db,
            f"latency p50 {at}",
            percentile(http, 50) * 1000,
            "ms",
            baseline=percentile(hand, 50) * 1000,
            targets=[Check("<=", FLEET_RATIO, on="ratio")],
            headline=True,
            note=f"{len(reference.body):,} bytes; {len(http)} vs {len(hand)} calls",
        ),
        measure(
            "fleet/http",
            db,
            f"latency p95 {at}",
            percentile(http, 95) * 1000,
            "ms",
            baseline=percentile(hand, 95) * 1000,
        ),
        measure(
            "fleet/sql",
            db,
            "SQL statements @ 10 / @ 100 tenants",
            counted[FLEET_SIZE],
            "statements",
            baseline=theirs[FLEET_SIZE],
            targets=[Check("==", counted[10])],
            note=f"product {counted[10]} / {counted[FLEET_SIZE]}, baseline {theirs[10]} / "
            f"{theirs[FLEET_SIZE]}"
            f" (@ 10 / @ {size}); must not grow",
        ),
    ]
