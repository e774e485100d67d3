"""Seat enforcement under concurrency, through the real HTTP app on both databases:
the seat check and the member insert are one atomic step, so concurrent invites
never admit more members than there are seats."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.builders.api import Api, new_tenant
from tests.builders.billing import (
    change_input,
    change_plan,
    create_plan,
    invite,
    invoices,
    plan_with_seat_addon,
    seats,
    subscribe,
)


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
    members = await api("query($id: ID!) { tenant(id: $id) { members { email } } }", {"id": tenant})
    admitted = {r["email"] for r in results if r["__typename"] == "Member"}
    assert {m["email"] for m in members["tenant"]["members"]} == admitted
    log = await api(
        "query($id: ID!) { auditLog(tenantId: $id, first: 100) { edges { node { action } } } }",
        {"id": tenant},
    )
    actions = Counter(e["node"]["action"] for e in log["auditLog"]["edges"])
    assert actions == {"subscription.created": 1, "member.invited": 5}


async def test_invites_racing_removals_never_overshoot(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00, includedSeats=3)
    tenant = await new_tenant(api)
    await subscribe(api, tenant, plan)
    first = [await invite(api, tenant, f"old{i}@team.example") for i in range(3)]

    removals = [
        api(
            "mutation($id: ID!) { removeMember(memberId: $id) { ... on Member { status } } }", {"id": m["id"]}
        )
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


async def test_a_seat_reduction_racing_invites_never_leaves_more_members_than_seats(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "team", 0, 10_00)
    tenant = await new_tenant(api)
    subscription = (await subscribe(api, tenant, plan, {seat: 6}))["id"]
    await invite(api, tenant, "first@team.example")

    down = change_plan(api, change_input(subscription, plan, {seat: 3}))
    results = await asyncio.gather(down, *(invite(api, tenant, f"user{i}@team.example") for i in range(8)))

    summary = await seats(api, tenant)
    assert summary["used"] <= summary["total"]
    change, invites = results[0], results[1:]
    admitted = sum(1 for r in invites if r["__typename"] == "Member")
    if change["__typename"] == "PlanChange":  # it went first, or while at most 3 seats were taken
        assert summary["total"] == 3
    else:  # invites filled more than 3 seats first
        assert (change["code"], summary["total"]) == ("SEATS_IN_USE", 6)
        # Counted when the change ran; invites may have been admitted after it.
        assert 1 <= change["membersToRemove"] <= 1 + admitted - 3
    assert summary["used"] == 1 + admitted


async def test_concurrent_changes_with_one_idempotency_key_bill_once(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "team", 0, 10_00)
    tenant = await new_tenant(api)
    subscription = (await subscribe(api, tenant, plan, {seat: 5}))["id"]
    spec = change_input(subscription, plan, {seat: 10}, mode="DIFFERENCE_IMMEDIATELY", key="upgrade-1")

    results = await asyncio.gather(*(change_plan(api, spec) for _ in range(8)))

    assert {r["__typename"] for r in results} == {"PlanChange"}
    assert {r["invoice"]["number"] for r in results} == {"TEAM-0002"}
    assert [i["number"] for i in await invoices(api, tenant)] == ["TEAM-0002", "TEAM-0001"]
    assert results[0]["subscription"]["seats"]["total"] == 10
