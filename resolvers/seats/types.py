from __future__ import annotations

from datetime import datetime

import strawberry

from models.kernel.enums import MemberStatus as MemberStatusValue
from models.kernel.enums import SubscriptionStatus
from models.seats import rules as seats
from models.tables import MemberRow, SubscriptionRow
from resolvers.catalog import loaders as catalog_loaders
from resolvers.seats import loaders as seats_loaders
from resolvers.shared.context import Info
from resolvers.shared.enums import MemberStatus, SeatType
from resolvers.subscriptions import loaders as subscriptions_loaders


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
            seat_type=seats.SeatType(row.seat_type),
            status=MemberStatusValue(row.status),
            created_at=row.created_at,
            removed_at=row.removed_at,
        )


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


async def seat_summary(info: Info, tenant_id: str, subscription: SubscriptionRow | None) -> SeatSummary:
    """What the tenant's subscription (None: none, or cancelled) gives and its members use."""
    if subscription is None or subscription.status == SubscriptionStatus.CANCELLED:
        used = await seats_loaders.seats_in_use.load(info, tenant_id)
        return SeatSummary.of(seats.summarize(None, [], used))
    plan = await catalog_loaders.plan.load(info, subscription.plan_id)
    held = await subscriptions_loaders.subscription_addons.load(info, subscription.id)
    addons = await catalog_loaders.addon.load_many(info, [h.addon_id for h in held])
    used = await seats_loaders.seats_in_use.load(info, tenant_id)
    items = zip(addons, (h.quantity for h in held), strict=True)
    return SeatSummary.of(seats.summarize(plan, items, used))
