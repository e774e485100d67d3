"""``invoice.voided`` and ``invoice.marked_uncollectible`` (someone gave up on the invoice
in the Stripe dashboard), signed here as Stripe signs them: the invoice is no longer
owed, so it no longer keeps the subscription PAST_DUE (which used to stay stuck). A
paid invoice stays paid, and a void the gateway's own adapter made (the Stripe invoice
did not match) leaves the gateway's invoice owed."""

from __future__ import annotations

import httpx
import pytest

from models.platform.deps import Deps
from models.tables import InvoiceRow
from tests.builders.api import START, Api
from tests.builders.billing import change_input, change_plan, create_plan
from tests.builders.stripe_webhooks import audit_actions, deliver, invoice_event, state, subscribed_tenant

T0 = int(START.timestamp())


async def past_due(api: Api, client: httpx.AsyncClient, deps: Deps) -> tuple[str, str, str]:
    """A tenant whose first invoice (Stripe's in_1Qgw) failed: the subscription is PAST_DUE."""
    tenant, subscription, invoice = await subscribed_tenant(api, deps)
    failed = await deliver(
        client,
        invoice_event(
            "invoice.payment_failed",
            "evt_fail",
            invoice_id=invoice,
            created=T0 + 60,
            failure="Your card was declined.",
        ),
    )
    assert failed.json()["outcome"] == f"invoice {invoice}: payment failed"
    assert await state(api, invoice, subscription) == ("OPEN", "PAST_DUE")
    return tenant, subscription, invoice


@pytest.mark.parametrize(
    ("event_type", "status", "action"),
    [
        ("invoice.voided", "VOID", "invoice.voided"),
        ("invoice.marked_uncollectible", "UNCOLLECTIBLE", "invoice.marked_uncollectible"),
    ],
)
async def test_giving_up_on_the_failed_invoice_in_stripe_reactivates_the_subscription(
    api: Api,
    client: httpx.AsyncClient,
    deps: Deps,
    event_type: str,
    status: str,
    action: str,
) -> None:
    tenant, subscription, invoice = await past_due(api, client, deps)

    answer = await deliver(
        client,
        invoice_event(event_type, "evt_gave_up", invoice_id=invoice, created=T0 + 120, status=status.lower()),
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == f"invoice {invoice}: {status.lower()}"
    assert await state(api, invoice, subscription) == (status, "ACTIVE")
    assert [a for _, a in await audit_actions(api, tenant)][-2:] == [action, "subscription.recovered"]
    # A retry's failure arriving after it cannot make the tenant PAST_DUE again.
    late = await deliver(
        client,
        invoice_event(
            "invoice.payment_failed",
            "evt_late_fail",
            invoice_id=invoice,
            created=T0 + 180,
            failure="Your card was declined.",
        ),
    )
    assert late.json()["outcome"] == f"ignored: invoice {invoice} is already {status.lower()}"
    assert await state(api, invoice, subscription) == (status, "ACTIVE")


async def test_an_uncollectible_invoice_can_still_be_voided_and_paid_one_cannot(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await past_due(api, client, deps)
    outcomes = [
        (
            await deliver(
                client, invoice_event(t, f"evt_{n}", invoice_id=invoice, created=T0 + 100 + n, status=s)
            )
        ).json()["outcome"]
        for n, (t, s) in enumerate(
            [
                ("invoice.marked_uncollectible", "uncollectible"),
                ("invoice.marked_uncollectible", "uncollectible"),
                ("invoice.voided", "void"),
            ]
        )
    ]
    assert outcomes == [
        f"invoice {invoice}: uncollectible",
        f"ignored: invoice {invoice} is already uncollectible",
        f"invoice {invoice}: void",
    ]
    assert await state(api, invoice, subscription) == ("VOID", "ACTIVE")

    _, other_sub, paid = await subscribed_tenant(api, deps, "Paid", customer="cus_paid")
    ok = await deliver(
        client,
        invoice_event(
            "invoice.payment_succeeded",
            "evt_paid",
            invoice_id=paid,
            provider_invoice_id="in_paid",
            customer="cus_paid",
            status="paid",
        ),
    )
    assert ok.json()["outcome"] == f"invoice {paid}: paid"
    for n, (event_type, status) in enumerate(
        [("invoice.voided", "void"), ("invoice.marked_uncollectible", "uncollectible")]
    ):
        refused = await deliver(
            client,
            invoice_event(
                event_type,
                f"evt_after_paid_{n}",
                invoice_id=paid,
                provider_invoice_id="in_paid",
                customer="cus_paid",
            ),
        )
        assert refused.json()["outcome"] == f"ignored: invoice {paid} is paid, not {status}"
    assert await state(api, paid, other_sub) == ("PAID", "ACTIVE")


async def test_the_subscription_stays_past_due_while_another_failed_invoice_is_open(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant, subscription, first = await subscribed_tenant(api, deps)
    bigger = await create_plan(api, "team_bigger", 399_00)
    change = await change_plan(api, change_input(subscription, bigger, {}))
    second = change["invoice"]["id"]
    assert change["invoice"]["status"] == "OPEN" and second != first
    for n, (invoice, stripe_id) in enumerate([(first, "in_first"), (second, "in_second")]):
        await deliver(
            client,
            invoice_event(
                "invoice.payment_failed",
                f"evt_fail_{n}",
                invoice_id=invoice,
                provider_invoice_id=stripe_id,
                created=T0 + 60 + n,
                amount=change["invoice"]["amountDue"]["amount"] if n else 249_00,
            ),
        )
    assert await state(api, first, subscription) == ("OPEN", "PAST_DUE")

    voided = await deliver(
        client,
        invoice_event(
            "invoice.voided",
            "evt_void_first",
            invoice_id=first,
            provider_invoice_id="in_first",
            status="void",
            created=T0 + 120,
        ),
    )

    assert voided.json()["outcome"] == f"invoice {first}: void"
    assert await state(api, first, subscription) == ("VOID", "PAST_DUE")  # the second is still unpaid
    await deliver(
        client,
        invoice_event(
            "invoice.marked_uncollectible",
            "evt_unc_second",
            invoice_id=second,
            provider_invoice_id="in_second",
            status="uncollectible",
            created=T0 + 180,
        ),
    )
    assert await state(api, second, subscription) == ("UNCOLLECTIBLE", "ACTIVE")


async def test_a_void_from_another_customer_or_of_an_invoice_the_gateway_discarded_changes_nothing(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await past_due(api, client, deps)
    foreign = invoice_event(
        "invoice.voided", "evt_foreign", invoice_id=invoice, customer="cus_other", status="void"
    )
    discarded = invoice_event("invoice.voided", "evt_discarded", invoice_id=invoice, status="void")
    discarded["data"]["object"]["metadata"]["gateway_discarded"] = (
        invoice  # set by the adapter before voiding
    )
    unknown = invoice_event(
        "invoice.voided", "evt_unknown", invoice_id=None, provider_invoice_id="in_nobody", status="void"
    )

    outcomes = [(await deliver(client, e)).json()["outcome"] for e in (foreign, discarded, unknown)]

    assert outcomes[0] == f"ignored: customer cus_other does not match invoice {invoice}"
    assert (
        outcomes[1].startswith("ignored: the gateway itself voided in_1Qgw") and "still owed" in outcomes[1]
    )
    assert outcomes[2] == "ignored: no invoice in this gateway is collected as in_nobody"
    assert await state(api, invoice, subscription) == ("OPEN", "PAST_DUE")
    async with deps.store.read() as session:
        assert (await session.get(InvoiceRow, invoice)).payment_error == "Your card was declined."
