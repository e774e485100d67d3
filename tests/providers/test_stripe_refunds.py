"""Credit notes refunded and invoices voided at Stripe, against localstripe, through
GraphQL: a credit note with REFUND on an invoice Stripe charged makes one Stripe refund
of that amount from the invoice's payment, and a retry of its task, even one whose
first answer was lost, makes no second; voidInvoice voids Stripe's copy too.

localstripe ignores idempotency keys, so "no second refund" rests on what the adapter
does itself: the refund carries the credit note id in its metadata and the payment's
refunds are looked through before one is made. localstripe's refunds are its own
(``POST /v1/refunds`` with ``payment_intent``, ``amount`` and ``metadata``), unpatched."""

from __future__ import annotations

from typing import Any

from models.kernel.enums import ProviderTaskKind
from models.platform.outbox import queue_provider_task
from models.tables import CreditNoteRow
from tests.builders.billing import create_plan, subscribe
from tests.builders.stripe_world import StripeWorld

ISSUE = """mutation($input: IssueCreditNoteInput!) { issueCreditNote(input: $input) { __typename
  ... on CreditNote { id number amount { amount } outcome providerRefundId invoice { status } }
  ... on Error { code message } } }"""
VOID = """mutation($id: ID!) { voidInvoice(invoiceId: $id) { __typename
  ... on Invoice { id status } ... on Error { code message } } }"""


async def _paid_in_stripe(world: StripeWorld, name: str, price: int = 300_00) -> tuple[str, dict[str, Any]]:
    """(gateway invoice id, Stripe's invoice): a tenant's first invoice, charged in Stripe."""
    tenant, customer_id = await world.card_holder(name)
    plan = await create_plan(world.api, f"team_{name.lower()}", price)
    invoice = (await subscribe(world.api, tenant, plan))["latestInvoice"]["id"]
    assert await world.run_tasks() == 1
    assert (await world.invoice(invoice))["status"] == "PAID"
    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["status"], charged["amount_paid"]) == ("paid", price)
    return invoice, charged


async def _refunds(world: StripeWorld, payment_intent: str) -> list[dict[str, Any]]:
    found = await world.stripe.v1.refunds.list_async({"payment_intent": payment_intent, "limit": 100})
    return [r.to_dict() for r in found.data]


async def _issue(world: StripeWorld, invoice: str, amount: int, outcome: str = "REFUND") -> dict[str, Any]:
    data = await world.api(
        ISSUE, {"input": {"invoiceId": invoice, "amount": amount, "reason": "Outage", "outcome": outcome}}
    )
    return data["issueCreditNote"]


async def _refund_id(world: StripeWorld, note_id: str) -> str | None:
    async with world.deps.store.read() as session:
        return (await session.get(CreditNoteRow, note_id)).provider_refund_id


async def _requeue(world: StripeWorld, tenant_id: str, note_id: str) -> None:
    async with world.deps.store.transaction() as session:
        queue_provider_task(
            session,
            world.deps,
            tenant_id=tenant_id,
            kind=ProviderTaskKind.REFUND_CREDIT_NOTE,
            subject_id=note_id,
            now=world.clock.now(),
        )


async def test_a_refund_credit_note_makes_one_stripe_refund_of_its_amount_and_a_retry_makes_none(
    world: StripeWorld,
) -> None:
    invoice, charged = await _paid_in_stripe(world, "Refundee")
    intent = charged["payment_intent"]
    note = await _issue(world, invoice, 120_00)
    assert (note["__typename"], note["outcome"], note["providerRefundId"]) == ("CreditNote", "REFUND", None)
    assert note["invoice"]["status"] == "PAID"  # it stays paid: the money goes back
    assert await _refunds(world, intent) == []  # nothing leaves before the task runs

    assert await world.run_tasks() == 1
    (refund,) = await _refunds(world, intent)
    assert (refund["amount"], refund["currency"], refund["status"]) == (120_00, "usd", "succeeded")
    assert refund["metadata"]["gateway_credit_note_id"] == note["id"]
    assert await _refund_id(world, note["id"]) == refund["id"]
    (posted,) = world.proxy.posts("/v1/refunds")
    assert posted.idempotency_key == f"{note['id']}-refund"

    # Run again (a replayed task): nothing more is asked of Stripe.
    async with world.deps.store.read() as session:
        tenant_id = (await session.get(CreditNoteRow, note["id"])).tenant_id
    await _requeue(world, tenant_id, note["id"])
    assert await world.run_tasks() == 1
    assert len(await _refunds(world, intent)) == 1
    assert len(world.proxy.posts("/v1/refunds")) == 1

    # The whole charge cannot be refunded twice over.
    over = await _issue(world, invoice, 180_01)
    assert over["code"] == "INVOICE_NOT_CREDITABLE" and "$180.00 is left" in over["message"], over


async def test_a_refund_whose_answer_was_lost_is_found_by_its_credit_note_not_made_again(
    world: StripeWorld,
) -> None:
    invoice, charged = await _paid_in_stripe(world, "Lostrefund")
    note = await _issue(world, invoice, 50_00)
    world.proxy.lose_next("POST", "/v1/refunds", "answer", lambda: None)  # made at Stripe, answer lost
    assert await world.run_tasks() == 1
    assert await _refund_id(world, note["id"]) is None
    (task,) = [t for t in await world.tasks() if t.kind == ProviderTaskKind.REFUND_CREDIT_NOTE]
    assert task.status == "PENDING", task

    world.clock.set(task.next_attempt_at)
    assert await world.run_tasks() == 1
    (refund,) = await _refunds(world, charged["payment_intent"])
    assert refund["amount"] == 50_00
    assert await _refund_id(world, note["id"]) == refund["id"]
    assert len(world.proxy.posts("/v1/refunds")) == 1  # the retry found it; it posted nothing


async def test_voiding_an_open_invoice_voids_it_at_stripe(world: StripeWorld) -> None:
    tenant, customer_id = await world.card_holder("Voidable")
    await world.attach_card(customer_id, "4000000000000341")  # declined: the invoice stays open
    plan = await create_plan(world.api, "team_voidable", 300_00)
    invoice = (await subscribe(world.api, tenant, plan))["latestInvoice"]["id"]
    assert await world.run_tasks() == 1
    (open_,) = await world.stripe_invoices(customer_id)
    assert open_["status"] == "open"
    assert (await world.invoice(invoice))["status"] == "OPEN"

    voided = (await world.api(VOID, {"id": invoice}))["voidInvoice"]
    assert voided["status"] == "VOID", voided
    assert await world.run_tasks() == 1
    (at_stripe,) = await world.stripe_invoices(customer_id)
    assert (at_stripe["id"], at_stripe["status"]) == (open_["id"], "void")
    (posted,) = world.proxy.posts(f"/v1/invoices/{open_['id']}/void")
    assert posted.idempotency_key == f"{invoice}-voided"
    # Stripe would then send invoice.voided, which finds it void already; localstripe's void
    # sends no event, so that webhook is not exercised here.
    assert (await world.invoice(invoice))["status"] == "VOID"


async def test_an_open_invoice_stripe_holds_is_not_lowered_by_a_credit_note(world: StripeWorld) -> None:
    tenant, customer_id = await world.card_holder("Heldopen")
    await world.attach_card(customer_id, "4000000000000341")
    plan = await create_plan(world.api, "team_heldopen", 300_00)
    invoice = (await subscribe(world.api, tenant, plan))["latestInvoice"]["id"]
    assert await world.run_tasks() == 1
    refused = await _issue(world, invoice, 10_00, "CREDIT_BALANCE")
    assert refused["code"] == "INVOICE_NOT_CREDITABLE" and "voidInvoice" in refused["message"], refused
