"""What the member use cases take: validated input models."""

from __future__ import annotations

from typing import Annotated

from pydantic import EmailStr, StringConstraints

from models.kernel.enums import SeatType
from models.kernel.validation import Input


class MemberInvite(Input):
    tenant_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    email: Annotated[EmailStr, StringConstraints(max_length=320)]
    seat_type: SeatType = SeatType.FULL
