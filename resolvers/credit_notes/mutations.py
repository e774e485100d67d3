"""Credit notes and voided invoices (ADMIN)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.credit_notes import service as credit_notes
from models.credit_notes.inputs import CreditNoteIssue
from resolvers.credit_notes.inputs import IssueCreditNoteInput
from resolvers.credit_notes.types import CreditNote
from resolvers.invoicing.types import Invoice
from resolvers.shared.context import Info
from resolvers.shared.errors import ForbiddenError, InvoiceNotCreditableError, NotFoundError, ValidationError

IssueCreditNoteResult = Annotated[
    CreditNote | InvoiceNotCreditableError | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("IssueCreditNoteResult"),
]
VoidInvoiceResult = Annotated[
    Invoice | InvoiceNotCreditableError | NotFoundError | ForbiddenError,
    strawberry.union("VoidInvoiceResult"),
]


@strawberry.type
class CreditNoteMutations:
    @strawberry.mutation(
        description="Issue a credit note against an OPEN or PAID invoice (ADMIN). On an OPEN invoice it "
        "lowers what is due (PAID once nothing is owed); on a PAID one it goes to the tenant's credit "
        "balance "
        "or is refunded through the payment provider. INVOICE_NOT_CREDITABLE names what is left to credit."
    )
    async def issue_credit_note(self, info: Info, input: IssueCreditNoteInput) -> IssueCreditNoteResult:
        ctx = info.context
        row = await credit_notes.issue_credit_note(
            ctx.deps, ctx.actor, CreditNoteIssue.parse(strawberry.asdict(input))
        )
        return CreditNote.from_row(row)

    @strawberry.mutation(
        description="Void an OPEN invoice (ADMIN): no longer owed, the credit balance it drew on given back, "
        "a PAST_DUE subscription owing nothing else ACTIVE again, and its provider copy voided too."
    )
    async def void_invoice(self, info: Info, invoice_id: strawberry.ID) -> VoidInvoiceResult:
        ctx = info.context
        return Invoice.from_row(await credit_notes.void_invoice(ctx.deps, ctx.actor, invoice_id))
