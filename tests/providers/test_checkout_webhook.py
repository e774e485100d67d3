"""Saving a card through Stripe Checkout, end to end: createPaymentSetupSession hands
out the page, the customer enters a card there, Stripe sends the signed
``checkout.session.completed`` to ``POST /webhooks/stripe``, the gateway makes that card
the customer's default for invoices, and the next invoice is charged to it.

localstripe has no Checkout, so two things stand in for Stripe here:
- what the page does when the customer submits it (``complete_checkout``): a card
  PaymentMethod, a SetupIntent confirmed with it, the card attached to the customer
  (Checkout in setup mode attaches it and does NOT make it the default), and the
  session marked complete in the recording proxy (``RecordingProxy.complete_session``);
- the retrieval of the session: the proxy answers ``GET /v1/checkout/sessions/{id}``
  itself. ``ExpandingProxy`` adds what Stripe does with ``expand[]=setup_intent``: the
  SetupIntent object, fetched from localstripe, in place of its id.
The event is then signed here exactly as Stripe signs it, with the gateway's secret."""

from __future__ import annotations

import json

from sqlalchemy import select

from models.tables import ProviderEventRow
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


async def test_the_card_saved_on_checkout_becomes_the_default_and_pays_the_first_invoice(
    world: StripeWorld,
) -> None:
    tenant = await world.tenant("Checkout")
    customer_id, card_id, session = await complete_checkout(world, tenant)
    assert await default_card(world, customer_id) is None  # attached, not yet the default

    payload = completed_event(session)
    answer = await deliver(world, payload)

    assert answer.status_code == 200, answer.text
    assert answer.json()["duplicate"] is False
    assert customer_id in answer.json()["outcome"]
    assert await default_card(world, customer_id) == card_id
    (sent,) = default_card_posts(world, customer_id)
    assert sent.form["invoice_settings[default_payment_method]"] == card_id
    assert sent.idempotency_key == f"{json.loads(payload)['id']}-card"

    await world.run_tasks()  # the customer sync queued by createTenant must not undo it
    assert await default_card(world, customer_id) == card_id

    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00, includedSeats=5)
    invoice = (await subscribe(world.api, tenant, plan, {seat: 10}))["latestInvoice"]
    assert (invoice["total"]["amount"], invoice["status"]) == (249_00, "OPEN")
    assert await world.run_tasks() == 1

    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["status"], charged["total"], charged["metadata"]["gateway_invoice_id"]) == (
        "paid",
        249_00,
        invoice["id"],
    )
    paid = await world.wait_for_status(invoice["id"], "PAID")
    assert paid["providerInvoiceId"] == charged["id"]


async def test_the_same_event_delivered_twice_is_a_duplicate_and_sets_the_card_under_one_key(
    world: StripeWorld,
) -> None:
    tenant = await world.tenant("Twice")
    customer_id, card_id, session = await complete_checkout(world, tenant)
    payload = completed_event(session)
    event_id = json.loads(payload)["id"]

    first = await deliver(world, payload)
    second = await deliver(world, payload)  # Stripe retries when it missed our 200

    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert second.json()["outcome"] == first.json()["outcome"]
    assert await default_card(world, customer_id) == card_id
    # The redelivery makes no call: Stripe's idempotency keys last a day, its retries
    # three, and a stale event must not put back a card replaced since.
    calls = default_card_posts(world, customer_id)
    assert len(calls) == 1
    assert {(r.idempotency_key, r.form["invoice_settings[default_payment_method]"]) for r in calls} == {
        (f"{event_id}-card", card_id)
    }
    async with world.deps.store.read() as db:
        stored = (await db.scalars(select(ProviderEventRow).where(ProviderEventRow.id == event_id))).all()
    assert [(row.type, row.provider) for row in stored] == [("checkout.session.completed", "stripe")]
