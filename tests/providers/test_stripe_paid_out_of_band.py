"""An invoice paid by hand (``recordPayment``: a bank transfer, a cheque) is marked paid
in Stripe too, out of band, so Stripe's hosted page no longer takes a payment for it and
its reminders stop: against localstripe, through GraphQL.

localstripe's ``pay`` takes no ``paid_out_of_band``: ``tests/builders/stripe_server.py``
patches it in as Stripe documents it (an open invoice becomes paid, nothing is charged,
``invoice.paid`` is sent)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from models.kernel.enums import ProviderTaskKind
from models.platform.outbox import queue_provider_task
from models.platform.provider import InvoiceItem, InvoiceToCollect
from tests.builders.billing import advance, create_plan, subscribe
from tests.builders.clocks import new_clock
from tests.builders.stripe_world import ADDRESS, StripeWorld

START = datetime.fromisoformat("2026-03-01T10:00:00+00:00")
DECLINING = "4000000000000341"  # attaches, then every charge of it is declined

PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename ... on Invoice { status amountPaid { amount } } ... on Error { code message } } }"""


def day(n: int) -> str:
    return (START + timedelta(days=n)).isoformat()


async def tenant_on_clock(world: StripeWorld, name: str, clock: str, **terms: Any) -> tuple[str, str]:
    """(tenant id, Stripe customer id): a tenant on ``clock`` with ``terms``, its
    customer made in Stripe."""
    data = await world.api(
        """mutation($input: CreateTenantInput!) { createTenant(input: $input) {
             __typename ... on Tenant { id } ... on Error { code message } } }""",
        {
            "input": {
                "name": name,
                "email": f"billing@{name.lower()}.example",
                "currency": "USD",
                "testClockId": clock,
                "billingInfo": {"companyName": f"{name} K.K.", "address": ADDRESS},
                **terms,
            }
        },
    )
    assert data["createTenant"]["__typename"] == "Tenant", data
    tenant = data["createTenant"]["id"]
    assert await world.run_tasks() == 1
    return tenant, await world.customer_id(tenant)


async def record(world: StripeWorld, invoice_id: str, amount: int, method: str) -> dict[str, Any]:
    data = await world.api(
        PAY, {"input": {"invoiceId": invoice_id, "amount": amount, "method": method, "reference": "ref-1"}}
    )
    assert data["recordPayment"]["__typename"] == "Invoice", data
    return data["recordPayment"]


async def status(world: StripeWorld, subscription_id: str) -> str:
    data = await world.api("query($id: ID!) { subscription(id: $id) { status } }", {"id": subscription_id})
    return data["subscription"]["status"]


async def stripe_invoice(world: StripeWorld, provider_invoice_id: str) -> dict[str, Any]:
    return (await world.stripe.v1.invoices.retrieve_async(provider_invoice_id)).to_dict()


async def paid_charges(world: StripeWorld, customer_id: str) -> list[dict[str, Any]]:
    found = await world.stripe.v1.charges.list_async({"customer": customer_id, "limit": 100})
    return [c.to_dict() for c in found.data if c.status == "succeeded"]


async def out_of_band_tasks(world: StripeWorld, invoice_id: str) -> list[Any]:
    return [
        t
        for t in await world.tasks()
        if t.kind == ProviderTaskKind.MARK_PAID_OUT_OF_BAND and t.subject_id == invoice_id
    ]


def pays(world: StripeWorld, provider_invoice_id: str) -> list[Any]:
    return world.proxy.posts(f"/v1/invoices/{provider_invoice_id}/pay")


async def test_a_sent_invoice_paid_by_hand_in_two_parts_is_marked_paid_out_of_band_in_stripe_not_charged(
    world: StripeWorld,
) -> None:
    clock = await new_clock(world.api, START.isoformat())
    tenant, customer_id = await tenant_on_clock(
        world, "Transfer", clock, collectionMethod="SEND_INVOICE", daysUntilDue=30
    )
    await world.attach_card(customer_id)  # a good card: it is still never charged
    plan = await create_plan(world.api, "team_transfer", 300_00)
    subscription = await subscribe(world.api, tenant, plan)
    local = subscription["latestInvoice"]["id"]
    assert await world.run_tasks() == 1
    (sent,) = await world.stripe_invoices(customer_id)
    assert (sent["status"], sent["collection_method"], sent["paid_out_of_band"]) == (
        "open",
        "send_invoice",
        False,
    )
    await advance(world.api, clock, "2026-04-01T09:00:00Z")  # past its due date, before the renewal
    assert await status(world, subscription["id"]) == "PAST_DUE"

    part = await record(world, local, 100_00, "BANK_TRANSFER")
    assert (part["status"], part["amountPaid"]["amount"]) == ("OPEN", 100_00)
    assert await world.run_tasks() == 0  # nothing owed to Stripe for a part
    still = await stripe_invoice(world, sent["id"])
    assert (still["status"], still["amount_paid"], still["paid_out_of_band"]) == ("open", 0, False)
    assert pays(world, sent["id"]) == []
    assert await status(world, subscription["id"]) == "PAST_DUE"

    rest = await record(world, local, 200_00, "CHECK")
    assert (rest["status"], rest["amountPaid"]["amount"]) == ("PAID", 300_00)
    assert await status(world, subscription["id"]) == "ACTIVE"
    assert await world.run_tasks() == 1

    paid = await stripe_invoice(world, sent["id"])
    assert (paid["status"], paid["paid_out_of_band"], paid["amount_paid"]) == ("paid", True, 300_00)
    assert paid["payment_intent"] is None
    assert paid["status_transitions"]["paid_at"] is not None
    assert await paid_charges(world, customer_id) == []
    (pay,) = pays(world, sent["id"])
    assert (pay.form, pay.idempotency_key) == ({"paid_out_of_band": "true"}, f"{local}-paid-out-of-band")
    (task,) = await out_of_band_tasks(world, local)
    assert (task.status, task.attempts, task.last_error) == ("DONE", 1, None)
    assert await status(world, subscription["id"]) == "ACTIVE"

    # Run again (a lost answer, an operator's retry): found paid, not paid twice.
    async with world.deps.store.transaction() as session:
        queue_provider_task(
            session,
            world.deps,
            tenant_id=tenant,
            kind=ProviderTaskKind.MARK_PAID_OUT_OF_BAND,
            subject_id=local,
            now=world.clock.now(),
        )
    assert await world.run_tasks() == 1
    assert len(pays(world, sent["id"])) == 1
    assert all(t.status == "DONE" for t in await world.tasks())


async def test_a_declined_invoice_paid_by_transfer_is_marked_paid_in_stripe_and_no_retry_charges_it(
    world: StripeWorld,
) -> None:
    clock = await new_clock(world.api, START.isoformat())
    tenant, customer_id = await tenant_on_clock(world, "Declined", clock)
    await world.attach_card(customer_id, DECLINING)
    plan = await create_plan(world.api, "team_declined", 49_00)
    subscription = await subscribe(world.api, tenant, plan)
    local = subscription["latestInvoice"]["id"]
    assert await world.run_tasks() == 1
    (declined,) = await world.stripe_invoices(customer_id)
    assert declined["status"] == "open"
    assert await status(world, subscription["id"]) == "PAST_DUE"
    charge_attempts = len(pays(world, declined["id"]))

    paid = await record(world, local, 49_00, "BANK_TRANSFER")
    assert paid["status"] == "PAID"
    assert await status(world, subscription["id"]) == "ACTIVE"
    assert await world.run_tasks() == 1

    after = await stripe_invoice(world, declined["id"])
    assert (after["status"], after["paid_out_of_band"]) == ("paid", True)
    assert await paid_charges(world, customer_id) == []
    assert [p.form for p in pays(world, declined["id"])[charge_attempts:]] == [{"paid_out_of_band": "true"}]
    await advance(world.api, clock, day(20))  # past every dunning retry: none is queued
    assert await world.run_tasks() == 0
    assert len(pays(world, declined["id"])) == charge_attempts + 1


async def test_an_invoice_paid_by_hand_before_its_collection_ran_is_neither_sent_nor_charged_by_stripe(
    world: StripeWorld,
) -> None:
    clock = await new_clock(world.api, START.isoformat())
    tenant, customer_id = await tenant_on_clock(
        world, "Early", clock, collectionMethod="SEND_INVOICE", daysUntilDue=30
    )
    await world.attach_card(customer_id)
    plan = await create_plan(world.api, "team_early", 120_00)
    subscription = await subscribe(world.api, tenant, plan)
    local = subscription["latestInvoice"]["id"]

    paid = await record(world, local, 120_00, "BANK_TRANSFER")  # the collection is still queued
    assert paid["status"] == "PAID"
    assert await world.run_tasks() == 2  # the collection, then marking it paid: both find nothing to do

    assert await world.stripe_invoices(customer_id) == []
    assert [r.path for r in world.proxy.posts() if r.path.startswith("/v1/invoice")] == []
    assert await paid_charges(world, customer_id) == []
    assert [t.status for t in await out_of_band_tasks(world, local)] == ["DONE"]


async def test_a_complete_draft_is_finalized_then_marked_paid_and_an_incomplete_one_is_deleted(
    world: StripeWorld,
) -> None:
    """What a collection cut short may leave in Stripe: a draft, never sent nor charged."""
    _, customer_id = await world.card_holder("Drafts")
    provider = world.deps.provider
    for name, items in (("complete", True), ("incomplete", False)):
        owed = InvoiceToCollect(
            invoice_id=f"inv_{name}",
            number=f"DRAFTS-{name}",
            tenant_id="ten_drafts",
            customer_id=customer_id,
            currency="USD",
            amount_due=80_00,
            items=(InvoiceItem(key="line", description="Team", amount=80_00),),
        )
        draft = await provider.find_or_create_invoice(owed, None, idempotency_key=owed.invoice_id)
        if items:
            await provider.add_missing_items(owed, draft.provider_invoice_id, idempotency_key=owed.invoice_id)

        marked = await provider.mark_paid_out_of_band(owed, None, idempotency_key=f"{owed.invoice_id}-oob")

        assert marked is not None and marked.provider_invoice_id == draft.provider_invoice_id
        if items:
            assert marked.status == "paid"
            after = await stripe_invoice(world, draft.provider_invoice_id)
            assert (after["status"], after["paid_out_of_band"], after["total"]) == ("paid", True, 80_00)
            (finalize,) = world.proxy.posts(f"/v1/invoices/{draft.provider_invoice_id}/finalize")
            assert finalize.form == {"auto_advance": "false"}
        else:
            assert marked.status == "deleted"
            assert await world.stripe_invoices(customer_id) == [after]  # only the complete one is left
            assert world.proxy.posts(f"/v1/invoices/{draft.provider_invoice_id}/pay") == []
    assert await paid_charges(world, customer_id) == []
    # Nothing more for either: the paid one is left as it is, the deleted one is gone.
    assert await provider.mark_paid_out_of_band(owed, None, idempotency_key="again") is None
