from __future__ import annotations

from datetime import datetime

import strawberry

from models.tables import SubscriptionRow
from models.tables import SubscriptionStatus as SubscriptionStatusValue
from resolvers.catalog.types import Addon, Plan
from resolvers.context import Info
from resolvers.invoices.types import Invoice
from resolvers.seats.types import SeatSummary, seat_summary

SubscriptionStatus = strawberry.enum(SubscriptionStatusValue, name="SubscriptionStatus")


@strawberry.type
class SubscriptionAddon:
    addon: Addon
    quantity: int


@strawberry.type
class Subscription:
    id: strawberry.ID
    tenant_id: strawberry.ID
    status: SubscriptionStatus
    current_period_start: datetime
    current_period_end: datetime
    created_at: datetime
    row: strawberry.Private[SubscriptionRow]

    @classmethod
    def from_row(cls, row: SubscriptionRow) -> Subscription:
        return cls(
            id=strawberry.ID(row.id),
            tenant_id=strawberry.ID(row.tenant_id),
            status=SubscriptionStatusValue(row.status),
            current_period_start=row.current_period_start,
            current_period_end=row.current_period_end,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field
    async def plan(self, info: Info) -> Plan:
        return Plan.from_row(await info.context.loaders.plan.load(self.row.plan_id))

    @strawberry.field(description="Add-ons and how many units of each the subscription has.")
    async def addons(self, info: Info) -> list[SubscriptionAddon]:
        loaders = info.context.loaders
        held = await loaders.subscription_addons.load(self.row.id)
        addons = await loaders.addon.load_many([h.addon_id for h in held])
        return [SubscriptionAddon(addon=Addon.from_row(a), quantity=h.quantity) for a, h in zip(addons, held, strict=True)]

    @strawberry.field(description="Seats this subscription gives and its tenant's members use.")
    async def seats(self, info: Info) -> SeatSummary:
        return await seat_summary(info, self.row.tenant_id, self.row)

    @strawberry.field(description="The newest invoice: on a new subscription, its first.")
    async def latest_invoice(self, info: Info) -> Invoice | None:
        row = await info.context.loaders.latest_invoice.load(self.row.id)
        return Invoice.from_row(row) if row else None
