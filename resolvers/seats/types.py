from __future__ import annotations

import strawberry

from models.seats import rules as seats
from resolvers.shared.enums import SeatType


@strawberry.type
class SeatTypeSummary:
    seat_type: SeatType
    total: int
    used: int
    available: int


@strawberry.type(description="Seats over every type; `byType` has each type, enforced separately.")
class SeatSummary:
    included: int = strawberry.field(description="FULL seats that come with the plan.")
    purchased: int = strawberry.field(description="Seats bought as add-ons, every type.")
    total: int
    used: int = strawberry.field(description="Seats held by active members.")
    available: int = strawberry.field(description="Free seats, summed over the types.")
    by_type: list[SeatTypeSummary]

    @classmethod
    def of(cls, summary: seats.SeatSummary) -> SeatSummary:
        return cls(
            included=summary.included,
            purchased=summary.purchased,
            total=summary.total,
            used=summary.used,
            available=summary.available,
            by_type=[
                SeatTypeSummary(seat_type=c.seat_type, total=c.total, used=c.used, available=c.available)
                for c in summary.by_type
            ],
        )
