"""POST /webhooks/stripe: Stripe's events, verified on the raw body with the official
SDK, mapped into the provider-neutral ``ProviderEvent`` and processed once by id
(``models.payments.provider_events``).

Answers: 400 for a missing, forged or stale (over 300 s) signature or a body that is
not an event; 503 while GATEWAY_STRIPE_WEBHOOK_SECRET is not set; 200 once the event
is stored (applied, ignored, or seen before); 500 when processing failed, with nothing
applied, so Stripe retries.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.providers.stripe import DISCARDED, TENANT_METADATA
from gateway.providers.stripe_amounts import from_stripe_amount
from gateway.settings import Settings
from models.payments.provider_events import card_page_owner, process_provider_event, seen_provider_event
from models.platform.deps import Deps
from models.platform.provider import (
    ProviderEvent,
    ProviderEventKind,
    ProviderInvoiceLine,
    ProviderInvoiceSnapshot,
)

log = logging.getLogger("gateway.webhooks.stripe")

TOLERANCE_SECONDS = 300
KINDS = {
    "invoice.finalized": ProviderEventKind.INVOICE_FINALIZED,
    "invoice.payment_succeeded": ProviderEventKind.INVOICE_PAID,
    "invoice.paid": ProviderEventKind.INVOICE_PAID,
    "invoice.payment_failed": ProviderEventKind.INVOICE_PAYMENT_FAILED,
    "invoice.payment_action_required": ProviderEventKind.INVOICE_ACTION_REQUIRED,
    "invoice.voided": ProviderEventKind.INVOICE_VOIDED,
    "invoice.marked_uncollectible": ProviderEventKind.INVOICE_UNCOLLECTIBLE,
}
NO_SECRET = "GATEWAY_STRIPE_WEBHOOK_SECRET is not set: this gateway cannot verify Stripe webhooks."


def stripe_webhook_endpoint(settings: Settings, deps: Deps) -> Callable[[Request], Awaitable[Response]]:
    secret = settings.stripe_webhook_secret.get_secret_value() if settings.stripe_webhook_secret else ""
    warned = False

    async def endpoint(request: Request) -> Response:
        nonlocal warned
        if not secret.strip():
            if not warned:
                warned = True
                log.error("refusing Stripe webhooks: %s", NO_SECRET)
            return _error(503, NO_SECRET)
        payload = await request.body()
        header = request.headers.get("stripe-signature")
        if not header:
            return _error(400, "Missing Stripe-Signature header.")
        try:
            raw = stripe.Webhook.construct_event(payload, header, secret, tolerance=TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError:
            return _error(400, "Invalid or expired Stripe-Signature.")
        except Exception:  # not UTF-8, not JSON, not an event object
            return _error(400, "The body is not a Stripe event.")
        try:
            body = raw.to_dict()
            event = provider_event(body)
        except Exception as exc:  # a field missing or of the wrong type
            log.warning("unreadable Stripe event: %s", exc)
            return _error(400, "The body is not a Stripe event.")
        try:
            result = await seen_provider_event(deps, event.id)
            if result is None:
                if event.kind is ProviderEventKind.PAYMENT_METHOD_SAVED:
                    event = await _use_saved_card(deps, event, body)
                result = await process_provider_event(deps, event)
        except Exception:
            log.exception(
                "processing Stripe event %s (%s) failed; Stripe will retry it", event.id, event.type
            )
            return _error(500, "Processing the event failed; it was not applied.")
        log.info(
            "Stripe event %s (%s)%s: %s",
            event.id,
            event.type,
            " seen before" if result.duplicate else "",
            result.outcome,
            extra={"stripe_event": event.id},
        )
        return JSONResponse({"received": True, "duplicate": result.duplicate, "outcome": result.outcome})

    return endpoint


async def _use_saved_card(deps: Deps, event: ProviderEvent, body: Mapping[str, Any]) -> ProviderEvent:
    """A setup-mode Checkout finished: Checkout only attaches the card, so make it the
    customer's default for invoices, or ``pay_invoice`` finds no payment method. The
    key makes a redelivered event's call a replay."""
    if deps.provider is None or not deps.provider.mirrors:
        return dataclasses.replace(event, kind=None)
    session = body["data"]["object"]
    customer = session.get("customer")
    customer = customer.get("id") if isinstance(customer, Mapping) else customer
    tenant_id = (session.get("metadata") or {}).get(TENANT_METADATA)
    tenant_id = tenant_id if isinstance(tenant_id, str) else None
    customer = customer if isinstance(customer, str) else None
    not_ours = await card_page_owner(deps, tenant_id, customer)
    if not_ours is not None:  # someone else's Checkout on the same account: leave its cards alone
        return dataclasses.replace(event, ignored=not_ours)
    card = await deps.provider.use_card_from_setup_session(session["id"], idempotency_key=f"{event.id}-card")
    return dataclasses.replace(event, customer_id=customer if card else None, tenant_id=tenant_id)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def provider_event(event: Mapping[str, Any]) -> ProviderEvent:
    """The provider-neutral form of a Stripe event (a ``ValueError`` when malformed)."""
    type_ = _text(event.get("type"), "type")
    kind = KINDS.get(type_)
    obj = (event.get("data") or {}).get("object")
    if type_ == "checkout.session.completed" and isinstance(obj, Mapping) and obj.get("mode") == "setup":
        kind = ProviderEventKind.PAYMENT_METHOD_SAVED
    invoice, ignored = None, None
    if kind is not None and isinstance(obj, Mapping) and obj.get("object") == "invoice":
        try:
            invoice = _invoice(obj)
        except Unmappable as exc:  # stored as ignored (200): a 400 would only make Stripe retry it for days
            ignored = f"{type_} for invoice {obj.get('id')}: {exc}"
    return ProviderEvent(
        id=_text(event.get("id"), "id", max_length=255),
        provider="stripe",
        type=type_,
        kind=kind,
        created=_time(event.get("created"), "created"),
        invoice=invoice,
        failure_message=_failure(obj) if invoice is not None else None,
        ignored=ignored,
    )


def _invoice(obj: Mapping[str, Any]) -> ProviderInvoiceSnapshot:
    customer = obj.get("customer")
    if isinstance(customer, Mapping):  # expanded
        customer = customer.get("id")
    metadata = obj.get("metadata") or {}
    currency = _text(obj.get("currency"), "currency")
    total = _amount(obj.get("total"), "total", currency)
    lines_list = obj.get("lines") or {}
    start, end = obj.get("period_start"), obj.get("period_end")
    return ProviderInvoiceSnapshot(
        provider_invoice_id=_text(obj.get("id"), "invoice id", max_length=255),
        currency=currency,
        customer_id=customer if isinstance(customer, str) else None,
        gateway_invoice_id=_optional_text(metadata.get("gateway_invoice_id")),
        status=_optional_text(obj.get("status")),
        hosted_invoice_url=_optional_text(obj.get("hosted_invoice_url")),
        number=_optional_text(obj.get("number")),
        subtotal=_amount(obj["subtotal"], "subtotal", currency) if obj.get("subtotal") is not None else total,
        tax=_amount(_tax(obj, _int(obj.get("total"), "total")), "tax", currency),
        total=total,
        amount_due=_amount(obj["amount_due"], "amount_due", currency)
        if obj.get("amount_due") is not None
        else total,
        amount_paid=_amount(obj.get("amount_paid", 0), "amount_paid", currency),
        lines=tuple(_line(line, currency) for line in lines_list.get("data") or ()),
        period=(_time(start, "period_start"), _time(end, "period_end")) if start and end else None,
        discarded_by_gateway=bool(metadata.get(DISCARDED)),
    )


def _tax(obj: Mapping[str, Any], total: int) -> int:
    """``tax`` before API version 2025-03-31, ``total_taxes`` since."""
    if obj.get("tax") is not None:
        return _int(obj["tax"], "tax")
    for key in ("total_taxes", "total_tax_amounts"):
        if isinstance(obj.get(key), list):
            return sum(_int(t.get("amount"), f"{key}.amount") for t in obj[key])
    if obj.get("total_excluding_tax") is not None:
        return total - _int(obj["total_excluding_tax"], "total_excluding_tax")
    return 0


def _line(line: Mapping[str, Any], currency: str) -> ProviderInvoiceLine:
    price = line.get("price") or {}
    period = line.get("period") or {}
    unit = price.get("unit_amount") if isinstance(price, Mapping) else None
    quantity = line.get("quantity")
    return ProviderInvoiceLine(
        description=_optional_text(line.get("description")) or "Invoice item",
        amount=_amount(line.get("amount"), "line amount", currency),
        quantity=_int(quantity, "line quantity") if quantity is not None else 1,
        unit_amount=_amount(unit, "unit_amount", currency) if unit is not None else None,
        period=(_time(period["start"], "line period"), _time(period["end"], "line period"))
        if period.get("start") and period.get("end")
        else None,
    )


def _failure(obj: Mapping[str, Any]) -> str | None:
    """Why the payment failed, where this event's invoice says (expanded objects only)."""
    for key, field in (
        ("payment_intent", "last_payment_error"),
        ("charge", None),
        (None, "last_finalization_error"),
    ):
        holder = obj.get(key) if key else obj
        if not isinstance(holder, Mapping):
            continue
        if field is None:
            message = holder.get("failure_message")
        else:
            error = holder.get(field)
            message = error.get("message") if isinstance(error, Mapping) else None
        if isinstance(message, str) and message:
            return message
    return None


def _text(value: Any, name: str, max_length: int = 2000) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise ValueError(f"{name} is missing or too long")
    return value


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} is not an integer")
    return value


class Unmappable(ValueError):
    """A well-formed amount the gateway has no exact form for (ISK 1.50)."""


def _amount(value: Any, name: str, currency: str) -> int:
    """A Stripe amount in the gateway's minor units (ISK, ALL, ...: Stripe counts hundredths)."""
    try:
        return from_stripe_amount(_int(value, name), currency)
    except Unmappable:
        raise
    except ValueError as exc:
        if isinstance(value, int) and not isinstance(value, bool):
            raise Unmappable(f"{name}: {exc}") from None
        raise


def _time(value: Any, name: str) -> datetime:
    return datetime.fromtimestamp(_int(value, name), UTC)
