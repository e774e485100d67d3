from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from models.metering import counts as metering_counts
from models.metering import service as meters
from resolvers.metering.types import Meter, MeterUnitCount, MeterUnitDayCount, parse_month
from resolvers.shared.context import Info


async def _count(info: Info, tenant_id: str, meter_name: str, span: metering_counts.Span) -> MeterUnitCount:
    ctx = info.context
    (count,) = await metering_counts.counts(ctx.deps, ctx.actor, tenant_id, meter_name, span)
    return MeterUnitCount.of(count)


async def _counts(info: Info, tenant_id: str, span: metering_counts.Span) -> list[MeterUnitCount]:
    ctx = info.context
    return [
        MeterUnitCount.of(c) for c in await metering_counts.counts(ctx.deps, ctx.actor, tenant_id, None, span)
    ]


@strawberry.type
class MeteringQueries:
    @strawberry.field(description="Every meter, oldest first.")
    async def meters(self, info: Info) -> list[Meter]:
        return [Meter.from_row(r) for r in await meters.list_meters(info.context.deps)]

    @strawberry.field(description="A meter's count on a day of the tenant's timezone.")
    async def meter_unit_date_count(
        self, info: Info, tenant_id: strawberry.ID, meter_name: str, date: date
    ) -> MeterUnitCount:
        return await _count(info, tenant_id, meter_name, metering_counts.Span(month=False, day=date))

    @strawberry.field(description="A meter's count today, on the tenant's clock and in its timezone.")
    async def meter_unit_today_count(
        self, info: Info, tenant_id: strawberry.ID, meter_name: str
    ) -> MeterUnitCount:
        return await _count(info, tenant_id, meter_name, metering_counts.Span(month=False))

    @strawberry.field(description="A meter's count in a month (`YYYY-MM`) of the tenant's timezone.")
    async def meter_unit_month_count(
        self, info: Info, tenant_id: strawberry.ID, meter_name: str, month: str
    ) -> MeterUnitCount:
        return await _count(
            info, tenant_id, meter_name, metering_counts.Span(month=True, day=parse_month(month))
        )

    @strawberry.field(description="A meter's count this month, on the tenant's clock and in its timezone.")
    async def meter_unit_this_month_count(
        self, info: Info, tenant_id: strawberry.ID, meter_name: str
    ) -> MeterUnitCount:
        return await _count(info, tenant_id, meter_name, metering_counts.Span(month=True))

    @strawberry.field(description="Every meter's count on a day of the tenant's timezone.")
    async def meter_unit_date_counts(
        self, info: Info, tenant_id: strawberry.ID, date: date
    ) -> list[MeterUnitCount]:
        return await _counts(info, tenant_id, metering_counts.Span(month=False, day=date))

    @strawberry.field(description="Every meter's count in a month (`YYYY-MM`) of the tenant's timezone.")
    async def meter_unit_month_counts(
        self, info: Info, tenant_id: strawberry.ID, month: str
    ) -> list[MeterUnitCount]:
        return await _counts(info, tenant_id, metering_counts.Span(month=True, day=parse_month(month)))

    @strawberry.field(
        description="A meter's count on each day from `from` to `to` (both included; a year at most)."
    )
    async def meter_unit_period_counts(
        self,
        info: Info,
        tenant_id: strawberry.ID,
        meter_name: str,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
    ) -> list[MeterUnitDayCount]:
        ctx = info.context
        _, days = await metering_counts.period_counts(ctx.deps, ctx.actor, tenant_id, meter_name, from_, to)
        return [MeterUnitDayCount.of(d) for d in days]
