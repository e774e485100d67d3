"""Which gateway invoice a Stripe event is about. The ``gateway_invoice_id`` metadata
alone proves nothing: Stripe's "duplicate invoice" copies it, anyone can edit it, and
another environment on the same Stripe account writes its own. So an event changes one
of our invoices only when its customer is the tenant's and, when matched by that
metadata, its currency, the amount paid and the Stripe invoice agree too. Otherwise it
is stored as ignored, changes nothing, and the genuine events still apply."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from models.payments.provider_events import process_provider_event
from models.platform.deps import Deps
from models.platform.provider import ProviderEvent, ProviderEventKind, ProviderInvoiceSnapshot
from models.tables import EventRow, InvoiceRow, ProviderEventRow
from tests.builders.api import START, Api
from tests.builders.stripe_webhooks import (
    audit_actions,
    count,
    deliver,
    invoice_event,
    state,
    subscribed_tenant,
)

T0 = int(START.timestamp())
PAYMENT_EVENTS = EventRow.type.in_(["invoice.paid", "invoice.payment_failed"])


async def outcome(client: httpx.AsyncClient, event: dict) -> str:
    response = await deliver(client, event)
    assert response.status_code == 200, response.text
    return response.json()["outcome"]


async def invoice_row(deps: Deps, invoice: str) -> InvoiceRow:
    async with deps.store.read() as session:
        return await session.get(InvoiceRow, invoice)


async def test_a_foreign_customers_invoice_naming_ours_changes_nothing_and_the_genuine_one_still_applies(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant, subscription, invoice = await subscribed_tenant(api, deps)
    foreign = {
        "invoice_id": invoice,
        "provider_invoice_id": "in_dup",
        "customer": "cus_other_env",
        "hosted_url": "https://invoice.stripe.com/i/acct_1/foreign",
    }

    outcomes = [
        await outcome(client, invoice_event(type, f"evt_foreign_{n}", status=status, **foreign))
        for n, (type, status) in enumerate(
            [
                ("invoice.finalized", "open"),
                ("invoice.payment_action_required", "open"),
                ("invoice.paid", "paid"),
            ]
        )
    ]

    assert outcomes == [f"ignored: customer cus_other_env does not match invoice {invoice}"] * 3
    assert await state(api, invoice, subscription) == ("OPEN", "ACTIVE")
    row = await invoice_row(deps, invoice)
    assert (row.provider_invoice_id, row.hosted_invoice_url, row.paid_at) == (None, None, None)
    assert await count(deps, EventRow, PAYMENT_EVENTS) == 0
    assert [a for _, a in await audit_actions(api, tenant)] == ["subscription.created"]
    assert await count(deps, ProviderEventRow, ProviderEventRow.outcome.like("ignored: customer %")) == 3

    genuine = await outcome(
        client,
        invoice_event(
            "invoice.paid", "evt_genuine", invoice_id=invoice, provider_invoice_id="in_real", status="paid"
        ),
    )

    assert genuine == f"invoice {invoice}: paid"
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")
    assert (await invoice_row(deps, invoice)).provider_invoice_id == "in_real"


async def test_a_failure_from_a_foreign_customer_does_not_make_the_tenant_past_due(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await subscribed_tenant(api, deps)

    foreign = await outcome(
        client,
        invoice_event(
            "invoice.payment_failed",
            "evt_foreign_fail",
            invoice_id=invoice,
            provider_invoice_id="in_dup",
            customer="cus_other_env",
            failure="Your card was declined.",
            created=T0 + 60,
        ),
    )

    assert foreign == f"ignored: customer cus_other_env does not match invoice {invoice}"
    assert await state(api, invoice, subscription) == ("OPEN", "ACTIVE")
    row = await invoice_row(deps, invoice)
    assert (row.payment_failed_at, row.payment_error, row.provider_invoice_id) == (None, None, None)
    assert await count(deps, EventRow, PAYMENT_EVENTS) == 0
    # The tenant's own failure still counts.
    assert (
        await outcome(
            client,
            invoice_event(
                "invoice.payment_failed",
                "evt_own_fail",
                invoice_id=invoice,
                provider_invoice_id="in_real",
                failure="Your card was declined.",
                created=T0 + 120,
            ),
        )
        == f"invoice {invoice}: payment failed"
    )
    assert await state(api, invoice, subscription) == ("OPEN", "PAST_DUE")


async def test_an_invoice_in_another_currency_is_ignored(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await subscribed_tenant(api, deps)

    in_euros = await outcome(
        client,
        invoice_event(
            "invoice.paid",
            "evt_eur",
            invoice_id=invoice,
            provider_invoice_id="in_eur",
            status="paid",
            currency="eur",
        ),
    )

    assert in_euros == f"ignored: currency eur does not match invoice {invoice}"
    assert await state(api, invoice, subscription) == ("OPEN", "ACTIVE")
    assert (await invoice_row(deps, invoice)).provider_invoice_id is None
    # Currencies compare regardless of case (Stripe writes "usd", the gateway "USD").
    assert (
        await outcome(
            client,
            invoice_event("invoice.paid", "evt_usd", invoice_id=invoice, status="paid", currency="USD"),
        )
        == f"invoice {invoice}: paid"
    )
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")


async def test_a_payment_smaller_than_the_amount_due_is_ignored(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await subscribed_tenant(api, deps)  # 249.00 due

    smaller_invoice = await outcome(
        client,
        invoice_event(
            "invoice.paid",
            "evt_small",
            invoice_id=invoice,
            provider_invoice_id="in_small",
            status="paid",
            amount=200_00,
        ),
    )
    part_paid = await outcome(
        client,
        invoice_event(
            "invoice.finalized",
            "evt_part",
            invoice_id=invoice,
            provider_invoice_id="in_part",
            status="paid",
            amount_paid=100_00,
        ),
    )

    assert smaller_invoice == f"ignored: amount paid 20000 does not match invoice {invoice} (due 24900)"
    assert part_paid == f"ignored: amount paid 10000 does not match invoice {invoice} (due 24900)"
    assert await state(api, invoice, subscription) == ("OPEN", "ACTIVE")
    assert (await invoice_row(deps, invoice)).provider_invoice_id is None
    assert await count(deps, EventRow, PAYMENT_EVENTS) == 0
    # Paid outside Stripe ("paid out of band"): nothing paid through it, the whole total settled.
    assert (
        await outcome(
            client,
            invoice_event(
                "invoice.paid",
                "evt_oob",
                invoice_id=invoice,
                provider_invoice_id="in_oob",
                status="paid",
                amount_paid=0,
            ),
        )
        == f"invoice {invoice}: paid"
    )
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")


async def test_a_tenant_not_linked_to_a_stripe_customer_cannot_be_matched(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant, subscription, invoice = await subscribed_tenant(api, deps, customer=None)

    paid = await outcome(
        client, invoice_event("invoice.paid", "evt_unlinked", invoice_id=invoice, status="paid")
    )

    assert (
        paid
        == f"ignored: tenant {tenant} has no provider customer to check invoice {invoice}'s events against"
    )
    assert await state(api, invoice, subscription) == ("OPEN", "ACTIVE")


async def test_an_invoice_collected_as_one_stripe_invoice_ignores_another_naming_it(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await subscribed_tenant(api, deps)
    assert (
        await outcome(
            client,
            invoice_event(
                "invoice.finalized",
                "evt_real",
                invoice_id=invoice,
                provider_invoice_id="in_real",
                hosted_url="https://invoice.stripe.com/i/acct_1/real",
            ),
        )
        == f"invoice {invoice}: finalized at the provider"
    )

    # The dashboard's "duplicate invoice": same customer, same metadata, same amount.
    duplicate = await outcome(
        client,
        invoice_event(
            "invoice.paid",
            "evt_dup",
            invoice_id=invoice,
            provider_invoice_id="in_dup",
            status="paid",
            hosted_url="https://invoice.stripe.com/i/acct_1/dup",
        ),
    )

    assert duplicate == f"ignored: invoice {invoice} is collected as in_real"
    assert await state(api, invoice, subscription) == ("OPEN", "ACTIVE")
    row = await invoice_row(deps, invoice)
    assert (row.provider_invoice_id, row.hosted_invoice_url) == (
        "in_real",
        "https://invoice.stripe.com/i/acct_1/real",
    )
    assert (
        await outcome(
            client,
            invoice_event(
                "invoice.paid",
                "evt_real_paid",
                invoice_id=invoice,
                provider_invoice_id="in_real",
                status="paid",
            ),
        )
        == f"invoice {invoice}: paid"
    )


async def test_metadata_edited_on_a_linked_stripe_invoice_does_not_move_its_payment(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    """The link the gateway recorded wins over the metadata; and an event for a linked
    Stripe invoice from another customer is still refused."""
    _, acme_subscription, acme = await subscribed_tenant(api, deps, "Acme", "cus_acme")
    _, globex_subscription, globex = await subscribed_tenant(api, deps, "Globex", "cus_globex")
    assert (
        await deliver(
            client,
            invoice_event(
                "invoice.finalized",
                "evt_link",
                invoice_id=acme,
                provider_invoice_id="in_acme",
                customer="cus_acme",
            ),
        )
    ).status_code == 200

    as_globex = await outcome(
        client,
        invoice_event(
            "invoice.paid",
            "evt_as_globex",
            invoice_id=globex,
            provider_invoice_id="in_acme",
            customer="cus_globex",
            status="paid",
        ),
    )
    edited = await outcome(
        client,
        invoice_event(
            "invoice.paid",
            "evt_edited",
            invoice_id=globex,
            provider_invoice_id="in_acme",
            customer="cus_acme",
            status="paid",
        ),
    )

    assert as_globex == f"ignored: customer cus_globex does not match invoice {acme}"
    assert edited == f"invoice {acme}: paid"
    assert await state(api, acme, acme_subscription) == ("PAID", "ACTIVE")
    assert await state(api, globex, globex_subscription) == ("OPEN", "ACTIVE")
    assert (await invoice_row(deps, globex)).provider_invoice_id is None


def collected(invoice: str, customer: str, event_id: str | None = None) -> ProviderEvent:
    """What the collection task reports when its own charge succeeded (before any webhook)."""
    return ProviderEvent(
        id=event_id or f"collect-{invoice}-paid",
        provider="stripe",
        type="invoice.paid",
        kind=ProviderEventKind.INVOICE_PAID,
        created=START,
        invoice=ProviderInvoiceSnapshot(
            provider_invoice_id="in_collected",
            currency="usd",
            customer_id=customer,
            gateway_invoice_id=invoice,
            status="paid",
            total=249_00,
            amount_due=249_00,
            amount_paid=249_00,
        ),
    )


async def test_the_collection_tasks_own_paid_answer_pays_once_and_the_webhook_after_it_changes_nothing(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant, subscription, invoice = await subscribed_tenant(api, deps)
    # The task records the Stripe invoice it made before it charges it.
    async with deps.store.transaction() as session:
        await session.execute(
            update(InvoiceRow).where(InvoiceRow.id == invoice).values(provider_invoice_id="in_collected")
        )

    foreign = await process_provider_event(deps, collected(invoice, "cus_other_env", "collect-foreign"))
    first = await process_provider_event(deps, collected(invoice, "cus_Rz9"))
    again = await process_provider_event(deps, collected(invoice, "cus_Rz9"))
    webhook = await outcome(
        client,
        invoice_event(
            "invoice.paid",
            "evt_after",
            invoice_id=invoice,
            provider_invoice_id="in_collected",
            status="paid",
            created=T0 + 5,
        ),
    )

    assert foreign.outcome == f"ignored: customer cus_other_env does not match invoice {invoice}"
    assert (first.duplicate, first.outcome) == (False, f"invoice {invoice}: paid")
    assert (again.duplicate, again.outcome) == (True, f"invoice {invoice}: paid")
    assert webhook == f"ignored: invoice {invoice} is already paid"
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")
    assert (await invoice_row(deps, invoice)).paid_at == START
    assert await count(deps, EventRow, EventRow.type == "invoice.paid") == 1
    assert (await audit_actions(api, tenant))[1:] == [("provider:stripe", "invoice.paid")]


async def test_the_collection_tasks_answer_is_checked_like_a_webhook_before_the_link_is_recorded(
    api: Api, deps: Deps
) -> None:
    _, subscription, invoice = await subscribed_tenant(api, deps)

    short = await process_provider_event(
        deps,
        ProviderEvent(
            id=f"collect-{invoice}-short",
            provider="stripe",
            type="invoice.paid",
            kind=ProviderEventKind.INVOICE_PAID,
            created=START,
            invoice=ProviderInvoiceSnapshot(
                provider_invoice_id="in_collected",
                currency="usd",
                customer_id="cus_Rz9",
                gateway_invoice_id=invoice,
                status="paid",
                total=249_00,
                amount_paid=249_00 - 1,
            ),
        ),
    )
    paid = await process_provider_event(deps, collected(invoice, "cus_Rz9"))

    assert short.outcome == f"ignored: amount paid 24899 does not match invoice {invoice} (due 24900)"
    assert paid.outcome == f"invoice {invoice}: paid"
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")
    assert (await invoice_row(deps, invoice)).provider_invoice_id == "in_collected"
