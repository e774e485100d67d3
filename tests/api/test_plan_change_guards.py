"""Every refusal of previewChangePlan and changePlan, by its error code, over GraphQL.

Each guard is tried through both mutations: the preview and the change give the same
error (same type, message and details), and the refused change leaves the
subscription's plan, add-ons and period, the tenant's invoices and its credit balance
as they were. Where a guard has a boundary, the side just inside it is shown to pass,
so no test passes merely because everything is refused. Also: the idempotency key's
conflict and replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.builders.api import Api, new_key
from tests.builders.billing import (
    attach,
    change_input,
    change_plan,
    create_addon,
    create_plan,
    invite,
    preview_change,
    subscribe,
)
from tests.builders.clocks import new_clock, tenant_on

ERRORS = """... on SeatsInUseError { membersToRemove members { email seatType } }
  ... on ValidationError { field } ... on Error { code message }"""
PREVIEW = f"""mutation($input: ChangePlanInput!) {{ previewChangePlan(input: $input) {{ __typename
  ... on PlanChangePreview {{ newSubscription {{ plan {{ code }} }} }} {ERRORS} }} }}"""
CHANGE = f"""mutation($input: ChangePlanInput!) {{ changePlan(input: $input) {{ __typename
  ... on PlanChange {{ subscription {{ plan {{ code }} }} invoice {{ number }} }} {ERRORS} }} }}"""
STATE = """query($sub: ID!, $tenant: ID!) {
  subscription(id: $sub) { status plan { code } addons { addon { code } quantity }
                           currentPeriodStart currentPeriodEnd scheduledChange { plan { code } } }
  tenant(id: $tenant) { creditBalance { amount }
                        invoices { edges { node { number total { amount } } } } } }"""


@dataclass
class Team:
    """A USD tenant on a clock, on the Team plan ($50, 2 FULL seats included, 3 to 12
    seats over every type) with 3 FULL seats ($10) and 2 VIEWER seats ($5) bought."""

    clock: str
    tenant: str
    plan: str
    full: str
    viewer: str
    subscription: str


async def team(api: Api) -> Team:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock)
    plan = await create_plan(api, "team", 50_00, name="Team", includedSeats=2, minSeats=3, maxSeats=12)
    full = await create_addon(api, "full_seat", 10_00, seatType="FULL", name="Full seat")
    viewer = await create_addon(api, "viewer_seat", 5_00, seatType="VIEWER", name="Viewer seat")
    for addon in (full, viewer):
        assert (await attach(api, plan, addon))["__typename"] == "Plan"
    subscription = await subscribe(api, tenant, plan, {full: 3, viewer: 2})
    assert subscription["__typename"] == "Subscription", subscription
    assert subscription["seats"]["total"] == 7
    return Team(clock, tenant, plan, full, viewer, subscription["id"])


async def state(api: Api, t: Team) -> dict[str, Any]:
    """What a refused change must not touch, read with the admin key."""
    return await api(STATE, {"sub": t.subscription, "tenant": t.tenant})


async def attempt(api: Api, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(previewChangePlan's result, changePlan's result) for the same input."""
    preview = (await api(PREVIEW, {"input": spec}))["previewChangePlan"]
    change = (await api(CHANGE, {"input": spec}))["changePlan"]
    return preview, change


async def refused(
    api: Api, t: Team, spec: dict[str, Any], code: str, as_api: Api | None = None
) -> dict[str, Any]:
    """Both mutations give the same ``code`` error and nothing changes; the error."""
    before = await state(api, t)
    preview, change = await attempt(as_api or api, spec)
    assert change.get("code") == code, change
    assert preview == change
    assert await state(api, t) == before
    return change


async def accepted(api: Api, spec: dict[str, Any]) -> dict[str, Any]:
    """Both mutations succeed; the PlanChange."""
    preview, change = await attempt(api, spec)
    assert preview["__typename"] == "PlanChangePreview", preview
    assert change["__typename"] == "PlanChange", change
    return change


async def test_seats_in_use_names_the_members_holding_the_seats(api: Api) -> None:
    t = await team(api)
    emails = [f"m{i}@example.com" for i in range(4)]
    for email in emails:
        assert (await invite(api, t.tenant, email))["__typename"] == "Member"
    await invite(api, t.tenant, "v@example.com", "VIEWER")

    # 2 included + 1 bought = 3 FULL seats for 4 FULL members.
    error = await refused(
        api, t, change_input(t.subscription, t.plan, {t.full: 1, t.viewer: 2}), "SEATS_IN_USE"
    )
    assert error["__typename"] == "SeatsInUseError"
    assert error["membersToRemove"] == 1
    assert sorted(m["email"] for m in error["members"]) == emails  # the FULL members only
    assert {m["seatType"] for m in error["members"]} == {"FULL"}

    # 3 FULL and 0 VIEWER seats: one member of each type too many; both types are listed.
    error = await refused(api, t, change_input(t.subscription, t.plan, {t.full: 1}), "SEATS_IN_USE")
    assert error["membersToRemove"] == 2
    assert sorted(m["email"] for m in error["members"]) == [*emails, "v@example.com"]

    # Exactly as many FULL seats as FULL members fits.
    await accepted(api, change_input(t.subscription, t.plan, {t.full: 2, t.viewer: 2}))
    sub = (await state(api, t))["subscription"]
    assert sub["addons"] == [
        {"addon": {"code": "full_seat"}, "quantity": 2},
        {"addon": {"code": "viewer_seat"}, "quantity": 2},
    ]


async def test_viewer_members_block_reducing_viewer_seats_even_with_full_seats_to_spare(api: Api) -> None:
    t = await team(api)
    await invite(api, t.tenant, "full@example.com", "FULL")
    for email in ("v1@example.com", "v2@example.com"):
        assert (await invite(api, t.tenant, email, "VIEWER"))["__typename"] == "Member"

    # 2 + 8 FULL seats, 1 VIEWER seat: 9 seats free in all, but only 1 VIEWER seat.
    error = await refused(
        api, t, change_input(t.subscription, t.plan, {t.full: 8, t.viewer: 1}), "SEATS_IN_USE"
    )
    assert error["membersToRemove"] == 1
    assert sorted(m["email"] for m in error["members"]) == ["v1@example.com", "v2@example.com"]
    assert "1 VIEWER" in error["message"]

    await accepted(api, change_input(t.subscription, t.plan, {t.full: 8, t.viewer: 2}))


async def test_below_minimum_seats_counts_every_seat_type(api: Api) -> None:
    t = await team(api)
    # 2 included seats and nothing bought: under the plan's minimum of 3.
    error = await refused(api, t, change_input(t.subscription, t.plan, {}), "BELOW_MINIMUM_SEATS")
    assert "at least 3" in error["message"] and "would give 2" in error["message"], error
    error = await refused(
        api, t, change_input(t.subscription, t.plan, {t.full: 0, t.viewer: 0}), "BELOW_MINIMUM_SEATS"
    )

    # A VIEWER seat counts towards the minimum: 2 + 1 = 3.
    change = await accepted(api, change_input(t.subscription, t.plan, {t.viewer: 1}))
    assert change["subscription"]["plan"]["code"] == "team"


async def test_above_maximum_seats_counts_every_seat_type(api: Api) -> None:
    t = await team(api)
    # 2 + 8 FULL + 3 VIEWER = 13, one over the plan's maximum of 12.
    error = await refused(
        api, t, change_input(t.subscription, t.plan, {t.full: 8, t.viewer: 3}), "ABOVE_MAXIMUM_SEATS"
    )
    assert "at most 12" in error["message"] and "would give 13" in error["message"], error

    # The maximum applies to the new plan: a bigger plan takes the same 13 seats.
    big = await create_plan(api, "big", 80_00, name="Big", includedSeats=2, maxSeats=20)
    for addon in (t.full, t.viewer):
        await attach(api, big, addon)
    await accepted(api, change_input(t.subscription, t.plan, {t.full: 7, t.viewer: 3}))  # 12: allowed
    await refused(
        api, t, change_input(t.subscription, t.plan, {t.full: 8, t.viewer: 3}), "ABOVE_MAXIMUM_SEATS"
    )
    change = await accepted(api, change_input(t.subscription, big, {t.full: 8, t.viewer: 3}))
    assert change["subscription"]["plan"]["code"] == "big"


async def test_a_plan_in_another_currency_is_a_currency_mismatch(api: Api) -> None:
    t = await team(api)
    yen = await create_plan(api, "team_jp", 5_000, name="Team JP", currency="JPY", includedSeats=5)
    error = await refused(api, t, change_input(t.subscription, yen, {}), "CURRENCY_MISMATCH")
    assert "JPY" in error["message"] and "USD" in error["message"], error


async def test_an_addon_not_offered_with_the_plan_is_refused(api: Api) -> None:
    t = await team(api)
    storage = await create_addon(api, "storage", 5_00, name="Storage")
    error = await refused(
        api, t, change_input(t.subscription, t.plan, {t.full: 3, storage: 1}), "ADDON_NOT_ATTACHED"
    )
    assert "storage" in error["message"] and "input.addons[1]" in error["message"], error

    # Switching plans keeps the current add-ons when none are given: the new plan must offer them.
    solo = await create_plan(api, "solo", 20_00, name="Solo", includedSeats=10)
    error = await refused(api, t, change_input(t.subscription, solo), "ADDON_NOT_ATTACHED")
    assert "full_seat" in error["message"] and "solo" in error["message"], error
    change = await accepted(api, change_input(t.subscription, solo, {}))
    assert change["subscription"]["plan"]["code"] == "solo"


async def test_an_archived_addon_can_be_kept_or_lowered_but_not_bought(api: Api) -> None:
    t = await team(api)
    archived = (
        await api("mutation($id: ID!) { archiveAddon(addonId: $id) { __typename } }", {"id": t.full})
    )["archiveAddon"]
    assert archived["__typename"] == "Addon"

    error = await refused(
        api, t, change_input(t.subscription, t.plan, {t.full: 4, t.viewer: 2}), "ADDON_ARCHIVED"
    )
    assert "full_seat" in error["message"], error

    # The same quantity, given or left out, stays; the other add-on may still grow.
    await accepted(api, change_input(t.subscription, t.plan))
    await accepted(api, change_input(t.subscription, t.plan, {t.full: 3, t.viewer: 3}))
    # Lowering is allowed, and what was given up cannot be bought back.
    await accepted(api, change_input(t.subscription, t.plan, {t.full: 2, t.viewer: 3}))
    assert (await state(api, t))["subscription"]["addons"] == [
        {"addon": {"code": "full_seat"}, "quantity": 2},
        {"addon": {"code": "viewer_seat"}, "quantity": 3},
    ]
    await refused(api, t, change_input(t.subscription, t.plan, {t.full: 3, t.viewer: 3}), "ADDON_ARCHIVED")


async def test_a_cancelled_subscription_cannot_change(api: Api) -> None:
    t = await team(api)
    cancelled = (
        await api(
            """mutation($id: ID!) { cancelSubscription(subscriptionId: $id, atPeriodEnd: false) {
             __typename ... on Subscription { status } } }""",
            {"id": t.subscription},
        )
    )["cancelSubscription"]
    assert cancelled == {"__typename": "Subscription", "status": "CANCELLED"}

    error = await refused(
        api, t, change_input(t.subscription, t.plan, {t.full: 4, t.viewer: 2}), "SUBSCRIPTION_NOT_ACTIVE"
    )
    assert t.subscription in error["message"], error
    # Not even a change that bills nothing.
    await refused(api, t, change_input(t.subscription, t.plan, mode="DO_NOT_BILL"), "SUBSCRIPTION_NOT_ACTIVE")


async def test_unknown_ids_and_another_tenants_subscription_are_not_found(api: Api) -> None:
    t = await team(api)
    await refused(api, t, change_input("sub_unknown", t.plan), "NOT_FOUND")
    error = await refused(api, t, change_input(t.subscription, "plan_unknown"), "NOT_FOUND")
    assert "plan_unknown" in error["message"], error
    error = await refused(
        api, t, change_input(t.subscription, t.plan, {t.full: 3, "addon_unknown": 1}), "NOT_FOUND"
    )
    assert "addon_unknown" in error["message"], error

    other = await tenant_on(api, "Other Co", t.clock)
    outsider = await new_key(api, "TENANT", other)
    error = await refused(
        api,
        t,
        change_input(t.subscription, t.plan, {t.full: 4, t.viewer: 2}),
        "NOT_FOUND",
        as_api=api.as_key(outsider["secret"]),
    )
    assert t.subscription in error["message"], error

    # The tenant's own key may change its subscription.
    own = await new_key(api, "TENANT", t.tenant)
    change = await accepted(
        api.as_key(own["secret"]), change_input(t.subscription, t.plan, {t.full: 4, t.viewer: 2})
    )
    assert change["invoice"]["number"] == "ACME-0002"


async def test_bad_input_names_the_field(api: Api) -> None:
    t = await team(api)
    twice = change_input(t.subscription, t.plan)
    twice["addons"] = [{"addonId": t.full, "quantity": 3}, {"addonId": t.full, "quantity": 1}]
    error = await refused(api, t, twice, "VALIDATION_FAILED")
    assert error["field"] == "input.addons[1].addonId", error

    error = await refused(api, t, change_input(t.subscription, t.plan, {t.full: -1}), "VALIDATION_FAILED")
    assert error["field"] == "input.addons[0].quantity", error


async def test_a_month_to_year_switch_cannot_keep_the_period(api: Api) -> None:
    t = await team(api)
    yearly = await create_plan(
        api, "team_yearly", 500_00, name="Team yearly", interval="YEAR", includedSeats=2
    )
    for addon in (t.full, t.viewer):
        await attach(api, yearly, addon)

    for mode in ("PRORATED_IMMEDIATELY", "DIFFERENCE_IMMEDIATELY"):
        error = await refused(api, t, change_input(t.subscription, yearly, mode=mode), "VALIDATION_FAILED")
        assert error["field"] == "input.prorationBillingMode", error
        assert "FULL_IMMEDIATELY" in error["message"], error

    scheduled = await accepted(api, change_input(t.subscription, yearly, effective_at="NEXT_BILLING_DATE"))
    assert scheduled["invoice"] is None
    assert (await state(api, t))["subscription"]["scheduledChange"] == {"plan": {"code": "team_yearly"}}

    now = await accepted(api, change_input(t.subscription, yearly, mode="FULL_IMMEDIATELY"))
    assert now["subscription"]["plan"]["code"] == "team_yearly"
    sub = (await state(api, t))["subscription"]
    assert (sub["currentPeriodStart"], sub["currentPeriodEnd"], sub["scheduledChange"]) == (
        "2026-11-01T00:00:00+00:00",
        "2027-11-01T00:00:00+00:00",
        None,
    )


async def test_an_idempotency_key_reused_with_other_input_is_a_conflict(api: Api) -> None:
    t = await team(api)
    first = (
        await api(
            CHANGE, {"input": change_input(t.subscription, t.plan, {t.full: 4, t.viewer: 2}, key="upgrade-1")}
        )
    )["changePlan"]
    assert first["invoice"]["number"] == "ACME-0002", first

    before = await state(api, t)
    conflict = (
        await api(
            CHANGE, {"input": change_input(t.subscription, t.plan, {t.full: 5, t.viewer: 2}, key="upgrade-1")}
        )
    )["changePlan"]
    assert conflict["code"] == "IDEMPOTENCY_CONFLICT", conflict
    assert await state(api, t) == before
    # A preview records nothing and checks no key (its result type has no IDEMPOTENCY_CONFLICT):
    # it shows what the new input would do.
    preview = (
        await api(
            PREVIEW,
            {"input": change_input(t.subscription, t.plan, {t.full: 5, t.viewer: 2}, key="upgrade-1")},
        )
    )["previewChangePlan"]
    assert preview["__typename"] == "PlanChangePreview", preview


async def test_the_same_key_and_input_replays_the_first_change(api: Api) -> None:
    t = await team(api)
    spec = change_input(t.subscription, t.plan, {t.full: 4, t.viewer: 2}, key="upgrade-1")
    first = await change_plan(api, spec)
    again = await change_plan(api, spec)
    assert first["__typename"] == again["__typename"] == "PlanChange", (first, again)
    assert first["invoice"]["number"] == again["invoice"]["number"] == "ACME-0002"
    assert again["invoice"] == first["invoice"]
    assert first["invoice"]["amountDue"]["amount"] == 10_00  # 1 seat for the whole of November

    after = await state(api, t)
    assert [e["node"]["number"] for e in after["tenant"]["invoices"]["edges"]] == ["ACME-0002", "ACME-0001"]
    assert after["subscription"]["addons"][0] == {"addon": {"code": "full_seat"}, "quantity": 4}

    # Without the key the same input is a new request, but there is nothing left to change.
    repeat = await change_plan(api, change_input(t.subscription, t.plan, {t.full: 4, t.viewer: 2}))
    assert repeat["invoice"] is None
    assert (await preview_change(api, spec))["immediateCharge"]["lineItems"] == []
