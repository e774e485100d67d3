"""The seats a tenant's subscription gives and its members use, as the schema shows them."""

from __future__ import annotations

from models.kernel.enums import SubscriptionStatus
from models.seats import rules as seats
from models.tables import SubscriptionRow
from resolvers.catalog import loaders as catalog_loaders
from resolvers.seats import loaders as seats_loaders
from resolvers.seats.types import SeatSummary
from resolvers.shared.context import Info
from resolvers.subscriptions import loaders as subscriptions_loaders


async def seat_summary(info: Info, tenant_id: str, subscription: SubscriptionRow | None) -> SeatSummary:
    """What the tenant's subscription (None: none, or cancelled) gives and its members use."""
    if subscription is None or subscription.status == SubscriptionStatus.CANCELLED:
        used = await seats_loaders.seats_in_use.load(info, tenant_id)
        return SeatSummary.of(seats.summarize(None, [], used))
    plan = await catalog_loaders.plan.load(info, subscription.plan_id)
    held = await subscriptions_loaders.subscription_addons.load(info, subscription.id)
    addons = await catalog_loaders.addon.load_many(info, [h.addon_id for h in held])
    used = await seats_loaders.seats_in_use.load(info, tenant_id)
    items = zip(addons, (h.quantity for h in held), strict=True)
    return SeatSummary.of(seats.summarize(plan, items, used))
