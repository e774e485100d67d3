"""Stripe webhooks signed here exactly as Stripe signs them, the invoice events they
carry, and a tenant with an open first invoice for them to move."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
from sqlalchemy import func, select, update

from models.platform.deps import Deps
from models.tables import TenantRow
from tests.builders.api import START, Api, new_tenant
from tests.builders.billing import plan_with_seat_addon, subscribe

SECRET = "whsec_" + "k3y" * 12


def signature(payload: str, secret: str = SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


async def deliver(
    client: httpx.AsyncClient,
    event: dict[str, Any] | str,
    *,
    secret: str = SECRET,
    at: int | None = None,
    signed: bool = True,
) -> httpx.Response:
    payload = event if isinstance(event, str) else json.dumps(event, indent=2)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signed:
        headers["Stripe-Signature"] = signature(payload, secret, at)
    return await client.post("/webhooks/stripe", content=payload.encode(), headers=headers)


def invoice_event(
    type: str,
    event_id: str,
    *,
    invoice_id: str | None,
    provider_invoice_id: str = "in_1Qgw",
    created: int | None = None,
    customer: str = "cus_Rz9",
    status: str = "open",
    amount: int = 249_00,
    hosted_url: str | None = None,
    failure: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    tax: int = 0,
    currency: str = "usd",
    amount_paid: int | None = None,
) -> dict[str, Any]:
    """A Stripe invoice event as Stripe sends it (the fields the gateway reads, and some it doesn't)."""
    created = created if created is not None else int(START.timestamp())
    metadata = (
        {"gateway_invoice_id": invoice_id, "gateway_invoice_number": "X", "tenant_id": "t"}
        if invoice_id
        else {}
    )
    lines = (
        lines
        if lines is not None
        else [
            {
                "id": "il_1",
                "object": "line_item",
                "amount": amount,
                "currency": currency,
                "description": "Team",
                "quantity": 1,
                "period": {"start": created, "end": created},
            },
        ]
    )
    invoice = {
        "id": provider_invoice_id,
        "object": "invoice",
        "customer": customer,
        "status": status,
        "currency": currency,
        "metadata": metadata,
        "number": "1A2B-0001",
        "hosted_invoice_url": hosted_url,
        "subtotal": amount - tax if lines else amount,
        "tax": tax,
        "total": amount,
        "amount_due": amount,
        "amount_paid": amount_paid if amount_paid is not None else amount if status == "paid" else 0,
        "amount_remaining": 0 if status == "paid" else amount,
        "attempt_count": 1,
        "period_start": created,
        "period_end": created,
        "created": created,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/invoices/{provider_invoice_id}/lines",
        },
        "payment_intent": {
            "id": "pi_1",
            "object": "payment_intent",
            "last_payment_error": {"message": failure} if failure else None,
        },
    }
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "livemode": False,
        "type": type,
        "data": {"object": invoice},
        "pending_webhooks": 1,
        "request": {"id": None},
    }


async def link_customer(deps: Deps, tenant: str, customer: str | None) -> None:
    """Link the tenant to its Stripe customer as the SYNC_CUSTOMER provider task would
    (tested against localstripe in tests/providers); these tests run without a provider."""
    async with deps.store.transaction() as session:
        await session.execute(
            update(TenantRow).where(TenantRow.id == tenant).values(provider_customer_id=customer)
        )


async def subscribed_tenant(
    api: Api, deps: Deps, name: str = "Acme", customer: str | None = "cus_Rz9"
) -> tuple[str, str, str]:
    """A tenant on $99 incl. 5 seats + 10 extra seats at $15, Stripe customer ``customer``:
    its $249 first invoice is OPEN."""
    tenant = await new_tenant(api, name)
    await link_customer(deps, tenant, customer)
    plan, seat = await plan_with_seat_addon(api, f"team_{name.lower()}", 99_00, 15_00, includedSeats=5)
    subscription = await subscribe(api, tenant, plan, {seat: 10})
    invoice = subscription["latestInvoice"]
    assert (invoice["status"], invoice["amountDue"]["amount"]) == ("OPEN", 249_00)
    return tenant, subscription["id"], invoice["id"]


STATE = """query($invoice: ID!, $subscription: ID!) {
  invoice(id: $invoice) { status }  subscription(id: $subscription) { status } }"""


async def state(api: Api, invoice: str, subscription: str) -> tuple[str, str]:
    data = await api(STATE, {"invoice": invoice, "subscription": subscription})
    return data["invoice"]["status"], data["subscription"]["status"]


async def count(deps: Deps, table: Any, *where: Any) -> int:
    async with deps.store.read() as session:
        return await session.scalar(select(func.count()).select_from(table).where(*where))


async def audit_actions(api: Api, tenant: str) -> list[tuple[str, str]]:
    data = await api(
        "query($id: ID!) { auditLog(tenantId: $id, first: 100) { edges { node { actor action } } } }",
        {"id": tenant},
    )
    return [(e["node"]["actor"], e["node"]["action"]) for e in data["auditLog"]["edges"]]
