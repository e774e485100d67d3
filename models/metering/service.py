"""Meters (SaaSus's metering units) and the usage charges plans carry for them.

Writes need an ADMIN key; every key may list meters (partners need their names).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models.kernel.enums import Aggregation
from models.kernel.errors import NotFound, ValidationFailed
from models.kernel.ids import new_id
from models.metering.inputs import MeterCreate, UsageChargeCreate
from models.metering.rules import Tier, UsagePrice
from models.platform import locks
from models.platform.access import Principal, require_admin
from models.platform.deps import Deps, insert_unique
from models.tables import MeterRow, PlanRow, UsageChargeRow
from models.tables.metering import StoredTier


async def create_meter(deps: Deps, actor: Principal, spec: MeterCreate) -> MeterRow:
    require_admin(actor, "createMeter")
    now = deps.clock.now()
    row = MeterRow(
        id=new_id("meter"),
        name=spec.name,
        display_name=spec.display_name or spec.name,
        description=spec.description,
        aggregation=spec.aggregation,
        created_at=now,
        updated_at=now,
    )
    return await insert_unique(
        deps, row, "input.name", f"{spec.name!r} is already a meter's name; names are unique, pick another"
    )


async def update_meter(deps: Deps, actor: Principal, meter_id: str, aggregation: Aggregation) -> MeterRow:
    """Change how a meter's points combine. Every count follows, past ones included:
    days keep every statistic, so nothing is recomputed."""
    require_admin(actor, "updateMeter")
    async with deps.store.transaction() as session:
        meter = await locks.meter(session, meter_id)
        if meter is None:
            raise NotFound("Meter", meter_id)
        if meter.aggregation is not aggregation:
            meter.aggregation = aggregation
            meter.updated_at = deps.clock.now()
    return meter


async def list_meters(deps: Deps) -> list[MeterRow]:
    async with deps.store.read() as session:
        return list(
            (await session.scalars(select(MeterRow).order_by(MeterRow.created_at, MeterRow.id))).all()
        )


def usage_price(row: UsageChargeRow) -> UsagePrice:
    tiers = tuple(Tier(t.up_to, t.unit_amount, t.flat_amount) for t in row.tiers or ())
    return UsagePrice(row.model, row.unit_amount, row.package_size, row.free_units, tiers)


async def add_usage_charge(deps: Deps, actor: Principal, spec: UsageChargeCreate) -> PlanRow:
    """Charge a plan's subscribers for a meter's usage, per period in arrears, in the
    plan's currency. One charge per meter and plan."""
    require_admin(actor, "addUsageCharge")
    try:
        async with deps.store.transaction() as session, session.begin_nested():
            plan = await locks.plan(session, spec.plan_id)
            if plan is None:
                raise NotFound("Plan", spec.plan_id)
            meter = (await session.scalars(select(MeterRow).where(MeterRow.name == spec.meter_name))).first()
            if meter is None:
                raise NotFound("Meter", spec.meter_name)
            tiers = [StoredTier(**t.model_dump()) for t in spec.tiers] if spec.tiers else None
            session.add(
                UsageChargeRow(
                    id=new_id("uchg"),
                    plan_id=plan.id,
                    meter_id=meter.id,
                    model=spec.model,
                    unit_amount=spec.unit_amount,
                    package_size=spec.package_size,
                    free_units=spec.free_units,
                    tiers=tiers,
                    created_at=deps.clock.now(),
                )
            )
    except IntegrityError:
        raise ValidationFailed(
            "input.meterName", f"plan {spec.plan_id!r} already charges for meter {spec.meter_name!r}"
        ) from None
    return plan
