"""What grantCredits takes: a validated input model."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from models.kernel.money import MAX_SAFE_INTEGER
from models.kernel.validation import Input, Instant, NonBlank

Id = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class CreditGrantCreate(Input):
    tenant_id: Id
    amount: Annotated[int, Field(gt=0, le=MAX_SAFE_INTEGER)]
    expires_at: Instant | None = None
    description: Annotated[NonBlank, StringConstraints(max_length=500)]
