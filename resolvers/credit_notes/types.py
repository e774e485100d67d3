from __future__ import annotations

from datetime import datetime

import strawberry

from models.kernel.enums import CreditNoteOutcome as CreditNoteOutcomeValue
from models.tables import CreditNoteRow, InvoiceRow
from resolvers.credit_notes.loaders import credit_note_lines
from resolvers.invoicing.types import Invoice, InvoiceLine
from resolvers.shared.context import Info
from resolvers.shared.enums import CreditNoteOutcome
from resolvers.shared.loaders import Loader
from resolvers.shared.money import Money

# invoice id -> the invoice (the one a credit note was issued against)
invoice_by_id = Loader.by_id(InvoiceRow)


@strawberry.type(description="What a credit note by line credits on one invoice line.")
class CreditNoteLine:
    invoice_line: InvoiceLine
    amount: Money


@strawberry.type(description="A correction of an issued invoice, numbered per tenant (`ACME-CN-0001`).")
class CreditNote:
    id: strawberry.ID
    number: str
    amount: Money
    outcome: CreditNoteOutcome
    lowered_due: bool = strawberry.field(
        description="True when it lowered what an OPEN invoice was due; false when, on a PAID invoice, it "
        "went to the credit balance or was refunded."
    )
    reason: str
    provider_refund_id: str | None = strawberry.field(
        description="REFUND: the provider's refund (Stripe's `re_...`) once it is made; null until then."
    )
    created_at: datetime
    row: strawberry.Private[CreditNoteRow]

    @classmethod
    def from_row(cls, row: CreditNoteRow) -> CreditNote:
        return cls(
            id=strawberry.ID(row.id),
            number=row.number,
            amount=Money.of(row.amount, row.currency),
            outcome=CreditNoteOutcomeValue(row.outcome),
            lowered_due=row.lowered_due,
            reason=row.reason,
            provider_refund_id=row.provider_refund_id,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="The invoice it corrects.")
    async def invoice(self, info: Info) -> Invoice:
        return Invoice.from_row(await invoice_by_id.load(info, self.row.invoice_id))

    @strawberry.field(
        description="What it credits on each invoice line, when issued by line; empty when issued by amount."
    )
    async def lines(self, info: Info) -> list[CreditNoteLine]:
        currency = self.row.currency
        return [
            CreditNoteLine(
                invoice_line=InvoiceLine.from_row(line, currency), amount=Money.of(own.amount, currency)
            )
            for own, line in await credit_note_lines.load(info, self.row.id)
        ]
