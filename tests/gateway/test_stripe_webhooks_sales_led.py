"""SALES_LED tenants: invoices that people make in Stripe come back by webhook as
EXTERNAL invoices, made once per Stripe invoice whatever the order (or concurrency)
of its events, and then paid or failed like the gateway's own."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import update

from models.platform.deps import Deps
from models.tables import EventRow, InvoiceRow, ProviderEventRow, TenantRow
from tests.builders.api import START, Api
from tests.builders.stripe_webhooks import SECRET, count, deliver, invoice_event, link_customer

INVOICES = """query($id: ID!) { tenant(id: $id) { invoices(first: 20) { edges { node {
  id number status reason currency subtotal { amount } tax { amount } total { amount } amountDue { amount }
  lines { kind description quantity unitAmount { amount } amount { amount } } } } } } }"""
T0 = int(START.timestamp())
CONTRACT = [
    {
        "id": "il_a",
        "object": "line_item",
        "amount": 12_000_00,
        "currency": "usd",
        "quantity": 1,
        "description": "Enterprise licence, 2026",
        "price": {"id": "price_a", "unit_amount": 12_000_00},
        "period": {"start": T0, "end": T0 + 365 * 86400},
    },
    {
        "id": "il_b",
        "object": "line_item",
        "amount": 1_000_00,
        "currency": "usd",
        "quantity": 2,
        "description": "Onboarding workshop",
        "price": {"id": "price_b", "unit_amount": 500_00},
        "period": {"start": T0, "end": T0},
    },
]


async def sales_led_tenant(api: Api, deps: Deps, name: str, customer: str, mode: str = "SALES_LED") -> str:
    data = await api(
        """mutation($input: CreateTenantInput!) { createTenant(input: $input) {
             ... on Tenant { id salesMode } ... on Error { code message } } }""",
        {"input": {"name": name, "email": "ap@example.com", "currency": "USD", "salesMode": mode}},
    )
    tenant = data["createTenant"]["id"]
    await link_customer(deps, tenant, customer)
    return tenant


async def tenant_invoices(api: Api, tenant: str) -> list[dict[str, Any]]:
    return [e["node"] for e in (await api(INVOICES, {"id": tenant}))["tenant"]["invoices"]["edges"]]


def external(type: str, event_id: str, invoice: str, **fields: Any) -> dict[str, Any]:
    return invoice_event(
        type, event_id, invoice_id=None, provider_invoice_id=invoice, customer="cus_initech", **fields
    )


async def test_an_invoice_made_in_stripe_comes_back_as_an_external_invoice(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant = await sales_led_tenant(api, deps, "Initech", "cus_initech")
    fields = {"amount": 14_300_00, "tax": 1_300_00, "lines": CONTRACT}

    finalized = await deliver(client, external("invoice.finalized", "evt_fin", "in_contract", **fields))

    assert finalized.status_code == 200, finalized.text
    (invoice,) = await tenant_invoices(api, tenant)
    assert {k: invoice[k] for k in ("number", "status", "reason", "currency")} == {
        "number": "INITECH-0001",
        "status": "OPEN",
        "reason": "EXTERNAL",
        "currency": "USD",
    }
    assert [invoice[k]["amount"] for k in ("subtotal", "tax", "total", "amountDue")] == [
        13_000_00,
        1_300_00,
        14_300_00,
        14_300_00,
    ]
    assert [
        (li["kind"], li["description"], li["quantity"], li["unitAmount"]["amount"], li["amount"]["amount"])
        for li in invoice["lines"]
    ] == [
        ("BASE", "Enterprise licence, 2026", 1, 12_000_00, 12_000_00),
        ("BASE", "Onboarding workshop", 2, 500_00, 1_000_00),
    ]

    paid = await deliver(
        client, external("invoice.payment_succeeded", "evt_ext_paid", "in_contract", status="paid", **fields)
    )

    assert paid.status_code == 200, paid.text
    (again,) = await tenant_invoices(api, tenant)
    assert (again["id"], again["status"]) == (invoice["id"], "PAID")
    assert await count(deps, EventRow, EventRow.type == "invoice.created") == 1
    assert await count(deps, EventRow, EventRow.type == "invoice.paid") == 1


async def test_a_failed_external_invoice_seen_first_by_its_failure_is_made_once(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant = await sales_led_tenant(api, deps, "Initech", "cus_initech")
    draft = external("invoice.payment_failed", "evt_draft", "in_draft", status="draft")
    failed = external(
        "invoice.payment_failed", "evt_ext_fail", "in_late", amount=500_00, failure="Card expired."
    )
    paid = external("invoice.paid", "evt_ext_paid2", "in_late", amount=500_00, status="paid", created=T0 + 60)

    assert (await deliver(client, draft)).json()["outcome"] == "ignored: invoice in_draft is not final yet"
    # Two different events for one new Stripe invoice at once: still one invoice.
    responses = await asyncio.gather(deliver(client, failed), deliver(client, paid))

    assert [r.status_code for r in responses] == [200, 200]
    (invoice,) = await tenant_invoices(api, tenant)
    assert (invoice["number"], invoice["status"], invoice["amountDue"]["amount"]) == (
        "INITECH-0001",
        "PAID",
        500_00,
    )
    async with deps.store.read() as session:
        row = await session.get(InvoiceRow, invoice["id"])
    assert (row.provider_invoice_id, row.paid_at.timestamp()) == ("in_late", T0 + 60)
    assert await count(deps, EventRow, EventRow.type == "invoice.created") == 1


async def test_a_self_serve_tenants_stripe_invoice_is_not_mirrored(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant = await sales_led_tenant(api, deps, "Initech", "cus_initech", mode="SELF_SERVE")

    response = await deliver(client, external("invoice.finalized", "evt_self", "in_manual"))

    assert (
        response.json()["outcome"]
        == f"ignored: tenant {tenant} is SELF_SERVE; the gateway makes its invoices"
    )
    assert await tenant_invoices(api, tenant) == []


async def test_a_discount_given_in_stripe_becomes_a_credit_line(
    api: Api, client: httpx.AsyncClient, deps: Deps
) -> None:
    tenant = await sales_led_tenant(api, deps, "Initech", "cus_initech")
    # 13,000.00 of lines, 10 % off (1,300.00), then 10 % tax on the rest (1,170.00).
    fields = {"amount": 12_870_00, "tax": 1_170_00, "lines": CONTRACT}

    await deliver(client, external("invoice.finalized", "evt_discount", "in_discount", **fields))

    (invoice,) = await tenant_invoices(api, tenant)
    assert [invoice[k]["amount"] for k in ("subtotal", "tax", "total", "amountDue")] == [
        11_700_00,
        1_170_00,
        12_870_00,
        12_870_00,
    ]
    assert [(li["kind"], li["amount"]["amount"]) for li in invoice["lines"]] == [
        ("BASE", 12_000_00),
        ("BASE", 1_000_00),
        ("CREDIT", -1_300_00),
    ]
    assert sum(li["amount"]["amount"] for li in invoice["lines"]) == invoice["subtotal"]["amount"]


async def test_a_processing_failure_answers_500_applies_nothing_and_logs_no_secret(
    api: Api, client: httpx.AsyncClient, deps: Deps, log_output: Any
) -> None:
    """When the database refuses what an event would write (here the tenant's invoice
    counter was set back by hand, so the next number is taken), nothing of the event
    stays, not even its id, and Stripe retries it."""
    tenant = await sales_led_tenant(api, deps, "Initech", "cus_initech")
    assert (await deliver(client, external("invoice.finalized", "evt_first", "in_first"))).status_code == 200
    async with deps.store.transaction() as session:
        await session.execute(update(TenantRow).where(TenantRow.id == tenant).values(invoice_count=0))
    clash = external("invoice.payment_succeeded", "evt_clash", "in_second", status="paid")

    responses = [await deliver(client, clash) for _ in range(2)]

    assert [r.status_code for r in responses] == [500, 500]
    assert responses[0].json() == {"error": "Processing the event failed; it was not applied."}
    assert [(i["number"], i["status"]) for i in await tenant_invoices(api, tenant)] == [
        ("INITECH-0001", "OPEN")
    ]
    assert await count(deps, ProviderEventRow, ProviderEventRow.id == "evt_clash") == 0
    assert await count(deps, EventRow, EventRow.type.in_(["invoice.created", "invoice.paid"])) == 1
    logged = log_output.getvalue()
    assert "evt_clash" in logged and "Stripe will retry" in logged
    assert SECRET not in logged
