"""What a period's usage costs: each meter's usage over exact seconds, priced by the
plans the period had (``rules.charge``)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from models.invoicing.rules import Line, check_representable
from models.metering.rollups import POINTS, read_days
from models.metering.rules import (
    DayStats,
    PricedUsage,
    UsagePrice,
    charge,
    day_bounds,
    fold_days,
    local_day,
    stats_of_points,
)
from models.metering.service import usage_price
from models.tables import (
    MeterRow,
    SubscriptionRow,
    TenantRow,
    UsageChargeRow,
)
from models.tables.subscriptions import UsagePlan


async def usage_between(
    session: AsyncSession, tenant: TenantRow, meter_ids: Sequence[str], start: datetime, stop: datetime
) -> dict[str, DayStats | None]:
    """Each meter's statistics over the seconds [start, stop): the whole local days in
    between from their rollups, the two partial days at the ends from their points
    (a primary-key range read each)."""
    zone = ZoneInfo(tenant.timezone)
    first_ts, stop_ts = math.ceil(start.timestamp()), math.ceil(stop.timestamp())
    if stop_ts <= first_ts or not meter_ids:
        return dict.fromkeys(meter_ids)
    first_day, last_day = local_day(first_ts, zone), local_day(stop_ts - 1, zone)
    middle: dict[str, list[tuple[date, DayStats]]] = {}
    if (last_day - first_day).days > 1:
        middle = await read_days(
            session, tenant.id, meter_ids, first_day + timedelta(days=1), last_day - timedelta(days=1)
        )
    # The end days' points: up to the end of the first day, and from the start of the last.
    _, first_stop = day_bounds(first_day, zone)
    last_start, _ = day_bounds(last_day, zone)
    spans = (
        [(first_ts, stop_ts)] if first_day == last_day else [(first_ts, first_stop), (last_start, stop_ts)]
    )
    edges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for low, high in spans:
        rows = await session.execute(
            select(POINTS.c.meter_id, POINTS.c.ts, POINTS.c.value).where(
                POINTS.c.tenant_id == tenant.id,
                POINTS.c.meter_id.in_(meter_ids),
                POINTS.c.ts >= max(low, first_ts),
                POINTS.c.ts < min(high, stop_ts),
            )
        )
        for meter_id, ts, value in rows:
            if local_day(ts, zone) in (first_day, last_day):
                edges[meter_id].append((ts, value))
    result: dict[str, DayStats | None] = {}
    for meter_id in meter_ids:
        days = [stats for _, stats in middle.get(meter_id, [])]
        edge = stats_of_points(sorted(set(edges.get(meter_id, []))))
        result[meter_id] = fold_days([*days, edge] if edge else days)
    return result


def plans_until(subscription: SubscriptionRow, cut: datetime) -> list[UsagePlan]:
    """The plans of the current period in order, each until when: the ones it switched
    from, then the one it has now, up to ``cut``."""
    return [*(subscription.usage_plans or []), UsagePlan(plan_id=subscription.plan_id, until=cut)]


async def charges_of(
    session: AsyncSession, plan_ids: Sequence[str]
) -> dict[tuple[str, str], tuple[UsagePrice, MeterRow]]:
    """(plan id, meter id) -> (the plan's price for the meter, the meter), for the plans given."""
    rows = (
        await session.execute(
            select(UsageChargeRow, MeterRow)
            .join(MeterRow, MeterRow.id == UsageChargeRow.meter_id)
            .where(UsageChargeRow.plan_id.in_(list(dict.fromkeys(plan_ids))))
            .order_by(MeterRow.name)
        )
    ).all()
    return {(c.plan_id, m.id): (usage_price(c), m) for c, m in rows}


async def price_usage(
    session: AsyncSession, tenant: TenantRow, plans: Sequence[UsagePlan], start: datetime, cut: datetime
) -> list[PricedUsage]:
    """The usage of [start, cut), to the second, priced by ``plans`` (each until when, in
    order; see ``rules.charge``): one charge per meter any of them charges for, in name
    order. Periods do not overlap and each bill ends where the next period starts, so
    every second of usage is billed once. VALIDATION_FAILED (field ``usage``) when an
    amount would pass what the API carries."""
    prices = await charges_of(session, [p.plan_id for p in plans])
    if not prices:
        return []
    meters = {meter.id: meter for _, meter in prices.values()}
    stats_by_plan = []
    since = start
    for plan in plans:
        stats_by_plan.append(await usage_between(session, tenant, list(meters), since, min(plan.until, cut)))
        since = max(since, plan.until)
    result = [
        charge(
            [
                (
                    prices[(plan.plan_id, meter.id)][0] if (plan.plan_id, meter.id) in prices else None,
                    stats[meter.id],
                )
                for plan, stats in zip(plans, stats_by_plan, strict=True)
            ],
            meter_id=meter.id,
            meter_name=meter.name,
            display_name=meter.display_name,
            aggregation=meter.aggregation,
            currency=tenant.currency,
            period=(start, cut),
        )
        for meter in sorted(meters.values(), key=lambda m: m.name)
    ]
    check_representable(
        [c.line() for c in result],
        *(c.quantity for c in result),
        field="usage",
        what=f"the usage from {start.isoformat()} to {cut.isoformat()} (a line's units or amount, or their "
        "total) would exceed",
    )
    return result


async def usage_charges(
    session: AsyncSession, tenant: TenantRow, subscription: SubscriptionRow, cut: datetime
) -> list[PricedUsage]:
    """The usage of the subscription's current period up to ``cut``, priced by the plans
    it had in that time."""
    return await price_usage(
        session, tenant, plans_until(subscription, cut), subscription.current_period_start, cut
    )


def usage_lines(charges: Sequence[PricedUsage]) -> list[Line]:
    return [c.line() for c in charges]
