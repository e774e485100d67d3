"""What the live subscriptions yield: one object per committed event."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.entitlements.payloads import EntitlementsChangedPayload
from models.platform.events import Event
from resolvers.entitlements.types import Entitlement
from resolvers.invoicing.types import Invoice
from resolvers.seats.types import SeatSummary
from resolvers.shared.context import Info
from resolvers.subscriptions import loaders as subscriptions_loaders
from resolvers.subscriptions.seats import seat_summary
from resolvers.subscriptions.types import Subscription


@strawberry.type(
    description="The tenant's seats changed: a member was invited or removed, or its subscription "
    "started, changed or was cancelled."
)
class SeatsChanged:
    id: strawberry.ID = strawberry.field(description="The event's id, the same as its webhook delivery's.")
    tenant_id: strawberry.ID
    at: datetime
    reason: str = strawberry.field(
        description="member.invited, member.removed, subscription.changed or subscription.cancelled."
    )
    member_id: strawberry.ID | None = strawberry.field(description="The member invited or removed, if any.")

    @classmethod
    def of(cls, event: Event) -> SeatsChanged:
        member_id = event.data.get("memberId")
        return cls(
            id=strawberry.ID(event.id),
            tenant_id=strawberry.ID(str(event.tenant_id)),
            at=event.at,
            reason=str(event.data.get("reason", "")),
            member_id=strawberry.ID(member_id) if member_id else None,
        )

    @strawberry.field(
        description="The tenant's seats now, read when the event is delivered (as Tenant.seats)."
    )
    async def seats(self, info: Info) -> SeatSummary:
        return await seat_summary(
            info, self.tenant_id, await subscriptions_loaders.live_subscription.load(info, self.tenant_id)
        )


@strawberry.type
class MeterEvents:
    meter_name: str
    events: int = strawberry.field(description="Usage events accepted for this meter.")


@strawberry.type(description="Usage was recorded for the tenant (one recordUsage or recordUsageBatch call).")
class UsageRecordedEvent:
    id: strawberry.ID
    tenant_id: strawberry.ID
    at: datetime
    accepted: int = strawberry.field(
        description="Usage events accepted, every meter (duplicates not counted)."
    )
    meters: list[MeterEvents]

    @classmethod
    def of(cls, event: Event) -> UsageRecordedEvent:
        meters = event.data.get("meters") or {}
        return cls(
            id=strawberry.ID(event.id),
            tenant_id=strawberry.ID(str(event.tenant_id)),
            at=event.at,
            accepted=int(event.data.get("accepted", 0)),
            meters=[
                MeterEvents(meter_name=name, events=int(count)) for name, count in sorted(meters.items())
            ],
        )


@strawberry.type(
    description="An invoice of the tenant was created, paid, its payment failed, it went overdue, was "
    "voided or credited."
)
class InvoiceEvent:
    id: strawberry.ID
    type: str = strawberry.field(
        description="invoice.created, invoice.paid, invoice.payment_failed, invoice.overdue, invoice.voided "
        "or credit_note.created (the invoice is the one credited)."
    )
    at: datetime
    invoice: Invoice = strawberry.field(description="The invoice as it is when the event is delivered.")


@strawberry.type(description="An event of the tenant's subscription's life.")
class SubscriptionEvent:
    id: strawberry.ID = strawberry.field(description="The event's id, the same as its webhook delivery's.")
    type: str = strawberry.field(description="subscription.active, subscription.past_due, … (the webhook's).")
    at: datetime
    subscription: Subscription = strawberry.field(
        description="The subscription as it is when the event is delivered."
    )


@strawberry.type(
    description="Something moved the tenant's entitlements (a plan change, a renewal, usage reaching a "
    "limit, seats, a payment's standing, the catalog): every feature's as it stood right after."
)
class EntitlementsChanged:
    id: strawberry.ID = strawberry.field(description="The event's id, the same as its webhook delivery's.")
    tenant_id: strawberry.ID
    at: datetime
    reason: str = strawberry.field(
        description="The event that moved them: subscription.plan_changed, subscription.renewed, "
        "usage.limit_reached, seats.changed, catalog.changed, …"
    )
    entitlements: list[Entitlement]

    @classmethod
    def of(cls, event: Event) -> EntitlementsChanged:
        payload = EntitlementsChangedPayload.model_validate(event.data)
        return cls(
            id=strawberry.ID(event.id),
            tenant_id=strawberry.ID(str(event.tenant_id)),
            at=event.at,
            reason=payload.reason,
            entitlements=[Entitlement.of_data(e) for e in payload.entitlements],
        )
