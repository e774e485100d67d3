"""Corrections of an invoice at Stripe: a credit note refunded (a refund of the payment
that paid the invoice) and an invoice voided in the gateway.

A refund is made once per credit note: it carries ``gateway_credit_note_id`` in its
metadata, and the payment's refunds are looked through before one is created, so a
retry after a lost answer, after Stripe's 24 h key window, or against a server that
ignores idempotency keys (localstripe) finds the first instead of refunding twice.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import stripe

from gateway.providers.stripe_amounts import to_stripe_amount
from gateway.providers.stripe_calls import call, provider_error, provider_invoice
from models.platform.provider import ProviderError, ProviderInvoice, RefundToMake

log = logging.getLogger("gateway.providers.stripe")

CREDIT_NOTE_METADATA = "gateway_credit_note_id"
PAGE = 100


async def _payment_intent(client: stripe.StripeClient, invoice: dict[str, Any]) -> str | None:
    """The PaymentIntent that paid the invoice: ``payment_intent`` on the invoice (API
    versions before 2025-03-31, and localstripe), else its paid ``InvoicePayment``."""
    found = invoice.get("payment_intent")
    if isinstance(found, dict):
        found = found.get("id")
    if found:
        return str(found)
    payments = await call(
        "list the invoice's payments",
        client.v1.invoice_payments.list_async({"invoice": invoice["id"], "status": "paid", "limit": PAGE}),
    )
    for payment in payments.get("data", []):
        intent = (payment.get("payment") or {}).get("payment_intent")
        if intent:
            return str(intent.get("id") if isinstance(intent, dict) else intent)
    return None


async def _existing_refund(client: stripe.StripeClient, intent: str, credit_note_id: str) -> str | None:
    params: dict[str, Any] = {"payment_intent": intent, "limit": PAGE}
    while True:
        page = await call("list the payment's refunds", client.v1.refunds.list_async(params))
        for refund in page.get("data", []):
            if (refund.get("metadata") or {}).get(CREDIT_NOTE_METADATA) == credit_note_id:
                return str(refund["id"])
        if not page.get("has_more") or not page.get("data"):
            return None
        params = {**params, "starting_after": page["data"][-1]["id"]}


async def refund_payment(client: stripe.StripeClient, refund: RefundToMake, idempotency_key: str) -> str:
    """``POST /v1/refunds`` for ``refund.amount`` of the PaymentIntent that paid the
    invoice, unless one for this credit note exists already; the refund's id."""
    invoice = await call(
        "retrieve the invoice", client.v1.invoices.retrieve_async(refund.provider_invoice_id)
    )
    if invoice.get("status") != "paid":
        raise ProviderError(
            f"Stripe invoice {refund.provider_invoice_id} is {invoice.get('status')}, not paid: credit note "
            f"{refund.credit_note_id} cannot be refunded from it. Refund the customer another way.",
            retryable=False,
        )
    intent = await _payment_intent(client, invoice)
    if intent is None:
        raise ProviderError(
            f"Stripe invoice {refund.provider_invoice_id} was not paid through Stripe (paid out of band?): "
            f"there is no payment to refund credit note {refund.credit_note_id} from.",
            retryable=False,
        )
    found = await _existing_refund(client, intent, refund.credit_note_id)
    if found is not None:
        log.info("credit note %s was refunded already: Stripe refund %s", refund.credit_note_id, found)
        return found
    try:
        amount = to_stripe_amount(refund.amount, refund.currency)
    except ValueError as exc:
        raise ProviderError(f"credit note {refund.credit_note_id}: {exc}", retryable=False) from None
    made = await call(
        "refund the payment",
        client.v1.refunds.create_async(
            {
                "payment_intent": intent,
                "amount": amount,
                "metadata": {
                    CREDIT_NOTE_METADATA: refund.credit_note_id,
                    "gateway_invoice_id": refund.invoice_id,
                    "tenant_id": refund.tenant_id,
                },
            },
            {"idempotency_key": idempotency_key},
        ),
    )
    log.info("refunded credit note %s: Stripe refund %s of %s", refund.credit_note_id, made["id"], intent)
    return str(made["id"])


async def void_invoice(
    client: stripe.StripeClient, invoice_id: str, provider_invoice_id: str, idempotency_key: str
) -> ProviderInvoice | None:
    """``POST /v1/invoices/{id}/void`` (a draft is deleted instead: Stripe voids only
    finalized invoices). One already void, or paid meanwhile, is reported as it is."""
    invoices = client.v1.invoices
    try:
        current = (await invoices.retrieve_async(provider_invoice_id)).to_dict()
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise provider_error("retrieve the invoice", exc) from None
    except stripe.StripeError as exc:
        raise provider_error("retrieve the invoice", exc) from None
    if (current.get("metadata") or {}).get("gateway_invoice_id") != invoice_id:
        raise ProviderError(
            f"Stripe invoice {provider_invoice_id}, recorded for gateway invoice {invoice_id}, belongs to "
            "another gateway invoice (edited in the Stripe dashboard?); not voided. Void it in Stripe.",
            retryable=False,
        )
    status = current.get("status")
    if status in ("void", "paid"):
        (log.warning if status == "paid" else log.info)(
            "Stripe invoice %s for voided gateway invoice %s is %s already",
            provider_invoice_id,
            invoice_id,
            status,
        )
        return provider_invoice(current)
    if status == "draft":
        await call("delete the draft invoice", invoices.delete_async(provider_invoice_id))
        return replace(provider_invoice(current), status="deleted")
    voided = await call(
        "void the invoice",
        invoices.void_invoice_async(provider_invoice_id, {}, {"idempotency_key": idempotency_key}),
    )
    log.info("voided Stripe invoice %s: gateway invoice %s was voided", provider_invoice_id, invoice_id)
    return provider_invoice(voided)
