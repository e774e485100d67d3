from __future__ import annotations

from datetime import datetime

import strawberry

from models.kernel.enums import SubscriptionStatus as SubscriptionStatusValue
from models.tables import SubscriptionRow
from resolvers.catalog.types import Addon, Plan
from resolvers.context import Info
from resolvers.invoices.types import Invoice
from resolvers.seats.types import SeatSummary, seat_summary

SubscriptionStatus = strawberry.enum(SubscriptionStatusValue, name="SubscriptionStatus")


@strawberry.type
class SubscriptionAddon:
    addon: Addon
    quantity: int


@strawberry.type(description="A change scheduled for the renewal (effectiveAt NEXT_BILLING_DATE).")
class ScheduledChange:
    effective_at: datetime
    plan_id: strawberry.Private[str]
    quantities: strawberry.Private[list[tuple[str, int]]]

    @strawberry.field
    async def plan(self, info: Info) -> Plan:
        return Plan.from_row(await info.context.loaders.plan.load(self.plan_id))

    @strawberry.field(description="The add-on totals the renewal will bill.")
    async def addons(self, info: Info) -> list[SubscriptionAddon]:
        addons = await info.context.loaders.addon.load_many([addon_id for addon_id, _ in self.quantities])
        return [
            SubscriptionAddon(addon=Addon.from_row(a), quantity=q)
            for a, (_, q) in zip(addons, self.quantities, strict=True)
            if a is not None
        ]


@strawberry.type
class Subscription:
    id: strawberry.ID
    tenant_id: strawberry.ID
    status: SubscriptionStatus
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool = strawberry.field(description="The renewal will cancel instead of renewing.")
    cancelled_at: datetime | None
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
            cancel_at_period_end=row.cancel_at_period_end,
            cancelled_at=row.cancelled_at,
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

    @strawberry.field(description="A change waiting for the renewal, if any.")
    def scheduled_change(self) -> ScheduledChange | None:
        change = self.row.scheduled_change
        if not change or self.row.status is SubscriptionStatusValue.CANCELLED:
            return None
        return ScheduledChange(
            effective_at=self.row.current_period_end,
            plan_id=change.plan_id,
            quantities=[(a.addon_id, a.quantity) for a in change.addons],
        )
