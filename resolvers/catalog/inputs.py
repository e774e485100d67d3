from __future__ import annotations

import strawberry

from resolvers.shared.enums import Interval, SeatType
from resolvers.shared.scalars import MinorUnits


@strawberry.input
class CreatePlanInput:
    code: str = strawberry.field(description="Unique, lowercase: letters, digits, `_` and `-`.")
    name: str
    currency: str = strawberry.field(description="ISO 4217; the plan's add-ons must share it.")
    interval: Interval = Interval.MONTH
    base_price: MinorUnits = strawberry.field(
        description="Minor units per interval; 0 for pure per-seat pricing."
    )
    included_seats: int = strawberry.field(default=0, description="FULL seats the base price includes.")
    min_seats: int | None = strawberry.field(default=None, description="Over all seat types.")
    max_seats: int | None = strawberry.field(default=None, description="Over all seat types.")
    trial_days: int = strawberry.field(
        default=0,
        description="Days of free trial, once per tenant (0-730; 0: none). No invoice until it ends.",
    )


@strawberry.input
class CreateAddonInput:
    code: str = strawberry.field(description="Unique, lowercase: letters, digits, `_` and `-`.")
    name: str = strawberry.field(description="Shown on invoices, e.g. `Additional team seat`.")
    description: str | None = None
    currency: str
    price: MinorUnits = strawberry.field(description="Minor units per unit and interval.")
    seat_type: SeatType | None = strawberry.field(
        default=None, description="Null: the add-on gives no seats."
    )
    seats_per_unit: int = strawberry.field(default=1, description="Seats per unit: 5 for a 5-seat pack.")
    tax_category: str = "saas"
