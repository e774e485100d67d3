"""The payment provider protocol: what the gateway asks of a payment rail.

The gateway decides what is owed; a provider collects it. ``gateway.providers``
implements this protocol (``local``: nothing leaves the gateway; ``stripe``). Every
method that changes something at the provider takes an idempotency key derived from
the gateway's own ids, so a retry after a lost answer never charges twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

# What every operation that needs a payment rail answers under GATEWAY_PROVIDER=local.
NOT_CONFIGURED = (
    "No payment provider is configured: set GATEWAY_PROVIDER=stripe with GATEWAY_STRIPE_API_KEY "
    "(and GATEWAY_STRIPE_WEBHOOK_SECRET) to collect invoices and take cards."
)


class ProviderError(Exception):
    """The provider did not do what was asked. ``retryable``: a network failure, a
    timeout, a 5xx or a rate limit (try again later with the same key); otherwise the
    provider refused the request itself and repeating it cannot help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Address:
    line1: str
    city: str
    country: str
    line2: str | None = None
    state: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    """A tenant as the provider should know it (the gateway's billing info)."""

    tenant_id: str
    name: str
    email: str
    company_name: str | None = None
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class InvoiceItem:
    """One amount the provider must charge, in minor units (negative: a credit)."""

    key: str  # stable per invoice: the gateway line id, "tax", "credits"
    description: str
    amount: int
    period: tuple[datetime, datetime] | None = None


@dataclass(frozen=True, slots=True)
class InvoiceToCollect:
    """A gateway invoice, as the items whose sum is exactly its amount due."""

    invoice_id: str
    number: str
    tenant_id: str
    customer_id: str
    currency: str
    amount_due: int
    items: tuple[InvoiceItem, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ProviderInvoice:
    """The provider's invoice as it last answered. Amounts are in the gateway's minor
    units (the adapter converts its own scale), None where the provider's amount has
    no exact gateway form."""

    provider_invoice_id: str
    status: str  # the provider's: draft, open, paid, void, uncollectible
    hosted_invoice_url: str | None = None
    currency: str | None = None  # as the provider spells it (Stripe: "usd")
    customer_id: str | None = None
    total: int | None = None
    amount_due: int | None = None
    amount_paid: int | None = None


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """What an attempt to charge an invoice came to. ``declined`` is not an error:
    the provider tells the gateway by webhook and its own retries go on."""

    invoice: ProviderInvoice  # after the attempt: ``status`` "paid", or "open" (declined, waiting), ...
    declined: str | None = None  # the provider's message when the charge failed


class PaymentProvider(Protocol):
    name: str
    # False for ``local``: nothing is mirrored, no provider task is queued.
    mirrors: bool

    async def upsert_customer(self, customer: Customer, customer_id: str | None, *, idempotency_key: str) -> str:
        """Create the customer (``customer_id`` None) or update it; its provider id."""
        ...

    async def find_or_create_invoice(
        self, invoice: InvoiceToCollect, provider_invoice_id: str | None, *, idempotency_key: str
    ) -> ProviderInvoice:
        """The provider's invoice for this gateway invoice: ``provider_invoice_id`` (what
        an earlier attempt recorded), else one an earlier attempt made but whose answer
        was lost, else a new EMPTY draft (nothing else of the customer's swept in).
        Refuses (not retryable), before making anything, an invoice whose amounts the
        provider cannot represent. The caller records the id at once, then calls
        ``add_missing_items``."""
        ...

    async def add_missing_items(
        self, invoice: InvoiceToCollect, provider_invoice_id: str, *, idempotency_key: str
    ) -> None:
        """Put on the draft ``provider_invoice_id`` each of ``invoice.items`` its own lines
        lack (an earlier attempt may have made some)."""
        ...

    async def pay_invoice(
        self, invoice: InvoiceToCollect, provider_invoice_id: str, *, idempotency_key: str
    ) -> PaymentOutcome:
        """Charge the invoice, only if it comes to exactly ``invoice.amount_due`` in
        ``invoice.currency`` for ``invoice.customer_id``. Otherwise it is discarded at the
        provider (deleted while a draft, voided once final) and a ProviderError
        (retryable=False) names both amounts: nothing is charged. An invoice already paid
        is reported, not charged again."""
        ...

    async def create_setup_session(
        self, customer_id: str, currency: str, return_url: str, *, tenant_id: str, idempotency_key: str
    ) -> str:
        """The URL of the provider's page where the customer enters a card. The page
        carries ``tenant_id`` (Stripe: metadata ``gateway_tenant_id``), so its completion
        is acted on only for pages the gateway opened, for that tenant's customer."""
        ...

    async def use_card_from_setup_session(self, session_id: str, *, idempotency_key: str) -> str | None:
        """Once the customer finished that page: make the card it saved the customer's
        default for invoices; the card's provider id (None if the session saved none)."""
        ...

    async def aclose(self) -> None:
        """Release connections (when the process stops)."""
        ...
