"""What the coupon use cases take: validated input models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from models.kernel.enums import CouponDuration
from models.kernel.errors import ValidationFailed
from models.kernel.money import MAX_SAFE_INTEGER
from models.kernel.validation import CurrencyCode, Input, Name

CouponCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", to_upper=True, strip_whitespace=True)
]
ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class CouponCreate(Input):
    code: CouponCode
    name: Name
    percent_off: Annotated[Decimal, Field(gt=0, le=100, decimal_places=3)] | None = None
    amount_off: Annotated[int, Field(gt=0, le=MAX_SAFE_INTEGER)] | None = None
    currency: CurrencyCode | None = None
    duration: CouponDuration
    duration_in_periods: Annotated[int, Field(ge=1, le=1200)] | None = None
    applies_to: Annotated[list[ObjectId], Field(min_length=1, max_length=100)] | None = None
    max_redemptions: Annotated[int, Field(ge=1, le=1_000_000_000)] | None = None
    redeem_by: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CouponCreate:
        if (self.percent_off is None) == (self.amount_off is None):
            raise ValidationFailed(
                "input.percentOff", "give percentOff or amountOff (with currency), not both"
            )
        if self.amount_off is not None and self.currency is None:
            raise ValidationFailed("input.currency", "an amountOff is in a currency: give it")
        if self.percent_off is not None and self.currency is not None:
            raise ValidationFailed("input.currency", "a percentOff coupon has no currency; leave it out")
        if (self.duration is CouponDuration.REPEATING) != (self.duration_in_periods is not None):
            raise ValidationFailed(
                "input.durationInPeriods", "give it with duration REPEATING, and only then"
            )
        if self.redeem_by is not None and self.redeem_by.tzinfo is None:
            raise ValidationFailed("input.redeemBy", "needs a timezone offset")
        return self

    @property
    def percent_thousandths(self) -> int | None:
        return None if self.percent_off is None else int(self.percent_off * 1000)
