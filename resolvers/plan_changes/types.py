from __future__ import annotations

from datetime import datetime

import strawberry

from models.kernel.enums import LineKind as LineKindValue
from models.plan_changes.service import AppliedChange, PlannedChange
from resolvers.catalog.types import Addon, Plan
from resolvers.invoicing.types import Invoice
from resolvers.metering.types import UsageLineItem
from resolvers.seats.types import SeatSummary
from resolvers.shared.enums import LineKind
from resolvers.shared.money import Money
from resolvers.shared.scalars import Long
from resolvers.subscriptions.types import Subscription, SubscriptionAddon


@strawberry.type
class ChargeLineItem:
    kind: LineKind
    description: str
    quantity: Long = strawberry.field(description="Units; negative for units given up (a credit).")
    unit_amount: Money = strawberry.field(description="The price of one unit for a whole period.")
    proration_factor: float = strawberry.field(
        description="The share of the period billed: 0.5 for 15 of 30 days."
    )
    amount: Money
    period_start: datetime
    period_end: datetime


@strawberry.type
class ChargeSummary:
    currency: str
    subtotal: Money
    tax: Money
    customer_credits: Money = strawberry.field(description="Credit balance applied to this charge.")
    total_amount: Money = strawberry.field(description="Subtotal plus tax; negative when the change credits.")
    amount_due: Money
    credit_to_balance: Money = strawberry.field(
        description="What a negative total adds to the credit balance."
    )
    text: str = strawberry.field(
        description='E.g. "Adding 5 seats costs $25.00 today (15 of 30 days prorated)."'
    )


@strawberry.type
class ImmediateCharge:
    line_items: list[ChargeLineItem]
    summary: ChargeSummary


@strawberry.type(description="The subscription as it would be once the change applies.")
class SubscriptionPreview:
    plan: Plan
    addons: list[SubscriptionAddon]
    seats: SeatSummary
    current_period_start: datetime
    current_period_end: datetime


@strawberry.type(description="What changePlan with the same input would do; a preview changes nothing.")
class PlanChangePreview:
    effective_at: datetime
    immediate_charge: ImmediateCharge
    usage: list[UsageLineItem] = strawberry.field(
        description="The current period's usage so far, priced by the plans it had. It is billed at the "
        "renewal, "
        "in arrears (after a plan change, each plan prices its part); a FULL_IMMEDIATELY change ends the "
        "period "
        "and bills it now, among the immediate charge's USAGE lines."
    )
    new_subscription: SubscriptionPreview

    @classmethod
    def of(cls, change: PlannedChange) -> PlanChangePreview:
        def money(amount: int) -> Money:
            return Money.of(amount, change.currency)

        totals = change.totals
        return cls(
            effective_at=change.effective_at,
            immediate_charge=ImmediateCharge(
                line_items=[
                    ChargeLineItem(
                        kind=LineKindValue(line.kind),
                        description=line.description,
                        quantity=line.quantity,
                        unit_amount=money(line.unit_amount),
                        proration_factor=float(line.factor if line.factor is not None else 1),
                        amount=money(line.amount),
                        period_start=(line.period or change.period)[0],
                        period_end=(line.period or change.period)[1],
                    )
                    for line in change.lines
                ],
                summary=ChargeSummary(
                    currency=change.currency,
                    subtotal=money(totals.subtotal),
                    tax=money(totals.tax),
                    customer_credits=money(totals.credits_applied),
                    total_amount=money(totals.total),
                    amount_due=money(totals.amount_due),
                    credit_to_balance=money(totals.credit_granted),
                    text=change.text,
                ),
            ),
            usage=[UsageLineItem.of(u) for u in change.usage],
            new_subscription=SubscriptionPreview(
                plan=Plan.from_row(change.plan),
                addons=[SubscriptionAddon(addon=Addon.from_row(a), quantity=q) for a, q in change.items],
                seats=SeatSummary.of(change.seats),
                current_period_start=change.period[0],
                current_period_end=change.period[1],
            ),
        )


@strawberry.type(
    description="The subscription after the change, and the invoice it issued (none when nothing is billed "
    "now)."
)
class PlanChange:
    subscription: Subscription
    invoice: Invoice | None

    @classmethod
    def of(cls, applied: AppliedChange) -> PlanChange:
        return cls(
            subscription=Subscription.from_row(applied.subscription),
            invoice=Invoice.from_row(applied.invoice) if applied.invoice else None,
        )
