"""Inbound Stripe webhooks (POST /webhooks/stripe), signed here exactly as Stripe signs
them: forged, unsigned, stale and malformed deliveries get 400 and change nothing; an
event is processed once however often (or however concurrently) it arrives; payments
move invoices and subscriptions in any order of arrival."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from sqlalchemy import select

from gateway.settings import Settings
from gateway.webhooks.stripe import provider_event
from models.platform.deps import Deps
from models.tables import EventRow, InvoiceRow, ProviderEventRow
from tests.builders.api import START, Api
from tests.builders.stripe_webhooks import (
    SECRET,
    audit_actions,
    count,
    deliver,
    invoice_event,
    signature,
    state,
    subscribed_tenant,
)


async def test_forged_unsigned_stale_and_malformed_deliveries_get_400_and_change_nothing(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant, subscription, invoice = await subscribed_tenant(api, deps)
    event = invoice_event("invoice.payment_succeeded", "evt_forged", invoice_id=invoice, status="paid")

    forged = await deliver(client, event, secret="whsec_" + "n0t1t" * 8)
    unsigned = await deliver(client, event, signed=False)
    hour_old = await deliver(client, event, at=int(time.time()) - 3600)
    tampered_header = signature(json.dumps(event), at=int(time.time()))
    event["data"]["object"]["amount_paid"] = 1  # signed one body, sent another
    tampered = await client.post(
        "/webhooks/stripe", content=json.dumps(event), headers={"Stripe-Signature": tampered_header}
    )
    not_json = await deliver(client, "{not json")
    not_an_event = await deliver(client, json.dumps({"object": "event", "type": "invoice.paid"}))

    for response in (forged, unsigned, hour_old, tampered, not_json, not_an_event):
        assert response.status_code == 400, response.text
        assert set(response.json()) == {"error"}
        assert SECRET not in response.text and "k3y" not in response.text
    assert "Stripe-Signature" in unsigned.json()["error"]
    assert await state(api, invoice, subscription) == ("OPEN", "ACTIVE")
    assert await count(deps, ProviderEventRow) == 0
    assert await count(deps, EventRow, EventRow.type == "invoice.paid") == 0
    # The same event, properly signed and fresh, is accepted: the 400s were the signatures.
    assert (
        await deliver(
            client,
            invoice_event("invoice.payment_succeeded", "evt_forged", invoice_id=invoice, status="paid"),
        )
    ).status_code == 200
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")


async def test_the_same_event_twice_is_processed_once(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant, subscription, invoice = await subscribed_tenant(api, deps)
    event = invoice_event(
        "invoice.payment_succeeded",
        "evt_twice",
        invoice_id=invoice,
        status="paid",
        hosted_url="https://invoice.stripe.com/i/acct_1/test_abc",
    )

    first, second = await deliver(client, event), await deliver(client, event)

    assert first.status_code == second.status_code == 200
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")
    assert await count(deps, EventRow, EventRow.type == "invoice.paid") == 1
    assert await count(deps, ProviderEventRow) == 1
    assert (await audit_actions(api, tenant))[1:] == [("provider:stripe", "invoice.paid")]
    async with deps.store.read() as session:
        row = await session.get(InvoiceRow, invoice)
        paid = (await session.scalars(select(EventRow).where(EventRow.type == "invoice.paid"))).one()
        created = (await session.scalars(select(EventRow).where(EventRow.type == "invoice.created"))).one()
    assert (row.provider_invoice_id, row.paid_at) == ("in_1Qgw", START)
    assert paid.tenant_id == tenant
    assert paid.data == {
        "invoiceId": invoice,
        "tenantId": tenant,
        "subscriptionId": subscription,
        "number": row.number,
        "status": "PAID",
        "reason": "SUBSCRIBE",
        "currency": "USD",
        "total": 249_00,
        "amountDue": 249_00,
        "hostedInvoiceUrl": "https://invoice.stripe.com/i/acct_1/test_abc",
    }
    # A consumer reads invoice.paid with the code it reads invoice.created with.
    assert paid.data == {**created.data, "status": "PAID", "hostedInvoiceUrl": row.hosted_invoice_url}


async def test_concurrent_duplicates_are_processed_once(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await subscribed_tenant(api, deps)
    event = invoice_event("invoice.payment_succeeded", "evt_burst", invoice_id=invoice, status="paid")

    responses = await asyncio.gather(*(deliver(client, event) for _ in range(6)))

    assert [r.status_code for r in responses] == [200] * 6
    assert sorted(r.json()["duplicate"] for r in responses) == [False] + [True] * 5
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")
    assert await count(deps, EventRow, EventRow.type == "invoice.paid") == 1
    assert await count(deps, ProviderEventRow) == 1


async def test_a_failed_payment_makes_the_subscription_past_due_until_a_payment_succeeds(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant, subscription, invoice = await subscribed_tenant(api, deps)
    t0 = int(START.timestamp())

    failed = await deliver(
        client,
        invoice_event(
            "invoice.payment_failed",
            "evt_fail",
            invoice_id=invoice,
            created=t0 + 60,
            failure="Your card was declined.",
            hosted_url="https://invoice.stripe.com/i/acct_1/test_pay",
        ),
    )

    assert failed.status_code == 200, failed.text
    assert await state(api, invoice, subscription) == ("OPEN", "PAST_DUE")
    async with deps.store.read() as session:
        row = await session.get(InvoiceRow, invoice)
    assert (row.payment_error, row.payment_failed_at.timestamp()) == ("Your card was declined.", t0 + 60)
    assert row.hosted_invoice_url == "https://invoice.stripe.com/i/acct_1/test_pay"
    assert await count(deps, EventRow, EventRow.type == "invoice.payment_failed") == 1

    paid = await deliver(
        client,
        invoice_event(
            "invoice.payment_succeeded",
            "evt_retry_paid",
            invoice_id=invoice,
            created=t0 + 3600,
            status="paid",
        ),
    )

    assert paid.status_code == 200, paid.text
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")
    async with deps.store.read() as session:
        row = await session.get(InvoiceRow, invoice)
    assert (row.payment_error, row.payment_failed_at, row.paid_at.timestamp()) == (None, None, t0 + 3600)
    assert await count(deps, EventRow, EventRow.type == "invoice.paid") == 1
    async with deps.store.read() as session:
        subscribed, failure, reactivated = (
            await session.scalars(
                select(EventRow)
                .where(EventRow.type.in_(["invoice.payment_failed", "subscription.active"]))
                .order_by(EventRow.id)
            )
        ).all()
    assert [e.type for e in (subscribed, failure, reactivated)] == [
        "subscription.active",
        "invoice.payment_failed",
        "subscription.active",
    ]
    assert (failure.data["invoiceId"], failure.data["status"], failure.data["subscriptionId"]) == (
        invoice,
        "OPEN",
        subscription,
    )
    # subscription.active on reactivation reads like the one sent when the tenant subscribed.
    assert reactivated.data == {**subscribed.data, "status": "ACTIVE"}
    assert set(reactivated.data) >= {"subscriptionId", "planCode", "currentPeriodStart", "currentPeriodEnd"}
    assert [a for _, a in await audit_actions(api, tenant)] == [
        "subscription.created",
        "invoice.payment_failed",
        "subscription.past_due",
        "invoice.paid",
        "subscription.recovered",
    ]


async def test_each_new_failure_is_recorded_and_an_older_one_arriving_late_is_not(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await subscribed_tenant(api, deps)
    t0 = int(START.timestamp())
    first = invoice_event(
        "invoice.payment_failed",
        "evt_fail_1",
        invoice_id=invoice,
        created=t0 + 60,
        failure="Your card was declined.",
    )
    retry = invoice_event(
        "invoice.payment_failed",
        "evt_fail_2",
        invoice_id=invoice,
        created=t0 + 86400,
        failure="Your card has expired.",
    )

    outcomes = [(await deliver(client, e)).json()["outcome"] for e in (retry, first)]

    assert outcomes == [
        f"invoice {invoice}: payment failed",
        f"ignored: invoice {invoice} has a later failure already",
    ]
    assert await state(api, invoice, subscription) == ("OPEN", "PAST_DUE")
    async with deps.store.read() as session:
        row = await session.get(InvoiceRow, invoice)
    assert (row.payment_error, row.payment_failed_at.timestamp()) == ("Your card has expired.", t0 + 86400)
    assert await count(deps, EventRow, EventRow.type == "invoice.payment_failed") == 1


async def test_a_failure_arriving_after_the_payment_leaves_the_invoice_paid(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await subscribed_tenant(api, deps)
    t0 = int(START.timestamp())
    paid = invoice_event(
        "invoice.payment_succeeded", "evt_paid", invoice_id=invoice, created=t0 + 120, status="paid"
    )
    older_failure = invoice_event(
        "invoice.payment_failed",
        "evt_older_fail",
        invoice_id=invoice,
        created=t0 + 60,
        failure="Your card has insufficient funds.",
    )

    assert (await deliver(client, paid)).status_code == 200
    late = await deliver(client, older_failure)
    again = await deliver(
        client, invoice_event("invoice.paid", "evt_paid_alias", invoice_id=invoice, status="paid")
    )

    assert late.status_code == again.status_code == 200
    assert late.json()["outcome"].startswith("ignored")
    assert await state(api, invoice, subscription) == ("PAID", "ACTIVE")
    async with deps.store.read() as session:
        row = await session.get(InvoiceRow, invoice)
    assert (row.payment_error, row.payment_failed_at, row.paid_at.timestamp()) == (None, None, t0 + 120)
    assert await count(deps, EventRow, EventRow.type.in_(["invoice.paid", "invoice.payment_failed"])) == 1
    assert await count(deps, ProviderEventRow) == 3


async def test_payment_action_required_surfaces_the_hosted_invoice_page(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await subscribed_tenant(api, deps)
    url = "https://invoice.stripe.com/i/acct_1/test_3ds"

    response = await deliver(
        client,
        invoice_event("invoice.payment_action_required", "evt_3ds", invoice_id=invoice, hosted_url=url),
    )

    assert response.status_code == 200, response.text
    data = await api(
        "query($id: ID!) { invoice(id: $id) { status hostedInvoiceUrl providerInvoiceId } }", {"id": invoice}
    )
    assert data["invoice"] == {"status": "OPEN", "hostedInvoiceUrl": url, "providerInvoiceId": "in_1Qgw"}
    assert await state(api, invoice, subscription) == ("OPEN", "ACTIVE")


async def test_unknown_event_types_are_acknowledged_stored_and_ignored(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    _, subscription, invoice = await subscribed_tenant(api, deps)
    event = invoice_event("invoice.upcoming", "evt_unknown", invoice_id=invoice, status="paid")
    customer = {
        "id": "evt_cus",
        "object": "event",
        "type": "customer.updated",
        "created": int(time.time()),
        "data": {"object": {"id": "cus_Rz9", "object": "customer"}},
    }

    responses = [await deliver(client, e) for e in (event, customer, event)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[0].json()["outcome"] == "ignored: invoice.upcoming is not an event the gateway acts on"
    assert responses[2].json()["duplicate"] is True
    assert await state(api, invoice, subscription) == ("OPEN", "ACTIVE")
    async with deps.store.read() as session:
        stored = (await session.scalars(select(ProviderEventRow).order_by(ProviderEventRow.id))).all()
    assert [(r.id, r.provider, r.type) for r in stored] == [
        ("evt_cus", "stripe", "customer.updated"),
        ("evt_unknown", "stripe", "invoice.upcoming"),
    ]


async def test_an_event_for_an_invoice_this_gateway_does_not_have_is_ignored(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    other_gateway = invoice_event(
        "invoice.payment_failed", "evt_elsewhere", invoice_id="inv_OTHER_ENVIRONMENT"
    )
    unknown_customer = invoice_event(
        "invoice.payment_succeeded",
        "evt_stranger",
        invoice_id=None,
        provider_invoice_id="in_stranger",
        customer="cus_nobody",
        status="paid",
    )

    responses = [await deliver(client, e) for e in (other_gateway, unknown_customer)]

    assert [r.json()["outcome"] for r in responses] == [
        "ignored: no invoice inv_OTHER_ENVIRONMENT in this gateway",
        "ignored: no tenant has customer cus_nobody",
    ]
    assert await count(deps, InvoiceRow) == 0
    assert await count(deps, ProviderEventRow, ProviderEventRow.outcome.like("ignored: %")) == 2


async def test_without_a_webhook_secret_deliveries_are_refused_with_a_clear_message(
    deps: Deps, db_url: str, log_output: Any
) -> None:
    from gateway.app import create_app

    app = create_app(Settings(database_url=db_url), deps=deps)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as http:
        responses = [
            await deliver(http, invoice_event("invoice.paid", f"evt_{n}", invoice_id=None)) for n in range(2)
        ]

    assert [r.status_code for r in responses] == [503, 503]
    assert "GATEWAY_STRIPE_WEBHOOK_SECRET is not set" in responses[0].json()["error"]
    assert log_output.getvalue().count("GATEWAY_STRIPE_WEBHOOK_SECRET is not set") == 1
    assert await count(deps, ProviderEventRow) == 0


def test_isk_amounts_come_back_in_the_gateways_units() -> None:
    """Stripe counts ISK in hundredths though the krona has no minor unit (the gateway's
    ISK amounts are whole krónur); an amount that is not whole krónur maps to no invoice,
    with the reason the event is stored as ignored."""
    line = {"description": "Seats", "amount": 1_490_000, "quantity": 1, "price": {"unit_amount": 1_490_000}}
    event = {
        "id": "evt_isk",
        "type": "invoice.paid",
        "created": 1_767_000_000,
        "data": {
            "object": {
                "object": "invoice",
                "id": "in_isk",
                "currency": "isk",
                "customer": "cus_isk",
                "total": 1_490_000,
                "subtotal": 1_490_000,
                "amount_due": 1_490_000,
                "amount_paid": 1_490_000,
                "tax": 0,
                "lines": {"data": [line]},
            }
        },
    }
    snap = provider_event(event).invoice
    assert (
        snap.total,
        snap.subtotal,
        snap.amount_due,
        snap.amount_paid,
        snap.lines[0].amount,
        snap.lines[0].unit_amount,
    ) == (14_900, 14_900, 14_900, 14_900, 14_900, 14_900)
    event["data"]["object"]["total"] = 1_490_050
    unmapped = provider_event(event)
    assert unmapped.invoice is None
    assert "invoice.paid for invoice in_isk: total: Stripe's ISK amount 1490050" in unmapped.ignored
    assert "not a whole number of units" in unmapped.ignored


async def test_an_isk_event_in_fractions_of_a_krona_is_stored_as_ignored_not_refused(
    client: httpx.AsyncClient, deps: Deps
) -> None:
    """A 400 would make Stripe retry it for three days and then drop it: it is acknowledged."""
    event = invoice_event(
        "invoice.payment_failed", "evt_isk_frac", invoice_id=None, currency="isk", amount=150
    )
    answer = await deliver(client, event)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"].startswith("ignored: invoice.payment_failed for invoice in_1Qgw: ")
    assert "not a whole number of units" in answer.json()["outcome"]
    async with deps.store.read() as session:
        stored = await session.get(ProviderEventRow, "evt_isk_frac")
    assert stored.outcome == answer.json()["outcome"]
    assert (await deliver(client, event)).json()["duplicate"] is True
