from __future__ import annotations

import strawberry

from models.discounts import queries as discount_queries
from resolvers.discounts.types import Coupon
from resolvers.shared.context import Info


@strawberry.type
class CouponQueries:
    @strawberry.field(description="Coupons by code (ADMIN); archived ones only when asked for.")
    async def coupons(self, info: Info, include_archived: bool = False) -> list[Coupon]:
        rows = await discount_queries.list_coupons(info.context.deps, info.context.actor, include_archived)
        return [Coupon.from_row(r) for r in rows]
