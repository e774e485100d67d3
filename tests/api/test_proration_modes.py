"""What each proration mode bills, end to end over GraphQL on a test clock.

PRORATED_IMMEDIATELY (quantity deltas, plan switches, credits and their use by the
renewal), DIFFERENCE_IMMEDIATELY (a whole period's difference, a downgrade's credit
consumed by later invoices), FULL_IMMEDIATELY (the new price in full, a period
restarting today), DO_NOT_BILL (no invoice), effectiveAt NEXT_BILLING_DATE (scheduled
for the renewal, replaced by a later immediate change), whole-yen rounding half-up,
tax, and days counted in the tenant's timezone.

Every change is previewed first: the preview's summary must be the money of the
invoice changePlan then issues (or all zero when it issues none).
"""

from __future__ import annotations

from typing import Any

from tests.builders.api import Api
from tests.builders.billing import (
    advance,
    attach,
    change_input,
    change_plan,
    create_addon,
    create_plan,
    credit_balance,
    invoices,
    preview_change,
    subscribe,
)
from tests.builders.clocks import new_clock, tenant_on

NOV_1 = "2026-11-01T00:00:00+00:00"
DEC_1 = "2026-12-01T00:00:00+00:00"
JAN_1 = "2027-01-01T00:00:00+00:00"


def lines(document: dict[str, Any], key: str = "lines") -> list[tuple[str, str, int, int, int]]:
    """(kind, description, quantity, unit amount, amount) of an invoice's or preview's lines."""
    return [
        (li["kind"], li["description"], li["quantity"], li["unitAmount"]["amount"], li["amount"]["amount"])
        for li in document[key]
    ]


def summary_money(preview: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """(subtotal, tax, total, credits applied, amount due) of a preview."""
    s = preview["immediateCharge"]["summary"]
    return (
        s["subtotal"]["amount"],
        s["tax"]["amount"],
        s["totalAmount"]["amount"],
        s["customerCredits"]["amount"],
        s["amountDue"]["amount"],
    )


def invoice_money(invoice: dict[str, Any]) -> tuple[int, int, int, int, int]:
    return (
        invoice["subtotal"]["amount"],
        invoice["tax"]["amount"],
        invoice["total"]["amount"],
        invoice["creditsApplied"]["amount"],
        invoice["amountDue"]["amount"],
    )


async def previewed_change(api: Api, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Preview, then change; the preview's lines and summary are the issued invoice's."""
    preview = await preview_change(api, spec)
    assert preview["__typename"] == "PlanChangePreview", preview
    change = await change_plan(api, spec)
    assert change["__typename"] == "PlanChange", change
    invoice = change["invoice"]
    if invoice is None:
        assert preview["immediateCharge"]["lineItems"] == []
        assert summary_money(preview) == (0, 0, 0, 0, 0)
    else:
        assert invoice["reason"] == "CHANGE"
        assert summary_money(preview) == invoice_money(invoice)
        assert lines(preview["immediateCharge"], "lineItems") == lines(invoice)
    return preview, change


def text(preview: dict[str, Any]) -> str:
    return preview["immediateCharge"]["summary"]["text"]


async def seat_team(
    api: Api, seats: int, clock_at: str = "2026-11-01T00:00:00Z"
) -> tuple[str, str, str, str, str]:
    """A UTC tenant on a clock, on a $0 plan with `seats` seats at $10:
    (clock, tenant, plan, seat, subscription)."""
    clock = await new_clock(api, clock_at)
    tenant = await tenant_on(api, "Acme Analytics", clock)
    plan = await create_plan(api, "per_seat", 0, name="Per seat")
    seat = await create_addon(api, "seat", 10_00, seatType="FULL", name="Seat")
    await attach(api, plan, seat)
    subscription = await subscribe(api, tenant, plan, {seat: seats})
    assert subscription["__typename"] == "Subscription", subscription
    return clock, tenant, plan, seat, subscription["id"]


async def two_plans(api: Api, seats: int = 2) -> tuple[str, str, str, str, str, str]:
    """A UTC tenant on Starter ($30) with `seats` seats at $10, and Growth ($90) offering
    the same seat: (clock, tenant, starter, growth, seat, subscription)."""
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock)
    starter = await create_plan(api, "starter", 30_00, name="Starter")
    growth = await create_plan(api, "growth", 90_00, name="Growth")
    seat = await create_addon(api, "seat", 10_00, seatType="FULL", name="Seat")
    for plan in (starter, growth):
        await attach(api, plan, seat)
    subscription = await subscribe(api, tenant, starter, {seat: seats})
    assert subscription["latestInvoice"]["total"]["amount"] == 30_00 + seats * 10_00
    return clock, tenant, starter, growth, seat, subscription["id"]


async def test_a_prorated_downgrade_credits_the_unused_days_and_the_renewal_uses_the_credit(api: Api) -> None:
    clock, tenant, plan, seat, subscription = await seat_team(api, 10)
    await advance(api, clock, "2026-11-16T09:00:00Z")  # 15 of 30 days left

    preview, change = await previewed_change(api, change_input(subscription, plan, {seat: 4}))
    invoice = change["invoice"]
    assert lines(invoice) == [("CREDIT", "Removing 6 × Seat (15 of 30 days)", -6, 10_00, -30_00)]
    assert invoice_money(invoice) == (-30_00, 0, -30_00, 0, 0)
    assert (invoice["status"], invoice["total"]["formatted"]) == ("PAID", "-$30.00")
    assert preview["immediateCharge"]["summary"]["creditToBalance"]["amount"] == 30_00
    assert text(preview) == "Removing 6 seats credits $30.00 to the credit balance (15 of 30 days prorated)."
    assert change["subscription"]["currentPeriodEnd"] == DEC_1  # the cycle stays
    assert await credit_balance(api, tenant) == 30_00

    await advance(api, clock, "2026-12-01T00:00:00Z")
    renewal = (await invoices(api, tenant))[0]
    assert renewal["reason"] == "RENEWAL"
    assert lines(renewal) == [("BASE", "Per seat", 1, 0, 0), ("ADDON", "Seat", 4, 10_00, 40_00)]
    # amountDue = total - credit
    assert invoice_money(renewal) == (40_00, 0, 40_00, 30_00, 10_00)
    assert await credit_balance(api, tenant) == 0


async def test_a_prorated_plan_switch_credits_the_old_plan_and_charges_the_new_one(api: Api) -> None:
    clock, tenant, starter, growth, seat, subscription = await two_plans(api)
    await advance(api, clock, "2026-11-21T12:00:00Z")  # 10 of 30 days left

    preview, change = await previewed_change(api, change_input(subscription, growth))
    assert lines(change["invoice"]) == [
        ("CREDIT", "Unused time on Starter (10 of 30 days)", -1, 30_00, -10_00),
        ("PRORATION", "Remaining time on Growth (10 of 30 days)", 1, 90_00, 30_00),
    ]  # the seats, kept, get no line
    assert invoice_money(change["invoice"]) == (20_00, 0, 20_00, 0, 20_00)
    assert [li["prorationFactor"] for li in preview["immediateCharge"]["lineItems"]] == [1 / 3, 1 / 3]
    assert text(preview) == "Switching to Growth costs $20.00 today (10 of 30 days prorated)."
    assert change["subscription"]["plan"]["code"] == "growth"
    assert (change["subscription"]["currentPeriodStart"], change["subscription"]["currentPeriodEnd"]) == (
        NOV_1,
        DEC_1,
    )

    # An add-on dropped is credited the same way.
    _, change = await previewed_change(api, change_input(subscription, growth, {}))
    assert lines(change["invoice"]) == [("CREDIT", "Unused time on Seat (10 of 30 days)", -2, 10_00, -6_67)]
    assert await credit_balance(api, tenant) == 6_67


async def test_difference_immediately_bills_a_whole_periods_difference_and_credits_a_downgrade(
    api: Api,
) -> None:
    clock, tenant, starter, growth, seat, subscription = await two_plans(api)
    await advance(api, clock, "2026-11-21T12:00:00Z")  # 10 days left, which does not matter here

    preview, change = await previewed_change(
        api, change_input(subscription, growth, mode="DIFFERENCE_IMMEDIATELY")
    )
    assert lines(change["invoice"]) == [
        ("CREDIT", "Starter removed (difference for a full period)", -1, 30_00, -30_00),
        ("PRORATION", "Growth added (difference for a full period)", 1, 90_00, 90_00),
    ]
    assert invoice_money(change["invoice"]) == (60_00, 0, 60_00, 0, 60_00)
    assert (
        text(preview) == "Switching to Growth costs $60.00 today (the full difference of the period prices)."
    )
    assert change["subscription"]["currentPeriodEnd"] == DEC_1

    # Back down: the full $60 difference goes to the credit balance.
    preview, change = await previewed_change(
        api, change_input(subscription, starter, mode="DIFFERENCE_IMMEDIATELY")
    )
    assert invoice_money(change["invoice"]) == (-60_00, 0, -60_00, 0, 0)
    assert text(preview) == (
        "Switching to Starter credits $60.00 to the credit balance (the full difference of the period "
        "prices)."
    )
    assert await credit_balance(api, tenant) == 60_00

    # The $50 renewals of December and January eat it; February's pays the rest.
    await advance(api, clock, "2027-02-01T00:00:00Z")
    feb, jan, dec = (await invoices(api, tenant))[:3]
    assert [i["reason"] for i in (dec, jan, feb)] == ["RENEWAL"] * 3
    assert [invoice_money(i) for i in (dec, jan, feb)] == [
        (50_00, 0, 50_00, 50_00, 0),
        (50_00, 0, 50_00, 10_00, 40_00),
        (50_00, 0, 50_00, 0, 50_00),
    ]
    assert [i["status"] for i in (dec, jan, feb)] == ["PAID", "OPEN", "OPEN"]
    assert await credit_balance(api, tenant) == 0


async def test_full_immediately_bills_the_new_price_in_full_and_restarts_the_period_today(api: Api) -> None:
    clock, tenant, starter, growth, seat, subscription = await two_plans(api)
    await advance(api, clock, "2026-11-21T10:00:00Z")

    spec = change_input(subscription, growth, {seat: 3}, mode="FULL_IMMEDIATELY")
    preview, change = await previewed_change(api, spec)
    assert lines(change["invoice"]) == [
        ("BASE", "Growth", 1, 90_00, 90_00),
        ("ADDON", "Seat", 3, 10_00, 30_00),
    ]
    assert invoice_money(change["invoice"]) == (120_00, 0, 120_00, 0, 120_00)  # no credit for the old plan
    assert text(preview) == "Switching to Growth costs $120.00 today (a new period starts today)."
    period = ("2026-11-21T10:00:00+00:00", "2026-12-21T10:00:00+00:00")
    assert (
        change["subscription"]["currentPeriodStart"],
        change["subscription"]["currentPeriodEnd"],
    ) == period
    assert (
        preview["newSubscription"]["currentPeriodStart"],
        preview["newSubscription"]["currentPeriodEnd"],
    ) == period
    assert (change["invoice"]["periodStart"], change["invoice"]["periodEnd"]) == period
    assert await credit_balance(api, tenant) == 0

    await advance(api, clock, "2026-12-01T00:00:00Z")  # the old renewal date passes without an invoice
    assert len(await invoices(api, tenant)) == 2
    await advance(api, clock, "2026-12-21T10:00:00Z")
    renewal = (await invoices(api, tenant))[0]
    assert (renewal["reason"], renewal["periodStart"], renewal["total"]["amount"]) == (
        "RENEWAL",
        "2026-12-21T10:00:00+00:00",
        120_00,
    )


async def test_do_not_bill_applies_the_change_without_an_invoice(api: Api) -> None:
    clock, tenant, starter, growth, seat, subscription = await two_plans(api)
    await advance(api, clock, "2026-11-21T12:00:00Z")

    preview, change = await previewed_change(
        api, change_input(subscription, growth, {seat: 5}, mode="DO_NOT_BILL")
    )
    assert change["invoice"] is None
    assert text(preview) == "Switching to Growth costs nothing today (not billed)."
    assert change["subscription"]["plan"]["code"] == "growth"
    assert change["subscription"]["seats"]["total"] == 5
    assert (change["subscription"]["currentPeriodStart"], change["subscription"]["currentPeriodEnd"]) == (
        NOV_1,
        DEC_1,
    )
    assert [i["reason"] for i in await invoices(api, tenant)] == ["SUBSCRIBE"]
    assert await credit_balance(api, tenant) == 0

    await advance(api, clock, "2026-12-01T00:00:00Z")
    assert (await invoices(api, tenant))[0]["total"]["amount"] == 90_00 + 5 * 10_00


async def test_next_billing_date_changes_nothing_now_and_the_renewal_bills_the_new_plan(api: Api) -> None:
    clock, tenant, starter, growth, seat, subscription = await two_plans(api, seats=3)
    await advance(api, clock, "2026-11-21T12:00:00Z")
    await change_plan(api, change_input(subscription, growth, mode="DO_NOT_BILL"))  # on Growth, 3 seats

    spec = change_input(subscription, starter, {seat: 1}, effective_at="NEXT_BILLING_DATE")
    preview, change = await previewed_change(api, spec)
    assert change["invoice"] is None
    assert preview["effectiveAt"] == DEC_1
    assert text(preview) == (
        "Switching to Starter takes effect on 2026-12-01; nothing is charged today, "
        "and the renewal invoice will be $40.00."
    )
    assert (
        preview["newSubscription"]["plan"]["code"],
        preview["newSubscription"]["currentPeriodStart"],
        preview["newSubscription"]["currentPeriodEnd"],
    ) == ("starter", DEC_1, JAN_1)
    sub = change["subscription"]
    assert sub["plan"]["code"] == "growth" and sub["addons"][0]["quantity"] == 3  # nothing changed yet
    assert sub["scheduledChange"] == {
        "effectiveAt": DEC_1,
        "plan": {"code": "starter"},
        "addons": [{"addon": {"code": "seat"}, "quantity": 1}],
    }
    assert [i["reason"] for i in await invoices(api, tenant)] == ["SUBSCRIBE"]

    await advance(api, clock, "2026-12-01T00:00:00Z")
    renewal = (await invoices(api, tenant))[0]
    assert (renewal["reason"], renewal["periodStart"], renewal["periodEnd"]) == ("RENEWAL", DEC_1, JAN_1)
    assert lines(renewal) == [("BASE", "Starter", 1, 30_00, 30_00), ("ADDON", "Seat", 1, 10_00, 10_00)]
    now = (
        await api(
            "query($id: ID!) { subscription(id: $id) { plan { code } scheduledChange { effectiveAt } } }",
            {"id": subscription},
        )
    )["subscription"]
    assert now == {"plan": {"code": "starter"}, "scheduledChange": None}


async def test_an_immediate_change_replaces_a_scheduled_one(api: Api) -> None:
    clock, tenant, starter, growth, seat, subscription = await two_plans(api)
    scheduled = await change_plan(
        api, change_input(subscription, starter, {seat: 1}, effective_at="NEXT_BILLING_DATE")
    )
    assert scheduled["subscription"]["scheduledChange"]["plan"]["code"] == "starter"
    await advance(api, clock, "2026-11-16T00:00:00Z")  # 15 of 30 days left

    preview, change = await previewed_change(api, change_input(subscription, starter, {seat: 4}))
    assert invoice_money(change["invoice"]) == (10_00, 0, 10_00, 0, 10_00)  # 2 seats × $10 × 1/2
    assert text(preview) == "Adding 2 seats costs $10.00 today (15 of 30 days prorated)."
    assert change["subscription"]["scheduledChange"] is None

    await advance(api, clock, "2026-12-01T00:00:00Z")
    renewal = (await invoices(api, tenant))[0]
    assert lines(renewal) == [("BASE", "Starter", 1, 30_00, 30_00), ("ADDON", "Seat", 4, 10_00, 40_00)]


async def test_yen_amounts_round_half_up_to_whole_yen(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Sakura Design", clock, currency="JPY")
    plan = await create_plan(api, "team_jp", 0, name="Team JP", currency="JPY")
    seat = await create_addon(api, "seat_jp", 1_001, currency="JPY", seatType="FULL", name="Seat")
    storage = await create_addon(api, "storage_jp", 1_000, currency="JPY", name="Storage")
    for addon in (seat, storage):
        await attach(api, plan, addon)
    subscription = (await subscribe(api, tenant, plan, {seat: 1}))["id"]

    await advance(api, clock, "2026-11-16T00:00:00Z")  # 15 of 30 days: halves
    preview, change = await previewed_change(api, change_input(subscription, plan, {seat: 2}))
    # ¥1,001 × 1/2 = ¥500.5 -> ¥501
    assert lines(change["invoice"]) == [("PRORATION", "Adding 1 × Seat (15 of 30 days)", 1, 1_001, 501)]
    assert change["invoice"]["total"]["formatted"] == "¥501"
    assert text(preview) == "Adding 1 seat costs ¥501 today (15 of 30 days prorated)."
    # -¥500.5 -> -¥501: half away from zero
    preview, change = await previewed_change(api, change_input(subscription, plan, {seat: 1}))
    assert lines(change["invoice"]) == [("CREDIT", "Removing 1 × Seat (15 of 30 days)", -1, 1_001, -501)]
    assert await credit_balance(api, tenant) == 501

    await advance(api, clock, "2026-11-21T00:00:00Z")  # 10 of 30 days: thirds
    preview, change = await previewed_change(api, change_input(subscription, plan, {seat: 1, storage: 2}))
    # ¥2,000 × 1/3 = ¥666.67 -> ¥667, of which the ¥501 credit pays ¥501
    assert lines(change["invoice"]) == [
        ("PRORATION", "Remaining time on Storage (10 of 30 days)", 2, 1_000, 667)
    ]
    assert invoice_money(change["invoice"]) == (667, 0, 667, 501, 166)
    assert text(preview) == "This change costs ¥166 today after ¥501 of credit (10 of 30 days prorated)."
    assert await credit_balance(api, tenant) == 0


async def test_a_taxed_tenant_pays_tax_on_the_change_and_gets_it_back_on_a_credit(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    created = (
        await api(
            """mutation($input: CreateTenantInput!) { createTenant(input: $input) {
             __typename ... on Tenant { id taxRate } ... on Error { code message } } }""",
            {
                "input": {
                    "name": "Acme Analytics",
                    "email": "billing@example.com",
                    "currency": "USD",
                    "testClockId": clock,
                    "taxRate": "10",
                }
            },
        )
    )["createTenant"]
    assert created["__typename"] == "Tenant", created
    tenant = created["id"]
    plan = await create_plan(api, "per_seat", 0, name="Per seat")
    seat = await create_addon(api, "seat", 10_05, seatType="FULL", name="Seat")
    await attach(api, plan, seat)
    subscription = (await subscribe(api, tenant, plan, {seat: 5}))["id"]
    await advance(api, clock, "2026-11-16T00:00:00Z")  # 15 of 30 days left

    preview, change = await previewed_change(api, change_input(subscription, plan, {seat: 10}))
    # 5 × $10.05 × 1/2 = $25.125 -> $25.13; tax 10 % = $2.513 -> $2.51
    assert invoice_money(change["invoice"]) == (25_13, 2_51, 27_64, 0, 27_64)
    assert text(preview) == "Adding 5 seats costs $27.64 today (15 of 30 days prorated)."

    preview, change = await previewed_change(api, change_input(subscription, plan, {seat: 8}))
    # 2 × $10.05 × 1/2 = -$10.05 credit; its tax comes back too: -$1.005 -> -$1.01
    assert invoice_money(change["invoice"]) == (-10_05, -1_01, -11_06, 0, 0)
    assert await credit_balance(api, tenant) == 11_06


async def test_days_are_counted_in_the_tenants_timezone(api: Api) -> None:
    clock = await new_clock(api, "2026-10-31T15:00:00Z")  # Nov 1, 00:00 in Tokyo
    tenant = await tenant_on(api, "Tokyo Team", clock, timezone="Asia/Tokyo")
    plan = await create_plan(api, "per_seat", 0, name="Per seat")
    seat = await create_addon(api, "seat", 10_00, seatType="FULL", name="Seat")
    await attach(api, plan, seat)
    subscription = (await subscribe(api, tenant, plan, {seat: 5}))["id"]

    await advance(api, clock, "2026-11-15T16:00:00Z")  # Nov 15 in UTC (16 days left), Nov 16 in Tokyo (15)
    preview, change = await previewed_change(api, change_input(subscription, plan, {seat: 10}))
    assert lines(change["invoice"]) == [("PRORATION", "Adding 5 × Seat (15 of 30 days)", 5, 10_00, 25_00)]
    assert text(preview) == "Adding 5 seats costs $25.00 today (15 of 30 days prorated)."
    assert change["subscription"]["currentPeriodEnd"] == "2026-11-30T15:00:00+00:00"  # Dec 1 in Tokyo
