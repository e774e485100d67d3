"""Issue 19, done when 2, Stripe's half, against localstripe on a test clock, through
GraphQL: a SEND_INVOICE tenant's invoice is made in Stripe with
``collection_method=send_invoice`` and its ``days_until_due``, sent, and never charged;
a declined automatic charge makes the subscription PAST_DUE at once (from the answer to
the charge, not a webhook) and is charged again 3, then 5, then 7 days later, each time
by a provider task of its own and a new attempt at Stripe; cancelling stops the retries.

localstripe lacks payment terms (``collection_method`` on create, ``finalize``, ``send``):
``tests/builders/stripe_server.py`` patches them in as Stripe documents them. It declines
every charge of 4000000000000341 with a 200 and an open invoice, and sends no
``invoice.payment_failed`` (real Stripe answers 402 and sends it; the adapter reads both
as a decline, and the gateway records the failure from the answer either way)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from models.kernel.enums import ProviderTaskKind
from models.platform.outbox import queue_provider_task
from models.tables import ProviderTaskRow
from tests.builders.billing import advance, create_plan, subscribe
from tests.builders.clocks import new_clock
from tests.builders.stripe_world import ADDRESS, StripeWorld

DECLINING = "4000000000000341"  # attaches, then every charge of it is declined
START = datetime.fromisoformat("2026-03-01T10:00:00+00:00")

INVOICE = """id number status providerInvoiceId dueDate paymentFailedAt paymentError nextRetryAt
  total { amount } amountDue { amount }"""
CANCEL = """mutation($id: ID!) { cancelSubscription(subscriptionId: $id, atPeriodEnd: false) {
  __typename ... on Subscription { status } ... on Error { code message } } }"""


def day(n: int) -> str:
    """The test clock ``n`` days after the subscription started."""
    return (START + timedelta(days=n)).isoformat()


async def tenant_on_clock(world: StripeWorld, name: str, clock: str, **terms: Any) -> tuple[str, str]:
    """(tenant id, Stripe customer id): a tenant on ``clock`` with billing info and
    ``terms`` (collectionMethod, daysUntilDue), its customer made in Stripe."""
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


async def invoice(world: StripeWorld, invoice_id: str) -> dict[str, Any]:
    data = await world.api(f"query($id: ID!) {{ invoice(id: $id) {{ {INVOICE} }} }}", {"id": invoice_id})
    return data["invoice"]


async def status(world: StripeWorld, subscription_id: str) -> str:
    data = await world.api("query($id: ID!) { subscription(id: $id) { status } }", {"id": subscription_id})
    return data["subscription"]["status"]


async def collect_tasks(world: StripeWorld, invoice_id: str) -> list[ProviderTaskRow]:
    return [
        t
        for t in await world.tasks()
        if t.kind == ProviderTaskKind.COLLECT_INVOICE and t.subject_id == invoice_id
    ]


async def charges(world: StripeWorld, customer_id: str) -> list[dict[str, Any]]:
    found = await world.stripe.v1.charges.list_async({"customer": customer_id, "limit": 100})
    return [charge.to_dict() for charge in found.data]


async def declined_subscription(world: StripeWorld, name: str) -> tuple[str, str, str, str]:
    """(clock, subscription, invoice, Stripe invoice): a $49 monthly subscription on a
    test clock at START whose first charge, to a declining card, has just failed."""
    clock = await new_clock(world.api, START.isoformat())
    tenant, customer_id = await tenant_on_clock(world, name, clock)
    await world.attach_card(customer_id, DECLINING)
    plan = await create_plan(world.api, f"team_{name.lower()}", 49_00)
    subscription = await subscribe(world.api, tenant, plan)
    assert subscription["status"] == "ACTIVE", subscription
    invoice_id = subscription["latestInvoice"]["id"]

    assert await world.run_tasks() == 1

    (stripe_invoice,) = await world.stripe_invoices(customer_id)
    assert (stripe_invoice["status"], stripe_invoice["total"], stripe_invoice["amount_paid"]) == (
        "open",
        49_00,
        0,
    )
    return clock, subscription["id"], invoice_id, stripe_invoice["id"]


def pay_keys(world: StripeWorld, provider_invoice_id: str) -> list[str | None]:
    return [r.idempotency_key for r in world.proxy.posts(f"/v1/invoices/{provider_invoice_id}/pay")]


async def test_a_send_invoice_tenants_invoice_is_sent_by_stripe_with_its_terms_and_never_charged(
    world: StripeWorld,
) -> None:
    clock = await new_clock(world.api, START.isoformat())
    tenant, customer_id = await tenant_on_clock(
        world, "Terms", clock, collectionMethod="SEND_INVOICE", daysUntilDue=30
    )
    await world.attach_card(customer_id)  # a good card: it is still not charged
    plan = await create_plan(world.api, "team_terms", 300_00)
    subscription = await subscribe(world.api, tenant, plan)
    local = subscription["latestInvoice"]["id"]
    assert (await invoice(world, local))["dueDate"] == "2026-04-01T00:00:00+00:00"

    assert await world.run_tasks() == 1

    (sent,) = await world.stripe_invoices(customer_id)
    assert (sent["collection_method"], sent["days_until_due"]) == ("send_invoice", 30)
    assert (sent["status"], sent["total"], sent["amount_due"], sent["amount_paid"]) == (
        "open",
        300_00,
        300_00,
        0,
    )
    assert sent["due_date"] == sent["status_transitions"]["finalized_at"] + 30 * 86_400
    assert sent["metadata"]["gateway_invoice_id"] == local
    assert sent["payment_intent"] is None
    assert await charges(world, customer_id) == []
    (create,) = world.proxy.posts("/v1/invoices")
    assert (create.form["collection_method"], create.form["days_until_due"]) == ("send_invoice", "30")
    assert world.proxy.posts(f"/v1/invoices/{sent['id']}/pay") == []
    (finalize,) = world.proxy.posts(f"/v1/invoices/{sent['id']}/finalize")
    (send,) = world.proxy.posts(f"/v1/invoices/{sent['id']}/send")
    assert (finalize.form, finalize.idempotency_key) == ({"auto_advance": "false"}, f"{local}-finalize")
    assert send.idempotency_key == f"{local}-send"
    after = await invoice(world, local)
    assert (after["status"], after["providerInvoiceId"], after["paymentFailedAt"]) == (
        "OPEN",
        sent["id"],
        None,
    )
    assert await status(world, subscription["id"]) == "ACTIVE"

    # Collected again (a card saved, an operator's retry): found sent, not emailed twice.
    async with world.deps.store.transaction() as session:
        queue_provider_task(
            session,
            world.deps,
            tenant_id=tenant,
            kind=ProviderTaskKind.COLLECT_INVOICE,
            subject_id=local,
            now=world.clock.now(),
        )
    assert await world.run_tasks() == 1
    assert len(world.proxy.posts(f"/v1/invoices/{sent['id']}/send")) == 1
    assert world.proxy.posts(f"/v1/invoices/{sent['id']}/pay") == []

    # Unpaid past its due date it is overdue, and a SEND_INVOICE invoice is not charged then either.
    await advance(world.api, clock, "2026-04-01T09:00:00Z")  # day 31, before the renewal
    assert await status(world, subscription["id"]) == "PAST_DUE"
    assert (await invoice(world, local))["nextRetryAt"] is None
    assert await world.run_tasks() == 0
    assert world.proxy.posts(f"/v1/invoices/{sent['id']}/pay") == []
    assert await charges(world, customer_id) == []
    assert all(task.status == "DONE" for task in await world.tasks())


async def test_a_declined_charge_makes_the_subscription_past_due_and_is_retried_3_then_5_then_7_days_later(
    world: StripeWorld,
) -> None:
    clock, subscription, local, provider_invoice = await declined_subscription(world, "Dunning")

    # From the answer to the charge, at once: no webhook is needed (localstripe sends none).
    failed = await invoice(world, local)
    assert (failed["status"], failed["nextRetryAt"]) == ("OPEN", day(3))
    assert failed["paymentFailedAt"] is not None and failed["paymentError"]
    assert await status(world, subscription) == "PAST_DUE"
    (first,) = await collect_tasks(world, local)
    events = await world.provider_events()
    assert events[f"collect-{local}-failed-{first.id}"].outcome == f"invoice {local}: payment failed"

    customer_id = (await world.stripe.v1.invoices.retrieve_async(provider_invoice)).customer
    for retry_day, next_retry in ((3, day(8)), (8, day(15)), (15, None)):
        await advance(world.api, clock, day(retry_day - 1))  # the day before: nothing yet
        assert len(await collect_tasks(world, local)) == len(pay_keys(world, provider_invoice))
        await advance(world.api, clock, day(retry_day))
        tasks = await collect_tasks(world, local)
        assert tasks[-1].status == "PENDING", f"no retry queued on day {retry_day}"

        assert await world.run_tasks() == 1

        assert (await invoice(world, local))["nextRetryAt"] == next_retry, retry_day
        assert pay_keys(world, provider_invoice) == [f"{local}-pay-{t.id}" for t in tasks]
        assert len(await charges(world, customer_id)) == len(tasks)  # a new attempt at Stripe each time

    # Four attempts (the first, then three retries), each its own task and failure; then no more.
    tasks = await collect_tasks(world, local)
    assert [(t.status, t.attempts) for t in tasks] == [("DONE", 1)] * 4
    events = await world.provider_events()
    assert all(f"collect-{local}-failed-{t.id}" in events for t in tasks)
    await advance(world.api, clock, day(60))
    assert len(await collect_tasks(world, local)) == 4
    assert (await invoice(world, local))["status"] == "OPEN"
    assert (await world.stripe.v1.invoices.retrieve_async(provider_invoice)).status == "open"


async def test_after_cancellation_no_retry_is_queued_even_when_the_clock_passes_the_next_retry_date(
    world: StripeWorld,
) -> None:
    clock, subscription, local, provider_invoice = await declined_subscription(world, "Cancelled")
    await advance(world.api, clock, day(3))
    assert await world.run_tasks() == 1  # the first retry, declined too
    assert (await invoice(world, local))["nextRetryAt"] == day(8)

    await advance(world.api, clock, day(5))
    cancelled = (await world.api(CANCEL, {"id": subscription}))["cancelSubscription"]
    assert cancelled["status"] == "CANCELLED", cancelled
    assert (await invoice(world, local))["nextRetryAt"] is None

    await advance(world.api, clock, day(8))
    await advance(world.api, clock, day(30))
    assert await world.run_tasks() == 0
    assert len(await collect_tasks(world, local)) == 2
    assert len(pay_keys(world, provider_invoice)) == 2


async def test_a_retried_charge_that_succeeds_pays_the_invoice_and_makes_the_subscription_active_again(
    world: StripeWorld,
) -> None:
    clock, subscription, local, provider_invoice = await declined_subscription(world, "Recovered")
    customer_id = (await world.stripe.v1.invoices.retrieve_async(provider_invoice)).customer
    await world.attach_card(customer_id)  # the customer replaced the card outside the gateway

    await advance(world.api, clock, day(3))
    assert await world.run_tasks() == 1

    paid = await invoice(world, local)
    assert (paid["status"], paid["nextRetryAt"], paid["paymentFailedAt"]) == ("PAID", None, None)
    assert await status(world, subscription) == "ACTIVE"
    assert (await world.stripe.v1.invoices.retrieve_async(provider_invoice)).status == "paid"
    await advance(world.api, clock, day(20))
    assert len(await collect_tasks(world, local)) == 2
