"""Issue 6, done when 1, against localstripe: tenants become Stripe customers with
their billing info, the seat guide's $249 first invoice is charged in Stripe with one
item per line, and the gateway marks it PAID: at once from the answer to the charge,
and the webhook Stripe sends then agrees (a no-op). A SALES_LED tenant is only linked:
a customer, and no invoice pushed. (PAID from the webhook alone, when the answer to the
charge is lost: test_stripe_outage.)

localstripe has no hosted invoice page (no ``hosted_invoice_url``) and no Checkout:
the card is attached here as Checkout would attach it."""

from __future__ import annotations

from tests.builders.billing import plan_with_seat_addon, subscribe
from tests.builders.stripe_world import ADDRESS, StripeWorld

UPDATE_BILLING = """mutation($id: ID!, $input: BillingInfoInput!) {
  updateBillingInfo(tenantId: $id, input: $input) {
  __typename ... on Error { code message } } }"""


def stripe_address(address: dict[str, str]) -> dict[str, str]:
    names = {"postalCode": "postal_code"}
    return {names.get(k, k): v for k, v in address.items()}


async def test_a_tenant_becomes_a_customer_with_its_address_and_billing_changes_reach_it(
    world: StripeWorld,
) -> None:
    tenant = await world.tenant("Kaizen")
    assert await world.customer_id(tenant) is None  # nothing leaves before the outbox runs

    assert await world.run_tasks() == 1
    customer_id = await world.customer_id(tenant)
    assert customer_id and customer_id.startswith("cus_")
    customer = (await world.stripe.v1.customers.retrieve_async(customer_id)).to_dict()
    assert customer["name"] == "Kaizen K.K."
    assert customer["email"] == "billing@kaizen.example"
    assert customer["address"] == stripe_address(ADDRESS)
    assert customer["metadata"] == {"tenant_id": tenant}

    moved = {
        "line1": "500 Howard St",
        "city": "San Francisco",
        "state": "CA",
        "postalCode": "94105",
        "country": "US",
    }
    result = await world.api(
        UPDATE_BILLING, {"id": tenant, "input": {"companyName": "Kaizen Inc.", "address": moved}}
    )
    assert result["updateBillingInfo"]["__typename"] == "Tenant", result
    assert await world.run_tasks() == 1

    customer = (await world.stripe.v1.customers.retrieve_async(customer_id)).to_dict()
    assert customer["name"] == "Kaizen Inc."
    # The whole address is replaced: the old second line does not linger.
    assert customer["address"] == {**stripe_address(moved), "line2": ""}
    assert await world.customer_id(tenant) == customer_id  # the same customer, updated

    created, updated = world.proxy.posts("/v1/customers"), world.proxy.posts(f"/v1/customers/{customer_id}")
    assert [r.idempotency_key for r in created] == [f"{tenant}-customer"]
    assert len(updated) == 1 and updated[0].idempotency_key.startswith("task-")
    assert updated[0].form["address[line2]"] == ""
    assert all(task.status == "DONE" for task in await world.tasks())


async def test_the_seat_guides_249_first_invoice_is_charged_in_stripe_and_paid_with_its_webhook_agreeing(
    world: StripeWorld,
) -> None:
    tenant, customer_id = await world.card_holder("Acme")

    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00, includedSeats=5)
    subscription = await subscribe(world.api, tenant, plan, {seat: 10})
    invoice = subscription["latestInvoice"]
    assert (invoice["total"]["amount"], invoice["status"]) == (249_00, "OPEN")

    assert await world.run_tasks() == 1

    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["total"], charged["amount_due"], charged["currency"]) == (249_00, 249_00, "usd")
    assert charged["status"] == "paid"
    assert charged["metadata"]["gateway_invoice_id"] == invoice["id"]
    assert charged["description"] == invoice["number"]
    assert sorted((line["description"], line["amount"]) for line in charged["lines"]["data"]) == sorted(
        (line["description"], line["amount"]["amount"]) for line in invoice["lines"]
    )

    # PAID as soon as the task is done, from the answer to the charge.
    paid = await world.invoice(invoice["id"])
    assert (paid["status"], paid["providerInvoiceId"]) == ("PAID", charged["id"])
    assert (paid["total"]["amount"], paid["amountDue"]["amount"]) == (249_00, 249_00)
    # Stripe's own webhook arrives after and changes nothing: both paths agree.
    webhook = await world.wait_for_webhook("invoice.payment_succeeded", invoice["id"])
    events = await world.provider_events()
    assert events[f"collect-{invoice['id']}-paid"].outcome == f"invoice {invoice['id']}: paid"
    assert webhook.outcome == f"ignored: invoice {invoice['id']} is already paid"
    assert (await world.invoice(invoice["id"]))["status"] == "PAID"

    # An empty draft first (nothing of the customer's swept in), then the items on it.
    posts = world.proxy.posts()
    assert posts and all(r.idempotency_key for r in posts)
    (create,) = world.proxy.posts("/v1/invoices")
    assert create.idempotency_key == f"{invoice['id']}-create"
    assert (create.form["pending_invoice_items_behavior"], create.form["currency"]) == ("exclude", "usd")
    items = world.proxy.posts("/v1/invoiceitems")
    assert posts.index(create) < posts.index(items[0])
    assert all(r.form["invoice"] == charged["id"] for r in items)
    assert sorted(r.idempotency_key for r in items) == sorted(
        f"{invoice['id']}-item-{r.form['metadata[gateway_item]']}" for r in items
    )
    assert [int(r.form["amount"]) for r in items] == [99_00, 150_00]
    (pay,) = world.proxy.posts(f"/v1/invoices/{charged['id']}/pay")
    (collect,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert pay.idempotency_key == f"{invoice['id']}-pay-{collect.id}"  # one key per attempt task
    assert all(task.status == "DONE" for task in await world.tasks())


async def test_a_sales_led_tenant_gets_a_customer_and_no_stripe_invoice(world: StripeWorld) -> None:
    tenant = await world.tenant("Bigcorp", sales_mode="SALES_LED")
    await world.run_tasks()
    customer_id = await world.customer_id(tenant)
    assert customer_id and customer_id.startswith("cus_")
    await world.attach_card(customer_id)

    plan, seat = await plan_with_seat_addon(world.api, "enterprise", 99_00, 15_00, includedSeats=5)
    subscription = await subscribe(world.api, tenant, plan, {seat: 10})
    local = subscription["latestInvoice"]
    assert (local["total"]["amount"], local["status"]) == (249_00, "OPEN")  # the gateway's own invoice

    await world.run_tasks()
    assert await world.stripe_invoices(customer_id) == []
    assert world.proxy.posts("/v1/invoices") == [] and world.proxy.posts("/v1/invoiceitems") == []
    assert (await world.invoice(local["id"]))["providerInvoiceId"] is None


async def test_a_declined_card_or_no_card_leaves_the_invoice_open_and_its_task_done_at_once(
    world: StripeWorld,
) -> None:
    """Not an error of the task: Stripe keeps the invoice open and the customer pays it
    on the hosted invoice page; a declined charge is tried again only on the dunning
    schedule, as a task of its own (tests/providers/test_stripe_dunning.py). (Where real
    Stripe answers a decline with a 402 card_error and an ``invoice.payment_failed``
    webhook, localstripe leaves the invoice open and sends nothing; without a card it
    answers 404 rather than Stripe's 400.)"""
    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00, includedSeats=5)
    cards = {"Nocard": None, "Declined": "4000000000000341"}
    tenants = {name: await world.tenant(name) for name in cards}
    await world.run_tasks()
    invoices = {}
    for name, tenant in tenants.items():
        if cards[name]:
            await world.attach_card(await world.customer_id(tenant), cards[name])
        invoices[name] = (await subscribe(world.api, tenant, plan, {seat: 10}))["latestInvoice"]["id"]

    await world.run_tasks()

    for name, tenant in tenants.items():
        (open_invoice,) = await world.stripe_invoices(await world.customer_id(tenant))
        assert (open_invoice["status"], open_invoice["total"]) == ("open", 249_00), name
        local = await world.invoice(invoices[name])
        assert (local["status"], local["providerInvoiceId"]) == ("OPEN", open_invoice["id"]), name
    assert {(task.kind, task.status, task.attempts) for task in await world.tasks()} == {
        ("SYNC_CUSTOMER", "DONE", 1),
        ("COLLECT_INVOICE", "DONE", 1),
    }


async def test_pending_items_someone_else_left_on_the_customer_are_not_charged_and_stay_pending(
    world: StripeWorld,
) -> None:
    """The gateway's invoice starts empty and holds only its own items: a pending item
    made by hand is not charged with it, and is still there for whoever made it."""
    tenant, customer_id = await world.card_holder("Cluttered")
    stray = await world.stripe.v1.invoice_items.create_async(
        {"customer": customer_id, "amount": 5_00, "currency": "usd", "description": "added by hand"}
    )
    plan, seat = await plan_with_seat_addon(world.api, "team_pro", 99_00, 15_00, includedSeats=5)
    invoice = (await subscribe(world.api, tenant, plan, {seat: 10}))["latestInvoice"]

    await world.run_tasks()

    (charged,) = await world.stripe_invoices(customer_id)
    assert (charged["total"], charged["amount_paid"], charged["status"]) == (249_00, 249_00, "paid")
    assert stray.id not in {line.get("invoice_item") for line in charged["lines"]["data"]}
    assert [item["id"] for item in await world.pending_items(customer_id)] == [stray.id]
    (task,) = [t for t in await world.tasks() if t.kind == "COLLECT_INVOICE"]
    assert (task.status, task.attempts) == ("DONE", 1)
    assert (await world.invoice(invoice["id"]))["status"] == "PAID"
