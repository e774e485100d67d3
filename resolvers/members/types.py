"""Team members: the Member type."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.tables import MemberRow
from resolvers.shared.enums import MemberStatus, SeatType


@strawberry.type
class Member:
    id: strawberry.ID
    email: str
    seat_type: SeatType
    status: MemberStatus
    created_at: datetime
    removed_at: datetime | None

    @classmethod
    def from_row(cls, row: MemberRow) -> Member:
        return cls(
            id=strawberry.ID(row.id),
            email=row.email,
            seat_type=row.seat_type,
            status=row.status,
            created_at=row.created_at,
            removed_at=row.removed_at,
        )
