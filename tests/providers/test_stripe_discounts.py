"""A discounted invoice at Stripe (against localstripe): the DISCOUNT line travels as a
negative invoice item of the gateway's own invoice, so Stripe charges exactly the
discounted total, tax included. No Stripe coupon is involved: the gateway decides what is
owed."""

from __future__ import annotations

from tests.builders.billing import plan_with_seat_addon
from tests.builders.stripe_world import StripeWorld


async def test_a_discounted_invoice_is_charged_exactly_its_discounted_total(world: StripeWorld) -> None:
    tenant, customer_id = await world.card_holder("Discounted")
    await world.api(
        'mutation($t: ID!) { setTaxRate(tenantId: $t, taxRate: "10") { __typename } }', {"t": tenant}
    )
    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00)
    created = await world.api(
        """mutation { createCoupon(input: {code: "LAUNCH20", name: "Launch", percentOff: "20",
             duration: FOREVER}) { __typename } }"""
    )
    assert created["createCoupon"]["__typename"] == "Coupon"
    subscribed = await world.api(
        """mutation($input: SubscribeInput!) { subscribe(input: $input) { __typename
             ... on Subscription { latestInvoice { id amountDue { amount } } }
             ... on Error { code message } } }""",
        {
            "input": {
                "tenantId": tenant,
                "planId": plan,
                "addons": [{"addonId": seat, "quantity": 10}],
                "couponCode": "launch20",
            }
        },
    )
    invoice = subscribed["subscribe"]["latestInvoice"]
    assert invoice["amountDue"]["amount"] == 219_12  # ($249 - 20 %) + 10 % tax
    await world.run_tasks()

    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["total"], charged["amount_paid"], charged["status"]) == (219_12, 219_12, "paid")
    amounts = sorted(line["amount"] for line in charged["lines"]["data"])
    assert amounts == [-49_80, 19_92, 99_00, 150_00]  # the discount, the tax, the base, the seats
    assert (await world.wait_for_status(invoice["id"], "PAID"))["total"]["amount"] == 219_12
