"""Seat contention: ``profile.invites`` concurrent invites (distinct emails) to one team
with ``profile.free_seats`` free seats.

Each path gets a team of its own, subscribed through the product's services to a plan
whose included seats plus a seat add-on's units make the free seats (no members yet),
on the system clock. One kept-alive connection per invite is opened first; then every
invite is sent at once and the time runs until the last answer:

- http: ``inviteMember`` (INVITE) through the real `serve` process;
- baseline: POST /invite to bench.baseline, which locks the team's live subscription
  row (PostgreSQL: SELECT ... FOR NO KEY UPDATE, as the product does; SQLite: BEGIN
  IMMEDIATE), counts the seats and the active members, and inserts the member and its
  audit entry.

Both must admit exactly the free seats and answer every other invite with the typed
NoSeatsAvailableError (the same JSON from both), and the database must then hold
exactly that many active members: BenchError otherwise. Before timing, each path
invites as many as it has clients of the dashboard workload to a warm-up team of its
own (opening connections in both servers' pools).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

from bench.core import BenchError, Context, Row, measure, workload
from bench.server import Process, Response
from bench.workloads.dashboard import baseline_request, graphql_request
from models.catalog import service as catalog
from models.catalog.inputs import AddonCreate, PlanCreate
from models.platform.access import operator
from models.subscriptions import service as subscriptions
from models.subscriptions.inputs import SubscriptionCreate
from models.tenants import service as tenants
from models.tenants.inputs import TenantCreate

INVITE = """mutation Invite($input: InviteMemberInput!) { inviteMember(input: $input) {
  __typename
  ... on Member { id email seatType status }
  ... on Error { code message }
} }"""
NO_SEATS = {
    "__typename": "NoSeatsAvailableError",
    "code": "NO_SEATS_AVAILABLE",
    "message": "No seats available. Please upgrade your plan.",
}


async def _teams(ctx: Context, count: int, free: int) -> list[str]:
    """``count`` teams with ``free`` seats each: a fifth included in the plan, the rest
    bought as seat add-on units."""
    admin = operator()
    included = free // 5
    plan = await catalog.create_plan(
        ctx.deps,
        admin,
        PlanCreate.parse(
            {
                "code": "bench_seats",
                "name": "Seats",
                "currency": "USD",
                "base_price": 10_00,
                "included_seats": included,
            }
        ),
    )
    seat = await catalog.create_addon(
        ctx.deps,
        admin,
        AddonCreate.parse(
            {
                "code": "bench_seats_seat",
                "name": "Seat",
                "currency": "USD",
                "price": 3_00,
                "seat_type": "FULL",
            }
        ),
    )
    await catalog.attach_addon(ctx.deps, admin, plan.id, seat.id)
    teams = []
    for n in range(count):
        tenant = await tenants.create_tenant(
            ctx.deps,
            admin,
            TenantCreate.parse(
                {
                    "name": f"Seats {n}",
                    "email": "seats@example.com",
                    "currency": "USD",
                    "timezone": "UTC",
                }
            ),
        )
        await subscriptions.subscribe(
            ctx.deps,
            admin,
            SubscriptionCreate.parse(
                {
                    "tenant_id": tenant.id,
                    "plan_id": plan.id,
                    "addons": [{"addon_id": seat.id, "quantity": free - included}],
                }
            ),
        )
        teams.append(tenant.id)
    return teams


def _result(response: Response, product: bool) -> dict[str, Any]:
    if response.status != 200:
        raise BenchError(f"an invite got {response.status}: {response.body[:300]!r}")
    body = json.loads(response.body)
    if product:
        if body.get("errors"):
            raise BenchError(f"inviteMember: GraphQL errors: {body['errors'][:3]}")
        body = body["data"]
    return body["inviteMember"]


async def _invite_all(
    process: Process, requests: list[bytes], product: bool
) -> tuple[float, list[dict[str, Any]]]:
    """(seconds from sending every invite at once to the last answer, the answers)."""
    connections = await asyncio.gather(*(process.connect() for _ in requests))
    try:
        began = time.perf_counter()
        answers = await asyncio.gather(*(c.send(r) for c, r in zip(connections, requests, strict=True)))
        seconds = time.perf_counter() - began
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    return seconds, [_result(a, product) for a in answers]


def _admitted(results: list[dict[str, Any]], free: int, what: str) -> None:
    kinds = Counter(r["__typename"] for r in results)
    refused = [r for r in results if r["__typename"] != "Member"]
    if kinds["Member"] != free or any(r != NO_SEATS for r in refused):
        odd = [r for r in refused if r != NO_SEATS][:2]
        raise BenchError(
            f"{what} admitted {kinds['Member']} of {len(results)} invites for {free} free seats "
            f"({dict(kinds)}; {odd})"
        )


@workload(
    "seats",
    "concurrent invites for a few free seats: exactly that many admitted, invites/s vs hand-written SQL",
)
async def seats(ctx: Context) -> list[Row]:
    profile, db = ctx.profile, ctx.database
    invites, free = profile.invites, profile.free_seats
    server, baseline, secret = await ctx.server(), await ctx.baseline(), await ctx.admin_secret()
    warm_http, warm_baseline, team_http, team_baseline = await _teams(ctx, 4, free)

    def requests(team: str, tag: str, count: int, product: bool) -> list[bytes]:
        emails = [f"{tag}{n}@example.com" for n in range(count)]
        if product:
            return [
                graphql_request(server.port, secret, INVITE, {"input": {"tenantId": team, "email": e}})
                for e in emails
            ]
        return [
            baseline_request(baseline.port, secret, "/invite", {"tenantId": team, "email": e}) for e in emails
        ]

    warm = min(invites, profile.clients)
    await _invite_all(server, requests(warm_http, "warm", warm, True), True)
    await _invite_all(baseline, requests(warm_baseline, "warm", warm, False), False)

    ctx.log(f"seats: {invites} concurrent invites for {free} seats, per path")
    timed = {}
    for path, process, team, product in (
        ("http", server, team_http, True),
        ("baseline", baseline, team_baseline, False),
    ):
        seconds, results = await _invite_all(process, requests(team, "member", invites, product), product)
        _admitted(results, free, "the gateway" if product else "the baseline")
        timed[path] = seconds
    raw = await ctx.db.connect()
    try:
        for team in (team_http, team_baseline):
            active = await raw.fetchval(
                "SELECT COUNT(*) FROM members WHERE tenant_id = ? AND status = 'ACTIVE'", team
            )
            if int(active) != free:
                raise BenchError(f"team {team} holds {active} active members after the invites, not {free}")
    finally:
        await raw.close()

    note = f"{free} admitted, {invites - free} NO_SEATS_AVAILABLE (each path)"
    return [
        measure(
            "seats/http",
            db,
            f"invites/s, {invites} at once",
            invites / timed["http"],
            "invites/s",
            baseline=invites / timed["baseline"],
            headline=True,
            note=note,
        ),
        measure(
            "seats/http",
            db,
            f"wall time, {invites} invites",
            timed["http"] * 1000,
            "ms",
            baseline=timed["baseline"] * 1000,
        ),
    ]
