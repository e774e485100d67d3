from __future__ import annotations

from typing import Annotated

import strawberry

from models.subscriptions import service as subscriptions
from models.subscriptions.inputs import SubscriptionCreate
from resolvers.shared.context import Info
from resolvers.shared.errors import (
    AlreadySubscribedError,
    IdempotencyConflictError,
    NotFoundError,
    PurchaseErrors,
    ValidationError,
)
from resolvers.subscriptions.inputs import SubscribeInput
from resolvers.subscriptions.types import Subscription

SubscribeResult = Annotated[
    Subscription | PurchaseErrors | AlreadySubscribedError | IdempotencyConflictError,
    strawberry.union("SubscribeResult"),
]

CancelSubscriptionResult = Annotated[
    Subscription | NotFoundError | ValidationError, strawberry.union("CancelSubscriptionResult")
]


@strawberry.type
class SubscriptionMutations:
    @strawberry.mutation(
        description="Subscribe a tenant to a plan with add-on quantities; issues the first invoice."
    )
    async def subscribe(self, info: Info, input: SubscribeInput) -> SubscribeResult:
        ctx = info.context
        row = await subscriptions.subscribe(
            ctx.deps, ctx.actor, SubscriptionCreate.parse(strawberry.asdict(input))
        )
        return Subscription.from_row(row)


@strawberry.type
class SubscriptionLifecycleMutations:
    @strawberry.mutation(
        description="Cancel now (nothing refunded) or at the end of the period; a cancelled subscription "
        "gives no seats."
    )
    async def cancel_subscription(
        self, info: Info, subscription_id: strawberry.ID, at_period_end: bool
    ) -> CancelSubscriptionResult:
        ctx = info.context
        row = await subscriptions.cancel_subscription(ctx.deps, ctx.actor, subscription_id, at_period_end)
        return Subscription.from_row(row)
