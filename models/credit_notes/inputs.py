"""What the credit-note use cases take: validated input models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from models.kernel.enums import CreditNoteOutcome
from models.kernel.errors import ValidationFailed
from models.kernel.money import MAX_SAFE_INTEGER
from models.kernel.validation import Input

ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Amount = Annotated[int, Field(gt=0, le=MAX_SAFE_INTEGER)]
# An invoice has a few dozen lines at most; a note naming more is a mistake or an attack.
MAX_LINES = 200


class CreditNoteLineSpec(Input):
    invoice_line_id: ObjectId
    amount: Amount | None = None  # None: what is left to credit on the line


class CreditNoteIssue(Input):
    invoice_id: ObjectId
    amount: Amount | None = None
    lines: Annotated[list[CreditNoteLineSpec], Field(min_length=1, max_length=MAX_LINES)] | None = None
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    outcome: CreditNoteOutcome = CreditNoteOutcome.CREDIT_BALANCE

    @model_validator(mode="after")
    def _by_amount_or_by_line(self) -> CreditNoteIssue:
        if (self.amount is None) == (self.lines is None):
            raise ValidationFailed(
                "input.amount",
                "give an amount or lines (each an invoiceLineId with an optional amount), not both",
            )
        seen: set[str] = set()
        for index, line in enumerate(self.lines or []):
            if line.invoice_line_id in seen:
                raise ValidationFailed(
                    f"input.lines[{index}].invoiceLineId",
                    f"line {line.invoice_line_id!r} is named twice; name each line once with the amount to "
                    "credit on it",
                )
            seen.add(line.invoice_line_id)
        return self
