from __future__ import annotations

from typing import Annotated

import strawberry

from models.discounts import service as discounts
from resolvers.shared.context import Info
from resolvers.shared.errors import CouponNotApplicableError, NotFoundError, PortalActionNotAllowedError
from resolvers.subscriptions.types import Subscription

ApplyCouponResult = Annotated[
    Subscription | CouponNotApplicableError | NotFoundError | PortalActionNotAllowedError,
    strawberry.union("ApplyCouponResult"),
]
RemoveDiscountResult = Annotated[Subscription | NotFoundError, strawberry.union("RemoveDiscountResult")]


@strawberry.type
class DiscountMutations:
    @strawberry.mutation(
        description="Redeem a coupon on a subscription: its discount comes off the next invoices (a DISCOUNT "
        "line, before tax). One discount per subscription: removeDiscount first to change it."
    )
    async def apply_coupon(
        self, info: Info, subscription_id: strawberry.ID, coupon_code: str
    ) -> ApplyCouponResult:
        ctx = info.context
        row = await discounts.apply_coupon(ctx.deps, ctx.actor, subscription_id, coupon_code)
        return Subscription.from_row(row)

    @strawberry.mutation(description="End the subscription's discount now; issued invoices keep theirs.")
    async def remove_discount(self, info: Info, subscription_id: strawberry.ID) -> RemoveDiscountResult:
        ctx = info.context
        return Subscription.from_row(await discounts.remove_discount(ctx.deps, ctx.actor, subscription_id))
