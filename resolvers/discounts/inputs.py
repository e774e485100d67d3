from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from resolvers.shared.enums import CouponDuration
from resolvers.shared.scalars import MinorUnits


@strawberry.input
class CreateCouponInput:
    code: str = strawberry.field(description="Letters, digits, `_` and `-`; kept upper case.")
    name: str = strawberry.field(description="Shown on the DISCOUNT line.")
    percent_off: Decimal | None = strawberry.field(
        default=None, description="Percent off (up to 3 decimals, at most 100), or…"
    )
    amount_off: MinorUnits | None = strawberry.field(default=None, description="…an amount off, with…")
    currency: str | None = strawberry.field(default=None, description="…its currency.")
    duration: CouponDuration
    duration_in_periods: int | None = strawberry.field(default=None, description="REPEATING only.")
    applies_to: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Plans and add-ons it covers; null: everything."
    )
    max_redemptions: int | None = None
    redeem_by: datetime | None = None
