from __future__ import annotations

from datetime import datetime

import strawberry

from models.kernel.enums import SubscriptionStatus as SubscriptionStatusValue
from models.tables import SubscriptionRow
from resolvers.catalog import loaders as catalog_loaders
from resolvers.catalog.types import Addon, Plan
from resolvers.discounts import loaders as discount_loaders
from resolvers.discounts.types import Discount
from resolvers.invoicing import loaders as invoicing_loaders
from resolvers.invoicing.types import Invoice
from resolvers.seats.types import SeatSummary
from resolvers.shared.context import Info
from resolvers.shared.enums import SubscriptionStatus
from resolvers.subscriptions import loaders as subscriptions_loaders
from resolvers.subscriptions.seats import seat_summary


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
        return Plan.from_row(await catalog_loaders.plan.load(info, self.plan_id))

    @strawberry.field(description="The add-on totals the renewal will bill.")
    async def addons(self, info: Info) -> list[SubscriptionAddon]:
        addons = await catalog_loaders.addon.load_many(info, [addon_id for addon_id, _ in self.quantities])
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
    cancellation_reason: str | None = strawberry.field(
        description="Why it was cancelled (or is set to cancel), as given to cancelSubscription; "
        "null: not said."
    )
    renewal_error: str | None = strawberry.field(
        description="Why the last renewal (or its usage) could not be billed; null when it was. Billing runs "
        "try again; fix the cause (e.g. deleteUsage for usage recorded by mistake) and the next run bills it."
    )
    renewal_failed_at: datetime | None
    trial_end: datetime | None = strawberry.field(
        description="When its trial ends (its first invoice); null without a trial."
    )
    paused_at: datetime | None = strawberry.field(description="While PAUSED: since when.")
    resumes_at: datetime | None = strawberry.field(
        description="While PAUSED: when it resumes by itself (null: when resumeSubscription is called)."
    )
    past_due_at: datetime | None = strawberry.field(description="While PAST_DUE or UNPAID: since when.")
    grace_ends_at: datetime | None = strawberry.field(
        description="While PAST_DUE: when it becomes UNPAID (entitlements off, no invites) if still owing."
    )
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
            cancellation_reason=row.cancellation_reason,
            renewal_error=row.renewal_error,
            renewal_failed_at=row.renewal_failed_at,
            trial_end=row.trial_end,
            paused_at=row.paused_at,
            resumes_at=row.resumes_at,
            past_due_at=row.past_due_at,
            grace_ends_at=row.grace_ends_at,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field
    async def plan(self, info: Info) -> Plan:
        return Plan.from_row(await catalog_loaders.plan.load(info, self.row.plan_id))

    @strawberry.field(description="Add-ons and how many units of each the subscription has.")
    async def addons(self, info: Info) -> list[SubscriptionAddon]:
        held = await subscriptions_loaders.subscription_addons.load(info, self.row.id)
        addons = await catalog_loaders.addon.load_many(info, [h.addon_id for h in held])
        return [
            SubscriptionAddon(addon=Addon.from_row(a), quantity=h.quantity)
            for a, h in zip(addons, held, strict=True)
        ]

    @strawberry.field(description="Seats this subscription gives and its tenant's members use.")
    async def seats(self, info: Info) -> SeatSummary:
        return await seat_summary(info, self.row.tenant_id, self.row)

    @strawberry.field(description="The newest invoice: on a new subscription, its first.")
    async def latest_invoice(self, info: Info) -> Invoice | None:
        row = await invoicing_loaders.latest_invoice.load(info, self.row.id)
        return Invoice.from_row(row) if row else None

    @strawberry.field(description="Its live discount (one at most): a coupon taken off its invoices.")
    async def discount(self, info: Info) -> Discount | None:
        found = await discount_loaders.live_discount.load(info, self.row.id)
        return Discount.from_rows(*found) if found else None

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
