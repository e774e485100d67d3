"""``GATEWAY_PROVIDER=local`` (the default): invoices live only in the gateway.

Nothing is mirrored (``mirrors`` is False, so no provider task is ever queued); an
operation that needs a real payment rail, such as a card setup page, is refused with
the setting that enables one.
"""

from __future__ import annotations

from models.platform.provider import (
    NOT_CONFIGURED,
    Customer,
    InvoiceToCollect,
    PaymentOutcome,
    ProviderError,
    ProviderInvoice,
    RefundToMake,
)


class LocalProvider:
    name = "local"
    mirrors = False

    async def upsert_customer(
        self, customer: Customer, customer_id: str | None, *, idempotency_key: str
    ) -> str:
        raise ProviderError(NOT_CONFIGURED, retryable=False)

    async def find_or_create_invoice(
        self, invoice: InvoiceToCollect, provider_invoice_id: str | None, *, idempotency_key: str
    ) -> ProviderInvoice:
        raise ProviderError(NOT_CONFIGURED, retryable=False)

    async def add_missing_items(
        self, invoice: InvoiceToCollect, provider_invoice_id: str, *, idempotency_key: str
    ) -> None:
        raise ProviderError(NOT_CONFIGURED, retryable=False)

    async def pay_invoice(
        self, invoice: InvoiceToCollect, provider_invoice_id: str, *, idempotency_key: str
    ) -> PaymentOutcome:
        raise ProviderError(NOT_CONFIGURED, retryable=False)

    async def send_invoice(
        self, invoice: InvoiceToCollect, provider_invoice_id: str, *, idempotency_key: str
    ) -> ProviderInvoice:
        raise ProviderError(NOT_CONFIGURED, retryable=False)

    async def mark_paid_out_of_band(
        self, invoice: InvoiceToCollect, provider_invoice_id: str | None, *, idempotency_key: str
    ) -> ProviderInvoice | None:
        raise ProviderError(NOT_CONFIGURED, retryable=False)

    async def refund_payment(self, refund: RefundToMake, *, idempotency_key: str) -> str:
        raise ProviderError(NOT_CONFIGURED, retryable=False)

    async def void_invoice(
        self, invoice_id: str, provider_invoice_id: str, *, idempotency_key: str
    ) -> ProviderInvoice | None:
        raise ProviderError(NOT_CONFIGURED, retryable=False)

    async def create_setup_session(
        self, customer_id: str, currency: str, return_url: str, *, tenant_id: str, idempotency_key: str
    ) -> str:
        raise ProviderError(NOT_CONFIGURED, retryable=False)

    async def use_card_from_setup_session(self, session_id: str, *, idempotency_key: str) -> str | None:
        raise ProviderError(NOT_CONFIGURED, retryable=False)

    async def aclose(self) -> None:
        """Nothing to release."""
