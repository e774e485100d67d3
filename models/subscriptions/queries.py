"""Reads of subscriptions shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import SubscriptionStatus
from models.platform.reads import grouped
from models.platform.store import ROW_LOCK
from models.tables import (
    SubscriptionAddonRow,
    SubscriptionRow,
)


async def live_subscriptions(
    session: AsyncSession, tenant_ids: Sequence[str], *, for_update: bool = False
) -> list[SubscriptionRow | None]:
    """Each tenant's subscription that is not cancelled (there is at most one)."""
    query = select(SubscriptionRow).where(SubscriptionRow.status != SubscriptionStatus.CANCELLED)
    if for_update:
        query = query.with_for_update(**ROW_LOCK)
    groups = await grouped(session, query, SubscriptionRow.tenant_id, tenant_ids)
    return [group[0] if group else None for group in groups]



async def subscription_addons(
    session: AsyncSession, subscription_ids: Sequence[str]
) -> list[list[SubscriptionAddonRow]]:
    query = select(SubscriptionAddonRow).order_by(SubscriptionAddonRow.addon_id)
    return await grouped(session, query, SubscriptionAddonRow.subscription_id, subscription_ids)
