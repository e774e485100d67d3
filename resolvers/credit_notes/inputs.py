from __future__ import annotations

import strawberry

from models.kernel.enums import CreditNoteOutcome as CreditNoteOutcomeValue
from resolvers.shared.enums import CreditNoteOutcome
from resolvers.shared.scalars import MinorUnits


@strawberry.input
class IssueCreditNoteInput:
    invoice_id: strawberry.ID
    amount: MinorUnits = strawberry.field(
        description="Minor units of the invoice's currency. The credit notes of an invoice never come to "
        "more than its total; on an OPEN invoice at most what is still owed, for a REFUND at most what "
        "the provider charged less what was refunded."
    )
    reason: str = strawberry.field(description="Why, for the books and the customer (500 characters).")
    outcome: CreditNoteOutcome = strawberry.field(
        default=CreditNoteOutcomeValue.CREDIT_BALANCE,
        description="On a PAID invoice: to the credit balance, or refunded through the provider.",
    )
