from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.shared.enums import Aggregation, PricingModel, UsageMethod
from resolvers.shared.scalars import Long, MinorUnits


@strawberry.input
class CreateMeterInput:
    name: str = strawberry.field(description="Unique: lowercase letters, digits and `_`, e.g. `api_calls`.")
    display_name: str | None = strawberry.field(
        default=None, description="For invoices; the name when omitted."
    )
    description: str | None = None
    aggregation: Aggregation = Aggregation.SUM


@strawberry.input
class RecordUsageInput:
    tenant_id: strawberry.ID
    meter_name: str
    value: float = strawberry.field(description="Units, at most 6 decimals kept; never negative (use SUB).")
    method: UsageMethod = UsageMethod.ADD
    timestamp: datetime | None = strawberry.field(
        default=None,
        description="The point's second; the tenant's clock when omitted; at most 5 minutes ahead.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key counts nothing (kept at least 35 days)."
    )


@strawberry.input
class UsageTierInput:
    up_to: Long | None = strawberry.field(default=None, description="Units; leave the last tier's empty.")
    unit_amount: MinorUnits = strawberry.field(description="Minor units per unit.")
    flat_amount: MinorUnits = strawberry.field(
        default=0, description="Minor units, once the tier is reached."
    )


@strawberry.input
class AddUsageChargeInput:
    plan_id: strawberry.ID
    meter_name: str
    model: PricingModel = PricingModel.PER_UNIT
    unit_amount: MinorUnits = strawberry.field(
        default=0, description="Minor units per unit (per package for PACKAGE)."
    )
    package_size: Long = strawberry.field(default=1, description="Units per package (PACKAGE only).")
    free_units: Long = strawberry.field(default=0, description="Units free each period.")
    tiers: list[UsageTierInput] | None = strawberry.field(
        default=None, description="GRADUATED and VOLUME only."
    )
