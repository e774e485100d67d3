from __future__ import annotations

from typing import Annotated

import strawberry

from models.discounts import service as discounts
from models.discounts.inputs import CouponCreate
from resolvers.discounts.inputs import CreateCouponInput
from resolvers.discounts.types import Coupon
from resolvers.shared.context import Info
from resolvers.shared.errors import ForbiddenError, NotFoundError, ValidationError

CreateCouponResult = Annotated[
    Coupon | ValidationError | ForbiddenError, strawberry.union("CreateCouponResult")
]
ArchiveCouponResult = Annotated[
    Coupon | NotFoundError | ForbiddenError, strawberry.union("ArchiveCouponResult")
]


@strawberry.type
class CouponMutations:
    @strawberry.mutation(
        description="Create a coupon (ADMIN): percentOff, or amountOff with its currency; ONCE, REPEATING "
        "for durationInPeriods periods, or FOREVER; limited to plans/add-ons (appliesTo) or all."
    )
    async def create_coupon(self, info: Info, input: CreateCouponInput) -> CreateCouponResult:
        ctx = info.context
        row = await discounts.create_coupon(ctx.deps, ctx.actor, CouponCreate.parse(strawberry.asdict(input)))
        return Coupon.from_row(row)

    @strawberry.mutation(
        description="Retire a coupon (ADMIN): it can no longer be redeemed; discounts it gave keep running."
    )
    async def archive_coupon(self, info: Info, coupon_id: strawberry.ID) -> ArchiveCouponResult:
        ctx = info.context
        return Coupon.from_row(await discounts.archive_coupon(ctx.deps, ctx.actor, coupon_id))
