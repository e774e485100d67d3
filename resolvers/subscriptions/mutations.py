from __future__ import annotations

from typing import Annotated

import strawberry

from models.subscriptions import service as subscriptions
from resolvers.context import Info
from resolvers.errors import (
    AlreadySubscribedError,
    IdempotencyConflictError,
    PurchaseErrors,
)
from resolvers.subscriptions.inputs import SubscribeInput
from resolvers.subscriptions.types import Subscription

SubscribeResult = Annotated[
    Subscription | PurchaseErrors | AlreadySubscribedError | IdempotencyConflictError,
    strawberry.union("SubscribeResult"),
]


@strawberry.type
class SubscriptionMutations:
    @strawberry.mutation(
        description="Subscribe a tenant to a plan with add-on quantities; issues the first invoice."
    )
    async def subscribe(self, info: Info, input: SubscribeInput) -> SubscribeResult:
        ctx = info.context
        row = await subscriptions.subscribe(ctx.deps, ctx.actor, strawberry.asdict(input))
        return Subscription.from_row(row)
