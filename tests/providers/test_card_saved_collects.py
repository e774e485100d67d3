"""A card saved on the gateway's Checkout page pays what is still owed (review 2b), and
only Checkout pages the gateway opened, for that tenant's customer, touch cards (2c).

Against localstripe, which declines the charge of 4000000000000341 (its
4000000000000002 is refused already when attached) but sends no
``invoice.payment_failed``: that webhook is built from the Stripe invoice as
localstripe holds it and signed as Stripe signs it."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from tests.builders.billing import plan_with_seat_addon, subscribe
from tests.builders.checkout import (
    ExpandingProxy,
    complete_checkout,
    completed_event,
    default_card,
    default_card_posts,
    deliver,
)
from tests.builders.stripe_world import StripeWorld

PROXY = ExpandingProxy  # the proxy fixture's class: it expands setup_intent as Stripe does


async def subscription_status(world: StripeWorld, subscription_id: str) -> str:
    data = await world.api("query($id: ID!) { subscription(id: $id) { status } }", {"id": subscription_id})
    return data["subscription"]["status"]


def stripe_event(event_type: str, obj: dict[str, Any]) -> str:
    return json.dumps(
        {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "type": event_type,
            "data": {"object": obj},
            "pending_webhooks": 1,
        }
    )


async def test_a_card_saved_after_a_decline_pays_the_open_invoice_and_reactivates_the_subscription(
    world: StripeWorld,
) -> None:
    tenant = await world.tenant("Relapse")
    await world.run_tasks()
    customer_id = await world.customer_id(tenant)
    await world.attach_card(customer_id, "4000000000000341")  # attaches, then declines every charge
    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00, includedSeats=5)
    subscription = await subscribe(world.api, tenant, plan, {seat: 10})
    invoice = subscription["latestInvoice"]["id"]

    await world.run_tasks()
    (stripe_invoice,) = await world.stripe_invoices(customer_id)
    assert (stripe_invoice["status"], stripe_invoice["total"]) == ("open", 249_00)
    failed = await deliver(world, stripe_event("invoice.payment_failed", stripe_invoice))
    assert failed.json()["outcome"] == f"invoice {invoice}: payment failed"
    assert await subscription_status(world, subscription["id"]) == "PAST_DUE"

    _, card_id, session = await complete_checkout(world, tenant)  # a good card, 4242...
    saved = await deliver(world, completed_event(session))

    assert saved.status_code == 200, saved.text
    assert saved.json()["outcome"].endswith("; collecting 1 open invoice(s) with it")
    assert await default_card(world, customer_id) == card_id
    assert await world.run_tasks() == 1
    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["id"], charged["status"], charged["amount_paid"]) == (
        stripe_invoice["id"],
        "paid",
        249_00,
    )
    assert (await world.wait_for_status(invoice, "PAID"))["providerInvoiceId"] == charged["id"]
    assert await subscription_status(world, subscription["id"]) == "ACTIVE"
    # Each attempt charged under its own task's key: the second is not a replay of the decline.
    first, second = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert (first.status, second.status) == ("DONE", "DONE")
    assert [p.idempotency_key for p in world.proxy.posts(f"/v1/invoices/{charged['id']}/pay")] == [
        f"{invoice}-pay-{first.id}",
        f"{invoice}-pay-{second.id}",
    ]


async def test_a_checkout_the_gateway_did_not_open_for_that_tenant_touches_no_card(
    world: StripeWorld,
) -> None:
    tenant = await world.tenant("Owner")
    other = await world.tenant("Bystander")
    customer_id, _, session = await complete_checkout(world, tenant)
    assert session["metadata"] == {"gateway_tenant_id": tenant}
    someone_elses = {**session, "id": "cs_test_someone_else", "metadata": {}}
    wrong_tenant = {**session, "id": "cs_test_wrong_tenant", "metadata": {"gateway_tenant_id": other}}
    unknown_tenant = {**session, "id": "cs_test_unknown", "metadata": {"gateway_tenant_id": "ten_nobody"}}

    outcomes = [
        (await deliver(world, completed_event(s))).json()["outcome"]
        for s in (someone_elses, wrong_tenant, unknown_tenant)
    ]

    assert outcomes == [
        "ignored: the card page was not opened by this gateway (no gateway_tenant_id in its metadata)",
        f"ignored: customer {customer_id} is not tenant {other}'s",
        "ignored: no tenant ten_nobody in this gateway",
    ]
    assert await default_card(world, customer_id) is None
    assert default_card_posts(world, customer_id) == []
    assert [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"] == []
