"""Reading coupons and discounts, batched for the API's loaders."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.platform.access import Principal, require_admin
from models.platform.deps import Deps
from models.tables import CouponRow, DiscountRow


async def live_discounts(
    session: AsyncSession, subscription_ids: Sequence[str]
) -> list[tuple[DiscountRow, CouponRow] | None]:
    """Each subscription's live discount and its coupon, in one statement."""
    rows = (
        await session.execute(
            select(DiscountRow, CouponRow)
            .join(CouponRow, CouponRow.id == DiscountRow.coupon_id)
            .where(DiscountRow.subscription_id.in_(subscription_ids), DiscountRow.ended_at.is_(None))
        )
    ).all()
    by_subscription = {discount.subscription_id: (discount, coupon) for discount, coupon in rows}
    return [by_subscription.get(sid) for sid in subscription_ids]


async def list_coupons(deps: Deps, actor: Principal, include_archived: bool) -> list[CouponRow]:
    """Every coupon (ADMIN: codes are what customers redeem)."""
    require_admin(actor, "coupons")
    query = select(CouponRow).order_by(CouponRow.code)
    if not include_archived:
        query = query.where(CouponRow.archived_at.is_(None))
    async with deps.store.read() as session:
        return list((await session.scalars(query)).all())
