from __future__ import annotations

import strawberry

from resolvers.shared.enums import SeatType


@strawberry.input
class InviteMemberInput:
    tenant_id: strawberry.ID
    email: str
    seat_type: SeatType = SeatType.FULL
