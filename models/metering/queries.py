"""Reads of meters and usage charges shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import (
    MeterRow,
    UsageChargeRow,
)


async def usage_charges_of_plans(
    session: AsyncSession, plan_ids: Sequence[str]
) -> list[list[tuple[UsageChargeRow, MeterRow]]]:
    """Each plan's usage charges with their meters, by meter name."""
    groups: dict[str, list[tuple[UsageChargeRow, MeterRow]]] = defaultdict(list)
    rows = await session.execute(
        select(UsageChargeRow, MeterRow)
        .join(MeterRow, MeterRow.id == UsageChargeRow.meter_id)
        .where(UsageChargeRow.plan_id.in_(plan_ids))
        .order_by(MeterRow.name)
    )
    for charge, meter in rows.all():
        groups[charge.plan_id].append((charge, meter))
    return [groups.get(plan_id, []) for plan_id in plan_ids]
