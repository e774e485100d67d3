"""What the catalog use cases take: validated input models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from models.kernel.enums import Interval, SeatType
from models.kernel.errors import ValidationFailed
from models.kernel.validation import CurrencyCode, Input, Name, NonBlank, Price

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
SeatCount = Annotated[int, Field(ge=0, le=1_000_000)]


class PlanCreate(Input):
    code: Code
    name: Name
    currency: CurrencyCode
    interval: Interval = Interval.MONTH
    base_price: Price
    included_seats: SeatCount = 0
    min_seats: SeatCount | None = None
    max_seats: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    trial_days: Annotated[int, Field(ge=0, le=730)] = 0

    @model_validator(mode="after")
    def _bounds(self) -> PlanCreate:
        if self.max_seats is not None:
            if self.min_seats is not None and self.max_seats < self.min_seats:
                raise ValidationFailed("input.maxSeats", f"must be at least minSeats ({self.min_seats})")
            if self.max_seats < self.included_seats:
                raise ValidationFailed(
                    "input.maxSeats",
                    f"must be at least includedSeats ({self.included_seats}), or no one could subscribe",
                )
        return self


class AddonCreate(Input):
    code: Code
    name: Name
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    currency: CurrencyCode
    price: Price
    seat_type: SeatType | None = None
    seats_per_unit: Annotated[int, Field(ge=1, le=10_000)] = 1
    tax_category: Annotated[NonBlank, StringConstraints(max_length=64)] = "saas"

    @model_validator(mode="after")
    def _packs_are_seats(self) -> AddonCreate:
        if self.seat_type is None and self.seats_per_unit != 1:
            raise ValidationFailed("input.seatsPerUnit", "needs a seatType: only seat add-ons come in packs")
        return self
