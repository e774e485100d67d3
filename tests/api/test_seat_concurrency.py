"""Seat enforcement under concurrency, through the real HTTP app on both databases:
the seat check and the member insert are one atomic step, so concurrent invites
never admit more members than there are seats."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.api.billing import create_plan, invite, seats, subscribe
from tests.conftest import Api, new_tenant


async def test_40_concurrent_invites_for_5_free_seats_admit_exactly_5(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00, includedSeats=5)
    tenant = await new_tenant(api)
    assert (await subscribe(api, tenant, plan))["seats"]["available"] == 5

    results = await asyncio.gather(*(invite(api, tenant, f"user{i}@team.example") for i in range(40)))

    outcomes = Counter(r["__typename"] for r in results)
    assert outcomes == {"Member": 5, "NoSeatsAvailableError": 35}
    assert {r["message"] for r in results if r["__typename"] != "Member"} == {
        "No seats available. Please upgrade your plan."
    }
    summary = await seats(api, tenant)
    assert (summary["total"], summary["used"], summary["available"]) == (5, 5, 0)
    members = (await api("query($id: ID!) { tenant(id: $id) { members { email } } }", {"id": tenant}))
    admitted = {r["email"] for r in results if r["__typename"] == "Member"}
    assert {m["email"] for m in members["tenant"]["members"]} == admitted
    log = await api("query($id: ID!) { auditLog(tenantId: $id, first: 100) { edges { node { action } } } }",
                    {"id": tenant})
    actions = Counter(e["node"]["action"] for e in log["auditLog"]["edges"])
    assert actions == {"subscription.created": 1, "member.invited": 5}


async def test_invites_racing_removals_never_overshoot(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00, includedSeats=3)
    tenant = await new_tenant(api)
    await subscribe(api, tenant, plan)
    first = [await invite(api, tenant, f"old{i}@team.example") for i in range(3)]

    removals = [
        api("mutation($id: ID!) { removeMember(memberId: $id) { ... on Member { status } } }", {"id": m["id"]})
        for m in first[:2]
    ]
    invites = [invite(api, tenant, f"new{i}@team.example") for i in range(20)]
    results = await asyncio.gather(*removals, *invites)

    admitted = sum(1 for r in results[2:] if r["__typename"] == "Member")
    summary = await seats(api, tenant)
    assert summary["used"] == 1 + admitted <= 3
    assert admitted <= 2


async def test_concurrent_subscribes_create_one_subscription(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00, includedSeats=5)
    tenant = await new_tenant(api)

    same_key = await asyncio.gather(*(subscribe(api, tenant, plan, key="checkout-1") for _ in range(10)))
    assert {r["__typename"] for r in same_key} == {"Subscription"}
    assert len({r["id"] for r in same_key}) == 1
    assert {r["latestInvoice"]["number"] for r in same_key} == {"TEAM-0001"}

    other_keys = await asyncio.gather(*(subscribe(api, tenant, plan, key=f"other-{i}") for i in range(10)))
    assert {r["code"] for r in other_keys} == {"ALREADY_SUBSCRIBED"}
