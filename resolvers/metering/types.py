from __future__ import annotations

import re
from datetime import date, datetime

import strawberry

from models.kernel.enums import Aggregation as AggregationValue
from models.kernel.enums import PricingModel as PricingModelValue
from models.kernel.errors import DomainError, ValidationFailed
from models.metering.counts import Count, DayCount
from models.metering.ingest import Recorded
from models.metering.rules import PricedUsage, from_micros
from models.tables import MeterRow, UsageChargeRow
from resolvers.shared.enums import Aggregation, ErrorCode, PricingModel
from resolvers.shared.money import Money
from resolvers.shared.scalars import Long

MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def parse_month(value: str) -> date:
    """The first day of a `YYYY-MM` month argument."""
    match = MONTH.fullmatch(value)
    if not match or match.group(1) == "0000":
        raise ValidationFailed("month", f"{value!r} is not a month; write it as YYYY-MM, e.g. 2026-11")
    return date(int(match.group(1)), int(match.group(2)), 1)


@strawberry.type(description="A metering unit: what is counted and how its points combine.")
class Meter:
    id: strawberry.ID
    name: str
    display_name: str
    description: str | None
    aggregation: Aggregation
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: MeterRow) -> Meter:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            display_name=row.display_name,
            description=row.description,
            aggregation=AggregationValue(row.aggregation),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type
class UsageRecorded:
    meter_name: str
    timestamp: datetime = strawberry.field(description="The point's second, in UTC.")
    value: float = strawberry.field(
        description="The point's value now, after this event (or before, for a duplicate)."
    )
    duplicate: bool = strawberry.field(
        description="True: this idempotency key was seen already; nothing was counted."
    )

    @classmethod
    def of(cls, recorded: Recorded) -> UsageRecorded:
        return cls(
            meter_name=recorded.meter_name,
            timestamp=recorded.timestamp,
            value=from_micros(recorded.value),
            duplicate=recorded.duplicate,
        )


@strawberry.type
class UsageDeleted:
    meter_name: str
    timestamp: datetime
    deleted: bool = strawberry.field(description="False when there was no point at that second.")


@strawberry.type(description="An event of a batch that was not recorded, by its index in `events`.")
class UsageEventError:
    index: int
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(
        description="For VALIDATION_FAILED: the offending value, e.g. `events[3].value`."
    )

    @classmethod
    def of(cls, index: int, error: DomainError) -> UsageEventError:
        field = error.field if isinstance(error, ValidationFailed) else None
        return cls(index=index, code=error.code, message=error.message, field=field)


@strawberry.type
class UsageBatchRecorded:
    accepted: int = strawberry.field(description="Events counted, all committed together.")
    duplicates: int = strawberry.field(
        description="Events whose idempotency key was seen already: not counted again."
    )
    errors: list[UsageEventError] = strawberry.field(description="Events refused; the others were recorded.")


@strawberry.type
class MeterUnitCount:
    meter_name: str
    aggregation: Aggregation
    count: float = strawberry.field(description="The period's points combined by the meter's aggregation.")

    @classmethod
    def of(cls, count: Count) -> MeterUnitCount:
        return cls(meter_name=count.meter.name, aggregation=count.aggregation, count=from_micros(count.value))


@strawberry.type
class MeterUnitDayCount:
    date: date
    count: float

    @classmethod
    def of(cls, count: DayCount) -> MeterUnitDayCount:
        return cls(date=count.day, count=from_micros(count.value))


@strawberry.type
class UsageTier:
    up_to: Long | None = strawberry.field(description="Units up to which this tier applies; null: no bound.")
    unit_amount: Money
    flat_amount: Money


@strawberry.type(description="What a plan charges for a meter's usage each period, in arrears.")
class UsageCharge:
    id: strawberry.ID
    meter_name: str
    model: PricingModel
    unit_amount: Money = strawberry.field(description="Per unit (PER_UNIT) or per package (PACKAGE).")
    package_size: Long
    free_units: Long = strawberry.field(description="Units free each period, before any price applies.")
    tiers: list[UsageTier]

    @classmethod
    def from_row(cls, row: UsageChargeRow, meter: MeterRow, currency: str) -> UsageCharge:
        return cls(
            id=strawberry.ID(row.id),
            meter_name=meter.name,
            model=PricingModelValue(row.model),
            unit_amount=Money.of(row.unit_amount, currency),
            package_size=row.package_size,
            free_units=row.free_units,
            tiers=[
                UsageTier(
                    up_to=t.up_to,
                    unit_amount=Money.of(t.unit_amount, currency),
                    flat_amount=Money.of(t.flat_amount, currency),
                )
                for t in row.tiers or []
            ],
        )


@strawberry.type(description="A meter's usage in a period, priced by the plan's usage charge.")
class UsageLineItem:
    meter_name: str
    description: str
    aggregation: Aggregation
    units: float = strawberry.field(
        description="Units consumed: the period's count in the meter's aggregation."
    )
    free_units: float = strawberry.field(description="Of those, free.")
    chargeable_units: float = strawberry.field(description="Units billed.")
    unit_amount: Money = strawberry.field(
        description="Price per unit (per package for PACKAGE; the highest tier reached for GRADUATED)."
    )
    amount: Money
    period_start: datetime
    period_end: datetime

    @classmethod
    def of(cls, usage: PricedUsage) -> UsageLineItem:
        return cls(
            meter_name=usage.meter_name,
            description=usage.describe(),
            aggregation=usage.aggregation,
            units=from_micros(usage.units),
            free_units=from_micros(usage.free),
            chargeable_units=from_micros(usage.chargeable),
            unit_amount=Money.of(usage.unit_amount, usage.currency),
            amount=Money.of(usage.amount, usage.currency),
            period_start=usage.period[0],
            period_end=usage.period[1],
        )
