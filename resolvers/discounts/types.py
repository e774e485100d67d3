from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from models.kernel.enums import CouponDuration as CouponDurationValue
from models.tables import CouponRow, DiscountRow
from resolvers.shared.enums import CouponDuration
from resolvers.shared.money import Money


def _percent(thousandths: int) -> Decimal:
    """20000 -> 20, 12500 -> 12.5, 33333 -> 33.333 (never an exponent)."""
    value = Decimal(thousandths).scaleb(-3)
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


@strawberry.type(description="A percentage or an amount off, for one invoice, N periods or for ever.")
class Coupon:
    id: strawberry.ID
    code: str = strawberry.field(description="What customers type: upper case.")
    name: str
    percent_off: Decimal | None = strawberry.field(description="Percent off the lines it covers, or…")
    amount_off: Money | None = strawberry.field(description="…an amount off them, in its currency.")
    duration: CouponDuration
    duration_in_periods: int | None = strawberry.field(description="REPEATING: how many billing periods.")
    applies_to: list[strawberry.ID] | None = strawberry.field(
        description="The plans and add-ons it covers; null: everything."
    )
    max_redemptions: int | None
    times_redeemed: int
    redeem_by: datetime | None = strawberry.field(
        description="No redemption after this (the tenant's clock)."
    )
    archived_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: CouponRow) -> Coupon:
        return cls(
            id=strawberry.ID(row.id),
            code=row.code,
            name=row.name,
            percent_off=_percent(row.percent_off) if row.percent_off is not None else None,
            amount_off=Money.of(row.amount_off, row.currency) if row.amount_off and row.currency else None,
            duration=CouponDurationValue(row.duration),
            duration_in_periods=row.duration_in_periods,
            applies_to=[strawberry.ID(i) for i in row.applies_to] if row.applies_to is not None else None,
            max_redemptions=row.max_redemptions,
            times_redeemed=row.times_redeemed,
            redeem_by=row.redeem_by,
            archived_at=row.archived_at,
            created_at=row.created_at,
        )


@strawberry.type(description="A coupon redeemed on a subscription, taken off its invoices before tax.")
class Discount:
    id: strawberry.ID
    coupon: Coupon
    started_at: datetime
    ends_at: datetime | None = strawberry.field(
        description="REPEATING: the end of its last period (known once its first period starts); null for "
        "ONCE (its next invoice) and FOREVER."
    )
    periods_left: int | None = strawberry.field(
        description="REPEATING: periods it still covers after the current one."
    )

    @classmethod
    def from_rows(cls, row: DiscountRow, coupon: CouponRow) -> Discount:
        return cls(
            id=strawberry.ID(row.id),
            coupon=Coupon.from_row(coupon),
            started_at=row.started_at,
            ends_at=row.ends_at,
            periods_left=row.periods_left,
        )
