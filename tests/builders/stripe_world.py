"""The Stripe adapter tests' world: the gateway with GATEWAY_PROVIDER=stripe over real
HTTP, localstripe behind the recording proxy, and a Stripe client that reads back what
the adapter made."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy import select

from models.kernel.clock import FixedClock
from models.payments.collection import run_provider_tasks
from models.platform.deps import Deps
from models.tables import ProviderEventRow, ProviderTaskRow
from tests.builders.api import Api
from tests.builders.stripe_harness import LocalStripe, RecordingProxy

WEBHOOK_SECRET = "whsec_localstripe_tests_0123456789abcdef"

ADDRESS = {
    "line1": "1-2-3 Marunouchi",
    "line2": "Floor 9",
    "city": "Chiyoda-ku",
    "state": "Tokyo",
    "postalCode": "100-0005",
    "country": "JP",
}


@asynccontextmanager
async def running_proxy(proxy: RecordingProxy) -> AsyncIterator[RecordingProxy]:
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@dataclass
class StripeWorld:
    api: Api
    deps: Deps
    clock: FixedClock
    localstripe: LocalStripe
    proxy: RecordingProxy
    stripe: stripe.StripeClient  # straight to localstripe: reads back what the adapter made
    gateway_url: str

    async def run_tasks(self) -> int:
        """Run provider tasks until none is due (the worker's loop, by hand)."""
        total = 0
        while attempted := await run_provider_tasks(self.deps):
            total += attempted
        return total

    async def tasks(self) -> list[ProviderTaskRow]:
        async with self.deps.store.read() as session:
            return list((await session.scalars(select(ProviderTaskRow).order_by(ProviderTaskRow.id))).all())

    async def provider_events(self) -> dict[str, ProviderEventRow]:
        """What reached the webhook path, by event id (``evt_...``: Stripe's webhooks;
        ``collect-...``: the collection's own answer)."""
        async with self.deps.store.read() as session:
            return {row.id: row for row in (await session.scalars(select(ProviderEventRow))).all()}

    async def wait_for_webhook(
        self, event_type: str, invoice_id: str, timeout: float = 15
    ) -> ProviderEventRow:
        """Stripe's own event of this type about this invoice, once the gateway has it
        (by its outcome: localstripe is shared, so an earlier test's late webhooks may
        land here too, about invoices this gateway does not have)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [
                r
                for r in (await self.provider_events()).values()
                if r.id.startswith("evt_") and r.type == event_type and invoice_id in r.outcome
            ]
            if found:
                return found[0]
            assert asyncio.get_running_loop().time() < deadline, (
                f"no {event_type} webhook after {timeout} s; localstripe log:\n"
                f"{self.localstripe.log.read_text()[-3000:]}"
            )
            await asyncio.sleep(0.1)

    async def pending_items(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's invoice items on no invoice yet."""
        found = await self.stripe.v1.invoice_items.list_async({"customer": customer_id, "limit": 100})
        return [item for item in (i.to_dict() for i in found.data) if item.get("invoice") is None]

    async def tenant(
        self, name: str, sales_mode: str = "SELF_SERVE", currency: str = "USD", **billing: Any
    ) -> str:
        info = {"companyName": f"{name} K.K.", "address": ADDRESS, **billing}
        data = await self.api(
            """mutation($input: CreateTenantInput!) { createTenant(input: $input) {
                 __typename ... on Tenant { id } ... on Error { code message } } }""",
            {
                "input": {
                    "name": name,
                    "email": f"billing@{name.lower()}.example",
                    "currency": currency,
                    "salesMode": sales_mode,
                    "billingInfo": info,
                }
            },
        )
        assert data["createTenant"]["__typename"] == "Tenant", data
        return data["createTenant"]["id"]

    async def customer_id(self, tenant_id: str) -> str | None:
        data = await self.api("query($id: ID!) { tenant(id: $id) { providerCustomerId } }", {"id": tenant_id})
        return data["tenant"]["providerCustomerId"]

    async def card_holder(self, name: str, currency: str = "USD") -> tuple[str, str]:
        """(tenant id, customer id): a tenant whose customer exists and has a card."""
        tenant = await self.tenant(name, currency=currency)
        await self.run_tasks()
        customer_id = await self.customer_id(tenant)
        await self.attach_card(customer_id)
        return tenant, customer_id

    async def attach_card(self, customer_id: str, number: str = "4242424242424242") -> str:
        """What Checkout does with the card typed on its page (localstripe has no
        Checkout): a PaymentMethod attached to the customer and made its default."""
        card = {"number": number, "exp_month": 12, "exp_year": datetime.now(UTC).year + 3, "cvc": "123"}
        method = await self.stripe.v1.payment_methods.create_async({"type": "card", "card": card})
        await self.stripe.v1.payment_methods.attach_async(method.id, {"customer": customer_id})
        await self.stripe.v1.customers.update_async(
            customer_id, {"invoice_settings": {"default_payment_method": method.id}}
        )
        return method.id

    async def stripe_invoices(self, customer_id: str) -> list[dict[str, Any]]:
        found = await self.stripe.v1.invoices.list_async({"customer": customer_id, "limit": 100})
        return [invoice.to_dict() for invoice in found.data]

    async def invoice(self, invoice_id: str) -> dict[str, Any]:
        data = await self.api(
            """query($id: ID!) { invoice(id: $id) { id number status providerInvoiceId hostedInvoiceUrl
                 total { amount } amountDue { amount } } }""",
            {"id": invoice_id},
        )
        return data["invoice"]

    async def wait_for_status(self, invoice_id: str, status: str, timeout: float = 15) -> dict[str, Any]:
        """localstripe sends its webhooks a second after the event, from its own loop."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (invoice := await self.invoice(invoice_id))["status"] != status:
            assert asyncio.get_running_loop().time() < deadline, (
                f"invoice still {invoice['status']} after {timeout} s, not {status}; localstripe log:\n"
                f"{self.localstripe.log.read_text()[-3000:]}"
            )
            await asyncio.sleep(0.1)
        return invoice
