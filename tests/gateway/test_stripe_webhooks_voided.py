"""``invoice.voided`` from Stripe voids the gateway's invoice exactly as ``voidInvoice``
does (one service: ``payments.invoice_events.void``): the credit it drew on given back
(to the grants it came from while they live, the rest to the balance), audited, and
``invoice.voided`` told once, however often Stripe delivers it. On both databases."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from models.platform.deps import Deps
from models.tables import EventRow
from tests.builders.api import START, Api, new_tenant
from tests.builders.billing import advance, credit_balance, plan_with_seat_addon, subscribe
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.credits import credit_grants, grant, ledger
from tests.builders.stripe_webhooks import audit_actions, deliver, invoice_event, link_customer

T0 = int(START.timestamp())
VOID = """mutation VoidInvoice($id: ID!) { voidInvoice(invoiceId: $id) { __typename
  ... on Invoice { status } ... on Error { code message } } }"""


async def _drew_on_credit(api: Api, deps: Deps, name: str, customer: str) -> tuple[str, str]:
    """A tenant (Stripe customer ``customer``) with a $40 grant expiring in a year and $25
    of lasting credit, whose $249 first invoice drew on both: $184 is left OPEN."""
    tenant = await new_tenant(api, name)
    await link_customer(deps, tenant, customer)
    await grant(api, tenant, 40_00, "2027-01-01T00:00:00Z", "Launch promo")
    await grant(api, tenant, 25_00, None, "Goodwill")
    plan, seat = await plan_with_seat_addon(api, f"team_{name.lower()}", 99_00, 15_00, includedSeats=5)
    invoice = (await subscribe(api, tenant, plan, {seat: 10}))["latestInvoice"]["id"]
    data = await api(
        "query($id: ID!) { invoice(id: $id) { status creditsApplied { amount } amountDue { amount } } }",
        {"id": invoice},
    )
    assert data["invoice"] == {
        "status": "OPEN",
        "creditsApplied": {"amount": 65_00},
        "amountDue": {"amount": 184_00},
    }
    assert await credit_balance(api, tenant) == 0
    return tenant, invoice


async def _voided_events(deps: Deps, tenant: str) -> list[dict[str, Any]]:
    async with deps.store.read() as session:
        rows = await session.scalars(
            select(EventRow).where(EventRow.tenant_id == tenant, EventRow.type == "invoice.voided")
        )
        return [row.data for row in rows]


async def _books(api: Api, tenant: str) -> tuple[int, dict[str, int], list[tuple[int, str, str | None]]]:
    grants = {name: g["remaining"]["amount"] for name, g in (await credit_grants(api, tenant)).items()}
    entries = [
        (e["amount"]["amount"], e["reason"], e["grant"] and e["grant"]["description"])
        for e in await ledger(api, tenant)
    ]
    return await credit_balance(api, tenant), grants, entries


async def test_stripe_voiding_an_invoice_gives_its_credit_back_to_the_grants_it_came_from_once(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant, invoice = await _drew_on_credit(api, deps, "Acme", "cus_Rz9")
    voided = invoice_event("invoice.voided", "evt_void", invoice_id=invoice, created=T0 + 60, status="void")

    answer = await deliver(client, voided)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "duplicate": False, "outcome": f"invoice {invoice}: void"}
    data = await api("query($id: ID!) { invoice(id: $id) { status } }", {"id": invoice})
    assert data["invoice"]["status"] == "VOID"
    balance, grants, entries = await _books(api, tenant)
    assert (balance, grants) == (65_00, {"Launch promo": 40_00, "Goodwill": 25_00})
    assert entries[-2:] == [(40_00, "GRANTED", "Launch promo"), (25_00, "GRANTED", "Goodwill")]
    assert ("provider:stripe", "invoice.voided") in await audit_actions(api, tenant)
    told = await _voided_events(deps, tenant)
    assert [(e["invoiceId"], e["status"]) for e in told] == [(invoice, "VOID")]

    again = await deliver(client, voided)  # Stripe redelivers the same event
    assert again.json()["duplicate"] is True
    other = invoice_event("invoice.voided", "evt_void_2", invoice_id=invoice, created=T0 + 90, status="void")
    assert (await deliver(client, other)).json()["outcome"] == f"ignored: invoice {invoice} is already void"
    assert await _books(api, tenant) == (balance, grants, entries)
    assert len(await _voided_events(deps, tenant)) == 1
    refused = (await api(VOID, {"id": invoice}))["voidInvoice"]
    assert refused["code"] == "INVOICE_NOT_CREDITABLE" and "VOID" in refused["message"], refused


async def test_void_invoice_and_stripe_void_leave_the_same_books(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    by_api, api_invoice = await _drew_on_credit(api, deps, "Initech", "cus_initech")
    assert (await api(VOID, {"id": api_invoice}))["voidInvoice"]["status"] == "VOID"
    by_stripe, stripe_invoice = await _drew_on_credit(api, deps, "Hooli", "cus_hooli")
    event = invoice_event(
        "invoice.voided",
        "evt_hooli_void",
        invoice_id=stripe_invoice,
        provider_invoice_id="in_hooli",
        customer="cus_hooli",
        status="void",
    )
    assert (await deliver(client, event)).json()["outcome"] == f"invoice {stripe_invoice}: void"

    assert await _books(api, by_api) == await _books(api, by_stripe)
    for tenant in (by_api, by_stripe):
        assert [a for _, a in await audit_actions(api, tenant)].count("invoice.voided") == 1
        assert len(await _voided_events(deps, tenant)) == 1


async def test_credit_from_a_grant_expired_since_comes_back_to_the_balance_that_does_not_expire(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    """The grant expired after the invoice drew on it: what the invoice took is not lost
    with the void, but the grant stays expired; it returns as lasting credit."""
    clock = await new_clock(api, "2026-03-01T10:00:00Z")
    tenant = await tenant_on(api, "Globex", clock)
    await link_customer(deps, tenant, "cus_globex")
    await grant(api, tenant, 30_00, "2026-03-02T10:00:00Z", "Short promo")
    plan, seat = await plan_with_seat_addon(api, "team_globex", 99_00, 15_00, includedSeats=5)
    invoice = (await subscribe(api, tenant, plan, {seat: 10}))["latestInvoice"]["id"]
    await advance(api, clock, "2026-03-03T10:00:00Z")  # the grant expires, nothing left of it
    assert (await credit_grants(api, tenant))["Short promo"]["expiredAt"] is not None
    event = invoice_event(
        "invoice.voided", "evt_globex", invoice_id=invoice, customer="cus_globex", status="void"
    )
    assert (await deliver(client, event)).json()["outcome"] == f"invoice {invoice}: void"
    balance, grants, entries = await _books(api, tenant)
    assert (balance, grants) == (30_00, {"Short promo": 0})
    assert entries[-1] == (30_00, "GRANTED", None)
