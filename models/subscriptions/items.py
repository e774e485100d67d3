"""What a subscription holds: its plan's add-ons with their quantities, changed as a
whole, and the snapshot of it the audit trail keeps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.platform.deps import Deps
from models.seats.changes import seats_changed
from models.seats.queries import seats_in_use
from models.subscriptions.queries import seat_totals_of, subscription_addons
from models.tables import AddonRow, PlanRow, SubscriptionAddonRow, SubscriptionRow


async def replace_addons(
    session: AsyncSession, subscription_id: str, items: Sequence[tuple[AddonRow, int]]
) -> None:
    """Make the subscription's add-on rows the given totals (quantity 0 rows are not kept)."""
    (held,) = await subscription_addons(session, [subscription_id])
    rows = {row.addon_id: row for row in held}
    for addon, quantity in items:
        row = rows.pop(addon.id, None)
        if row is None:
            session.add(
                SubscriptionAddonRow(subscription_id=subscription_id, addon_id=addon.id, quantity=quantity)
            )
        else:
            row.quantity = quantity
    for row in rows.values():
        await session.delete(row)


def snapshot(
    subscription: SubscriptionRow, plan: PlanRow, items: Sequence[tuple[AddonRow, int]]
) -> dict[str, Any]:
    """The subscription as the audit trail records it, before and after a change."""
    return {
        "id": subscription.id,
        "status": subscription.status,
        "plan": plan.code,
        "addons": [{"addon": a.code, "quantity": q} for a, q in items],
    }


async def count_and_tell(
    session: AsyncSession,
    deps: Deps,
    tenant_id: str,
    subscription: SubscriptionRow | None,
    reason: str,
    at: datetime,
) -> None:
    """Count the seats ``subscription`` gives (none without one) and the members hold, and tell."""
    totals = await seat_totals_of(session, subscription)
    (used,) = await seats_in_use(session, [tenant_id])
    seats_changed(session, deps, tenant_id, reason, totals, used, at)
