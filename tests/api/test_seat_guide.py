"""Every numeric example of the seat-billing guide (shared/seeds), end to end through
GraphQL on SQLite and PostgreSQL: the catalog is set up as the guide says, a team
subscribes, and the first invoice and the seat summary show the guide's figures."""

from __future__ import annotations

import pytest

from tests.builders.api import Api, new_tenant
from tests.builders.billing import (
    attach,
    by_type,
    create_addon,
    create_plan,
    invite,
    plan_with_seat_addon,
    subscribe,
)


def totals(subscription: dict) -> tuple[int, int]:
    """(seats in total, first invoice total in cents)"""
    return subscription["seats"]["total"], subscription["latestInvoice"]["total"]["amount"]


async def test_base_plus_per_seat_starter_8_seats_cost_99_dollars(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "starter", 49_00, 10_00, includedSeats=3)
    subscription = await subscribe(api, await new_tenant(api), plan, {seat: 5})
    assert totals(subscription) == (8, 99_00)
    assert subscription["latestInvoice"]["total"]["formatted"] == "$99.00"
    assert subscription["seats"]["included"] == 3 and subscription["seats"]["purchased"] == 5


async def test_base_plus_per_seat_team_pro_15_seats_cost_249_dollars(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "team_pro", 99_00, 15_00, includedSeats=5)
    subscription = await subscribe(api, await new_tenant(api), plan, {seat: 10})
    assert totals(subscription) == (15, 249_00)
    lines = subscription["latestInvoice"]["lines"]
    assert [(line["kind"], line["quantity"], line["amount"]["amount"]) for line in lines] == [
        ("BASE", 1, 99_00),
        ("ADDON", 10, 150_00),
    ]


@pytest.mark.parametrize(("users", "dollars"), [(5, 60), (20, 240), (100, 1_200)])
async def test_pure_per_seat_12_dollars_a_user(api: Api, users: int, dollars: int) -> None:
    plan, seat = await plan_with_seat_addon(api, "per_user", 0, 12_00)
    subscription = await subscribe(api, await new_tenant(api), plan, {seat: users})
    assert totals(subscription) == (users, dollars * 100)
    assert subscription["seats"]["included"] == 0


async def test_tiered_plans_each_with_its_own_seat_price(api: Api) -> None:
    tiers = {"starter": (0, 15_00), "professional": (99_00, 10_00), "enterprise": (499_00, 7_00)}
    catalog = {
        code: await plan_with_seat_addon(api, code, base, seat) for code, (base, seat) in tiers.items()
    }
    paid = {}
    for code, (plan, seat) in catalog.items():
        subscription = await subscribe(api, await new_tenant(api, code), plan, {seat: 10})
        paid[code] = totals(subscription)
    assert paid == {"starter": (10, 150_00), "professional": (10, 199_00), "enterprise": (10, 569_00)}

    # Enterprise's cheaper seat is not for sale on Starter.
    starter_plan, _ = catalog["starter"]
    _, enterprise_seat = catalog["enterprise"]
    result = await subscribe(
        api, await new_tenant(api, "bargain hunter"), starter_plan, {enterprise_seat: 10}
    )
    assert result["code"] == "ADDON_NOT_ATTACHED", result


async def test_seat_packs_give_quantity_times_pack_size_seats(api: Api) -> None:
    plan = await create_plan(api, "packs", 0)
    packs = {}
    for size, price in ((5, 50_00), (10, 80_00), (25, 175_00)):
        packs[size] = await create_addon(api, f"pack_{size}", price, seatType="FULL", seatsPerUnit=size)
        await attach(api, plan, packs[size])

    one_of_each = await subscribe(
        api, await new_tenant(api, "a"), plan, {packs[5]: 1, packs[10]: 1, packs[25]: 1}
    )
    assert totals(one_of_each) == (40, 305_00)
    two_tens = await subscribe(api, await new_tenant(api, "b"), plan, {packs[10]: 2})
    assert totals(two_tens) == (20, 160_00)
    line = two_tens["latestInvoice"]["lines"][1]
    assert (line["quantity"], line["unitAmount"]["amount"], line["amount"]["amount"]) == (2, 80_00, 160_00)


async def test_seat_types_are_priced_and_enforced_separately(api: Api) -> None:
    plan = await create_plan(api, "typed", 0)
    addon = {}
    for seat_type, price in (("FULL", 20_00), ("VIEWER", 5_00), ("GUEST", 0)):
        addon[seat_type] = await create_addon(api, seat_type.lower(), price, seatType=seat_type)
        await attach(api, plan, addon[seat_type])

    # The guide's checkout: 10 full, 25 view-only and 50 guest seats.
    big = await subscribe(
        api, await new_tenant(api, "big"), plan, {addon["FULL"]: 10, addon["VIEWER"]: 25, addon["GUEST"]: 50}
    )
    assert big["latestInvoice"]["total"]["amount"] == 10 * 20_00 + 25 * 5_00 + 0
    assert by_type(big["seats"]) == {"FULL": (10, 0), "VIEWER": (25, 0), "GUEST": (50, 0)}

    tenant = await new_tenant(api, "small")
    await subscribe(api, tenant, plan, {addon["FULL"]: 1, addon["VIEWER"]: 1, addon["GUEST"]: 1})
    assert (await invite(api, tenant, "ann@team.example", "FULL"))["status"] == "ACTIVE"
    # Free viewer and guest seats do not make room for a second full member.
    refused = await invite(api, tenant, "bob@team.example", "FULL")
    assert refused == {
        "__typename": "NoSeatsAvailableError",
        "code": "NO_SEATS_AVAILABLE",
        "message": "No seats available. Please upgrade your plan.",
    }
    assert (await invite(api, tenant, "bob@team.example", "VIEWER"))["seatType"] == "VIEWER"
    assert (await invite(api, tenant, "cy@team.example", "VIEWER"))["code"] == "NO_SEATS_AVAILABLE"
    assert (await invite(api, tenant, "cy@team.example", "GUEST"))["seatType"] == "GUEST"
    assert (await invite(api, tenant, "di@team.example", "GUEST"))["code"] == "NO_SEATS_AVAILABLE"


async def test_annual_seats_cost_12_a_month_against_15_monthly(api: Api) -> None:
    monthly, monthly_seat = await plan_with_seat_addon(api, "team_monthly", 0, 15_00)
    annual, annual_seat = await plan_with_seat_addon(api, "team_annual", 0, 12 * 12_00, interval="YEAR")
    by_month = await subscribe(api, await new_tenant(api, "monthly"), monthly, {monthly_seat: 10})
    by_year = await subscribe(api, await new_tenant(api, "annual"), annual, {annual_seat: 10})

    assert totals(by_month) == (10, 150_00)
    assert totals(by_year) == (10, 1_440_00)
    # 20% saved: a year on the annual plan costs 80% of twelve monthly invoices.
    assert (
        by_year["latestInvoice"]["total"]["amount"] * 100
        == 80 * 12 * by_month["latestInvoice"]["total"]["amount"]
    )
    assert by_month["currentPeriodEnd"].startswith("2026-02-15")
    assert by_year["currentPeriodEnd"].startswith("2027-01-15")


@pytest.mark.parametrize(("code", "minimum"), [("starter", 1), ("team", 5), ("enterprise", 25)])
async def test_minimum_seats_per_plan(api: Api, code: str, minimum: int) -> None:
    plan, seat = await plan_with_seat_addon(api, code, 0, 10_00, minSeats=minimum)
    short = await subscribe(api, await new_tenant(api, "short"), plan, {seat: minimum - 1})
    assert short["code"] == "BELOW_MINIMUM_SEATS", short
    assert f"at least {minimum} seats" in short["message"]
    enough = await subscribe(api, await new_tenant(api, "enough"), plan, {seat: minimum})
    assert enough["seats"]["total"] == minimum


async def test_maximum_seats_bound_a_plan(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "small_team", 29_00, 10_00, includedSeats=3, maxSeats=10)
    over = await subscribe(api, await new_tenant(api, "over"), plan, {seat: 8})
    assert over["code"] == "ABOVE_MAXIMUM_SEATS" and "at most 10 seats" in over["message"], over
    assert (await subscribe(api, await new_tenant(api, "fits"), plan, {seat: 7}))["seats"]["total"] == 10
