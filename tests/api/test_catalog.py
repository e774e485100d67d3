"""The catalog over GraphQL, on SQLite and PostgreSQL: creating plans and add-ons, the
validation errors a client gets back, attaching and archiving add-ons, and who may do it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from models.kernel.clock import FixedClock
from tests.builders.api import Api, new_key, new_tenant
from tests.builders.billing import attach, create_addon, create_plan, plan_with_seat_addon, subscribe

MONEY = "amount currency formatted"
ADDON = f"""id code name description currency price {{ {MONEY} }} seatType seatsPerUnit taxCategory
  archivedAt createdAt"""
PLAN = f"""id code name currency interval basePrice {{ {MONEY} }} includedSeats minSeats maxSeats createdAt
  addons {{ id code }}"""
# Aliased: Plan.code and Addon.code (String!) would clash with Error.code (ErrorCode!).
ERROR = "... on Error { errorCode: code message }"
ERRORS = f"... on ValidationError {{ field problems {{ field message }} }} {ERROR}"

CREATE_PLAN = f"""mutation($input: CreatePlanInput!) {{ createPlan(input: $input) {{ __typename
  ... on Plan {{ {PLAN} }} {ERRORS} }} }}"""
CREATE_ADDON = f"""mutation($input: CreateAddonInput!) {{ createAddon(input: $input) {{ __typename
  ... on Addon {{ {ADDON} }} {ERRORS} }} }}"""
ATTACH = f"""mutation($plan: ID!, $addon: ID!) {{ attachAddon(planId: $plan, addonId: $addon) {{ __typename
  ... on Plan {{ id addons {{ id }} }} {ERROR} }} }}"""
ARCHIVE = f"""mutation($addon: ID!) {{ archiveAddon(addonId: $addon) {{ __typename
  ... on Addon {{ id archivedAt }} {ERROR} }} }}"""
ADDONS = "query($all: Boolean!) { addons(includeArchived: $all) { id } }"
PLAN_ADDONS = """query($all: Boolean!) { plans { id addons(includeArchived: $all) { id } } }"""

PLAN_SPEC = {"code": "team_pro", "name": "Team Pro", "currency": "USD", "basePrice": 99_00}
ADDON_SPEC = {"code": "extra_seat", "name": "Extra seat", "currency": "USD", "price": 15_00}


async def new_plan(api: Api, **fields: Any) -> dict[str, Any]:
    return (await api(CREATE_PLAN, {"input": {**PLAN_SPEC, **fields}}))["createPlan"]


async def new_addon(api: Api, **fields: Any) -> dict[str, Any]:
    return (await api(CREATE_ADDON, {"input": {**ADDON_SPEC, **fields}}))["createAddon"]


async def archive(api: Api, addon_id: str) -> dict[str, Any]:
    return (await api(ARCHIVE, {"addon": addon_id}))["archiveAddon"]


async def listed_addons(api: Api, include_archived: bool) -> list[str]:
    return [a["id"] for a in (await api(ADDONS, {"all": include_archived}))["addons"]]


async def offered_with(api: Api, plan_id: str, include_archived: bool) -> list[str]:
    plans = (await api(PLAN_ADDONS, {"all": include_archived}))["plans"]
    return next([a["id"] for a in p["addons"]] for p in plans if p["id"] == plan_id)


# --- Creating ----------------------------------------------------------------------------------------


async def test_create_plan_returns_what_was_given(api: Api) -> None:
    plan = await new_plan(api, interval="YEAR", includedSeats=5, minSeats=3, maxSeats=50)
    assert plan["__typename"] == "Plan", plan
    assert plan["id"]
    assert {
        k: plan[k] for k in ("code", "name", "currency", "interval", "includedSeats", "minSeats", "maxSeats")
    } == {
        "code": "team_pro",
        "name": "Team Pro",
        "currency": "USD",
        "interval": "YEAR",
        "includedSeats": 5,
        "minSeats": 3,
        "maxSeats": 50,
    }
    assert plan["basePrice"] == {"amount": 99_00, "currency": "USD", "formatted": "$99.00"}
    assert plan["addons"] == []
    assert datetime.fromisoformat(plan["createdAt"]) == datetime(2026, 1, 15, 12, tzinfo=UTC)

    listed = (await api("query { plans { id code basePrice { formatted } } }"))["plans"]
    assert listed == [{"id": plan["id"], "code": "team_pro", "basePrice": {"formatted": "$99.00"}}]


async def test_a_plan_bills_monthly_with_no_seat_bounds_unless_told(api: Api) -> None:
    plan = await new_plan(api)
    assert (plan["interval"], plan["includedSeats"], plan["minSeats"], plan["maxSeats"]) == (
        "MONTH",
        0,
        None,
        None,
    )


async def test_a_jpy_plan_is_priced_in_yen(api: Api) -> None:
    plan = await new_plan(api, code="tokyo", currency="jpy", basePrice=1000)
    assert plan["currency"] == "JPY"
    assert plan["basePrice"] == {"amount": 1000, "currency": "JPY", "formatted": "¥1,000"}


async def test_create_addon_returns_what_was_given(api: Api) -> None:
    addon = await new_addon(
        api,
        code="pack_5",
        name="5-seat pack",
        description="Five more seats",
        price=50_00,
        seatType="FULL",
        seatsPerUnit=5,
        taxCategory="saas_seats",
    )
    assert addon["__typename"] == "Addon", addon
    assert {
        k: addon[k]
        for k in (
            "code",
            "name",
            "description",
            "currency",
            "seatType",
            "seatsPerUnit",
            "taxCategory",
            "archivedAt",
        )
    } == {
        "code": "pack_5",
        "name": "5-seat pack",
        "description": "Five more seats",
        "currency": "USD",
        "seatType": "FULL",
        "seatsPerUnit": 5,
        "taxCategory": "saas_seats",
        "archivedAt": None,
    }
    assert addon["price"] == {"amount": 50_00, "currency": "USD", "formatted": "$50.00"}


async def test_an_addon_is_a_single_non_seat_unit_taxed_as_saas_unless_told(api: Api) -> None:
    addon = await new_addon(api, code="storage", name="Storage", price=5_00)
    assert (addon["seatType"], addon["seatsPerUnit"], addon["taxCategory"], addon["description"]) == (
        None,
        1,
        "saas",
        None,
    )


# --- Validation --------------------------------------------------------------------------------------


def assert_invalid(result: dict[str, Any], field: str) -> None:
    assert result["__typename"] == "ValidationError", result
    assert result["errorCode"] == "VALIDATION_FAILED"
    assert result["field"] == field, result
    assert field in [p["field"] for p in result["problems"]], result
    assert result["message"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"currency": "ZZZ"}, "input.currency"),
        ({"currency": "dollars"}, "input.currency"),
        ({"basePrice": -1}, "input.basePrice"),
        ({"code": "TeamPro"}, "input.code"),
        ({"code": "team pro"}, "input.code"),
        ({"code": ""}, "input.code"),
        ({"name": "   "}, "input.name"),
        ({"includedSeats": -1}, "input.includedSeats"),
    ],
)
async def test_create_plan_names_the_bad_field(api: Api, fields: dict[str, Any], field: str) -> None:
    assert_invalid(await new_plan(api, **fields), field)
    assert (await api("query { plans { id } }"))["plans"] == []


async def test_bad_currency_says_what_a_currency_code_looks_like(api: Api) -> None:
    result = await new_plan(api, currency="ZZZ")
    assert "USD, EUR or JPY" in result["message"], result


async def test_max_seats_below_min_seats_is_refused(api: Api) -> None:
    result = await new_plan(api, minSeats=10, maxSeats=5)
    assert "input.maxSeats: must be at least minSeats (10)" in result["message"], result
    assert_invalid(result, "input.maxSeats")


async def test_max_seats_equal_to_min_seats_is_a_fixed_seat_count(api: Api) -> None:
    plan = await new_plan(api, minSeats=10, maxSeats=10)
    assert (plan["minSeats"], plan["maxSeats"]) == (10, 10)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"currency": "ZZZ"}, "input.currency"),
        ({"price": -100}, "input.price"),
        ({"code": "Extra Seat"}, "input.code"),
        ({"seatType": "FULL", "seatsPerUnit": 0}, "input.seatsPerUnit"),
    ],
)
async def test_create_addon_names_the_bad_field(api: Api, fields: dict[str, Any], field: str) -> None:
    assert_invalid(await new_addon(api, **fields), field)
    assert await listed_addons(api, include_archived=True) == []


async def test_a_pack_size_needs_a_seat_type(api: Api) -> None:
    result = await new_addon(api, code="storage_pack", seatsPerUnit=5)
    assert "input.seatsPerUnit: needs a seatType" in result["message"], result
    assert_invalid(result, "input.seatsPerUnit")


async def test_every_problem_is_listed_not_just_the_first(api: Api) -> None:
    result = await new_plan(api, code="Bad Code", currency="ZZZ", basePrice=-1)
    assert result["__typename"] == "ValidationError", result
    assert {p["field"] for p in result["problems"]} == {"input.code", "input.currency", "input.basePrice"}


async def test_a_taken_code_is_refused(api: Api) -> None:
    first = await new_plan(api)
    again = await new_plan(api, name="Another Team Pro")
    assert_invalid(again, "input.code")
    assert "team_pro" in again["message"]
    assert (await api("query { plans { id name } }"))["plans"] == [{"id": first["id"], "name": "Team Pro"}]

    await new_addon(api)
    assert_invalid(await new_addon(api, price=1), "input.code")
    assert len(await listed_addons(api, include_archived=True)) == 1


async def test_a_plan_and_an_addon_may_share_a_code(api: Api) -> None:
    assert (await new_plan(api, code="team"))["__typename"] == "Plan"
    assert (await new_addon(api, code="team"))["__typename"] == "Addon"


# --- Attaching ---------------------------------------------------------------------------------------


async def test_attaching_an_addon_offers_it_with_the_plan(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00)
    seat = await create_addon(api, "seat", 15_00, seatType="FULL")
    storage = await create_addon(api, "storage", 5_00)
    assert (await attach(api, plan, seat)) == {"__typename": "Plan", "id": plan, "addons": [{"id": seat}]}
    result = await attach(api, plan, storage)
    assert sorted(a["id"] for a in result["addons"]) == sorted([seat, storage])


async def test_attaching_twice_is_harmless(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00)
    seat = await create_addon(api, "seat", 15_00, seatType="FULL")
    await attach(api, plan, seat)
    again = await attach(api, plan, seat)
    assert again == {"__typename": "Plan", "id": plan, "addons": [{"id": seat}]}
    assert await offered_with(api, plan, include_archived=True) == [seat]


async def test_an_addon_in_another_currency_cannot_be_attached(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00)
    yen = await create_addon(api, "seat_jpy", 1500, currency="JPY", seatType="FULL")
    result = (await api(ATTACH, {"plan": plan, "addon": yen}))["attachAddon"]
    assert result["__typename"] == "CurrencyMismatchError", result
    assert result["errorCode"] == "CURRENCY_MISMATCH"
    assert "JPY" in result["message"] and "USD" in result["message"]
    assert await offered_with(api, plan, include_archived=True) == []


async def test_an_archived_addon_cannot_be_attached(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00)
    seat = await create_addon(api, "seat", 15_00, seatType="FULL")
    await archive(api, seat)
    result = (await api(ATTACH, {"plan": plan, "addon": seat}))["attachAddon"]
    assert (result["__typename"], result["errorCode"]) == ("AddonArchivedError", "ADDON_ARCHIVED"), result
    assert await offered_with(api, plan, include_archived=True) == []


async def test_attaching_unknown_plans_or_addons_is_not_found(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00)
    seat = await create_addon(api, "seat", 15_00, seatType="FULL")
    for plan_id, addon_id in ((plan, "addon_nope"), ("plan_nope", seat), ("plan_nope", "addon_nope")):
        result = (await api(ATTACH, {"plan": plan_id, "addon": addon_id}))["attachAddon"]
        assert (result["__typename"], result["errorCode"]) == ("NotFoundError", "NOT_FOUND"), result
        assert "nope" in result["message"]
    assert await offered_with(api, plan, include_archived=True) == []


# --- Archiving ---------------------------------------------------------------------------------------


async def test_archiving_stamps_the_time_once(api: Api, clock: FixedClock) -> None:
    seat = await create_addon(api, "seat", 15_00, seatType="FULL")
    clock.set(datetime(2026, 2, 1, 9, tzinfo=UTC))
    first = await archive(api, seat)
    assert first["__typename"] == "Addon", first
    assert datetime.fromisoformat(first["archivedAt"]) == datetime(2026, 2, 1, 9, tzinfo=UTC)

    clock.set(datetime(2026, 3, 1, 9, tzinfo=UTC))
    again = await archive(api, seat)
    assert again == first
    listed = (await api(f"query {{ addons(includeArchived: true) {{ {ADDON} }} }}"))["addons"]
    assert [a["archivedAt"] for a in listed] == [first["archivedAt"]]


async def test_archiving_an_unknown_addon_is_not_found(api: Api) -> None:
    result = await archive(api, "addon_nope")
    assert (result["__typename"], result["errorCode"]) == ("NotFoundError", "NOT_FOUND"), result


async def test_archived_addons_are_hidden_unless_asked_for(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "team", 99_00, 15_00)
    storage = await create_addon(api, "storage", 5_00)
    assert (await attach(api, plan, storage))["__typename"] == "Plan"
    await archive(api, storage)

    assert await listed_addons(api, include_archived=False) == [seat]
    assert (await api("query { addons { id } }"))["addons"] == [{"id": seat}]
    assert sorted(await listed_addons(api, include_archived=True)) == sorted([seat, storage])
    assert await offered_with(api, plan, include_archived=False) == [seat]
    assert sorted(await offered_with(api, plan, include_archived=True)) == sorted([seat, storage])


async def test_an_archived_addon_cannot_be_bought(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "team", 99_00, 15_00)
    await archive(api, seat)
    tenant = await new_tenant(api)
    result = await subscribe(api, tenant, plan, {seat: 3})
    assert (result["__typename"], result["code"]) == ("AddonArchivedError", "ADDON_ARCHIVED"), result
    assert "team_seat" in result["message"]
    subscription = await api("query($id: ID!) { tenant(id: $id) { subscription { id } } }", {"id": tenant})
    assert subscription["tenant"]["subscription"] is None

    # The plan alone is still for sale.
    assert (await subscribe(api, tenant, plan))["status"] == "ACTIVE"


# --- Who may change the catalog ----------------------------------------------------------------------


async def test_a_tenant_key_reads_the_catalog_but_cannot_change_it(api: Api) -> None:
    plan, seat = await plan_with_seat_addon(api, "team", 99_00, 15_00)
    storage = await create_addon(api, "storage", 5_00)
    tenant = api.as_key((await new_key(api, "TENANT", await new_tenant(api)))["secret"])

    attempts = {
        "createPlan": (CREATE_PLAN, {"input": {**PLAN_SPEC, "code": "sneaky"}}),
        "createAddon": (CREATE_ADDON, {"input": {**ADDON_SPEC, "code": "sneaky", "price": 0}}),
        "attachAddon": (ATTACH, {"plan": plan, "addon": storage}),
        "archiveAddon": (ARCHIVE, {"addon": seat}),
    }
    for name, (operation, variables) in attempts.items():
        result = (await tenant(operation, variables))[name]
        assert (result["__typename"], result["errorCode"]) == ("ForbiddenError", "FORBIDDEN"), (name, result)
        assert "ADMIN" in result["message"]

    plans = (await tenant("query { plans { id code basePrice { formatted } addons { id } } }"))["plans"]
    assert plans == [
        {"id": plan, "code": "team", "basePrice": {"formatted": "$99.00"}, "addons": [{"id": seat}]}
    ]
    assert sorted(await listed_addons(tenant, include_archived=False)) == sorted([seat, storage])
    # Nothing changed behind the refusals.
    assert sorted(await listed_addons(api, include_archived=False)) == sorted([seat, storage])
    assert await offered_with(api, plan, include_archived=True) == [seat]


async def test_a_maximum_below_the_included_seats_is_refused(api: Api) -> None:
    result = await new_plan(api, includedSeats=10, maxSeats=5)
    assert_invalid(result, "input.maxSeats")
    assert "includedSeats (10)" in result["message"]


async def test_concurrent_attaches_of_one_pair_all_succeed_once(api: Api) -> None:
    plan = await create_plan(api, "team", 99_00)
    addon = await create_addon(api, "seat", 15_00, seatType="FULL")
    results = await asyncio.gather(*(attach(api, plan, addon) for _ in range(8)))
    assert [r["__typename"] for r in results] == ["Plan"] * 8
    assert await offered_with(api, plan, include_archived=True) == [addon]
