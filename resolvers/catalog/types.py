from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from models.kernel.enums import Interval as IntervalValue
from models.kernel.enums import SeatType as SeatTypeValue
from models.tables import AddonRow, PlanRow
from resolvers.catalog import loaders as catalog_loaders
from resolvers.entitlements import loaders as entitlements_loaders
from resolvers.entitlements.types import FeatureGrant
from resolvers.metering import loaders as metering_loaders
from resolvers.shared.context import Info
from resolvers.shared.enums import Interval, SeatType
from resolvers.shared.money import Money

if TYPE_CHECKING:
    from resolvers.metering.types import UsageCharge


@strawberry.type
class Addon:
    id: strawberry.ID
    code: str
    name: str
    description: str | None
    currency: str
    price: Money = strawberry.field(description="Per unit and per interval of the plan it is bought with.")
    seat_type: SeatType | None = strawberry.field(description="Null for an add-on that gives no seats.")
    seats_per_unit: int = strawberry.field(description="Seats one unit gives: 1, or 5 for a 5-seat pack.")
    tax_category: str
    archived_at: datetime | None = strawberry.field(description="Archived add-ons can no longer be bought.")
    created_at: datetime

    row: strawberry.Private[AddonRow]

    @classmethod
    def from_row(cls, row: AddonRow) -> Addon:
        return cls(
            id=strawberry.ID(row.id),
            code=row.code,
            name=row.name,
            description=row.description,
            currency=row.currency,
            price=Money.of(row.price, row.currency),
            seat_type=SeatTypeValue(row.seat_type) if row.seat_type else None,
            seats_per_unit=row.seats_per_unit,
            tax_category=row.tax_category,
            archived_at=row.archived_at,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="The features each unit grants (a limit counts once per unit bought).")
    async def features(self, info: Info) -> list[FeatureGrant]:
        return [
            FeatureGrant.from_row(g, f)
            for g, f in await entitlements_loaders.addon_grants.load(info, self.row.id)
        ]


@strawberry.type
class Plan:
    id: strawberry.ID
    code: str
    name: str
    currency: str
    interval: Interval
    base_price: Money = strawberry.field(description="Per interval, seats included.")
    included_seats: int = strawberry.field(description="FULL seats that come with the base price.")
    min_seats: int | None = strawberry.field(description="Fewest seats (all types together) allowed.")
    max_seats: int | None = strawberry.field(description="Most seats (all types together) allowed.")
    trial_days: int = strawberry.field(
        description="Days of free trial a tenant gets the first time it subscribes to the plan (0: none)."
    )
    created_at: datetime
    row: strawberry.Private[PlanRow]

    @classmethod
    def from_row(cls, row: PlanRow) -> Plan:
        return cls(
            id=strawberry.ID(row.id),
            code=row.code,
            name=row.name,
            currency=row.currency,
            interval=IntervalValue(row.interval),
            base_price=Money.of(row.base_price, row.currency),
            included_seats=row.included_seats,
            min_seats=row.min_seats,
            max_seats=row.max_seats,
            trial_days=row.trial_days,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="What the plan charges for usage each period, in arrears, by meter name.")
    async def usage_charges(
        self, info: Info
    ) -> list[Annotated[UsageCharge, strawberry.lazy("resolvers.metering.types")]]:
        from resolvers.metering.types import UsageCharge

        rows = await metering_loaders.plan_usage_charges.load(info, self.row.id)
        return [UsageCharge.from_row(charge, meter, self.row.currency) for charge, meter in rows]

    @strawberry.field(description="The features the plan grants, by code.")
    async def features(self, info: Info) -> list[FeatureGrant]:
        return [
            FeatureGrant.from_row(g, f)
            for g, f in await entitlements_loaders.plan_grants.load(info, self.row.id)
        ]

    @strawberry.field(description="Add-ons offered with this plan.")
    async def addons(self, info: Info, include_archived: bool = False) -> list[Addon]:
        rows = await catalog_loaders.plan_addons.load(info, self.row.id)
        return [Addon.from_row(r) for r in rows if include_archived or r.archived_at is None]
