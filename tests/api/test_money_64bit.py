"""Money past 2^31 minor units, as a user meets it: rupiah and dong plans, billions of
units of usage, and usage no invoice can carry, which must never freeze a subscription."""

from __future__ import annotations

from typing import Any

from tests.builders.api import Api, new_key
from tests.builders.billing import advance, attach, create_addon, create_plan, invoices, subscribe
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.usage_billing import charge, meter, record

INVOICE = """id number status total { amount currency formatted } amountDue { amount }
             lines { kind quantity amount { amount } }"""


async def cancel(api: Api, subscription: str, at_period_end: bool = False) -> dict[str, Any]:
    return (
        await api(
            """mutation($id: ID!, $end: Boolean!) {
                 cancelSubscription(subscriptionId: $id, atPeriodEnd: $end) { __typename
                   ... on Subscription { status cancelAtPeriodEnd } ... on Error { code message } } }""",
            {"id": subscription, "end": at_period_end},
        )
    )["cancelSubscription"]


async def test_an_indonesian_tenant_subscribes_to_rp_25_million_and_reads_its_invoice(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Jakarta", clock, currency="IDR")
    plan = await create_plan(api, "bisnis", 15_000_000_00, currency="IDR")  # Rp 15,000,000.00
    support = await create_addon(api, "dukungan", 10_000_000_00, currency="IDR")  # Rp 10,000,000.00
    await attach(api, plan, support)
    subscription = await subscribe(api, tenant, plan, {support: 1})
    assert subscription["__typename"] == "Subscription", subscription
    read = await api(
        f"query($id: ID!) {{ invoice(id: $id) {{ {INVOICE} }} }}", {"id": subscription["latestInvoice"]["id"]}
    )
    invoice = read["invoice"]
    assert invoice["total"]["amount"] == 25_000_000_00
    assert invoice["total"]["currency"] == "IDR" and "25,000,000.00" in invoice["total"]["formatted"]
    assert [line["amount"]["amount"] for line in invoice["lines"]] == [15_000_000_00, 10_000_000_00]


async def test_a_dong_plan_of_three_billion_renews_with_usage_and_every_read_of_it_works(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Hanoi", clock, currency="VND")
    plan = await create_plan(api, "doanh_nghiep", 3_000_000_000, currency="VND")  # 3,000,000,000 d
    await meter(api, "api_calls")
    await charge(api, plan, "api_calls", unitAmount=10)  # 10 d a call
    assert (await subscribe(api, tenant, plan))["__typename"] == "Subscription"
    # Three billion calls over the month, on a priced meter: 30,000,000,000 d of usage.
    await advance(api, clock, "2026-11-20T00:00:00Z")
    for day in ("05", "12", "19"):
        await record(api, tenant, "api_calls", 1e9, f"2026-11-{day}T10:00:00Z")
    await advance(api, clock, "2026-12-01T00:00:00Z")

    renewal = next(i for i in await invoices(api, tenant) if i["reason"] == "RENEWAL")
    usage = [line for line in renewal["lines"] if line["kind"] == "USAGE"]
    assert [(u["quantity"], u["amount"]["amount"]) for u in usage] == [(3_000_000_000, 30_000_000_000)]
    assert renewal["total"]["amount"] == 3_000_000_000 + 30_000_000_000
    by_id = await api(f"query($id: ID!) {{ invoice(id: $id) {{ {INVOICE} }} }}", {"id": renewal["id"]})
    assert by_id["invoice"]["total"]["amount"] == 33_000_000_000
    fleet = await api(
        f"""{{ tenants(first: 50) {{ edges {{ node {{ id
             invoices {{ edges {{ node {{ {INVOICE} }} }} }} }} }} }} }}"""
    )
    (hanoi,) = [e["node"] for e in fleet["tenants"]["edges"] if e["node"]["id"] == tenant]
    assert {n["node"]["total"]["amount"] for n in hanoi["invoices"]["edges"]} == {
        3_000_000_000,
        33_000_000_000,
    }


async def test_money_inputs_past_two_to_the_53_are_refused_naming_the_field(api: Api) -> None:
    result = (
        await api(
            """mutation { createPlan(input: {code: "huge", name: "Huge", currency: "USD",
                 basePrice: 9007199254740992}) { __typename ... on ValidationError { code field } } }"""
        )
    )["createPlan"]
    assert result == {
        "__typename": "ValidationError",
        "code": "VALIDATION_FAILED",
        "field": "input.basePrice",
    }


async def test_unbillable_usage_leaves_the_renewal_a_draft_said_on_the_subscription_and_never_freezes_it(
    api: Api,
) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    plan = await create_plan(api, "dear_calls", 10_00)
    await meter(api, "api_calls")
    await charge(api, plan, "api_calls", unitAmount=100_000)  # $1,000 a call
    teams = [await tenant_on(api, name, clock) for name in ("Own Key", "By Admin")]
    subscriptions = [(await subscribe(api, t, plan))["id"] for t in teams]
    await advance(api, clock, "2026-11-20T00:00:00Z")
    for tenant in teams:  # 10^11 calls at $1,000: 10^16 cents, more than any invoice can carry
        await record(api, tenant, "api_calls", 1e11, "2026-11-05T10:00:00Z")
    await advance(api, clock, "2026-12-01T00:00:00Z")

    for tenant, subscription in zip(teams, subscriptions, strict=True):
        state = (
            await api(
                """query($id: ID!) { subscription(id: $id) { status currentPeriodStart renewalError
                     renewalFailedAt } }""",
                {"id": subscription},
            )
        )["subscription"]
        # The period renewed; its usage waits on a draft, and the subscription says why.
        assert (state["status"], state["currentPeriodStart"]) == ("ACTIVE", "2026-12-01T00:00:00+00:00")
        assert (
            "usage could not be billed" in state["renewalError"]
            and "9,007,199,254,740,991" in state["renewalError"]
        )
        renewal = next(i for i in await invoices(api, tenant) if i["reason"] == "RENEWAL")
        assert renewal["status"] == "DRAFT"

    own = api.as_key((await new_key(api, "TENANT", teams[0]))["secret"])
    assert (await cancel(own, subscriptions[0])) == {
        "__typename": "Subscription",
        "status": "CANCELLED",
        "cancelAtPeriodEnd": False,
    }
    assert (await cancel(api, subscriptions[1], at_period_end=True))["cancelAtPeriodEnd"] is True
    assert (await cancel(api, subscriptions[1]))["status"] == "CANCELLED"
    log = await api(
        "query($id: ID!) { auditLog(tenantId: $id, first: 50) { edges { node { action } } } }",
        {"id": teams[0]},
    )
    actions = [e["node"]["action"] for e in log["auditLog"]["edges"]]
    assert actions.count("subscription.renewal_failed") == 1 and "subscription.cancelled" in actions


async def test_a_fraction_of_a_minor_unit_is_refused_as_the_callers_mistake_never_masked(api: Api) -> None:
    plan = 'createPlan(input: {code: "frac", name: "Frac", currency: "USD", basePrice: %s})'
    for literal in ("9.99", '"999"', "true"):
        body = await api.raw(f"mutation {{ {plan % literal} {{ __typename }} }}")
        error = body["errors"][0]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body
        assert "MinorUnits must be a whole number" in error["message"]
    body = await api.raw(
        "mutation($p: MinorUnits!) { " + plan.replace("%s", "$p") + " { __typename } }",
        {"p": 9.99},
    )
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body
    assert "$p" in body["errors"][0]["message"] and "whole number" in body["errors"][0]["message"]
