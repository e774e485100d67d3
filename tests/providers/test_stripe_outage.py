"""Issue 6, done when 2: Stripe goes down while an invoice is being collected. The
local change stands, the collection is retried with backoff, and once Stripe is back
there is exactly one Stripe invoice for it, with the right total.

Two ways an outage bites: Stripe made the invoice but the answer never came back, or
the request never got there. localstripe ignores idempotency keys, so in the first
case it is the adapter's look-up by ``metadata.gateway_invoice_id`` that keeps a retry
from making a second invoice; in the second the retry sends the same POST with the
same Idempotency-Key (what makes real Stripe replay instead of repeat). Once the draft's
id is recorded, a retry goes straight back to it and reads its lines; and when the
answer to the charge itself is lost, Stripe's webhook alone marks the invoice PAID."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from models.payments.tasks import provider_retry_delay
from tests.builders.billing import plan_with_seat_addon, subscribe
from tests.builders.stripe_world import StripeWorld


@pytest.mark.parametrize("lost", ["answer", "request"])
async def test_stripe_stopped_mid_collection_leaves_exactly_one_stripe_invoice(
    world: StripeWorld, lost: str
) -> None:
    tenant, customer_id = await world.card_holder("Outage")
    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00, includedSeats=5)
    invoice = (await subscribe(world.api, tenant, plan, {seat: 10}))["latestInvoice"]

    # The server dies as the invoice is created: after doing it ("answer") or before.
    world.proxy.lose_next("POST", "/v1/invoices", lost, world.localstripe.kill)
    assert await world.run_tasks() == 1
    (task,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert (task.status, task.attempts) == ("PENDING", 1)
    assert "Stripe could not create the invoice" in task.last_error
    assert task.next_attempt_at == world.clock.now() + provider_retry_delay(1)
    local = await world.invoice(invoice["id"])
    assert (local["status"], local["providerInvoiceId"], local["total"]["amount"]) == ("OPEN", None, 249_00)

    # Not due before its backoff; once due, tried again while Stripe is still down.
    assert await world.run_tasks() == 0
    world.clock.set(task.next_attempt_at)
    assert await world.run_tasks() == 1
    (task,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert (task.status, task.attempts) == ("PENDING", 2)
    assert task.next_attempt_at == world.clock.now() + provider_retry_delay(2)
    assert provider_retry_delay(2) > provider_retry_delay(1) > timedelta(0)  # backing off

    await world.localstripe.start()  # same port, same store
    world.clock.set(task.next_attempt_at)
    assert await world.run_tasks() == 1

    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["total"], charged["status"]) == (249_00, "paid")
    assert len(charged["lines"]["data"]) == 2
    (task,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert (task.status, task.attempts, task.last_error) == ("DONE", 3, None)
    local = await world.invoice(invoice["id"])
    assert local["providerInvoiceId"] == charged["id"]
    assert local["total"]["amount"] == local["amountDue"]["amount"] == 249_00
    await world.wait_for_status(invoice["id"], "PAID")

    creates = world.proxy.posts("/v1/invoices")
    items = world.proxy.posts("/v1/invoiceitems")
    assert len(items) == 2 and all(r.form["invoice"] == charged["id"] for r in items)  # on the draft, once
    if lost == "answer":
        assert len(creates) == 1  # the retry found the invoice by its metadata
    else:
        assert len(creates) == 2 and not creates[0].answered
        assert creates[0].idempotency_key == creates[1].idempotency_key == f"{invoice['id']}-create"
        assert creates[0].form == creates[1].form


async def _collectable(world: StripeWorld, name: str) -> tuple[str, dict[str, Any]]:
    """A tenant with a card and its $249 first invoice, not collected yet."""
    tenant, customer_id = await world.card_holder(name)
    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00, includedSeats=5)
    return customer_id, (await subscribe(world.api, tenant, plan, {seat: 10}))["latestInvoice"]


async def test_a_lost_item_answer_is_retried_on_the_recorded_draft_by_its_lines(world: StripeWorld) -> None:
    customer_id, invoice = await _collectable(world, "Itemloss")
    world.proxy.lose_next("POST", "/v1/invoiceitems", "answer", lambda: None)  # made, answer lost
    assert await world.run_tasks() == 1
    (draft,) = await world.stripe_invoices(customer_id)
    assert (draft["status"], len(draft["lines"]["data"])) == ("draft", 1)
    local = await world.invoice(invoice["id"])
    assert (local["status"], local["providerInvoiceId"]) == ("OPEN", draft["id"])  # recorded before any item
    (task,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert task.status == "PENDING" and "Stripe could not create an invoice item" in task.last_error

    world.proxy.requests.clear()
    world.clock.set(task.next_attempt_at)
    assert await world.run_tasks() == 1

    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["id"], charged["total"], charged["status"]) == (draft["id"], 249_00, "paid")
    assert len(charged["lines"]["data"]) == 2
    # The retry went to the recorded invoice by id: no listing, no second draft, one more item.
    assert not [r for r in world.proxy.requests if r.method == "GET" and r.path == "/v1/invoices"]
    assert world.proxy.posts("/v1/invoices") == []
    assert len(world.proxy.posts("/v1/invoiceitems")) == 1
    assert (await world.invoice(invoice["id"]))["status"] == "PAID"


async def test_when_the_answer_to_the_charge_is_lost_the_webhook_alone_marks_it_paid(
    world: StripeWorld,
) -> None:
    customer_id, invoice = await _collectable(world, "Payloss")
    world.proxy.lose_next("POST", "/v1/invoices/*/pay", "answer", lambda: None)  # charged, answer lost
    assert await world.run_tasks() == 1
    (charged,) = await world.stripe_invoices(customer_id)
    assert charged["status"] == "paid"  # Stripe charged; the gateway never heard the answer
    (task,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert task.status == "PENDING" and "Stripe could not pay the invoice" in task.last_error

    paid = await world.wait_for_status(invoice["id"], "PAID")  # from the webhook only
    assert paid["providerInvoiceId"] == charged["id"]
    events = await world.provider_events()
    assert f"collect-{invoice['id']}-paid" not in events
    # (localstripe is shared: an earlier test's late webhooks may land here too, ignored.)
    (webhook,) = [
        e for e in events.values() if e.type == "invoice.payment_succeeded" and invoice["id"] in e.outcome
    ]
    assert webhook.id.startswith("evt_") and webhook.outcome == f"invoice {invoice['id']}: paid"

    world.clock.set(task.next_attempt_at)
    assert await world.run_tasks() == 1
    (task,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert (task.status, task.attempts) == ("DONE", 2)
    assert len([r for r in world.proxy.posts() if r.path.endswith("/pay")]) == 1  # never charged twice
    assert [i["id"] for i in await world.stripe_invoices(customer_id)] == [charged["id"]]


async def test_a_lost_invoice_is_found_past_the_first_page_of_the_customers_invoices(
    world: StripeWorld,
) -> None:
    """The create's answer is lost and then the customer gets over a page (100) of newer
    invoices by other hands: the retry pages through them instead of making another."""
    customer_id, invoice = await _collectable(world, "Paged")

    async def others_invoice_the_customer() -> None:
        await asyncio.sleep(1.1)  # localstripe dates invoices by the second: ours is the oldest
        for _ in range(101):
            await world.stripe.v1.invoices.create_async(
                {"customer": customer_id, "currency": "usd", "pending_invoice_items_behavior": "exclude"}
            )

    world.proxy.lose_next("POST", "/v1/invoices", "answer", others_invoice_the_customer)
    assert await world.run_tasks() == 1
    (task,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert task.status == "PENDING" and (await world.invoice(invoice["id"]))["providerInvoiceId"] is None

    world.proxy.requests.clear()
    world.clock.set(task.next_attempt_at)
    assert await world.run_tasks() == 1

    ours = [i for i in await _all_invoices(world, customer_id) if i["metadata"].get("gateway_invoice_id")]
    assert [(i["total"], i["status"]) for i in ours] == [(249_00, "paid")]
    assert world.proxy.posts("/v1/invoices") == []  # the lost one, found again on the second page
    assert len([r for r in world.proxy.requests if (r.method, r.path) == ("GET", "/v1/invoices")]) == 2
    assert (await world.invoice(invoice["id"]))["providerInvoiceId"] == ours[0]["id"]


async def _all_invoices(world: StripeWorld, customer_id: str) -> list[dict[str, Any]]:
    found = await world.stripe.v1.invoices.list_async({"customer": customer_id, "limit": 100})
    return [invoice.to_dict() async for invoice in found.auto_paging_iter()]
