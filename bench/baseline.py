"""The hand-written baseline of the dashboard, fleet, seats and entitlements workloads: a
bare Starlette app with hand-written SQL, what a good engineer would write without the
gateway's layers (GraphQL, services, the ORM).

``BaselineServer`` (bench.server) runs it under uvicorn in a process of its own, as
`serve` runs the gateway: one process, one worker, uvicorn's defaults. It reads
BENCH_BASELINE_DATABASE_URL (a SQLAlchemy URL, as GATEWAY_DATABASE_URL) and talks to
that database with the driver the product uses there: asyncpg with a pool of up to
``POOL_SIZE`` connections on PostgreSQL, aiosqlite on SQLite (as many connections, with
the PRAGMAs of models/platform/store.py, writes under BEGIN IMMEDIATE).

Routes (POST, JSON bodies), each answering exactly what the gateway's GraphQL
response carries under ``data`` for the same request (the workloads check that):

- ``/dashboard {tenantId}``: ``{"tenant": TENANT}`` (bench.workloads.dashboard.DASHBOARD);
- ``/fleet {first}``: ``{"tenants": {"edges": [{"node": TENANT}, ...]}}`` (FLEET);
- ``/invite {tenantId, email}``: ``{"inviteMember": Member | NoSeatsAvailableError}``
  (bench.workloads.seats.INVITE), the seat check and the insert under one lock;
- ``/entitlement {tenantId, featureCode}``: ``{"entitlement": Entitlement}``
  (bench.workloads.entitlements.CHECK), from bench.baseline_entitlements: the key, one
  joined statement, and for a METERED feature one more for the period's usage.

A request's tenants cost a fixed handful of statements, whatever their number: each
relation is one query with IN (...) over the ids of the page (``= ANY(?)`` on
PostgreSQL), and Python assembles the JSON. Every answer carries
``X-Bench-Statements``, how many statements it ran.

Authentication is comparable work: the gateway looks up the request's Bearer key by
its SHA-256 on every request (models/api_keys/service.py), and so does this, with one
indexed SELECT on ``api_keys.secret_hash``. What the baseline leaves out, so that it
is a floor rather than the product's equal: the events and NOTIFY an invite also
records for webhooks and live subscriptions (it does write the member and the audit
entry), renewing a subscription whose period is over before inviting, and the
validation of emails beyond lower-casing them.
"""

from __future__ import annotations

import asyncio
import calendar
import functools
import gc
import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite
import asyncpg
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.baseline_entitlements import KEY, check_entitlement, may_read
from models.kernel.ids import new_id

POOL_SIZE = 10
MICRO = 1_000_000
INVOICES_PER_TENANT = 10
SEAT_TYPES = ("FULL", "VIEWER", "GUEST")
NO_SEATS = "No seats available. Please upgrade your plan."


# -- connections ---------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """``?`` placeholders as asyncpg's ``$1, $2...``, converted once per statement."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


class Conn:
    """One connection for one request, counting its statements. SQL uses ``?``."""

    def __init__(self) -> None:
        self.statements = 0

    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]:
        raise NotImplementedError

    async def execute(self, sql: str, *args: Any) -> None:
        raise NotImplementedError

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` in ``values``: the SQL and its arguments."""
        raise NotImplementedError

    def write(self) -> Any:
        """A write transaction: the seat check and the insert happen under its lock."""
        raise NotImplementedError

    def time(self, stored: Any) -> str:
        """A stored timestamp as the API writes it (ISO 8601, UTC offset)."""
        raise NotImplementedError

    def instant(self, stored: Any) -> datetime:
        raise NotImplementedError

    def stamp(self, moment: datetime) -> Any:
        """An aware datetime as the column stores it."""
        raise NotImplementedError

    def day(self, day: date) -> Any:
        raise NotImplementedError


class PgConn(Conn):
    def __init__(self, conn: asyncpg.Connection) -> None:
        super().__init__()
        self.conn = conn

    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]:
        self.statements += 1
        return await self.conn.fetch(_numbered(sql), *args)

    async def execute(self, sql: str, *args: Any) -> None:
        self.statements += 1
        await self.conn.execute(_numbered(sql), *args)

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def write(self) -> Any:
        return self.conn.transaction()

    def time(self, stored: datetime) -> str:
        return stored.isoformat()  # asyncpg hands timestamptz back in UTC

    def instant(self, stored: datetime) -> datetime:
        return stored

    def stamp(self, moment: datetime) -> datetime:
        return moment

    def day(self, day: date) -> date:
        return day


class SqliteConn(Conn):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        super().__init__()
        self.conn = conn

    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]:
        self.statements += 1
        async with self.conn.execute(sql, args) as cursor:
            return await cursor.fetchall()

    async def execute(self, sql: str, *args: Any) -> None:
        self.statements += 1
        await self.conn.execute(sql, args)

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        await self.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await self.execute("ROLLBACK")
            raise
        await self.execute("COMMIT")

    def time(self, stored: str) -> str:
        return self.instant(stored).isoformat()

    def instant(self, stored: str) -> datetime:
        return datetime.fromisoformat(stored).replace(
            tzinfo=UTC
        )  # stored naive, in UTC (SQLAlchemy's format)

    def stamp(self, moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def day(self, day: date) -> str:
        return day.isoformat()


class Pool:
    async def open(self) -> None:
        raise NotImplementedError

    def acquire(self) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class PgPool(Pool):
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=POOL_SIZE)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Conn]:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            yield PgConn(conn)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()


class SqlitePool(Pool):
    """Up to POOL_SIZE aiosqlite connections (each has its thread), opened on demand."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.idle: list[aiosqlite.Connection] = []
        self.opened = 0
        self.freed = asyncio.Condition()

    async def open(self) -> None:
        return None

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in ("busy_timeout=30000", "journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            await conn.execute(f"PRAGMA {pragma}")
        return conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Conn]:
        async with self.freed:
            while not self.idle and self.opened >= POOL_SIZE:
                await self.freed.wait()
            conn = self.idle.pop() if self.idle else None
            if conn is None:
                self.opened += 1
        if conn is None:
            try:
                conn = await self._connect()
            except BaseException:
                async with self.freed:
                    self.opened -= 1
                    self.freed.notify()
                raise
        try:
            yield SqliteConn(conn)
        finally:
            async with self.freed:
                self.idle.append(conn)
                self.freed.notify()

    async def close(self) -> None:
        for conn in self.idle:
            await conn.close()


def pool_for(url: str) -> Pool:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return SqlitePool(parsed.database or "")
    return PgPool(parsed.set(drivername="postgresql").render_as_string(hide_password=False))


# -- reads -----------------------------------------------------------------------------

TENANT_COLUMNS = "t.id, t.name, t.currency, t.timezone, c.frozen_time"
TENANT_BY_ID = (
    f"SELECT {TENANT_COLUMNS} FROM tenants t LEFT JOIN test_clocks c ON c.id = t.test_clock_id WHERE t.id = ?"
)
TENANT_PAGE = (
    f"SELECT {TENANT_COLUMNS} FROM tenants t LEFT JOIN test_clocks c ON c.id = t.test_clock_id "
    "ORDER BY t.id LIMIT ?"
)


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": int(amount), "currency": currency}


def _month(now: datetime, timezone: str) -> tuple[date, date]:
    """The first and last day of the month ``now`` falls in, in ``timezone``."""
    local = now.astimezone(ZoneInfo(timezone)).date()
    return local.replace(day=1), local.replace(day=calendar.monthrange(local.year, local.month)[1])


async def tenant_nodes(conn: Conn, tenants: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The dashboard of each tenant row (TENANT_COLUMNS), in a fixed number of statements."""
    if not tenants:
        return []
    ids = [t[0] for t in tenants]
    where, args = conn.among("s.tenant_id", ids)
    subscriptions = {
        row[0]: row
        for row in await conn.fetch(
            "SELECT s.tenant_id, s.id, s.status, s.current_period_start, s.current_period_end, "
            "p.id, p.code, p.name, p.currency, p.base_price, p.included_seats "
            f"FROM subscriptions s JOIN plans p ON p.id = s.plan_id WHERE {where} AND s.status <> "
            "'CANCELLED'",
            *args,
        )
    }
    held: dict[str, list[Sequence[Any]]] = defaultdict(list)
    if subscriptions:
        where, args = conn.among("sa.subscription_id", [s[1] for s in subscriptions.values()])
        for row in await conn.fetch(
            "SELECT sa.subscription_id, sa.quantity, a.id, a.code, a.name, a.seat_type, a.seats_per_unit "
            f"FROM subscription_addons sa JOIN addons a ON a.id = sa.addon_id WHERE {where} "
            "ORDER BY sa.subscription_id, sa.addon_id",
            *args,
        ):
            held[row[0]].append(row)
    used: dict[str, dict[str, int]] = defaultdict(dict)
    where, args = conn.among("tenant_id", ids)
    for tenant_id, seat_type, count in await conn.fetch(
        f"SELECT tenant_id, seat_type, COUNT(*) FROM members WHERE {where} AND status = 'ACTIVE' "
        "GROUP BY tenant_id, seat_type",
        *args,
    ):
        used[tenant_id][seat_type] = int(count)
    meters = await conn.fetch("SELECT id, name, aggregation FROM meters ORDER BY created_at, id")
    counts = await _month_counts(conn, tenants, meters)
    invoices = await _invoices(conn, ids)

    nodes = []
    for tenant_id, name, currency, _, _ in tenants:
        subscription = subscriptions.get(tenant_id)
        node: dict[str, Any] = {"id": tenant_id, "name": name, "currency": currency, "subscription": None}
        totals = dict.fromkeys(SEAT_TYPES, 0)
        included = 0
        if subscription is not None:
            _, sub_id, status, start, end, plan_id, code, plan_name, plan_currency, price, included = (
                subscription
            )
            items = held.get(sub_id, [])
            node["subscription"] = {
                "id": sub_id,
                "status": status,
                "currentPeriodStart": conn.time(start),
                "currentPeriodEnd": conn.time(end),
                "plan": {
                    "id": plan_id,
                    "code": code,
                    "name": plan_name,
                    "basePrice": _money(price, plan_currency),
                    "includedSeats": included,
                },
                "addons": [
                    {"addon": {"id": a[2], "code": a[3], "name": a[4]}, "quantity": a[1]} for a in items
                ],
            }
            totals["FULL"] = included
            for _, quantity, _, _, _, seat_type, per_unit in items:
                if seat_type is not None:
                    totals[seat_type] += quantity * per_unit
        in_use = used.get(tenant_id, {})
        total = sum(totals.values())
        node["seats"] = {
            "included": included,
            "purchased": total - included,
            "total": total,
            "used": sum(in_use.get(t, 0) for t in SEAT_TYPES),
            "available": sum(max(totals[t] - in_use.get(t, 0), 0) for t in SEAT_TYPES),
        }
        node["meterUnitMonthCounts"] = [
            {
                "meterName": meter_name,
                "aggregation": aggregation,
                "count": counts.get((tenant_id, meter_id), 0) / MICRO,
            }
            for meter_id, meter_name, aggregation in meters
        ]
        node["invoices"] = {"edges": [{"node": invoice} for invoice in invoices.get(tenant_id, [])]}
        nodes.append(node)
    return nodes


async def _month_counts(
    conn: Conn, tenants: Sequence[Sequence[Any]], meters: Sequence[Sequence[Any]]
) -> dict[tuple[str, str], int]:
    """(tenant id, meter id) -> the count in millionths this month on the tenant's clock
    (its test clock's frozen time, else now) in its timezone: one GROUP BY per distinct
    month (one, unless the page's tenants straddle a month's end)."""
    if not meters:
        return {}
    now = datetime.now(UTC)
    spans: dict[tuple[date, date], list[str]] = defaultdict(list)
    for tenant_id, _, _, timezone, frozen in tenants:
        spans[_month(conn.instant(frozen) if frozen is not None else now, timezone)].append(tenant_id)
    aggregation = {m[0]: m[2] for m in meters}
    latest = [m[0] for m in meters if m[2] == "LATEST"]
    counts: dict[tuple[str, str], int] = {}
    for (first, last), tenant_ids in spans.items():
        tenant_in, tenant_args = conn.among("tenant_id", tenant_ids)
        meter_in, meter_args = conn.among("meter_id", list(aggregation))
        for tenant_id, meter_id, total, points, biggest in await conn.fetch(
            "SELECT tenant_id, meter_id, SUM(total), SUM(points), MAX(max_value) FROM usage_days "
            f"WHERE {tenant_in} AND {meter_in} AND day >= ? AND day <= ? GROUP BY tenant_id, meter_id",
            *tenant_args,
            *meter_args,
            conn.day(first),
            conn.day(last),
        ):
            kind = aggregation[meter_id]
            value = (
                total
                if kind == "SUM"
                else biggest
                if kind == "MAX"
                else points * MICRO
                if kind == "COUNT"
                else 0
            )
            counts[(tenant_id, meter_id)] = int(value)
        if latest:  # the value of the month's latest point, from the day that holds it
            meter_in, meter_args = conn.among("meter_id", latest)
            newest: dict[tuple[str, str], tuple[int, int]] = {}
            for tenant_id, meter_id, ts, value in await conn.fetch(
                f"SELECT tenant_id, meter_id, latest_ts, latest_value FROM usage_days "
                f"WHERE {tenant_in} AND {meter_in} AND day >= ? AND day <= ?",
                *tenant_args,
                *meter_args,
                conn.day(first),
                conn.day(last),
            ):
                if (tenant_id, meter_id) not in newest or ts > newest[(tenant_id, meter_id)][0]:
                    newest[(tenant_id, meter_id)] = (ts, int(value))
            counts.update({key: value for key, (_, value) in newest.items()})
    return counts


async def _invoices(conn: Conn, tenant_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Each tenant's newest invoices (ids sort by creation), newest first, with lines."""
    where, args = conn.among("tenant_id", tenant_ids)
    columns = "id, tenant_id, number, status, currency, period_start, period_end, total, amount_due"
    rows = await conn.fetch(
        f"SELECT {columns} FROM (SELECT {columns}, "
        "row_number() OVER (PARTITION BY tenant_id ORDER BY id DESC) AS rank "
        f"FROM invoices WHERE {where}) ranked WHERE rank <= ? ORDER BY tenant_id, id DESC",
        *args,
        INVOICES_PER_TENANT,
    )
    if not rows:
        return {}
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    currency = {row[0]: row[4] for row in rows}
    where, args = conn.among("invoice_id", list(currency))
    for invoice_id, kind, description, quantity, amount in await conn.fetch(
        f"SELECT invoice_id, kind, description, quantity, amount FROM invoice_lines WHERE {where} "
        "ORDER BY invoice_id, position",
        *args,
    ):
        lines[invoice_id].append(
            {
                "kind": kind,
                "description": description,
                "quantity": int(quantity),
                "amount": _money(amount, currency[invoice_id]),
            }
        )
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for invoice_id, tenant_id, number, status, cur, start, end, total, due in rows:
        found[tenant_id].append(
            {
                "id": invoice_id,
                "number": number,
                "status": status,
                "periodStart": conn.time(start),
                "periodEnd": conn.time(end),
                "total": _money(total, cur),
                "amountDue": _money(due, cur),
                "lines": lines.get(invoice_id, []),
            }
        )
    return found


# -- writes ----------------------------------------------------------------------------

LOCK_SUBSCRIPTION = {
    # The live subscription's row, locked as the product locks it (FOR NO KEY UPDATE):
    # concurrent invites of the team queue here, so each counts the members the
    # previous ones committed.
    "postgres": "SELECT s.id, s.plan_id, c.frozen_time "
    "FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id "
    "LEFT JOIN test_clocks c ON c.id = t.test_clock_id WHERE s.tenant_id = ? AND s.status <> 'CANCELLED' "
    "FOR NO KEY UPDATE OF s",
    # BEGIN IMMEDIATE already holds the database's write lock.
    "sqlite": "SELECT s.id, s.plan_id, c.frozen_time "
    "FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id "
    "LEFT JOIN test_clocks c ON c.id = t.test_clock_id WHERE s.tenant_id = ? AND s.status <> 'CANCELLED'",
}
SEATS = """SELECT p.included_seats + COALESCE((SELECT SUM(sa.quantity * a.seats_per_unit)
    FROM subscription_addons sa JOIN addons a ON a.id = sa.addon_id
    WHERE sa.subscription_id = ? AND a.seat_type = 'FULL'), 0),
  (SELECT COUNT(*) FROM members WHERE tenant_id = ? AND status = 'ACTIVE' AND seat_type = 'FULL'),
  (SELECT id FROM members WHERE tenant_id = ? AND email = ? AND status = 'ACTIVE')
FROM plans p WHERE p.id = ?"""
INSERT_MEMBER = """INSERT INTO members (id, tenant_id, email, seat_type, status, invited_by, created_at)
VALUES (?, ?, ?, 'FULL', 'ACTIVE', ?, ?)"""
INSERT_AUDIT = (
    "INSERT INTO audit_entries (id, tenant_id, actor_api_key_id, action, subject_id, before, after, at)\n"
    "VALUES (?, ?, ?, 'member.invited', ?, ?, ?, ?)"
)


def _error(typename: str, code: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"__typename": typename, **fields, "code": code, "message": message}


async def invite_member(conn: Conn, kind: str, key_id: str, tenant_id: str, email: str) -> dict[str, Any]:
    """A FULL seat for ``email`` if one is free: the check and the insert under one lock."""
    email = email.strip().lower()
    if "@" not in email:
        return _error("ValidationError", "VALIDATION_FAILED", "is not an email address", field="input.email")
    async with conn.write():
        found = await conn.fetch(LOCK_SUBSCRIPTION[kind], tenant_id)
        if not found:
            return _error(
                "SubscriptionNotActiveError",
                "SUBSCRIPTION_NOT_ACTIVE",
                f"Tenant {tenant_id!r} has no active subscription, so it has no seats; subscribe first.",
            )
        subscription_id, plan_id, frozen = found[0]
        total, used, taken = (await conn.fetch(SEATS, subscription_id, tenant_id, tenant_id, email, plan_id))[
            0
        ]
        total, used = int(total), int(used)
        if taken is not None:
            return _error(
                "ValidationError",
                "VALIDATION_FAILED",
                f"{email} is already a member of this team ({taken})",
                field="input.email",
            )
        if used >= total:
            return _error("NoSeatsAvailableError", "NO_SEATS_AVAILABLE", NO_SEATS)
        now = conn.instant(frozen) if frozen is not None else datetime.now(UTC)
        member = {"id": new_id("mem"), "email": email, "seatType": "FULL", "status": "ACTIVE"}
        await conn.execute(INSERT_MEMBER, member["id"], tenant_id, email, key_id, conn.stamp(now))
        seats = {"seatType": "FULL", "total": total}
        await conn.execute(
            INSERT_AUDIT,
            new_id("aud"),
            tenant_id,
            key_id,
            member["id"],
            json.dumps({"member": None, "seats": {**seats, "used": used}}),
            json.dumps({"member": member, "seats": {**seats, "used": used + 1}}),
            conn.stamp(now),
        )
    return {"__typename": "Member", **member}


# -- the app ---------------------------------------------------------------------------


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def _admin_key(conn: Conn, request: Request) -> str | None:
    """The id of the request's Bearer key if it is a live ADMIN key: one indexed SELECT."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret:
        return None
    rows = await conn.fetch(
        "SELECT id, role FROM api_keys WHERE secret_hash = ? AND revoked_at IS NULL", _hash(secret.strip())
    )
    return rows[0][0] if rows and rows[0][1] == "ADMIN" else None


def _answer(content: Any, conn: Conn) -> Response:
    return JSONResponse(content, headers={"X-Bench-Statements": str(conn.statements)})


UNAUTHORIZED = {"error": "an ADMIN API key is required: Authorization: Bearer <key>"}


def create_app(url: str | None = None) -> Starlette:
    url = url or os.environ["BENCH_BASELINE_DATABASE_URL"]
    pool = pool_for(url)
    kind = "sqlite" if isinstance(pool, SqlitePool) else "postgres"

    async def healthz(_: Request) -> Response:
        async with pool.acquire() as conn:
            await conn.fetch("SELECT 1")
        return JSONResponse({"status": "ok"})

    async def dashboard(request: Request) -> Response:
        body = await request.json()
        async with pool.acquire() as conn:
            if await _admin_key(conn, request) is None:
                return JSONResponse(UNAUTHORIZED, status_code=401)
            nodes = await tenant_nodes(conn, await conn.fetch(TENANT_BY_ID, str(body["tenantId"])))
            return _answer({"tenant": nodes[0] if nodes else None}, conn)

    async def fleet(request: Request) -> Response:
        body = await request.json()
        first = int(body["first"])
        if not 1 <= first <= 100:
            return JSONResponse({"error": "first must be between 1 and 100"}, status_code=400)
        async with pool.acquire() as conn:
            if await _admin_key(conn, request) is None:
                return JSONResponse(UNAUTHORIZED, status_code=401)
            nodes = await tenant_nodes(conn, await conn.fetch(TENANT_PAGE, first))
            return _answer({"tenants": {"edges": [{"node": node} for node in nodes]}}, conn)

    async def invite(request: Request) -> Response:
        body = await request.json()
        async with pool.acquire() as conn:
            key_id = await _admin_key(conn, request)
            if key_id is None:
                return JSONResponse(UNAUTHORIZED, status_code=401)
            result = await invite_member(conn, kind, key_id, str(body["tenantId"]), str(body["email"]))
            return _answer({"inviteMember": result}, conn)

    async def entitlement(request: Request) -> Response:
        body = await request.json()
        tenant_id, code = str(body["tenantId"]), str(body["featureCode"])
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        async with pool.acquire() as conn:
            found = await conn.fetch(KEY, _hash(secret.strip())) if scheme.lower() == "bearer" else []
            if not found:
                return JSONResponse(UNAUTHORIZED, status_code=401)
            answer = (
                await check_entitlement(conn, tenant_id, code) if may_read(*found[0], tenant_id) else None
            )
            if answer is None:
                return JSONResponse(
                    {"error": f"no feature {code!r} for tenant {tenant_id!r}"}, status_code=404
                )
            return _answer({"entitlement": answer}, conn)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await pool.open()
        gc.freeze()  # as the gateway's lifespan does
        try:
            yield
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/dashboard", dashboard, methods=["POST"]),
            Route("/fleet", fleet, methods=["POST"]),
            Route("/invite", invite, methods=["POST"]),
            Route("/entitlement", entitlement, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
