"""Usage pricing end to end on a test clock: a plan's usage charges, the USAGE lines a
renewal bills in arrears, usage so far in previewChangePlan, and the usage billed
when a FULL_IMMEDIATELY change restarts the period or the subscription is cancelled."""

from __future__ import annotations

from typing import Any

from tests.builders.api import Api
from tests.builders.billing import (
    INVOICE,
    PREVIEW,
    advance,
    attach,
    change_input,
    create_addon,
    create_plan,
    invoices,
    subscribe,
)
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.usage_billing import charge, meter, metered_team, record

USAGE = """usage { meterName description aggregation units freeUnits chargeableUnits unitAmount { amount }
                 amount { amount } periodStart periodEnd }"""


async def test_a_plan_lists_its_usage_charges_and_bad_ones_name_the_field(api: Api) -> None:
    plan = await create_plan(api, "tiered", 0)
    await meter(api, "api_calls")
    await meter(api, "seats_peak", "MAX")
    tiers = [
        {"upTo": 1000, "unitAmount": 0},
        {"upTo": 5000, "unitAmount": 3, "flatAmount": 500},
        {"unitAmount": 1},
    ]
    added = await charge(api, plan, "api_calls", model="GRADUATED", tiers=tiers)
    assert added["usageCharges"] == [
        {
            "meterName": "api_calls",
            "model": "GRADUATED",
            "unitAmount": {"amount": 0},
            "packageSize": 1,
            "freeUnits": 0,
            "tiers": [
                {"upTo": 1000, "unitAmount": {"amount": 0}, "flatAmount": {"amount": 0}},
                {"upTo": 5000, "unitAmount": {"amount": 3}, "flatAmount": {"amount": 500}},
                {"upTo": None, "unitAmount": {"amount": 1}, "flatAmount": {"amount": 0}},
            ],
        }
    ]

    again = await charge(api, plan, "api_calls", unitAmount=1)
    assert (again["code"], again["field"]) == ("VALIDATION_FAILED", "input.meterName")
    bounded = await charge(api, plan, "seats_peak", model="VOLUME", tiers=[{"upTo": 10, "unitAmount": 1}])
    assert (bounded["code"], bounded["field"]) == ("VALIDATION_FAILED", "input.tiers")
    falling = await charge(
        api,
        plan,
        "seats_peak",
        model="VOLUME",
        tiers=[{"upTo": 10, "unitAmount": 1}, {"upTo": 5, "unitAmount": 1}, {"unitAmount": 1}],
    )
    assert falling["field"] == "input.tiers"
    not_tiered = await charge(api, plan, "seats_peak", unitAmount=1, tiers=[{"unitAmount": 1}])
    assert not_tiered["field"] == "input.tiers"
    package = await charge(api, plan, "seats_peak", unitAmount=1, packageSize=10)
    assert package["field"] == "input.packageSize"
    unknown = await charge(api, plan, "no_such_meter", unitAmount=1)
    assert unknown["code"] == "NOT_FOUND"
    plans = (await api("{ plans { code usageCharges { meterName } } }"))["plans"]
    assert plans == [{"code": "tiered", "usageCharges": [{"meterName": "api_calls"}]}]


async def test_the_renewal_bills_the_closing_periods_usage_in_arrears(api: Api) -> None:
    clock, tenant, _, _ = await metered_team(api, timezone="Asia/Tokyo")
    # The period runs from 2026-11-01 09:00 Tokyo to 2026-12-01 09:00 Tokyo, to the second.
    await record(api, tenant, "api_calls", 700, "2026-11-01T00:00:00Z")
    await advance(api, clock, "2026-11-30T23:59:59Z")  # usage can only be recorded once it happened
    await record(api, tenant, "api_calls", 500, "2026-11-20T03:00:00Z")
    await record(api, tenant, "api_calls", 50.5, "2026-11-20T03:00:00Z")
    await record(
        api, tenant, "api_calls", 1, "2026-11-30T23:59:59Z"
    )  # Dec 1 08:59:59 Tokyo: still November's
    await advance(api, clock, "2026-12-02T00:00:00Z")
    await record(api, tenant, "api_calls", 9999, "2026-12-01T00:00:00Z")  # the next period's first second

    renewal = (await invoices(api, tenant))[0]
    assert renewal["reason"] == "RENEWAL"
    base, usage = renewal["lines"]
    assert (base["kind"], base["amount"]["amount"]) == ("BASE", 10_00)
    # 1,251.5 used, 100 free, 1,151.5 billed at 2 cents = 2,303 cents.
    assert usage == {
        "kind": "USAGE",
        "description": "Api Calls: 1,251.5 used, 100 free, 1,151.5 billed",
        "quantity": 1152,
        "unitAmount": {"amount": 2},
        "amount": {"amount": 23_03},
        "periodStart": "2026-11-01T00:00:00+00:00",
        "periodEnd": "2026-12-01T00:00:00+00:00",
    }
    assert renewal["total"]["amount"] == 10_00 + 23_03

    await advance(api, clock, "2027-01-01T00:00:00Z")
    january = (await invoices(api, tenant))[0]
    # December's 9,999 calls bill in January's renewal.
    assert january["lines"][1]["amount"]["amount"] == (9999 - 100) * 2


async def test_a_max_meter_bills_the_periods_peak_with_graduated_tiers(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Storage", clock)
    plan = await create_plan(api, "storage", 0)
    await meter(api, "storage_gb", "MAX")
    tiers = [
        {"upTo": 50, "unitAmount": 0},
        {"upTo": 500, "unitAmount": 25, "flatAmount": 1_00},
        {"unitAmount": 10},
    ]
    await charge(api, plan, "storage_gb", model="GRADUATED", tiers=tiers)
    await subscribe(api, tenant, plan)
    await advance(api, clock, "2026-11-30T00:00:00Z")
    for day, gigabytes in ((2, 40), (10, 620), (25, 300)):
        await record(api, tenant, "storage_gb", gigabytes, f"2026-11-{day:02d}T12:00:00Z", method="DIRECT")
    await advance(api, clock, "2026-12-01T00:00:00Z")

    (usage,) = [line for line in (await invoices(api, tenant))[0]["lines"] if line["kind"] == "USAGE"]
    # Peak 620 GB: 50 free, 450 at 25 cents plus the $1 tier fee, 120 at 10 cents.
    assert usage["amount"]["amount"] == 450 * 25 + 1_00 + 120 * 10
    assert (usage["quantity"], usage["unitAmount"]["amount"]) == (620, 10)


async def preview_with_usage(api: Api, spec: dict[str, Any]) -> dict[str, Any]:
    return (
        await api(
            f"""mutation($input: ChangePlanInput!) {{ previewChangePlan(input: $input) {{ __typename
             ... on PlanChangePreview {{ {PREVIEW} {USAGE} }} ... on ValidationError {{ field }}
             ... on Error {{ code message }} }} }}""",
            {"input": spec},
        )
    )["previewChangePlan"]


async def change_with_invoice(api: Api, spec: dict[str, Any]) -> dict[str, Any]:
    return (
        await api(
            f"""mutation($input: ChangePlanInput!) {{ changePlan(input: $input) {{ __typename
             ... on PlanChange {{ invoice {{ {INVOICE} }} }} ... on Error {{ code message }} }} }}""",
            {"input": spec},
        )
    )["changePlan"]


async def test_the_preview_shows_usage_so_far_and_an_add_on_change_leaves_it_to_the_renewal(api: Api) -> None:
    clock, tenant, plan, subscription = await metered_team(api)
    seat = await create_addon(api, "seat", 5_00)
    await attach(api, plan, seat)
    await advance(api, clock, "2026-11-16T09:00:00Z")
    await record(api, tenant, "api_calls", 300, "2026-11-03T10:00:00Z")
    await record(api, tenant, "api_calls", 40, "2026-11-16T08:00:00Z")  # today, before the change
    spec = change_input(subscription, plan, {seat: 1})

    preview = await preview_with_usage(api, spec)
    # The plan stays, so its usage keeps accruing to the renewal; so far, today included:
    assert preview["usage"] == [
        {
            "meterName": "api_calls",
            "description": "Api Calls: 340 used, 100 free, 240 billed",
            "aggregation": "SUM",
            "units": 340.0,
            "freeUnits": 100.0,
            "chargeableUnits": 240.0,
            "unitAmount": {"amount": 2},
            "amount": {"amount": 4_80},
            "periodStart": "2026-11-01T00:00:00+00:00",
            "periodEnd": "2026-11-16T09:00:00+00:00",
        }
    ]
    assert [line["kind"] for line in preview["immediateCharge"]["lineItems"]] == ["PRORATION"]
    changed = await change_with_invoice(api, spec)
    assert [line["kind"] for line in changed["invoice"]["lines"]] == ["PRORATION"]

    await advance(api, clock, "2026-12-01T00:00:00Z")
    usage = (await invoices(api, tenant))[0]["lines"][-1]
    assert (usage["kind"], usage["amount"]["amount"]) == ("USAGE", (340 - 100) * 2)


async def test_after_a_plan_change_each_plan_prices_its_part_of_the_period(api: Api) -> None:
    """Else a tenant could move to a plan without usage charges for the renewal and
    back after it, and never pay for its usage."""
    clock, tenant, _, subscription = await metered_team(api)
    await advance(api, clock, "2026-11-30T09:00:00Z")
    await record(api, tenant, "api_calls", 5_000, "2026-11-03T10:00:00Z")
    await record(
        api, tenant, "api_calls", 40, "2026-11-30T08:00:00Z"
    )  # before the change: the metered plan's
    unmetered = await create_plan(api, "unmetered", 10_00)
    spec = change_input(subscription, unmetered)

    preview = await preview_with_usage(api, spec)
    assert [line["kind"] for line in preview["immediateCharge"]["lineItems"]] == ["CREDIT", "PRORATION"]
    assert [(u["units"], u["amount"]["amount"]) for u in preview["usage"]] == [(5_040.0, (5_040 - 100) * 2)]
    changed = await change_with_invoice(api, spec)
    assert [line["kind"] for line in changed["invoice"]["lines"]] == ["CREDIT", "PRORATION"]

    await advance(api, clock, "2026-11-30T23:00:00Z")
    await record(
        api, tenant, "api_calls", 700, "2026-11-30T22:00:00Z"
    )  # after it: the unmetered plan's, free
    await advance(api, clock, "2026-12-01T00:00:30Z")
    metered = (await api("{ plans { id code } }"))["plans"]
    back = change_input(subscription, next(p["id"] for p in metered if p["code"] == "metered"))
    assert (await change_with_invoice(api, back))["__typename"] == "PlanChange"

    november = next(i for i in await invoices(api, tenant) if i["reason"] == "RENEWAL")
    (usage,) = [line for line in november["lines"] if line["kind"] == "USAGE"]
    # 5,740 calls in November: the metered plan's 5,040 (100 of them free) cost 2 cents each.
    assert (usage["amount"]["amount"], usage["description"]) == (
        (5_040 - 100) * 2,
        "Api Calls: 5,740 used, 100 free, 5,640 billed",
    )


async def test_free_units_and_peaks_count_once_a_period_across_plan_changes(api: Api) -> None:
    clock, tenant, plan, subscription = await metered_team(api)
    await meter(api, "storage_gb", "MAX")
    await charge(api, plan, "storage_gb", unitAmount=10)
    twin = await create_plan(api, "metered_twin", 10_00)
    await charge(api, twin, "api_calls", unitAmount=2, freeUnits=100)
    await charge(api, twin, "storage_gb", unitAmount=10)
    await advance(api, clock, "2026-11-10T00:00:00Z")
    await record(api, tenant, "api_calls", 80, "2026-11-05T00:00:00Z")
    await record(api, tenant, "storage_gb", 500, "2026-11-05T00:00:00Z", method="DIRECT")
    assert (await change_with_invoice(api, change_input(subscription, twin)))["__typename"] == "PlanChange"
    await advance(api, clock, "2026-11-20T00:00:00Z")
    await record(api, tenant, "api_calls", 80, "2026-11-15T00:00:00Z")
    assert (await change_with_invoice(api, change_input(subscription, plan)))["__typename"] == "PlanChange"
    await advance(api, clock, "2026-12-01T00:00:00Z")

    renewal = next(i for i in await invoices(api, tenant) if i["reason"] == "RENEWAL")
    usage = {
        line["description"].split(":")[0]: line["amount"]["amount"]
        for line in renewal["lines"]
        if line["kind"] == "USAGE"
    }
    # 160 calls, 100 free once for the period; a 500 GB peak billed once, not per plan.
    assert usage == {"Api Calls": 60 * 2, "Storage Gb": 500 * 10}


async def test_cancelling_and_subscribing_again_the_same_day_bills_that_day_once(api: Api) -> None:
    clock, tenant, plan, subscription = await metered_team(api)
    await advance(api, clock, "2026-11-10T12:00:00Z")
    await record(api, tenant, "api_calls", 300, "2026-11-10T11:00:00Z")
    await api(
        """mutation($id: ID!) {
             cancelSubscription(subscriptionId: $id, atPeriodEnd: false) { __typename } }""",
        {"id": subscription},
    )
    final = (await invoices(api, tenant))[0]
    assert (final["reason"], final["total"]["amount"]) == ("FINAL", (300 - 100) * 2)
    await subscribe(api, tenant, plan)
    await advance(api, clock, "2026-12-10T12:00:00Z")
    renewal = (await invoices(api, tenant))[0]
    usage = [line for line in renewal["lines"] if line["kind"] == "USAGE"]
    assert [u["amount"]["amount"] for u in usage] == [0]  # Nov 10 was billed on the FINAL invoice


async def test_usage_too_large_for_the_api_is_a_clear_error_not_a_broken_invoice(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Dear", clock)
    plan = await create_plan(api, "dear_calls", 10_00)
    await meter(api, "api_calls")
    await charge(api, plan, "api_calls", unitAmount=100_000)  # $1,000 a call
    subscription = (await subscribe(api, tenant, plan))["id"]
    await advance(api, clock, "2026-11-20T00:00:00Z")
    # 10^11 calls (the most one day holds) at $1,000: 10^16 cents, past what the API carries.
    await record(api, tenant, "api_calls", 1e11, "2026-11-05T10:00:00Z")
    preview = await preview_with_usage(api, change_input(subscription, await create_plan(api, "other", 0)))
    assert (preview["code"], preview["field"]) == ("VALIDATION_FAILED", "usage")


async def test_a_full_change_bills_the_usage_of_the_period_it_ends_exactly_as_previewed(api: Api) -> None:
    clock, tenant, _, subscription = await metered_team(api)
    await advance(api, clock, "2026-11-16T09:00:00Z")
    await record(api, tenant, "api_calls", 600, "2026-11-05T10:00:00Z")
    await record(api, tenant, "api_calls", 70, "2026-11-16T08:00:00Z")  # today, before the change
    bigger = await create_plan(api, "metered_plus", 20_00)
    spec = change_input(subscription, bigger, mode="FULL_IMMEDIATELY")

    preview = (
        await api(
            f"""mutation($input: ChangePlanInput!) {{ previewChangePlan(input: $input) {{ __typename
             ... on PlanChangePreview {{ {PREVIEW} {USAGE} }} ... on Error {{ code message }} }} }}""",
            {"input": spec},
        )
    )["previewChangePlan"]
    lines = preview["immediateCharge"]["lineItems"]
    assert [line["kind"] for line in lines] == ["BASE", "USAGE"]
    # The period ends now: its usage up to the change, today's 70 included.
    assert lines[1]["amount"]["amount"] == (670 - 100) * 2 == preview["usage"][0]["amount"]["amount"]
    assert preview["usage"][0]["units"] == 670.0

    changed = (
        await api(
            f"""mutation($input: ChangePlanInput!) {{ changePlan(input: $input) {{ __typename
             ... on PlanChange {{ invoice {{ {INVOICE} }} }} ... on Error {{ code message }} }} }}""",
            {"input": spec},
        )
    )["changePlan"]
    invoice = changed["invoice"]
    assert [(line["kind"], line["amount"]["amount"]) for line in invoice["lines"]] == [
        (line["kind"], line["amount"]["amount"]) for line in lines
    ]
    assert invoice["total"]["amount"] == preview["immediateCharge"]["summary"]["totalAmount"]["amount"]

    # The new plan charges nothing for usage, and nothing of the old period is billed again.
    await advance(api, clock, "2026-12-16T09:00:00Z")
    renewal = (await invoices(api, tenant))[0]
    assert [line["kind"] for line in renewal["lines"]] == ["BASE"]


async def test_cancelling_bills_the_usage_so_far_on_a_final_invoice(api: Api) -> None:
    clock, tenant, _, subscription = await metered_team(api)
    await advance(api, clock, "2026-11-10T12:00:00Z")
    await record(api, tenant, "api_calls", 350, "2026-11-04T10:00:00Z")
    await record(api, tenant, "api_calls", 50, "2026-11-10T11:00:00Z")
    cancelled = (
        await api(
            """mutation($id: ID!) { cancelSubscription(subscriptionId: $id, atPeriodEnd: false) {
             __typename ... on Error { code message } } }""",
            {"id": subscription},
        )
    )["cancelSubscription"]
    assert cancelled["__typename"] == "Subscription"
    final = (await invoices(api, tenant))[0]
    assert final["reason"] == "FINAL"
    assert [(line["kind"], line["amount"]["amount"]) for line in final["lines"]] == [
        ("USAGE", (400 - 100) * 2)
    ]
    assert final["periodEnd"] == "2026-11-10T12:00:00+00:00"


async def test_a_subscription_ending_at_period_end_gets_its_last_usage_billed(api: Api) -> None:
    clock, tenant, _, subscription = await metered_team(api)
    await api(
        """mutation($id: ID!) {
             cancelSubscription(subscriptionId: $id, atPeriodEnd: true) { __typename } }""",
        {"id": subscription},
    )
    await advance(api, clock, "2026-11-21T00:00:00Z")
    await record(api, tenant, "api_calls", 1100, "2026-11-20T10:00:00Z")
    await advance(api, clock, "2026-12-05T00:00:00Z")
    final = (await invoices(api, tenant))[0]
    assert (final["reason"], final["total"]["amount"]) == ("FINAL", 1000 * 2)
    assert (final["periodStart"], final["periodEnd"]) == (
        "2026-11-01T00:00:00+00:00",
        "2026-12-01T00:00:00+00:00",
    )
    status = await api("query($id: ID!) { subscription(id: $id) { status } }", {"id": subscription})
    assert status["subscription"]["status"] == "CANCELLED"
