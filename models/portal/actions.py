"""Whether a billing portal session may make a change: the portal configuration's answer
for each mutation the portal can call (the GraphQL layer asks before it runs one)."""

from __future__ import annotations

from sqlalchemy import select

from models.kernel.enums import ProrationMode
from models.platform.access import Principal
from models.platform.deps import Deps
from models.portal import rules
from models.portal.service import permissions
from models.tables import SubscriptionAddonRow, SubscriptionRow


async def plan_change_refusal(
    deps: Deps,
    actor: Principal,
    *,
    subscription_id: str,
    plan_id: str,
    addons: dict[str, int] | None,
    mode: ProrationMode,
) -> str | None:
    """Why the session may not change (or preview changing) the subscription so, or None.
    A subscription the session may not see is left to the change itself (NOT_FOUND)."""
    allowed = await permissions(deps)
    async with deps.store.read() as session:
        subscription = await session.get(SubscriptionRow, subscription_id)
        if subscription is None or not actor.can_manage(subscription.tenant_id):
            return None
        items = await session.scalars(
            select(SubscriptionAddonRow).where(SubscriptionAddonRow.subscription_id == subscription_id)
        )
        current = {item.addon_id: item.quantity for item in items}
    return rules.plan_change_refusal(
        allowed,
        current_plan_id=subscription.plan_id,
        plan_id=plan_id,
        current_addons=current,
        addons=addons,
        mode=mode,
    )


async def cancel_refusal(deps: Deps, *, at_period_end: bool) -> str | None:
    return rules.cancel_refusal(await permissions(deps), at_period_end=at_period_end)


async def pause_refusal(deps: Deps) -> str | None:
    return rules.pause_refusal(await permissions(deps))


async def coupon_refusal(deps: Deps) -> str | None:
    return rules.coupon_refusal(await permissions(deps))


async def members_refusal(deps: Deps) -> str | None:
    return rules.members_refusal(await permissions(deps))
