from __future__ import annotations

from datetime import datetime

import strawberry

from models.tables import TestClockRow


@strawberry.type(description="A Stripe-style test clock: attached tenants live on its frozen time.")
class TestClock:
    id: strawberry.ID
    name: str | None
    frozen_time: datetime
    status: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: TestClockRow) -> TestClock:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            frozen_time=row.frozen_time,
            status=row.status,
            created_at=row.created_at,
        )
