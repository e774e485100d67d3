"""Reads of the catalog shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.platform.reads import grouped
from models.tables import (
    AddonRow,
    PlanAddonRow,
)


async def addons_of_plans(session: AsyncSession, plan_ids: Sequence[str]) -> list[list[AddonRow]]:
    query = select(AddonRow).join(PlanAddonRow, PlanAddonRow.addon_id == AddonRow.id).order_by(AddonRow.id)
    return await grouped(session, query, PlanAddonRow.plan_id, plan_ids)
