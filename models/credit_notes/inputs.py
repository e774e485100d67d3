"""What the credit-note use cases take: validated input models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from models.kernel.enums import CreditNoteOutcome
from models.kernel.money import MAX_SAFE_INTEGER
from models.kernel.validation import Input


class CreditNoteIssue(Input):
    invoice_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    amount: Annotated[int, Field(gt=0, le=MAX_SAFE_INTEGER)]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    outcome: CreditNoteOutcome = CreditNoteOutcome.CREDIT_BALANCE
