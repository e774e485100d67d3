"""What the Stripe adapter (``gateway.providers.stripe``) sends and how it reads the
answers: the parameters of a customer and of an invoice's collection, an invoice as the
gateway sees it, and Stripe's errors as the gateway's (retryable or not, a refused key);
and marking an invoice paid out of band (``mark_paid_out_of_band``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

import stripe

from gateway.providers.stripe_amounts import gateway_amount, stripe_amounts
from models.kernel.enums import CollectionMethod
from models.platform.provider import (
    Customer,
    InvoiceToCollect,
    ProviderError,
    ProviderInvoice,
    ProviderKeyRefused,
)

log = logging.getLogger("gateway.providers.stripe")


def customer_params(customer: Customer, *, creating: bool) -> dict[str, Any]:
    """Name on invoices: the company name when there is one, else the tenant's name.
    An update sends every address field ("" clears one), so a removed line goes."""
    params: dict[str, Any] = {
        "name": customer.company_name or customer.name,
        "email": customer.email,
        "description": customer.name,
        "metadata": {"tenant_id": customer.tenant_id},
    }
    address = customer.address
    if address is not None:
        fields = {
            "line1": address.line1,
            "line2": address.line2,
            "city": address.city,
            "state": address.state,
            "postal_code": address.postal_code,
            "country": address.country,
        }
        params["address"] = (
            {k: v for k, v in fields.items() if v} if creating else {k: v or "" for k, v in fields.items()}
        )
    elif not creating:
        params["address"] = ""
    return params


def collection_params(invoice: InvoiceToCollect) -> dict[str, Any]:
    """How Stripe collects it: charged automatically (Stripe's default, nothing to say),
    or sent with payment terms. ``days_until_due`` rather than ``due_date``: the gateway's
    due date may be on a test clock, and Stripe refuses a due date in the past."""
    if invoice.collection_method is not CollectionMethod.SEND_INVOICE:
        return {}
    return {"collection_method": "send_invoice", "days_until_due": invoice.days_until_due or 0}


def provider_invoice(invoice: dict[str, Any]) -> ProviderInvoice:
    currency = invoice.get("currency")
    return ProviderInvoice(
        provider_invoice_id=invoice["id"],
        status=invoice.get("status") or "draft",
        hosted_invoice_url=invoice.get("hosted_invoice_url"),
        currency=currency,
        customer_id=invoice.get("customer") if isinstance(invoice.get("customer"), str) else None,
        total=gateway_amount(invoice.get("total"), currency),
        amount_due=gateway_amount(invoice.get("amount_due"), currency),
        amount_paid=gateway_amount(invoice.get("amount_paid"), currency),
    )


async def call(doing: str, request: Awaitable[Any]) -> dict[str, Any]:
    """The answer as plain data (the SDK's objects are not dicts), or a ProviderError."""
    try:
        return (await request).to_dict()
    except stripe.StripeError as exc:
        raise provider_error(doing, exc) from None


def message(exc: stripe.StripeError) -> str:
    return " ".join((exc.user_message or type(exc).__name__).split())


def provider_error(doing: str, exc: stripe.StripeError) -> ProviderError:
    """Network failures, timeouts, 5xx, 409 (a request with this key in flight) and
    429 are retried. 401/403 are Stripe refusing the gateway's own key (wrong, revoked,
    or a restricted key without the permission): not retried, since every call would
    fail the same way until an operator sets another key (`serve` queues these calls
    again when it starts with it). Any other 4xx is Stripe refusing the request itself:
    repeating it cannot help."""
    status = exc.http_status
    if status in (401, 403):
        refused = key_refused(doing, status, exc.request_id)
        log.warning("%s", refused)
        return refused
    retryable = status is None or status >= 500 or status in (409, 429)
    said = f"Stripe could not {doing}: {message(exc)}"
    if status is not None:
        said += f" (HTTP {status}{f', {exc.code}' if exc.code else ''}"
        said += f", request {exc.request_id})" if exc.request_id else ")"
    log.info("%s%s", said, " (retryable)" if retryable else "")
    return ProviderError(said, retryable=retryable)


def key_refused(doing: str, status: int, request_id: str | None) -> ProviderKeyRefused:
    """In the gateway's words only: Stripe's own message quotes part of the key."""
    why = (
        "the key is wrong or was revoked"
        if status == 401
        else "the key lacks the permission (a restricted key: grant it, or use a secret key)"
    )
    request = f", request {request_id}" if request_id else ""
    return ProviderKeyRefused(
        f"Stripe refused GATEWAY_STRIPE_API_KEY (HTTP {status}{request}) when asked to {doing}: {why}. "
        "Set a valid key (Stripe dashboard, Developers > API keys) and restart the gateway; "
        "what was owed is then sent again"
    )


async def retrieve_ours(
    client: stripe.StripeClient, invoice: InvoiceToCollect, provider_invoice_id: str
) -> dict[str, Any] | None:
    """The Stripe invoice recorded for ``invoice``; None once it is gone (a draft deleted);
    refused (not retryable) when it belongs to another gateway invoice."""
    try:
        found = (await client.v1.invoices.retrieve_async(provider_invoice_id)).to_dict()
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise provider_error("retrieve the invoice", exc) from None
    except stripe.StripeError as exc:
        raise provider_error("retrieve the invoice", exc) from None
    if (found.get("metadata") or {}).get("gateway_invoice_id") != invoice.invoice_id:
        raise ProviderError(
            f"Stripe invoice {provider_invoice_id}, recorded for gateway invoice {invoice.invoice_id}, "
            "belongs to another gateway invoice (edited in the Stripe dashboard?); not marked paid. "
            "Mark the right one paid in Stripe.",
            retryable=False,
        )
    return found


async def mark_paid_out_of_band(
    client: stripe.StripeClient, invoice: InvoiceToCollect, current: dict[str, Any], idempotency_key: str
) -> ProviderInvoice:
    """Mark ``current`` (Stripe's invoice for ``invoice``, as just read) paid outside
    Stripe: ``POST /v1/invoices/{id}/pay`` with ``paid_out_of_band=true``, which charges
    nothing, leaves it ``paid``, and sends ``invoice.paid``. Stripe pays only an ``open``
    (or ``uncollectible``) invoice, so a draft, never sent nor charged, is first finalized
    with ``auto_advance`` off (nothing is collected) when it comes to exactly the gateway's
    amount due, so Stripe keeps a record of it; else it was never completed and is deleted
    (reported as status "deleted"). One already paid (on the hosted page) or void is
    reported as it is: nothing is done to it."""
    provider_id, status = current["id"], current.get("status")
    invoices = client.v1.invoices
    if status == "paid" and not current.get("paid_out_of_band"):
        log.warning(
            "Stripe invoice %s was paid in Stripe (a charge, its hosted page) and gateway invoice %s by "
            "hand too: the customer paid twice; refund one of them",
            provider_id,
            invoice.invoice_id,
        )
    if status in ("paid", "void"):
        log.info(
            "Stripe invoice %s for gateway invoice %s is %s already", provider_id, invoice.invoice_id, status
        )
        return provider_invoice(current)
    if status == "draft":
        due = stripe_amounts(invoice)[None]
        exact = (str(current.get("currency") or "").upper(), current.get("total"), current.get("amount_due"))
        if exact != (invoice.currency.upper(), due, due) or current.get("customer") != invoice.customer_id:
            await call("delete the draft invoice", invoices.delete_async(provider_id))
            log.info(
                "deleted incomplete Stripe draft %s: gateway invoice %s was paid by hand",
                provider_id,
                invoice.invoice_id,
            )
            return replace(provider_invoice(current), status="deleted")
        await call(
            "finalize the invoice",
            invoices.finalize_invoice_async(
                provider_id, {"auto_advance": False}, {"idempotency_key": f"{idempotency_key}-finalize"}
            ),
        )
    try:
        paid = (
            await invoices.pay_async(
                provider_id, {"paid_out_of_band": True}, {"idempotency_key": idempotency_key}
            )
        ).to_dict()
    except stripe.InvalidRequestError as exc:
        # Paid (the hosted page) or voided (the dashboard) since it was read: as it now stands.
        now = await call("retrieve the invoice", invoices.retrieve_async(provider_id))
        if now.get("status") in ("paid", "void"):
            return provider_invoice(now)
        raise provider_error("mark the invoice paid out of band", exc) from None
    except stripe.StripeError as exc:
        raise provider_error("mark the invoice paid out of band", exc) from None
    log.info(
        "marked Stripe invoice %s paid out of band: gateway invoice %s was paid by hand",
        provider_id,
        invoice.invoice_id,
    )
    return provider_invoice(paid)
