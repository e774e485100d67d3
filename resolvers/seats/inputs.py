from __future__ import annotations

import strawberry

from resolvers.catalog.types import SeatType


@strawberry.input
class InviteMemberInput:
    tenant_id: strawberry.ID
    email: str
    seat_type: SeatType = SeatType.FULL
