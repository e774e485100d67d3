"""What the meter and usage-charge use cases take: validated input models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from models.kernel.enums import Aggregation, PricingModel
from models.kernel.errors import ValidationFailed
from models.kernel.validation import Input, Name, Price
from models.metering.rules import Tier, UsagePrice, check_tiers

MeterName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]

# Units of usage priced per period (Long): a month of days at their most is 3.1 * 10^12.
Units = Annotated[int, Field(ge=0, le=10**15)]


class MeterCreate(Input):
    name: MeterName
    display_name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    aggregation: Aggregation = Aggregation.SUM


class TierCreate(Input):
    up_to: Annotated[int, Field(ge=1, le=10**15)] | None = None
    unit_amount: Price
    flat_amount: Price = 0


class UsageChargeCreate(Input):
    plan_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    meter_name: MeterName
    model: PricingModel = PricingModel.PER_UNIT
    unit_amount: Price = 0
    package_size: Annotated[int, Field(ge=1, le=10**9)] = 1
    free_units: Units = 0
    tiers: list[TierCreate] | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _model_fits(self) -> UsageChargeCreate:
        tiered = self.model in (PricingModel.GRADUATED, PricingModel.VOLUME)
        if tiered:
            problem = check_tiers(self.price().tiers)
            if problem:
                raise ValidationFailed("input.tiers", f"{problem} ({self.model.value} pricing)")
        elif self.tiers:
            raise ValidationFailed(
                "input.tiers", f"only GRADUATED and VOLUME pricing take tiers, not {self.model.value}"
            )
        if self.model is not PricingModel.PACKAGE and self.package_size != 1:
            raise ValidationFailed("input.packageSize", "only PACKAGE pricing takes a package size")
        return self

    def price(self) -> UsagePrice:
        tiers = tuple(Tier(t.up_to, t.unit_amount, t.flat_amount) for t in self.tiers or ())
        return UsagePrice(self.model, self.unit_amount, self.package_size, self.free_units, tiers)
