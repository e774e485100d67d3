"""Meters (SaaSus's metering units) and the usage charges plans carry for them.

Writes need an ADMIN key; every key may list meters (partners need their names).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models.catalog.service import Name, Price
from models.kernel.enums import Aggregation, PricingModel
from models.kernel.errors import NotFound, ValidationFailed
from models.kernel.ids import new_id
from models.kernel.validation import Input
from models.metering.rules import Tier, UsagePrice, check_tiers
from models.platform.access import Principal, require_admin
from models.platform.deps import Deps, insert_unique
from models.platform.store import ROW_LOCK
from models.tables import MeterRow, PlanRow, UsageChargeRow
from models.tables.metering import StoredTier

MeterName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
Units = Annotated[int, Field(ge=0, le=10**11)]


class MeterCreate(Input):
    name: MeterName
    display_name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    aggregation: Aggregation = Aggregation.SUM


async def create_meter(deps: Deps, actor: Principal, data: Any) -> MeterRow:
    require_admin(actor, "createMeter")
    spec: MeterCreate = MeterCreate.parse(data)
    now = deps.clock.now()
    row = MeterRow(
        id=new_id("meter"), name=spec.name, display_name=spec.display_name or spec.name,
        description=spec.description, aggregation=spec.aggregation, created_at=now, updated_at=now,
    )
    return await insert_unique(
        deps, row, "input.name", f"{spec.name!r} is already a meter's name; names are unique, pick another"
    )


async def update_meter(deps: Deps, actor: Principal, meter_id: str, aggregation: Aggregation) -> MeterRow:
    """Change how a meter's points combine. Every count follows, past ones included:
    days keep every statistic, so nothing is recomputed."""
    require_admin(actor, "updateMeter")
    async with deps.store.transaction() as session:
        meter = await session.get(MeterRow, meter_id, with_for_update=ROW_LOCK)
        if meter is None:
            raise NotFound("Meter", meter_id)
        if meter.aggregation is not aggregation:
            meter.aggregation = aggregation
            meter.updated_at = deps.clock.now()
    return meter


async def list_meters(deps: Deps) -> list[MeterRow]:
    async with deps.store.read() as session:
        return list((await session.scalars(select(MeterRow).order_by(MeterRow.created_at, MeterRow.id))).all())


class TierSpec(Input):
    up_to: Annotated[int, Field(ge=1, le=10**11)] | None = None
    unit_amount: Price
    flat_amount: Price = 0


class UsageChargeSpec(Input):
    plan_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    meter_name: MeterName
    model: PricingModel = PricingModel.PER_UNIT
    unit_amount: Price = 0
    package_size: Annotated[int, Field(ge=1, le=10**9)] = 1
    free_units: Units = 0
    tiers: list[TierSpec] | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _model_fits(self) -> UsageChargeSpec:
        tiered = self.model in (PricingModel.GRADUATED, PricingModel.VOLUME)
        if tiered:
            problem = check_tiers(self.price().tiers)
            if problem:
                raise ValidationFailed("input.tiers", f"{problem} ({self.model.value} pricing)")
        elif self.tiers:
            raise ValidationFailed("input.tiers", f"only GRADUATED and VOLUME pricing take tiers, not {self.model.value}")
        if self.model is not PricingModel.PACKAGE and self.package_size != 1:
            raise ValidationFailed("input.packageSize", "only PACKAGE pricing takes a package size")
        return self

    def price(self) -> UsagePrice:
        tiers = tuple(Tier(t.up_to, t.unit_amount, t.flat_amount) for t in self.tiers or ())
        return UsagePrice(self.model, self.unit_amount, self.package_size, self.free_units, tiers)


def usage_price(row: UsageChargeRow) -> UsagePrice:
    tiers = tuple(Tier(t.up_to, t.unit_amount, t.flat_amount) for t in row.tiers or ())
    return UsagePrice(row.model, row.unit_amount, row.package_size, row.free_units, tiers)


async def add_usage_charge(deps: Deps, actor: Principal, data: Any) -> PlanRow:
    """Charge a plan's subscribers for a meter's usage, per period in arrears, in the
    plan's currency. One charge per meter and plan."""
    require_admin(actor, "addUsageCharge")
    spec: UsageChargeSpec = UsageChargeSpec.parse(data)
    try:
        async with deps.store.transaction() as session, session.begin_nested():
            plan = await session.get(PlanRow, spec.plan_id, with_for_update=ROW_LOCK)
            if plan is None:
                raise NotFound("Plan", spec.plan_id)
            meter = (await session.scalars(select(MeterRow).where(MeterRow.name == spec.meter_name))).first()
            if meter is None:
                raise NotFound("Meter", spec.meter_name)
            tiers = [StoredTier(**t.model_dump()) for t in spec.tiers] if spec.tiers else None
            session.add(UsageChargeRow(
                id=new_id("uchg"), plan_id=plan.id, meter_id=meter.id, model=spec.model,
                unit_amount=spec.unit_amount, package_size=spec.package_size, free_units=spec.free_units,
                tiers=tiers, created_at=deps.clock.now(),
            ))
    except IntegrityError:
        raise ValidationFailed(
            "input.meterName", f"plan {spec.plan_id!r} already charges for meter {spec.meter_name!r}"
        ) from None
    return plan
