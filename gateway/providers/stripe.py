"""The Stripe adapter: ``models.platform.provider.PaymentProvider`` on the official SDK.

One ``StripeClient`` per process with its own HTTP client and only its async methods
(no global ``stripe.api_key``), no SDK retries (the outbox retries, with backoff and
the same keys), and an idempotency key derived from gateway ids on every POST.

Keys are not the only guard against a lost answer: before creating anything the
adapter looks for what an earlier attempt made (customers by email and the
``tenant_id`` in their metadata; the invoice by the id the gateway recorded, else by
``gateway_invoice_id`` in its metadata; items by the draft's own lines), so a retry
after Stripe's 24 h key window, or against a Stripe-compatible server that ignores
keys, still makes nothing twice.

Only what the gateway computed is charged: the invoice starts as an empty draft (the
customer's other pending items are never swept in), the items are created on it by
id, and it is paid only when Stripe's total and amount due equal the gateway's amount
due. Amounts are converted to Stripe's scale on the way out (``to_stripe_amount``).
An invoice with payment terms (``SEND_INVOICE``) is made with
``collection_method=send_invoice`` and ``days_until_due``, finalized and sent by Stripe,
and never paid through the API.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe

from gateway.providers import stripe_calls, stripe_corrections
from gateway.providers.stripe_amounts import (
    shown,
    stripe_amounts,
)
from models.kernel.money import Money
from models.platform.provider import (
    Customer,
    InvoiceToCollect,
    PaymentOutcome,
    ProviderError,
    ProviderInvoice,
    RefundToMake,
)

log = logging.getLogger("gateway.providers.stripe")

# Most objects a customer can have that one list call sees; the gateway's own make
# a handful per customer, so more than this is someone else's doing.
PAGE = 100
# Stripe answers "no card" with a 400 whose message says so (no dedicated code).
# Metadata on the Checkout sessions the gateway opens: whose card page it is.
TENANT_METADATA = "gateway_tenant_id"
# Metadata set on an invoice the adapter voids because it did not match the gateway's.
DISCARDED = "gateway_discarded"
# Metadata set on a SEND_INVOICE invoice once Stripe has sent it: it is not sent twice.
SENT = "gateway_sent"
_NO_PAYMENT_METHOD = ("no attached payment source", "no payment method", "no default payment method")


class StripeProvider:
    name = "stripe"
    mirrors = True

    def __init__(self, api_key: str, api_base: str | None = None, *, timeout: float = 30.0) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=0,
        )

    async def aclose(self) -> None:
        await self._http.close_async()

    # Customers

    async def upsert_customer(
        self, customer: Customer, customer_id: str | None, *, idempotency_key: str
    ) -> str:
        customers = self._client.v1.customers
        if customer_id is None:
            customer_id = await self._find_customer(customer)
            if customer_id is None:
                created = await stripe_calls.call(
                    "create the customer",
                    customers.create_async(
                        stripe_calls.customer_params(customer, creating=True),
                        {"idempotency_key": idempotency_key},
                    ),
                )
                log.info("created Stripe customer %s for tenant %s", created["id"], customer.tenant_id)
                return created["id"]
            # Made by an attempt whose answer was lost: bring it up to date, under a
            # key of its own (Stripe refuses a key reused for another request).
            idempotency_key = f"{idempotency_key}-found"
        await stripe_calls.call(
            "update the customer",
            customers.update_async(
                customer_id,
                stripe_calls.customer_params(customer, creating=False),
                {"idempotency_key": idempotency_key},
            ),
        )
        return customer_id

    async def _find_customer(self, customer: Customer) -> str | None:
        """The customer an earlier attempt created, if its answer was lost."""
        found = await stripe_calls.call(
            "list customers", self._client.v1.customers.list_async({"email": customer.email, "limit": PAGE})
        )
        for candidate in found["data"]:
            if (candidate.get("metadata") or {}).get("tenant_id") == customer.tenant_id:
                return candidate["id"]
        return None

    # Invoices

    async def find_or_create_invoice(
        self, invoice: InvoiceToCollect, provider_invoice_id: str | None, *, idempotency_key: str
    ) -> ProviderInvoice:
        """An empty draft (``{key}-create``): ``pending_invoice_items_behavior=exclude``,
        so pending items someone else left on the customer are neither charged nor in
        the way. The items go on it by id (``add_missing_items``)."""
        stripe_amounts(invoice)  # what Stripe cannot represent is refused before anything is made
        if provider_invoice_id is not None:
            return stripe_calls.provider_invoice(await self._recorded_invoice(invoice, provider_invoice_id))
        found = await self._find_invoice(invoice)
        if found is not None:
            return stripe_calls.provider_invoice(found)
        created = await stripe_calls.call(
            "create the invoice",
            self._client.v1.invoices.create_async(
                {
                    "customer": invoice.customer_id,
                    "currency": invoice.currency.lower(),
                    "description": invoice.number,
                    "metadata": {
                        "gateway_invoice_id": invoice.invoice_id,
                        "gateway_invoice_number": invoice.number,
                        "tenant_id": invoice.tenant_id,
                    },
                    "pending_invoice_items_behavior": "exclude",
                    **stripe_calls.collection_params(invoice),
                },
                {"idempotency_key": f"{idempotency_key}-create"},
            ),
        )
        log.info("created Stripe draft invoice %s for gateway invoice %s", created["id"], invoice.invoice_id)
        return stripe_calls.provider_invoice(created)

    async def _recorded_invoice(self, invoice: InvoiceToCollect, provider_invoice_id: str) -> dict[str, Any]:
        """The invoice an earlier attempt recorded; it must still exist and be ours."""
        try:
            found = (await self._client.v1.invoices.retrieve_async(provider_invoice_id)).to_dict()
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise stripe_calls.provider_error("retrieve the invoice", exc) from None
            found = None
        except stripe.StripeError as exc:
            raise stripe_calls.provider_error("retrieve the invoice", exc) from None
        if found is None or (found.get("metadata") or {}).get("gateway_invoice_id") != invoice.invoice_id:
            raise ProviderError(
                f"Stripe invoice {provider_invoice_id}, recorded for gateway invoice {invoice.invoice_id}, "
                f"{'no longer exists' if found is None else 'belongs to another gateway invoice'} "
                "(deleted or edited in the Stripe dashboard?); not collected. Collect this invoice another "
                "way.",
                retryable=False,
            )
        return found

    async def _find_invoice(self, invoice: InvoiceToCollect) -> dict[str, Any] | None:
        """The invoice an earlier attempt created whose answer was lost, by the
        ``gateway_invoice_id`` in its metadata, through every page of the customer's."""
        params: dict[str, Any] = {"customer": invoice.customer_id, "limit": PAGE}
        matches: list[dict[str, Any]] = []
        while True:
            page = await stripe_calls.call("list invoices", self._client.v1.invoices.list_async(params))
            matches += [
                c
                for c in page["data"]
                if (c.get("metadata") or {}).get("gateway_invoice_id") == invoice.invoice_id
            ]
            if not page.get("has_more") or not page["data"]:
                break
            params = {**params, "starting_after": page["data"][-1]["id"]}
        live = [c for c in matches if c.get("status") != "void"]
        return (live or matches or [None])[0]

    async def add_missing_items(
        self, invoice: InvoiceToCollect, provider_invoice_id: str, *, idempotency_key: str
    ) -> None:
        """What is missing is read from the draft's own lines (their metadata names the
        gateway item), never from the customer's pending items: only what this draft
        holds is ever charged. Each item is created ON the draft (``invoice``)."""
        amounts = stripe_amounts(invoice)
        made = set()
        for line in await self._lines(provider_invoice_id):
            metadata = line.get("metadata") or {}
            if metadata.get("gateway_invoice_id") == invoice.invoice_id:
                made.add(metadata.get("gateway_item"))
        for item in invoice.items:
            if item.key in made:
                continue
            await stripe_calls.call(
                "create an invoice item",
                self._client.v1.invoice_items.create_async(
                    {
                        "customer": invoice.customer_id,
                        "invoice": provider_invoice_id,
                        "amount": amounts[item.key],
                        "currency": invoice.currency.lower(),
                        "description": item.description,
                        "metadata": {"gateway_invoice_id": invoice.invoice_id, "gateway_item": item.key},
                    },
                    {"idempotency_key": f"{idempotency_key}-item-{item.key}"},
                ),
            )

    async def _lines(self, provider_invoice_id: str) -> list[dict[str, Any]]:
        lines, params = [], {"limit": PAGE}
        while True:
            page = await stripe_calls.call(
                "list the invoice's lines",
                self._client.v1.invoices.line_items.list_async(provider_invoice_id, params),
            )
            lines += page["data"]
            if not page.get("has_more") or not page["data"]:
                return lines
            params = {"limit": PAGE, "starting_after": page["data"][-1]["id"]}

    async def pay_invoice(
        self, invoice: InvoiceToCollect, provider_invoice_id: str, *, idempotency_key: str
    ) -> PaymentOutcome:
        """Check what Stripe would charge (its total and amount due include what Stripe
        adds itself: default tax rates, the customer's balance, lines added by hand),
        then charge the customer's default card (Stripe finalizes a draft first). A
        decline, a card that needs 3-D Secure, or no card at all is an outcome, not an
        error: the gateway records the failure from it and charges again on its dunning
        schedule (a new key each time); the customer may also pay on the hosted invoice page,
        and webhooks tell us."""
        current = await stripe_calls.call(
            "retrieve the invoice", self._client.v1.invoices.retrieve_async(provider_invoice_id)
        )
        await self._require_exact(invoice, current)
        status = current.get("status")
        if status == "paid":
            return PaymentOutcome(stripe_calls.provider_invoice(current))
        if status not in ("draft", "open"):
            raise ProviderError(
                f"Stripe invoice {provider_invoice_id} for gateway invoice {invoice.invoice_id} is {status}; "
                "not charged. Collect this invoice another way.",
                retryable=False,
            )
        try:
            paid = (
                await self._client.v1.invoices.pay_async(
                    provider_invoice_id, {}, {"idempotency_key": idempotency_key}
                )
            ).to_dict()
        except stripe.CardError as exc:
            return await self._as_it_stands(provider_invoice_id, stripe_calls.message(exc))
        except stripe.InvalidRequestError as exc:
            message = stripe_calls.message(exc)
            if exc.code == "invoice_already_paid" or "already paid" in message.lower():
                return await self._as_it_stands(provider_invoice_id, None)
            if exc.code == "invoice_payment_intent_requires_action":
                return await self._as_it_stands(provider_invoice_id, message)
            if any(phrase in message.lower() for phrase in _NO_PAYMENT_METHOD):
                return await self._as_it_stands(provider_invoice_id, "no payment method")
            raise stripe_calls.provider_error("pay the invoice", exc) from None
        except stripe.StripeError as exc:
            raise stripe_calls.provider_error("pay the invoice", exc) from None
        paid_now = paid.get("status") == "paid"
        return PaymentOutcome(
            stripe_calls.provider_invoice(paid), declined=None if paid_now else "the payment did not complete"
        )

    async def send_invoice(
        self, invoice: InvoiceToCollect, provider_invoice_id: str, *, idempotency_key: str
    ) -> ProviderInvoice:
        """Check what Stripe would ask for (as ``pay_invoice`` does), finalize the draft
        (``auto_advance`` off: the gateway, not Stripe, decides what happens next), then
        ``POST /v1/invoices/{id}/send``: Stripe emails it with its hosted page, due
        ``days_until_due`` days after it was made (``collection_method=send_invoice``).
        Never ``pay``: that would charge the customer's card. Once sent, the invoice is
        marked (metadata ``gateway_sent``) so a later task (a card saved, a retry) does not
        email it again."""
        current = await stripe_calls.call(
            "retrieve the invoice", self._client.v1.invoices.retrieve_async(provider_invoice_id)
        )
        await self._require_exact(invoice, current)
        status = current.get("status")
        if status == "paid" or (status == "open" and (current.get("metadata") or {}).get(SENT)):
            return stripe_calls.provider_invoice(current)
        if status not in ("draft", "open"):
            raise ProviderError(
                f"Stripe invoice {provider_invoice_id} for gateway invoice {invoice.invoice_id} is {status}; "
                "not sent. Collect this invoice another way.",
                retryable=False,
            )
        invoices = self._client.v1.invoices
        if status == "draft":
            await stripe_calls.call(
                "finalize the invoice",
                invoices.finalize_invoice_async(
                    provider_invoice_id,
                    {"auto_advance": False},
                    {"idempotency_key": f"{idempotency_key}-finalize"},
                ),
            )
        await stripe_calls.call(
            "send the invoice",
            invoices.send_invoice_async(
                provider_invoice_id, {}, {"idempotency_key": f"{idempotency_key}-send"}
            ),
        )
        sent = await stripe_calls.call(
            "mark the invoice sent",
            invoices.update_async(
                provider_invoice_id,
                {"metadata": {SENT: "true"}},
                {"idempotency_key": f"{idempotency_key}-sent"},
            ),
        )
        log.info(
            "sent Stripe invoice %s for gateway invoice %s (due in %s days): not charged",
            provider_invoice_id,
            invoice.invoice_id,
            invoice.days_until_due,
        )
        return stripe_calls.provider_invoice(sent)

    async def mark_paid_out_of_band(
        self, invoice: InvoiceToCollect, provider_invoice_id: str | None, *, idempotency_key: str
    ) -> ProviderInvoice | None:
        """Paid by hand: ``POST /v1/invoices/{id}/pay`` with ``paid_out_of_band=true`` (no
        charge; Stripe sends ``invoice.paid`` and stops reminding). The invoice recorded,
        else the one a lost answer made (by its metadata); nothing to one paid or void.
        See ``stripe_calls.mark_paid_out_of_band``."""
        if provider_invoice_id is not None:
            current = await stripe_calls.retrieve_ours(self._client, invoice, provider_invoice_id)
        else:
            current = await self._find_invoice(invoice)
        if current is None:
            return None
        return await stripe_calls.mark_paid_out_of_band(self._client, invoice, current, idempotency_key)

    # Corrections (credit notes refunded, invoices voided): see ``stripe_corrections``.

    async def refund_payment(self, refund: RefundToMake, *, idempotency_key: str) -> str:
        return await stripe_corrections.refund_payment(self._client, refund, idempotency_key)

    async def void_invoice(
        self, invoice_id: str, provider_invoice_id: str, *, idempotency_key: str
    ) -> ProviderInvoice | None:
        return await stripe_corrections.void_invoice(
            self._client, invoice_id, provider_invoice_id, idempotency_key
        )

    async def _as_it_stands(self, provider_invoice_id: str, reason: str | None) -> PaymentOutcome:
        """The invoice as it stands after a pay request that was not a plain success."""
        invoice = await stripe_calls.call(
            "retrieve the invoice", self._client.v1.invoices.retrieve_async(provider_invoice_id)
        )
        if reason is not None:
            log.info("Stripe invoice %s not paid: %s", provider_invoice_id, reason)
        return PaymentOutcome(stripe_calls.provider_invoice(invoice), declined=reason)

    async def _require_exact(self, invoice: InvoiceToCollect, current: dict[str, Any]) -> None:
        """Refuse, for good, an invoice that would charge anything but the gateway's
        amount due; discard it (delete a draft, void a final one) so nothing charges it."""
        due = stripe_amounts(invoice)[None]
        currency = str(current.get("currency") or "").upper()
        total, amount_due, customer = current.get("total"), current.get("amount_due"), current.get("customer")
        if (currency, total, amount_due, customer) == (
            invoice.currency.upper(),
            due,
            due,
            invoice.customer_id,
        ):
            return
        provider_id, status = current["id"], current.get("status")
        what = (
            f"Stripe invoice {provider_id} comes to {shown(total, currency)} (amount due "
            f"{shown(amount_due, currency)}), but gateway invoice {invoice.number} ({invoice.invoice_id}) "
            f"is due {Money(invoice.amount_due, invoice.currency.upper()).formatted}"
        )
        if customer != invoice.customer_id:
            what += f"; it is customer {customer}'s, not {invoice.customer_id}'s"
        try:
            if status == "draft":
                await self._client.v1.invoices.delete_async(provider_id)
                done = "the Stripe draft was deleted and nothing was charged"
            elif status == "open":
                # Marked first: its invoice.voided webhook must not void the gateway's invoice, still owed.
                await self._client.v1.invoices.update_async(
                    provider_id,
                    {"metadata": {DISCARDED: invoice.invoice_id}},
                    {"idempotency_key": f"{invoice.invoice_id}-discard"},
                )
                await self._client.v1.invoices.void_invoice_async(
                    provider_id, {}, {"idempotency_key": f"{invoice.invoice_id}-void"}
                )
                done = "the Stripe invoice was voided and nothing was charged"
            elif status == "paid":
                done = "Stripe has charged it already: refund the difference in the Stripe dashboard"
            else:
                done = f"it is {status} in Stripe and was not charged"
        except stripe.StripeError as exc:
            done = (
                f"it was NOT charged, but discarding it failed ({stripe_calls.message(exc)}): "
                "delete or void it in Stripe"
            )
        log.error("%s; %s", what, done)
        raise ProviderError(
            f"{what}; {done}. Look for what was added in Stripe (invoice items, the customer's balance, "
            "default "
            "tax rates); the gateway will not collect this invoice again.",
            retryable=False,
        )

    # Cards

    async def create_setup_session(
        self, customer_id: str, currency: str, return_url: str, *, tenant_id: str, idempotency_key: str
    ) -> str:
        """A Checkout Session in setup mode: the card is typed on Stripe's page."""
        session = await stripe_calls.call(
            "create a Checkout session",
            self._client.v1.checkout.sessions.create_async(
                {
                    "mode": "setup",
                    "customer": customer_id,
                    "currency": currency.lower(),
                    "payment_method_types": ["card"],
                    "success_url": return_url,
                    "cancel_url": return_url,
                    "metadata": {TENANT_METADATA: tenant_id},
                },
                {"idempotency_key": idempotency_key},
            ),
        )
        if not session.get("url"):
            raise ProviderError(
                f"Stripe returned Checkout session {session['id']} without a URL", retryable=False
            )
        return session["url"]

    async def use_card_from_setup_session(self, session_id: str, *, idempotency_key: str) -> str | None:
        """After a setup-mode Checkout completes (``checkout.session.completed``):
        make its card the customer's default for invoices. Checkout only attaches the
        card; without this step ``pay_invoice`` finds no payment method. Returns the
        payment method id, or None when the session saved no card."""
        session = await stripe_calls.call(
            "retrieve the Checkout session",
            self._client.v1.checkout.sessions.retrieve_async(session_id, {"expand": ["setup_intent"]}),
        )
        setup_intent = session.get("setup_intent")
        if isinstance(setup_intent, str):
            setup_intent = await stripe_calls.call(
                "retrieve the SetupIntent", self._client.v1.setup_intents.retrieve_async(setup_intent)
            )
        payment_method = setup_intent.get("payment_method") if setup_intent else None
        if isinstance(payment_method, dict):
            payment_method = payment_method.get("id")
        customer = session.get("customer")
        if not payment_method or not customer:
            return None
        await stripe_calls.call(
            "set the default card",
            self._client.v1.customers.update_async(
                customer,
                {"invoice_settings": {"default_payment_method": payment_method}},
                {"idempotency_key": idempotency_key},
            ),
        )
        return payment_method
