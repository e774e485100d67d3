from __future__ import annotations

import strawberry

from models.subscriptions import service as subscriptions
from resolvers.shared.context import Info
from resolvers.subscriptions.types import Subscription


@strawberry.type
class SubscriptionQueries:
    @strawberry.field(description="A subscription; NOT_FOUND when this key may not see it.")
    async def subscription(self, info: Info, id: strawberry.ID) -> Subscription | None:
        ctx = info.context
        return Subscription.from_row(await subscriptions.get_subscription(ctx.deps, ctx.actor, id))
