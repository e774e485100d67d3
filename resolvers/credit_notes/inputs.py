from __future__ import annotations

import strawberry

from models.kernel.enums import CreditNoteOutcome as CreditNoteOutcomeValue
from resolvers.shared.enums import CreditNoteOutcome
from resolvers.shared.scalars import MinorUnits


@strawberry.input(description="An invoice line to credit, and how much of it.")
class CreditNoteLineInput:
    invoice_line_id: strawberry.ID = strawberry.field(
        description="`InvoiceLine.id` of a line of the invoice credited; not a DISCOUNT line, nor one that "
        "credits rather than charges."
    )
    amount: MinorUnits | None = strawberry.field(
        default=None,
        description="Minor units to credit on the line; by default all that is left of it (its amount less "
        "what credit notes by line credited on it already).",
    )


@strawberry.input(description="A credit note by amount (`amount`) or by line (`lines`): exactly one of them.")
class IssueCreditNoteInput:
    invoice_id: strawberry.ID
    amount: MinorUnits | None = strawberry.field(
        default=None,
        description="Minor units of the invoice's currency. The credit notes of an invoice never come to "
        "more than its total; on an OPEN invoice at most what is still owed, for a REFUND at most what "
        "the provider charged less what was refunded. Leave it out when crediting by line.",
    )
    lines: list[CreditNoteLineInput] | None = strawberry.field(
        default=None,
        description="Credit by line instead of by amount: the note's amount is the sum of its lines, under "
        "the same limits as `amount`; a line is never credited by line beyond its amount.",
    )
    reason: str = strawberry.field(description="Why, for the books and the customer (500 characters).")
    outcome: CreditNoteOutcome = strawberry.field(
        default=CreditNoteOutcomeValue.CREDIT_BALANCE,
        description="On a PAID invoice: to the credit balance, or refunded through the provider.",
    )
