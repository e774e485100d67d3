"""Plan changes end to end over GraphQL on a test clock: the seed's worked example
and each proration mode, with the invoices and credits they leave."""

from __future__ import annotations

import pytest

from tests.builders.api import Api
from tests.builders.billing import (
    advance,
    change_input,
    change_plan,
    credit_balance,
    invoices,
    preview_change,
)
from tests.builders.clocks import seat_team


async def test_the_seed_example_adding_5_seats_with_15_of_30_days_left(api: Api) -> None:
    clock, tenant, plan, seat, subscription = await seat_team(api)
    await advance(api, clock, "2026-11-16T09:00:00Z")  # 15 of November's 30 days left, the 16th included

    spec = change_input(subscription, plan, {seat: 10})
    preview = await preview_change(api, spec)
    assert preview["__typename"] == "PlanChangePreview", preview
    (line,) = preview["immediateCharge"]["lineItems"]
    assert (
        line["kind"],
        line["quantity"],
        line["unitAmount"]["amount"],
        line["prorationFactor"],
        line["amount"]["amount"],
    ) == ("PRORATION", 5, 10_00, 0.5, 25_00)
    summary = preview["immediateCharge"]["summary"]
    assert summary["amountDue"] == {"amount": 25_00, "formatted": "$25.00"}
    assert summary["text"] == "Adding 5 seats costs $25.00 today (15 of 30 days prorated)."
    assert preview["newSubscription"]["seats"]["total"] == 10
    assert len(await invoices(api, tenant)) == 1  # the preview wrote nothing

    change = await change_plan(api, spec)
    assert change["__typename"] == "PlanChange", change
    invoice = change["invoice"]
    assert (invoice["reason"], invoice["amountDue"]["amount"], invoice["total"]["formatted"]) == (
        "CHANGE",
        25_00,
        "$25.00",
    )
    assert [(li["kind"], li["quantity"], li["amount"]["amount"]) for li in invoice["lines"]] == [
        ("PRORATION", 5, 25_00)
    ]
    assert change["subscription"]["seats"]["total"] == 10
    assert change["subscription"]["currentPeriodEnd"] == "2026-12-01T00:00:00+00:00"  # the cycle stays

    await advance(api, clock, "2026-12-01T00:00:00Z")
    renewal, charged, first = await invoices(api, tenant)
    assert (renewal["reason"], renewal["number"], renewal["total"]["formatted"]) == (
        "RENEWAL",
        "ACME-0003",
        "$100.00",
    )
    assert [(li["kind"], li["quantity"], li["amount"]["amount"]) for li in renewal["lines"]] == [
        ("BASE", 1, 0),
        ("ADDON", 10, 100_00),
    ]
    assert (renewal["periodStart"], renewal["periodEnd"]) == (
        "2026-12-01T00:00:00+00:00",
        "2027-01-01T00:00:00+00:00",
    )
    assert charged["id"] == invoice["id"] and first["reason"] == "SUBSCRIBE"
    assert await credit_balance(api, tenant) == 0


# The README's table: what each mode bills for the worked example, the period after
# the change, and what the next renewal bills (when on Dec 1; FULL restarts on Nov 16).
README_TABLE = {
    "PRORATED_IMMEDIATELY": (25_00, ("2026-11-01", "2026-12-01"), 100_00),
    "DIFFERENCE_IMMEDIATELY": (50_00, ("2026-11-01", "2026-12-01"), 100_00),
    "FULL_IMMEDIATELY": (100_00, ("2026-11-16", "2026-12-16"), None),
    "DO_NOT_BILL": (None, ("2026-11-01", "2026-12-01"), 100_00),
}


@pytest.mark.parametrize("mode", list(README_TABLE))
async def test_the_readme_table_of_modes(api: Api, mode: str) -> None:
    billed, period, renewal = README_TABLE[mode]
    clock, tenant, plan, seat, subscription = await seat_team(api)
    await advance(api, clock, "2026-11-16T00:00:00Z")
    spec = change_input(subscription, plan, {seat: 10}, mode=mode)
    preview = (await preview_change(api, spec))["immediateCharge"]["summary"]
    change = await change_plan(api, spec)

    if billed is None:
        assert change["invoice"] is None and preview["amountDue"]["amount"] == 0
    else:
        assert change["invoice"]["amountDue"]["amount"] == preview["amountDue"]["amount"] == billed
    changed = change["subscription"]
    assert (changed["currentPeriodStart"][:10], changed["currentPeriodEnd"][:10]) == period
    await advance(api, clock, "2026-12-01T00:00:00Z")
    newest = (await invoices(api, tenant))[0]
    if renewal is None:
        assert newest["reason"] != "RENEWAL"
    else:
        assert (newest["reason"], newest["total"]["amount"]) == ("RENEWAL", renewal)


async def test_going_down_credits_the_balance_and_the_renewal_consumes_it(api: Api) -> None:
    clock, tenant, plan, seat, subscription = await seat_team(api, seats=10)
    await advance(api, clock, "2026-11-16T00:00:00Z")
    change = await change_plan(api, change_input(subscription, plan, {seat: 5}))
    invoice = change["invoice"]
    assert [(li["kind"], li["quantity"], li["amount"]["amount"]) for li in invoice["lines"]] == [
        ("CREDIT", -5, -25_00)
    ]
    assert (invoice["total"]["amount"], invoice["amountDue"]["amount"], invoice["status"]) == (
        -25_00,
        0,
        "PAID",
    )
    assert await credit_balance(api, tenant) == 25_00

    await advance(api, clock, "2026-12-01T00:00:00Z")
    renewal = (await invoices(api, tenant))[0]
    assert (
        renewal["total"]["amount"],
        renewal["creditsApplied"]["amount"],
        renewal["amountDue"]["amount"],
    ) == (50_00, 25_00, 25_00)
    assert await credit_balance(api, tenant) == 0


async def test_invoices_page_newest_first_and_each_reads_by_id(api: Api) -> None:
    clock, tenant, plan, seat, subscription = await seat_team(api)
    await advance(api, clock, "2026-11-16T00:00:00Z")
    await change_plan(api, change_input(subscription, plan, {seat: 10}))
    await advance(api, clock, "2027-01-01T00:00:00Z")  # two renewals: Dec 1 and Jan 1
    page = """query($id: ID!, $after: String) { tenant(id: $id) { invoices(first: 2, after: $after) {
        edges { node { id number } } pageInfo { hasNextPage endCursor } } } }"""

    seen, after = [], None
    while True:
        connection = (await api(page, {"id": tenant, "after": after}))["tenant"]["invoices"]
        seen += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert [n["number"] for n in seen] == ["ACME-0004", "ACME-0003", "ACME-0002", "ACME-0001"]
    one = await api(
        "query($id: ID!) { invoice(id: $id) { number reason total { formatted } } }", {"id": seen[0]["id"]}
    )
    assert one["invoice"] == {"number": "ACME-0004", "reason": "RENEWAL", "total": {"formatted": "$100.00"}}
