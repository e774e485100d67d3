"""Reads of subscriptions shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import SeatType, SubscriptionStatus
from models.platform.reads import grouped, keyed, light_grouped, rows_by_ids
from models.seats.rules import seat_totals
from models.tables import AddonRow, PlanRow, SubscriptionAddonRow, SubscriptionRow
from models.tables.base import table_of


async def live_subscriptions(
    session: AsyncSession, tenant_ids: Sequence[str]
) -> list[SubscriptionRow | None]:
    """Each tenant's subscription that is not cancelled (there is at most one)."""
    query = select(SubscriptionRow).where(SubscriptionRow.status != SubscriptionStatus.CANCELLED)
    groups = await grouped(session, query, SubscriptionRow.tenant_id, tenant_ids)
    return [group[0] if group else None for group in groups]


async def subscription_addons(
    session: AsyncSession, subscription_ids: Sequence[str]
) -> list[list[SubscriptionAddonRow]]:
    query = select(SubscriptionAddonRow).order_by(SubscriptionAddonRow.addon_id)
    return await grouped(session, query, SubscriptionAddonRow.subscription_id, subscription_ids)


_LIVE = keyed(
    select(table_of(SubscriptionRow)).where(
        table_of(SubscriptionRow).c.status != SubscriptionStatus.CANCELLED
    ),
    table_of(SubscriptionRow).c.tenant_id,
)
_ADDONS = keyed(
    select(table_of(SubscriptionAddonRow)).order_by(table_of(SubscriptionAddonRow).c.addon_id),
    table_of(SubscriptionAddonRow).c.subscription_id,
)


async def live_subscription_rows(session: AsyncSession, tenant_ids: Sequence[str]) -> list[Any]:
    """``live_subscriptions`` as light rows, for DataLoaders."""
    groups = await light_grouped(session, _LIVE, "tenant_id", tenant_ids)
    return [group[0] if group else None for group in groups]


async def subscription_addon_rows(session: AsyncSession, subscription_ids: Sequence[str]) -> list[list[Any]]:
    """``subscription_addons`` as light rows, for DataLoaders."""
    return await light_grouped(session, _ADDONS, "subscription_id", subscription_ids)


async def held_items(session: AsyncSession, subscription_id: str) -> list[tuple[AddonRow, int]]:
    """The add-ons a subscription has, with their quantities."""
    (held,) = await subscription_addons(session, [subscription_id])
    addons = await rows_by_ids(session, AddonRow, [h.addon_id for h in held])
    return [(addon, h.quantity) for addon, h in zip(addons, held, strict=True) if addon is not None]


async def seat_totals_of(session: AsyncSession, subscription: SubscriptionRow | None) -> dict[SeatType, int]:
    """The seats of each type a subscription gives (none without one): its plan's and
    its add-ons', as held now. The one place services count a subscription's seats."""
    if subscription is None or subscription.status is SubscriptionStatus.CANCELLED:
        return seat_totals(None, [])
    plan = await session.get(PlanRow, subscription.plan_id)
    return seat_totals(plan, await held_items(session, subscription.id))
