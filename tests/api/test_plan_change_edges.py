"""The edges a review of plan changes found: who may bill without proration, the
amounts the API can carry, the calendar's end, changes that wait on a renewal,
and an invite that arrives before the billing run."""

from __future__ import annotations

from models.kernel.clock import FixedClock
from tests.builders.api import START, Api, new_key, new_tenant
from tests.builders.billing import (
    advance,
    archive,
    attach,
    change_input,
    change_plan,
    create_addon,
    create_plan,
    invite,
    invoices,
    preview_change,
    subscribe,
)
from tests.builders.clocks import new_clock, seat_team, tenant_on


async def both(api: Api, spec: dict) -> tuple[dict, dict]:
    """The preview's and the change's answers to one input."""
    return await preview_change(api, spec), await change_plan(api, spec)


async def test_a_tenant_key_may_not_skip_or_undo_proration(api: Api) -> None:
    clock, tenant, plan, seat, subscription = await seat_team(api)
    own = api.as_key((await new_key(api, "TENANT", tenant))["secret"])
    for mode in ("DO_NOT_BILL", "DIFFERENCE_IMMEDIATELY"):
        for result in await both(own, change_input(subscription, plan, {seat: 10}, mode=mode)):
            assert (result["__typename"], result["code"]) == ("ForbiddenError", "FORBIDDEN"), result
            assert mode in result["message"]
    # Prorated, full, or at the next billing date: its own to choose.
    assert (await change_plan(own, change_input(subscription, plan, {seat: 6})))["__typename"] == "PlanChange"
    scheduled = change_input(
        subscription, plan, {seat: 7}, mode="DO_NOT_BILL", effective_at="NEXT_BILLING_DATE"
    )
    assert (await change_plan(own, scheduled))["__typename"] == "PlanChange"
    assert (await change_plan(api, change_input(subscription, plan, {seat: 8}, mode="DO_NOT_BILL")))[
        "__typename"
    ] == "PlanChange"


async def test_switching_between_monthly_and_yearly_never_keeps_the_period(api: Api) -> None:
    clock, tenant, plan, seat, subscription = await seat_team(api)
    yearly = await create_plan(api, "per_seat_yearly", 0, interval="YEAR")
    await attach(api, yearly, seat)
    await advance(api, clock, "2026-11-16T00:00:00Z")
    for mode in ("PRORATED_IMMEDIATELY", "DIFFERENCE_IMMEDIATELY", "DO_NOT_BILL"):
        for result in await both(api, change_input(subscription, yearly, mode=mode)):
            assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.prorationBillingMode"), (
                result
            )
    full = await change_plan(api, change_input(subscription, yearly, mode="FULL_IMMEDIATELY"))
    assert full["subscription"]["currentPeriodEnd"] == "2027-11-16T00:00:00+00:00"


async def test_nothing_can_be_scheduled_past_a_cancellation(api: Api) -> None:
    clock, tenant, plan, seat, subscription = await seat_team(api)
    await api(
        "mutation($id: ID!) { cancelSubscription(subscriptionId: $id, atPeriodEnd: true) { __typename } }",
        {"id": subscription},
    )
    spec = change_input(subscription, plan, {seat: 3}, effective_at="NEXT_BILLING_DATE")
    for result in await both(api, spec):
        assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.effectiveAt"), result
        assert "cancels at the end of this period" in result["message"]


async def test_a_scheduled_change_that_buys_an_add_on_archived_meanwhile_is_dropped(api: Api) -> None:
    clock, tenant, plan, seat, subscription = await seat_team(api)
    scheduled = await change_plan(
        api, change_input(subscription, plan, {seat: 50}, effective_at="NEXT_BILLING_DATE")
    )
    assert scheduled["subscription"]["scheduledChange"]["addons"] == [
        {"addon": {"code": "seat"}, "quantity": 50}
    ]
    await archive(api, seat)
    await advance(api, clock, "2026-12-01T00:00:00Z")
    renewal = (await invoices(api, tenant))[0]
    assert (renewal["reason"], renewal["total"]["amount"]) == ("RENEWAL", 5 * 10_00)  # the 5 seats it had
    log = await api(
        "query($id: ID!) { auditLog(tenantId: $id, first: 50) { edges { node { action after } } } }",
        {"id": tenant},
    )
    (dropped,) = [
        e["node"]
        for e in log["auditLog"]["edges"]
        if e["node"]["action"] == "subscription.scheduled_change_dropped"
    ]
    assert "archived" in dropped["after"]["reason"]


async def test_amounts_the_api_cannot_carry_are_refused_before_anything_is_written(api: Api) -> None:
    """MinorUnits stop at 2^53 - 1 (9,007,199,254,740,991): with tax, in a renewal, or as a credit balance."""
    taxed = (
        await api(
            """mutation { createTenant(input: {name: "Big", email: "b@b.example", currency: "USD",
             taxRate: "10"}) { ... on Tenant { id } } }"""
        )
    )["createTenant"]["id"]
    dear = await create_plan(api, "dear", 8_500_000_000_000_000)
    refused = await subscribe(api, taxed, dear)  # $85 trillion + 10 % tax
    assert refused["code"] == "VALIDATION_FAILED" and "with tax" in refused["message"], refused
    assert await invoices(api, taxed) == []

    untaxed = await new_tenant(api, "Big Two")
    assert (await subscribe(api, untaxed, dear))["__typename"] == "Subscription"
    rate = await api(
        """mutation($id: ID!) { setTaxRate(tenantId: $id, taxRate: "10") { __typename
        ... on ValidationError { field } ... on Error { code } } }""",
        {"id": untaxed},
    )
    assert rate["setTaxRate"] == {
        "__typename": "ValidationError",
        "field": "taxRate",
        "code": "VALIDATION_FAILED",
    }

    # Credit piling up: down by the full difference twice would pass the limit.
    cheap = await create_plan(api, "cheap", 0)
    sub = (await subscribe(api, await new_tenant(api, "Gamer"), cheap))["id"]
    for step, (plan, mode) in enumerate(
        [
            (dear, "DO_NOT_BILL"),
            (cheap, "DIFFERENCE_IMMEDIATELY"),
            (dear, "DO_NOT_BILL"),
            (cheap, "DIFFERENCE_IMMEDIATELY"),
        ]
    ):
        result = await change_plan(api, change_input(sub, plan, mode=mode))
        if step < 3:
            assert result["__typename"] == "PlanChange", (step, result)
        else:
            assert result["code"] == "VALIDATION_FAILED" and "credit balance" in result["message"], result


async def test_the_end_of_the_calendar_is_an_error_not_a_crash(api: Api) -> None:
    clock = await new_clock(api, "9999-11-20T00:00:00Z")
    tenant = await tenant_on(api, "Far Future", clock)
    plan = await create_plan(api, "team", 10_00)
    subscription = (await subscribe(api, tenant, plan))["id"]
    for result in await both(api, change_input(subscription, plan, effective_at="NEXT_BILLING_DATE")):
        assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.effectiveAt"), result
    await advance(api, clock, "9999-12-21T00:00:00Z")  # the renewal cannot happen; the clock still moves
    for result in await both(api, change_input(subscription, plan)):
        assert result["code"] == "VALIDATION_FAILED" and "9999" in result["message"], result


async def test_an_invite_after_the_period_ended_waits_for_the_renewal_it_triggers(
    api: Api, clock: FixedClock
) -> None:
    """On the process clock nothing renews until a billing run; an invite runs what fell due first."""
    plan = await create_plan(api, "team", 10_00, includedSeats=5)
    tenant = await new_tenant(api, "Acme")
    subscription = (await subscribe(api, tenant, plan))["id"]
    await api(
        "mutation($id: ID!) { cancelSubscription(subscriptionId: $id, atPeriodEnd: true) { __typename } }",
        {"id": subscription},
    )
    clock.set(START.replace(month=3))  # past the period end; no billing run has happened
    assert (await invite(api, tenant, "late@acme.example"))["code"] == "SUBSCRIPTION_NOT_ACTIVE"


async def test_leaving_out_addons_on_a_plan_without_them_says_what_to_pass(api: Api) -> None:
    clock, tenant, plan, seat, subscription = await seat_team(api)
    bare = await create_plan(api, "bare", 99_00, includedSeats=10)
    for result in await both(api, change_input(subscription, bare)):
        assert result["code"] == "ADDON_NOT_ATTACHED" and "pass `addons`" in result["message"], result
    assert (await change_plan(api, change_input(subscription, bare, {})))["__typename"] == "PlanChange"


async def test_the_same_totals_in_another_order_replay(api: Api) -> None:
    clock, tenant, plan, seat, subscription = await seat_team(api)
    extra = await create_addon(api, "storage", 5_00)
    await attach(api, plan, extra)
    first = await change_plan(api, change_input(subscription, plan, {seat: 6, extra: 1}, key="k-1"))
    again = await change_plan(api, change_input(subscription, plan, {extra: 1, seat: 6}, key="k-1"))
    assert again["invoice"]["number"] == first["invoice"]["number"]


async def test_a_scheduled_change_quotes_the_renewal_with_tax(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = (
        await api(
            """mutation($clock: ID!) {
             createTenant(input: {name: "Taxed", email: "t@t.example", currency: "USD",
             taxRate: "10", testClockId: $clock}) { ... on Tenant { id } } }""",
            {"clock": clock},
        )
    )["createTenant"]["id"]
    plan = await create_plan(api, "team", 20_00)
    bigger = await create_plan(api, "bigger", 40_00, name="Bigger")
    subscription = (await subscribe(api, tenant, plan))["id"]
    preview = await preview_change(api, change_input(subscription, bigger, effective_at="NEXT_BILLING_DATE"))
    assert preview["immediateCharge"]["summary"]["text"] == (
        "Switching to Bigger takes effect on 2026-12-01; nothing is charged today, and the renewal invoice "
        "will be $44.00."
    )
