"""What the entitlement use cases take: validated input models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from models.catalog.inputs import Code
from models.kernel.enums import FeatureKind, Overage, SeatType
from models.kernel.errors import ValidationFailed
from models.kernel.validation import Input, Long, Name
from models.metering.inputs import MeterName
from models.metering.rules import to_micros

Id = Annotated[str, StringConstraints(min_length=1, max_length=40)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class FeatureCreate(Input):
    code: Code
    name: Name
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    kind: FeatureKind
    meter_name: MeterName | None = None

    @model_validator(mode="after")
    def _meter_for_metered(self) -> FeatureCreate:
        if self.kind is FeatureKind.METERED and self.meter_name is None:
            raise ValidationFailed(
                "input.meterName", "a METERED feature counts a meter's usage: name the meter"
            )
        if self.kind is not FeatureKind.METERED and self.meter_name is not None:
            raise ValidationFailed(
                "input.meterName", f"only METERED features count a meter; leave it out for {self.kind.value}"
            )
        return self


class FeatureGrantCreate(Input):
    plan_id: Id | None = None
    addon_id: Id | None = None
    feature_code: Code
    limit: Long | None = None
    overage: Overage = Overage.BLOCK
    seat_types: list[SeatType] | None = Field(default=None, min_length=1, max_length=3)

    @model_validator(mode="after")
    def _one_grantor(self) -> FeatureGrantCreate:
        if (self.plan_id is None) == (self.addon_id is None):
            raise ValidationFailed(
                "input.planId", "give either planId or addonId: the plan or add-on that grants"
            )
        return self

    @field_validator("seat_types")
    @classmethod
    def _distinct(cls, value: list[SeatType] | None) -> list[SeatType] | None:
        return None if value is None else sorted(set(value))


class Consumption(Input):
    tenant_id: Id
    feature_code: Code
    amount: float = 1.0
    idempotency_key: IdempotencyKey

    @property
    def amount_micros(self) -> int:
        return to_micros(self.amount)

    @model_validator(mode="after")
    def _amount(self) -> Consumption:
        try:
            micros = to_micros(self.amount)
        except ValueError as exc:
            raise ValidationFailed("input.amount", str(exc)) from None
        if micros == 0:
            raise ValidationFailed("input.amount", "must not be 0 (at most 6 decimals count)")
        return self
