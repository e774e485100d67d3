"""Coupons (created and archived by the operator) and the discounts they give: redeemed
on a subscription at ``subscribe`` or by ``applyCoupon``, one live discount per
subscription, taken off each invoice it covers as a DISCOUNT line before tax.

The billing paths ask ``discounted`` for an invoice's lines (a preview asks the same, so
preview ≡ charge) and, once the invoice is issued, ``record_use``: a ONCE discount ends
with the first invoice it takes something off, a REPEATING one counts the periods its
invoices start and ends when the next would start, a FOREVER one stays."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.discounts.inputs import CouponCreate
from models.discounts.rules import Terms, with_discount
from models.invoicing.rules import Line
from models.kernel.enums import CouponDuration, Interval, LineKind, SubscriptionStatus
from models.kernel.errors import CouponNotApplicable, NotFound, ValidationFailed
from models.kernel.ids import new_id
from models.kernel.money import Money
from models.kernel.periods import next_boundary
from models.platform import audit, locks
from models.platform.access import Principal, require_admin, require_visible
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps, insert_unique
from models.tables import AddonRow, CouponRow, DiscountRow, PlanRow, SubscriptionRow, TenantRow
from models.tables.subscriptions import SubscriptionAddonRow


def terms_of(coupon: CouponRow) -> Terms:
    return Terms(
        name=coupon.name,
        percent_off=coupon.percent_off,
        amount_off=coupon.amount_off,
        currency=coupon.currency,
        applies_to=frozenset(coupon.applies_to) if coupon.applies_to is not None else None,
    )


async def create_coupon(deps: Deps, actor: Principal, spec: CouponCreate) -> CouponRow:
    require_admin(actor, "createCoupon")
    if spec.applies_to is not None:
        async with deps.store.read() as session:
            plans = set(
                (await session.scalars(select(PlanRow.id).where(PlanRow.id.in_(spec.applies_to)))).all()
            )
            addons = set(
                (await session.scalars(select(AddonRow.id).where(AddonRow.id.in_(spec.applies_to)))).all()
            )
        for index, item in enumerate(spec.applies_to):
            if item not in plans | addons:
                raise ValidationFailed(
                    f"input.appliesTo[{index}]", f"{item!r} is neither a plan nor an add-on"
                )
    row = CouponRow(
        id=new_id("coupon"),
        code=spec.code,
        name=spec.name,
        percent_off=spec.percent_thousandths,
        amount_off=spec.amount_off,
        currency=spec.currency,
        duration=spec.duration,
        duration_in_periods=spec.duration_in_periods,
        applies_to=list(dict.fromkeys(spec.applies_to)) if spec.applies_to is not None else None,
        max_redemptions=spec.max_redemptions,
        redeem_by=spec.redeem_by,
        created_at=deps.clock.now(),
    )
    return await insert_unique(deps, row, "input.code", f"{spec.code!r} is already used; pick another code")


async def archive_coupon(deps: Deps, actor: Principal, coupon_id: str) -> CouponRow:
    """No one can redeem it any more; discounts already given keep running."""
    require_admin(actor, "archiveCoupon")
    async with deps.store.transaction() as session:
        coupon = await session.get(CouponRow, coupon_id, with_for_update=True)
        if coupon is None:
            raise NotFound("Coupon", coupon_id)
        if coupon.archived_at is None:
            coupon.archived_at = deps.clock.now()
    return coupon


async def coupon_by_code(session: AsyncSession, code: str) -> CouponRow:
    found = await session.scalar(select(CouponRow).where(CouponRow.code == code.strip().upper()))
    if found is None:
        raise CouponNotApplicable(f"There is no coupon {code!r}.")
    return found


def check_applicable(
    coupon: CouponRow, *, currency: str, plan_id: str, addon_ids: Collection[str], now: datetime
) -> None:
    """COUPON_NOT_APPLICABLE unless the coupon can be redeemed now (on the tenant's clock)
    by a subscription on ``plan_id`` with these add-ons, billed in ``currency``."""
    code = coupon.code
    if coupon.archived_at is not None:
        raise CouponNotApplicable(f"Coupon {code!r} is archived.")
    if coupon.redeem_by is not None and now > coupon.redeem_by:
        raise CouponNotApplicable(f"Coupon {code!r} expired on {coupon.redeem_by.isoformat()}.")
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        raise CouponNotApplicable(f"Coupon {code!r} was redeemed {coupon.max_redemptions} times, its limit.")
    if coupon.currency is not None and coupon.currency != currency:
        raise CouponNotApplicable(
            f"Coupon {code!r} takes {Money(coupon.amount_off or 0, coupon.currency).formatted} off, "
            f"but the subscription is billed in {currency}."
        )
    applies = coupon.applies_to
    if applies is not None and not set(applies) & {plan_id, *addon_ids}:
        raise CouponNotApplicable(f"Coupon {code!r} covers nothing the subscription has.")


async def redeem(
    session: AsyncSession,
    coupon: CouponRow,
    tenant: TenantRow,
    subscription_id: str,
    *,
    plan_id: str,
    addon_ids: Collection[str],
    now: datetime,
) -> DiscountRow:
    """Check the coupon, count the redemption (atomically: a coupon is never redeemed more
    than its limit, however many race for it) and start the discount."""
    check_applicable(coupon, currency=tenant.currency, plan_id=plan_id, addon_ids=addon_ids, now=now)
    counted = await session.execute(
        update(CouponRow)
        .where(
            CouponRow.id == coupon.id,
            (CouponRow.max_redemptions.is_(None)) | (CouponRow.times_redeemed < CouponRow.max_redemptions),
        )
        .values(times_redeemed=CouponRow.times_redeemed + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:
        raise CouponNotApplicable(
            f"Coupon {coupon.code!r} was redeemed {coupon.max_redemptions} times, its limit."
        )
    discount = DiscountRow(
        id=new_id("disc"),
        coupon_id=coupon.id,
        tenant_id=tenant.id,
        subscription_id=subscription_id,
        started_at=now,
        periods_left=coupon.duration_in_periods,
        invoices=0,
    )
    session.add(discount)
    return discount


@dataclass
class Discounted:
    """A subscription's live discount and its coupon."""

    row: DiscountRow
    coupon: CouponRow

    def spent(self, starts_period: bool) -> bool:
        """A REPEATING discount whose periods are used covers no new period."""
        return starts_period and self.row.periods_left == 0


async def live_discount(session: AsyncSession, subscription_id: str) -> Discounted | None:
    found = (
        await session.execute(
            select(DiscountRow, CouponRow)
            .join(CouponRow, CouponRow.id == DiscountRow.coupon_id)
            .where(DiscountRow.subscription_id == subscription_id, DiscountRow.ended_at.is_(None))
        )
    ).first()
    return Discounted(found[0], found[1]) if found else None


def discounted(
    found: Discounted | None, lines: Sequence[Line], plan_id: str, *, starts_period: bool
) -> list[Line]:
    """``lines`` with the DISCOUNT line the live discount gives them (a preview and the
    charge both ask here)."""
    if found is None or found.spent(starts_period) or not lines:
        return list(lines)
    return with_discount(terms_of(found.coupon), lines, plan_id)


def with_coupon(coupon: CouponRow, lines: Sequence[Line], plan_id: str) -> list[Line]:
    """``lines`` with the DISCOUNT line a coupon about to be redeemed gives them."""
    return with_discount(terms_of(coupon), lines, plan_id)


def record_use(
    found: Discounted | None,
    lines: Sequence[Line],
    *,
    starts_period: bool,
    subscription: SubscriptionRow,
    period_end: datetime,
    interval: Interval,
    timezone: str,
    at: datetime,
) -> None:
    """After an invoice with ``lines`` (from ``discounted``) was issued: count it. A
    REPEATING discount's end is then the end of its last period (``period_end`` is the
    end of the period this invoice bills)."""
    if found is None:
        return
    row, coupon = found.row, found.coupon
    if found.spent(starts_period):
        row.ended_at = at
        return
    took = any(line.kind is LineKind.DISCOUNT for line in lines)
    row.invoices += int(took)
    if coupon.duration is CouponDuration.ONCE and took:
        row.ended_at = at
    elif coupon.duration is CouponDuration.REPEATING and starts_period and row.periods_left:
        row.periods_left -= 1
        end: datetime | None = period_end
        try:
            for _ in range(row.periods_left):
                assert end is not None
                end = next_boundary(subscription.billing_anchor, end, interval, timezone)
        except (ValueError, OverflowError):
            end = None
        row.ends_at = end


async def addon_ids(session: AsyncSession, subscription_id: str) -> list[str]:
    query = select(SubscriptionAddonRow.addon_id).where(
        SubscriptionAddonRow.subscription_id == subscription_id, SubscriptionAddonRow.quantity > 0
    )
    return list((await session.scalars(query)).all())


async def _locked(
    session: AsyncSession, actor: Principal, subscription_id: str
) -> tuple[TenantRow, SubscriptionRow]:
    found = await session.get(SubscriptionRow, subscription_id)
    require_visible(found is not None and actor.can_manage(found.tenant_id), "Subscription", subscription_id)
    tenant = await locks.tenant(session, found.tenant_id)
    subscription = await locks.subscription(session, subscription_id)
    assert subscription is not None
    return tenant, subscription


async def apply_coupon(deps: Deps, actor: Principal, subscription_id: str, code: str) -> SubscriptionRow:
    """Give a live subscription the coupon's discount, from its next invoice on."""
    async with deps.store.transaction() as session:
        tenant, subscription = await _locked(session, actor, subscription_id)
        now = (await tenant_clock(session, deps, tenant)).now()
        if subscription.status is SubscriptionStatus.CANCELLED:
            raise CouponNotApplicable(f"Subscription {subscription.id!r} is cancelled.")
        current = await live_discount(session, subscription.id)
        if current is not None:
            raise CouponNotApplicable(
                f"Subscription {subscription.id!r} already has coupon {current.coupon.code!r}; a "
                "subscription has one discount: removeDiscount first."
            )
        coupon = await coupon_by_code(session, code)
        discount = await redeem(
            session,
            coupon,
            tenant,
            subscription.id,
            plan_id=subscription.plan_id,
            addon_ids=await addon_ids(session, subscription.id),
            now=now,
        )
        audit.record(
            session,
            actor,
            tenant_id=tenant.id,
            action="subscription.discount_applied",
            subject_id=subscription.id,
            before=None,
            after={"coupon": coupon.code, "discount": discount.id},
            at=now,
        )
    return subscription


async def remove_discount(deps: Deps, actor: Principal, subscription_id: str) -> SubscriptionRow:
    """End the subscription's discount now; invoices already issued keep theirs. Removing
    none changes nothing."""
    async with deps.store.transaction() as session:
        tenant, subscription = await _locked(session, actor, subscription_id)
        now = (await tenant_clock(session, deps, tenant)).now()
        current = await live_discount(session, subscription.id)
        if current is not None:
            current.row.ended_at = now
            audit.record(
                session,
                actor,
                tenant_id=tenant.id,
                action="subscription.discount_removed",
                subject_id=subscription.id,
                before={"coupon": current.coupon.code, "discount": current.row.id},
                after=None,
                at=now,
            )
    return subscription
