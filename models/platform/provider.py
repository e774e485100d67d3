"""The payment provider protocol: what the gateway asks of a payment rail.

The gateway decides what is owed; a provider collects it. ``gateway.providers``
implements this protocol (``local``: nothing leaves the gateway; ``stripe``). Every
method that changes something at the provider takes an idempotency key derived from
the gateway's own ids, so a retry after a lost answer never charges twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from models.kernel.enums import CollectionMethod

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


# How a refusal of the gateway's own credentials starts, as stored in a provider task's
# ``last_error``: what `/healthz` and the start-up of `serve` look for.
KEY_REFUSED = "key refused: "


class ProviderKeyRefused(ProviderError):
    """The provider refused the gateway's own credentials (a wrong, revoked or
    under-privileged API key). Not retryable: every call fails the same way until an
    operator sets another key, which takes a restart; `serve` then queues these calls
    again (``retryProviderTasks`` does it for one tenant at any time)."""

    def __init__(self, message: str) -> None:
        super().__init__(KEY_REFUSED + message, retryable=False)


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
    """A gateway invoice, as the items whose sum is exactly its amount due, and how it
    is collected: charged to the saved card (``CHARGE_AUTOMATICALLY``), or sent to the
    customer with payment terms (``SEND_INVOICE``: due ``days_until_due`` days after it
    was issued, on ``due_date`` as the gateway counts it), never charged."""

    invoice_id: str
    number: str
    tenant_id: str
    customer_id: str
    currency: str
    amount_due: int
    items: tuple[InvoiceItem, ...] = field(default_factory=tuple)
    collection_method: CollectionMethod = CollectionMethod.CHARGE_AUTOMATICALLY
    days_until_due: int | None = None  # SEND_INVOICE only
    due_date: datetime | None = None  # SEND_INVOICE only: the end of its due day (the gateway's)


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
    """What an attempt to charge an invoice came to. ``declined`` is not an error: the
    gateway records the failure at once (the provider's webhook says the same later) and
    charges again on its dunning schedule."""

    invoice: ProviderInvoice  # after the attempt: ``status`` "paid", or "open" (declined, waiting), ...
    declined: str | None = None  # the provider's message when the charge failed


@dataclass(frozen=True, slots=True)
class RefundToMake:
    """A credit note refunded through the provider: ``amount`` (minor units of
    ``currency``) back from the payment of ``provider_invoice_id``."""

    credit_note_id: str
    invoice_id: str
    tenant_id: str
    provider_invoice_id: str
    amount: int
    currency: str


class PaymentProvider(Protocol):
    name: str
    # False for ``local``: nothing is mirrored, no provider task is queued.
    mirrors: bool

    async def upsert_customer(
        self, customer: Customer, customer_id: str | None, *, idempotency_key: str
    ) -> str:
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

    async def send_invoice(
        self, invoice: InvoiceToCollect, provider_invoice_id: str, *, idempotency_key: str
    ) -> ProviderInvoice:
        """A ``SEND_INVOICE`` invoice: made final with its payment terms and sent to the
        customer, who pays it on the provider's page or by transfer; nothing is charged.
        Checked like ``pay_invoice`` first (exactly ``invoice.amount_due``, else discarded
        and refused). Sent once: an invoice already sent, or already paid, is reported."""
        ...

    async def mark_paid_out_of_band(
        self, invoice: InvoiceToCollect, provider_invoice_id: str | None, *, idempotency_key: str
    ) -> ProviderInvoice | None:
        """The gateway invoice was paid outside the provider (recorded by hand): mark the
        provider's invoice paid without charging anything, so it is no longer payable on
        the provider's page nor reminded of. ``provider_invoice_id`` None: the one an
        earlier collection made whose answer was lost, if any. Nothing is done to one
        already paid or void; a draft, never sent, is finalized first (without collection)
        when it comes to exactly ``invoice.amount_due``, else deleted. None when the
        provider holds no invoice for it."""
        ...

    async def refund_payment(self, refund: RefundToMake, *, idempotency_key: str) -> str:
        """Refund ``refund.amount`` of the payment that paid ``refund.provider_invoice_id``;
        the provider's refund id. Made once per key, and once per credit note whatever the
        key (an earlier attempt's refund is found by the credit note id it carries)."""
        ...

    async def void_invoice(
        self, invoice_id: str, provider_invoice_id: str, *, idempotency_key: str
    ) -> ProviderInvoice | None:
        """The gateway voided ``invoice_id``: void the provider's copy (delete it while a
        draft, reported as status "deleted"). Nothing is done to one already void; one the
        provider has paid meanwhile is reported as it is. None when it no longer exists."""
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


class ProviderEventKind(enum.Enum):
    """The provider events the gateway acts on, whatever the provider calls them."""

    INVOICE_FINALIZED = "INVOICE_FINALIZED"  # an invoice is final and payable
    INVOICE_PAID = "INVOICE_PAID"
    INVOICE_PAYMENT_FAILED = "INVOICE_PAYMENT_FAILED"
    INVOICE_ACTION_REQUIRED = "INVOICE_ACTION_REQUIRED"  # the customer must confirm (3-D Secure)
    # Someone gave up on the invoice at the provider (the dashboard): it is no longer owed.
    INVOICE_VOIDED = "INVOICE_VOIDED"
    INVOICE_UNCOLLECTIBLE = "INVOICE_UNCOLLECTIBLE"
    # The customer saved a card on the provider's page (the edge made it their default).
    PAYMENT_METHOD_SAVED = "PAYMENT_METHOD_SAVED"


@dataclass(frozen=True, slots=True)
class ProviderInvoiceLine:
    description: str
    amount: int  # minor units; negative for a credit
    quantity: int = 1
    unit_amount: int | None = None
    period: tuple[datetime, datetime] | None = None


@dataclass(frozen=True, slots=True)
class ProviderInvoiceSnapshot:
    """The provider's invoice as the event shows it (amounts in minor units)."""

    provider_invoice_id: str
    currency: str
    customer_id: str | None = None
    gateway_invoice_id: str | None = None  # our invoice id, from the metadata our adapter sets
    status: str | None = None  # the provider's: draft, open, paid, void, uncollectible
    hosted_invoice_url: str | None = None
    number: str | None = None
    subtotal: int = 0
    tax: int = 0
    total: int = 0
    amount_due: int = 0
    amount_paid: int = 0
    lines: tuple[ProviderInvoiceLine, ...] = ()
    period: tuple[datetime, datetime] | None = None
    # The gateway's adapter voided it itself (it would have charged the wrong amount):
    # our invoice is still owed, so its void changes nothing here.
    discarded_by_gateway: bool = False


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A provider's event, or what the gateway learned itself from the provider (the
    collection task's charge: id ``collect-<invoice id>-paid``), checked the same way."""

    id: str
    provider: str  # "stripe"
    type: str  # the provider's own name for it, as stored
    kind: ProviderEventKind | None  # None: not one the gateway acts on
    created: datetime
    invoice: ProviderInvoiceSnapshot | None = None
    failure_message: str | None = None
    customer_id: str | None = None  # PAYMENT_METHOD_SAVED: whose card
    tenant_id: str | None = None  # PAYMENT_METHOD_SAVED: the tenant the gateway opened the page for
    ignored: str | None = None  # why the edge could not read what the gateway would act on
