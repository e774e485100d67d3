"""Stripe charges exactly the gateway's amount due, or nothing (regressions from the
review, against localstripe).

- Nothing of the customer's is swept in: an item someone adds to the customer while
  the gateway collects stays pending and is not charged (it used to be: $749 for a
  $249 invoice).
- A collection that failed half-way leaves its items on its own draft, where they
  cannot block the tenant's later invoices (they used to be orphaned pending items that
  made every later collection fail).
- Whatever else makes Stripe's total differ (a line added to the draft by hand, the
  customer's balance) is caught before paying: the Stripe invoice is discarded (a draft
  deleted, an open one voided), the task fails for good naming both amounts, nothing
  is charged.

localstripe cannot set a customer's balance after creation, so the balance case starts
with a customer made in Stripe by hand, which the gateway adopts by email and tenant id.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
import stripe

from models.platform.provider import InvoiceItem, InvoiceToCollect, ProviderError
from tests.builders.billing import change_input, change_plan, plan_with_seat_addon, subscribe
from tests.builders.stripe_world import StripeWorld


def intercept(world: StripeWorld, before: Any) -> None:
    """Run ``before(method, path, form_count)`` ahead of each request the adapter sends;
    it may return an answer of its own (status, body) instead of forwarding."""
    forward = world.proxy._handle
    seen: dict[tuple[str, str], int] = {}

    async def handle(
        method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes] | None:
        path = target.split("?")[0]
        seen[method, path] = seen.get((method, path), 0) + 1
        answer = await before(method, path, seen[method, path])
        return answer if answer is not None else await forward(method, target, headers, body)

    world.proxy._handle = handle


async def seat_guide(
    world: StripeWorld, name: str, card: str = "4242424242424242"
) -> tuple[str, str, dict[str, Any]]:
    tenant = await world.tenant(name)
    await world.run_tasks()
    customer_id = await world.customer_id(tenant)
    await world.attach_card(customer_id, card)
    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00, includedSeats=5)
    subscription = await subscribe(world.api, tenant, plan, {seat: 10})
    return customer_id, plan, subscription


async def collection_task(world: StripeWorld, number: int = 0) -> Any:
    return [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"][number]


async def test_an_item_added_to_the_customer_while_collecting_is_not_charged(world: StripeWorld) -> None:
    """Port of the review's sweep race: a pending item appears between the adapter's
    look-around and its POST /v1/invoices, and another while the items go on."""
    customer_id, _, subscription = await seat_guide(world, "Racy")
    invoice = subscription["latestInvoice"]
    strays = []

    async def add_by_hand(method: str, path: str, count: int) -> None:
        if method == "POST" and path in ("/v1/invoices", "/v1/invoiceitems") and count == 1:
            strays.append(
                (
                    await world.stripe.v1.invoice_items.create_async(
                        {
                            "customer": customer_id,
                            "amount": 500_00,
                            "currency": "usd",
                            "description": "added by hand",
                        }
                    )
                ).id
            )

    intercept(world, add_by_hand)
    await world.run_tasks()

    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["total"], charged["amount_paid"], charged["status"]) == (249_00, 249_00, "paid")
    assert len(strays) == 2
    assert sorted(item["id"] for item in await world.pending_items(customer_id)) == sorted(strays)
    assert (await collection_task(world)).status == "DONE"
    assert (await world.invoice(invoice["id"]))["status"] == "PAID"


async def test_a_half_failed_collection_does_not_block_the_tenants_later_invoices(world: StripeWorld) -> None:
    """Port of the review's orphans: Stripe refuses the second item for good; the first
    stays on that draft (never charged) and the next invoice is collected in full."""
    customer_id, plan, subscription = await seat_guide(world, "Orphan")
    seat = subscription["addons"][0]["addon"]["id"]
    refusal = {
        "error": {"type": "invalid_request_error", "message": "Amount must be no more than $999,999.99"}
    }

    async def refuse_second_item(method: str, path: str, count: int) -> tuple[int, bytes] | None:
        if (method, path, count) == ("POST", "/v1/invoiceitems", 2):
            return 400, json.dumps(refusal).encode()
        return None

    intercept(world, refuse_second_item)
    await world.run_tasks()
    first = await collection_task(world, 0)
    assert (first.status, first.attempts) == ("FAILED", 1)
    assert "Amount must be no more than" in first.last_error

    change = await change_plan(world.api, change_input(subscription["id"], plan, {seat: 12}))
    assert change["__typename"] == "PlanChange", change
    second_invoice = change["invoice"]
    await world.run_tasks()

    second = await collection_task(world, 1)
    assert (second.status, second.last_error) == ("DONE", None)
    by_gateway_id = {i["metadata"]["gateway_invoice_id"]: i for i in await world.stripe_invoices(customer_id)}
    charged = by_gateway_id[second_invoice["id"]]
    assert charged["total"] == charged["amount_paid"] == second_invoice["amountDue"]["amount"] > 0
    assert charged["status"] == "paid"
    orphaned = by_gateway_id[subscription["latestInvoice"]["id"]]
    assert (orphaned["status"], orphaned["total"], len(orphaned["lines"]["data"])) == ("draft", 99_00, 1)
    assert await world.pending_items(customer_id) == []
    assert (await world.invoice(second_invoice["id"]))["status"] == "PAID"
    assert (await world.invoice(subscription["latestInvoice"]["id"]))["status"] == "OPEN"


async def test_a_line_added_to_the_draft_by_hand_is_caught_and_the_draft_deleted(world: StripeWorld) -> None:
    customer_id, _, subscription = await seat_guide(world, "Edited")
    invoice = subscription["latestInvoice"]

    async def add_to_draft(method: str, path: str, count: int) -> None:
        if (method, path, count) == ("POST", "/v1/invoiceitems", 2):
            (draft,) = await world.stripe_invoices(customer_id)
            await world.stripe.v1.invoice_items.create_async(
                {
                    "customer": customer_id,
                    "invoice": draft["id"],
                    "amount": 500_00,
                    "currency": "usd",
                    "description": "added in the dashboard",
                }
            )

    intercept(world, add_to_draft)
    await world.run_tasks()

    task = await collection_task(world)
    assert (task.status, task.attempts) == ("FAILED", 1)
    assert "comes to $749.00" in task.last_error and "is due $249.00" in task.last_error
    assert "draft was deleted and nothing was charged" in task.last_error
    assert await world.stripe_invoices(customer_id) == []
    assert not [r for r in world.proxy.posts() if r.path.endswith("/pay")]
    local = await world.invoice(invoice["id"])
    assert (local["status"], local["amountDue"]["amount"]) == ("OPEN", 249_00)


async def test_a_balance_on_the_stripe_customer_is_caught_before_paying(world: StripeWorld) -> None:
    """Stripe adds a customer's balance to the next invoice's amount due."""
    tenant = await world.tenant("Owing")
    by_hand = await world.stripe.v1.customers.create_async(
        {
            "email": "billing@owing.example",
            "metadata": {"tenant_id": tenant},
            "balance": 100_00,
        }
    )
    await world.run_tasks()
    assert await world.customer_id(tenant) == by_hand.id  # adopted, not made twice
    await world.attach_card(by_hand.id)
    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00, includedSeats=5)
    invoice = (await subscribe(world.api, tenant, plan, {seat: 10}))["latestInvoice"]

    await world.run_tasks()

    task = await collection_task(world)
    assert (task.status, task.attempts) == ("FAILED", 1)
    assert "comes to $349.00" in task.last_error and "is due $249.00" in task.last_error
    assert await world.stripe_invoices(by_hand.id) == []
    assert not [r for r in world.proxy.posts() if r.path.endswith("/pay")]
    assert (await world.invoice(invoice["id"]))["status"] == "OPEN"


async def test_an_open_stripe_invoice_that_does_not_match_is_voided_not_paid(world: StripeWorld) -> None:
    """The adapter's own check, on an invoice already final: a $749 Stripe invoice
    carrying the gateway invoice's id, left open by a declined card."""
    tenant = await world.tenant("Voided")
    await world.run_tasks()
    customer_id = await world.customer_id(tenant)
    await world.attach_card(customer_id, "4000000000000341")  # declines
    made = await world.stripe.v1.invoices.create_async(
        {
            "customer": customer_id,
            "currency": "usd",
            "pending_invoice_items_behavior": "exclude",
            "metadata": {"gateway_invoice_id": "inv_gateway"},
        }
    )
    await world.stripe.v1.invoice_items.create_async(
        {"customer": customer_id, "invoice": made.id, "amount": 749_00, "currency": "usd"}
    )
    with contextlib.suppress(stripe.StripeError):
        await world.stripe.v1.invoices.pay_async(made.id)
    assert (await world.stripe.v1.invoices.retrieve_async(made.id)).status == "open"
    collect = InvoiceToCollect(
        invoice_id="inv_gateway",
        number="INV-1",
        tenant_id=tenant,
        customer_id=customer_id,
        currency="USD",
        amount_due=249_00,
        items=(InvoiceItem(key="base", description="Team Pro", amount=249_00),),
    )

    with pytest.raises(ProviderError) as refused:
        await world.deps.provider.pay_invoice(collect, made.id, idempotency_key="inv_gateway-pay")

    assert refused.value.retryable is False
    assert "comes to $749.00" in str(refused.value) and "is due $249.00" in str(refused.value)
    assert "voided and nothing was charged" in str(refused.value)
    voided = await world.stripe.v1.invoices.retrieve_async(made.id)
    assert voided.status == "void"
    # Marked first, so its invoice.voided webhook leaves the gateway's invoice owed.
    assert voided.metadata.to_dict() == {
        "gateway_invoice_id": "inv_gateway",
        "gateway_discarded": "inv_gateway",
    }
    (void,) = world.proxy.posts(f"/v1/invoices/{made.id}/void")
    assert void.idempotency_key == "inv_gateway-void"
