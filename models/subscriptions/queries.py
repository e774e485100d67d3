"""Reads of subscriptions shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import SubscriptionStatus
from models.platform.reads import grouped, rows_by_ids
from models.platform.store import ROW_LOCK
from models.tables import (
    SubscriptionAddonRow,
    SubscriptionRow,
)
from models.tables.catalog import AddonRow


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


async def held_items(session: AsyncSession, subscription_id: str) -> list[tuple[AddonRow, int]]:
    """The add-ons a subscription has, with their quantities."""
    (held,) = await subscription_addons(session, [subscription_id])
    addons = await rows_by_ids(session, AddonRow, [h.addon_id for h in held])
    return [(addon, h.quantity) for addon, h in zip(addons, held, strict=True) if addon is not None]
