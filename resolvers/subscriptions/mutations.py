from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.subscriptions import service as subscriptions
from models.subscriptions.inputs import SubscriptionCreate, SubscriptionPause
from resolvers.shared.context import Info
from resolvers.shared.errors import (
    AlreadySubscribedError,
    CouponNotApplicableError,
    IdempotencyConflictError,
    NotFoundError,
    PortalActionNotAllowedError,
    PurchaseErrors,
    SubscriptionNotActiveError,
    ValidationError,
)
from resolvers.subscriptions.inputs import SubscribeInput
from resolvers.subscriptions.types import Subscription

SubscribeResult = Annotated[
    Subscription
    | PurchaseErrors
    | AlreadySubscribedError
    | IdempotencyConflictError
    | CouponNotApplicableError,
    strawberry.union("SubscribeResult"),
]

CancelSubscriptionResult = Annotated[
    Subscription | NotFoundError | ValidationError | PortalActionNotAllowedError,
    strawberry.union("CancelSubscriptionResult"),
]
PauseSubscriptionResult = Annotated[
    Subscription | NotFoundError | ValidationError | SubscriptionNotActiveError | PortalActionNotAllowedError,
    strawberry.union("PauseSubscriptionResult"),
]
ResumeSubscriptionResult = Annotated[
    Subscription | NotFoundError | ValidationError | SubscriptionNotActiveError | PortalActionNotAllowedError,
    strawberry.union("ResumeSubscriptionResult"),
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

    @strawberry.mutation(
        description="Pause an ACTIVE subscription now: its usage so far is billed, then nothing is invoiced "
        "and nothing granted (entitlements SUBSCRIPTION_INACTIVE, no invites) until it resumes, at resumesAt "
        "or by resumeSubscription; seats and members are kept; the rest of the paid period is not refunded."
    )
    async def pause_subscription(
        self, info: Info, subscription_id: strawberry.ID, resumes_at: datetime | None = None
    ) -> PauseSubscriptionResult:
        ctx = info.context
        spec = SubscriptionPause.parse(
            {"subscription_id": subscription_id, "resumes_at": resumes_at}, path=""
        )
        return Subscription.from_row(await subscriptions.pause_subscription(ctx.deps, ctx.actor, spec))

    @strawberry.mutation(description="Resume a PAUSED subscription now: a new period starts and is invoiced.")
    async def resume_subscription(
        self, info: Info, subscription_id: strawberry.ID
    ) -> ResumeSubscriptionResult:
        ctx = info.context
        return Subscription.from_row(
            await subscriptions.resume_subscription(ctx.deps, ctx.actor, subscription_id)
        )
