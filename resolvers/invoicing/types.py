from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types.lazy_type import LazyType

from models.kernel.enums import InvoiceReason as InvoiceReasonValue
from models.kernel.enums import InvoiceStatus as InvoiceStatusValue
from models.kernel.enums import LineKind as LineKindValue
from models.tables import InvoiceLineRow, InvoiceRow
from resolvers.invoicing import loaders as invoicing_loaders
from resolvers.shared.context import Info
from resolvers.shared.enums import InvoiceReason, InvoiceStatus, LineKind
from resolvers.shared.loaded import loaded_when
from resolvers.shared.money import Money
from resolvers.shared.scalars import Long

# The credit-notes domain's type: a layer up, so named lazily (never imported from here).
CreditNoteType = Annotated["CreditNote", strawberry.lazy("resolvers.credit_notes.types")]  # noqa: F821


@strawberry.type
class InvoiceLine:
    id: strawberry.ID = strawberry.field(description="Names the line in a credit note by line.")
    kind: LineKind
    description: str
    quantity: Long
    unit_amount: Money
    amount: Money
    period_start: datetime
    period_end: datetime
    currency: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: InvoiceLineRow, currency: str) -> InvoiceLine:
        return cls(
            id=strawberry.ID(row.id),
            kind=LineKindValue(row.kind),
            description=row.description,
            quantity=row.quantity,
            unit_amount=Money.of(row.unit_amount, currency),
            amount=Money.of(row.amount, currency),
            period_start=row.period_start,
            period_end=row.period_end,
            currency=currency,
        )

    @strawberry.field(
        description="What credit notes by line credited on it so far: a note by line credits at most its "
        "amount less this."
    )
    async def credited(self, info: Info) -> Money:
        return Money.of(await invoicing_loaders.line_credited.load(info, str(self.id)), self.currency)


@strawberry.type
class Invoice:
    id: strawberry.ID
    number: str = strawberry.field(description="Gap-free per tenant, e.g. `ACME-0001`.")
    status: InvoiceStatus
    reason: InvoiceReason
    currency: str
    period_start: datetime
    period_end: datetime
    subtotal: Money
    tax: Money
    credits_applied: Money
    total: Money = strawberry.field(
        description="Subtotal plus tax; negative when a change credits more than it charges."
    )
    amount_due: Money = strawberry.field(description="The positive total less the credit balance applied.")
    created_at: datetime
    hosted_invoice_url: str | None = strawberry.field(
        description="The provider's page where the customer pays this invoice (and passes 3-D Secure); "
        "null until the provider has the invoice."
    )
    provider_invoice_id: str | None = strawberry.field(
        description="The provider's id for it, e.g. Stripe's `in_...`."
    )
    paid_at: datetime | None = strawberry.field(
        description="When it was paid: when the provider reported it, or when it was issued with nothing due."
    )
    payment_failed_at: datetime | None = strawberry.field(
        description="When the provider last reported a failed payment; null once it is paid."
    )
    payment_error: str | None = strawberry.field(
        description="The provider's reason for that failure, when it gave one."
    )
    due_date: datetime | None = strawberry.field(
        description="When an OPEN invoice sent with payment terms (SEND_INVOICE) must be paid by: the end of "
        "its due day in the tenant's timezone; null for invoices charged automatically."
    )
    overdue_at: datetime | None = strawberry.field(
        description="When it was found unpaid past its due date (invoice.overdue)."
    )
    amount_paid: Money = strawberry.field(
        description="What payments recorded by hand (recordPayment) have paid of it so far."
    )
    credited: Money = strawberry.field(
        description="What credit notes took off the amount due while it was OPEN (issueCreditNote)."
    )
    next_retry_at: datetime | None = strawberry.field(
        description="When its failed charge is tried again (GATEWAY_DUNNING_RETRY_DAYS); null when none "
        "is due."
    )
    row: strawberry.Private[InvoiceRow]

    @classmethod
    def from_row(cls, row: InvoiceRow) -> Invoice:
        def money(amount: int) -> Money:
            return Money.of(amount, row.currency)

        return cls(
            id=strawberry.ID(row.id),
            number=row.number,
            status=InvoiceStatusValue(row.status),
            reason=InvoiceReasonValue(row.reason),
            currency=row.currency,
            period_start=row.period_start,
            period_end=row.period_end,
            subtotal=money(row.subtotal),
            tax=money(row.tax),
            credits_applied=money(row.credits_applied),
            total=money(row.total),
            amount_due=money(row.amount_due),
            created_at=row.created_at,
            hosted_invoice_url=row.hosted_invoice_url,
            provider_invoice_id=row.provider_invoice_id,
            paid_at=row.paid_at,
            payment_failed_at=row.payment_failed_at,
            payment_error=row.payment_error,
            due_date=row.due_date,
            overdue_at=row.overdue_at,
            amount_paid=money(row.amount_paid),
            credited=money(row.credited),
            next_retry_at=row.next_retry_at,
            row=row,
        )

    # Values a page loaded ahead for every invoice on it (resolvers.shared.loaded).
    loaded: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)

    @strawberry.field
    @loaded_when("lines")
    async def lines(self, info: Info) -> list[InvoiceLine]:
        loaded = self.loaded.get("lines")
        if loaded is not None:
            return loaded  # type: ignore[no-any-return]  # set by load_lines, a list of InvoiceLine
        rows = await invoicing_loaders.invoice_lines.load(info, self.row.id)
        return [InvoiceLine.from_row(r, self.row.currency) for r in rows]

    @staticmethod
    async def load_lines(info: Info, invoices: list[Invoice]) -> None:
        """Load the lines of every invoice of a page at once, when the query asks for them."""
        if not invoices:
            return
        groups = await invoicing_loaders.invoice_lines.load_many(info, [i.row.id for i in invoices])
        for invoice, rows in zip(invoices, groups, strict=True):
            invoice.loaded["lines"] = [InvoiceLine.from_row(r, invoice.row.currency) for r in rows]

    @strawberry.field(description="The credit notes issued against it, oldest first.")
    async def credit_notes(self, info: Info) -> list[CreditNoteType]:
        rows = await invoicing_loaders.credit_notes.load(info, self.row.id)
        return [_credit_note_type().from_row(r) for r in rows]


def _credit_note_type() -> Any:
    """The credit-notes domain's ``CreditNote`` (a layer up), resolved when a field is read."""
    return LazyType("CreditNote", "resolvers.credit_notes.types").resolve_type()
