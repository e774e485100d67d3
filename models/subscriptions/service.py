"""Subscribing a tenant to a plan with add-on quantities (with the plan's trial, once),
reading subscriptions, cancelling them (now, or at the end of the period), pausing and
resuming them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from models.catalog.service import buyable_addons, plan_for
from models.discounts import service as discounts
from models.invoicing.rules import check_representable, recurring_lines
from models.invoicing.service import invoice_totals, issue_invoice
from models.kernel.enums import InvoiceReason, SubscriptionStatus
from models.kernel.errors import AlreadySubscribed, SubscriptionNotActive, ValidationFailed
from models.kernel.ids import new_id
from models.kernel.periods import period_boundary
from models.platform import audit, events, idempotency, locks
from models.platform.access import Principal, require_tenant, require_visible
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.platform.payloads import SubscriptionActivePayload
from models.seats.changes import seats_changed
from models.seats.queries import check_members_fit, seat_state
from models.seats.rules import check_bounds, seat_totals
from models.subscriptions import lifecycle, timeline, usage_billing
from models.subscriptions.inputs import (
    SubscriptionCancel,
    SubscriptionCreate,
    SubscriptionPause,
    distinct_addons,
)
from models.subscriptions.items import snapshot
from models.subscriptions.queries import live_subscriptions
from models.subscriptions.renewals import bill_final_usage_or_note, locked_subscription
from models.subscriptions.rules import TRIAL_REMINDER
from models.subscriptions.timeline import renew_first
from models.tables import PlanRow, SubscriptionAddonRow, SubscriptionRow, TenantRow, TrialRow

OWING = frozenset({SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID})


async def subscribe(deps: Deps, actor: Principal, spec: SubscriptionCreate) -> SubscriptionRow:
    """Start the tenant's subscription now (on its clock) and issue its first invoice:
    the base price and each add-on for the first period, in advance."""
    require_tenant(actor, spec.tenant_id)
    wanted = distinct_addons(spec.addons, "input.addons")
    async with deps.store.transaction() as session:
        tenant = await locks.tenant(session, spec.tenant_id)  # serializes subscribes of a tenant
        now = (await tenant_clock(session, deps, tenant)).now()
        key = spec.idempotency_key
        if key and (
            first := await idempotency.replayed(session, tenant.id, "subscribe", key, spec, deps.clock.now())
        ):
            return await session.get(SubscriptionRow, first)
        (live,) = await live_subscriptions(session, [tenant.id])
        if live is not None:
            raise AlreadySubscribed(
                f"Tenant {tenant.id!r} already has subscription {live.id!r}; use changePlan to change it."
            )
        plan = await plan_for(session, tenant, spec.plan_id)
        items = await buyable_addons(session, plan, wanted, "input.addons")
        totals = seat_totals(plan, items)
        check_bounds(plan, sum(totals.values()))
        used = await check_members_fit(session, tenant.id, totals)
        coupon = await discounts.coupon_by_code(session, spec.coupon_code) if spec.coupon_code else None
        if coupon is not None:
            addon_ids = [a.id for a, q in items if q]
            discounts.check_applicable(
                coupon, currency=tenant.currency, plan_id=plan.id, addon_ids=addon_ids, now=now
            )
        trial_days = await _trial_days(session, tenant, plan, spec.trial)
        lines = recurring_lines(plan, items)
        if coupon is not None and not trial_days:  # a trial's end bills the first period
            lines = discounts.with_coupon(coupon, lines, plan.id)
        due = await invoice_totals(session, tenant, lines)
        check_representable(lines, due.total, due.balance_after)

        try:
            end = (
                now + timedelta(days=trial_days)
                if trial_days
                else period_boundary(now, plan.interval, 1, tenant.timezone)
            )
        except (ValueError, OverflowError):
            raise ValidationFailed(
                "input.tenantId",
                f"the tenant's clock ({now.isoformat()}) leaves no room for a period before year 10000",
            ) from None
        subscription = SubscriptionRow(
            id=new_id("sub"),
            tenant_id=tenant.id,
            plan_id=plan.id,
            status=SubscriptionStatus.TRIALING if trial_days else SubscriptionStatus.ACTIVE,
            billing_anchor=now,
            current_period_start=now,
            current_period_end=end,
            trial_end=end if trial_days else None,
            trial_reminder_at=max(end - TRIAL_REMINDER, now) if trial_days else None,
            created_at=now,
            updated_at=now,
        )
        session.add(subscription)
        await session.flush()  # the add-on rows refer to it (no ORM relationship orders them)
        session.add_all(
            SubscriptionAddonRow(subscription_id=subscription.id, addon_id=a.id, quantity=q) for a, q in items
        )
        found = None
        if coupon is not None:
            discount = await discounts.redeem(
                session, coupon, tenant, subscription.id, plan_id=plan.id, addon_ids=addon_ids, now=now
            )
            found = discounts.Discounted(discount, coupon)
        if trial_days:  # nothing is invoiced until the trial ends
            session.add(
                TrialRow(
                    tenant_id=tenant.id, plan_id=plan.id, subscription_id=subscription.id, started_at=now
                )
            )
        else:
            await issue_invoice(
                session,
                deps,
                tenant=tenant,
                subscription_id=subscription.id,
                reason=InvoiceReason.SUBSCRIBE,
                currency=plan.currency,
                lines=lines,
                totals=due,
                period=(now, end),
                at=now,
            )
            discounts.record_use(
                found,
                lines,
                starts_period=True,
                subscription=subscription,
                period_end=end,
                interval=plan.interval,
                timezone=tenant.timezone,
                at=now,
            )
        audit.record(
            session,
            actor,
            tenant_id=tenant.id,
            action="subscription.created",
            subject_id=subscription.id,
            before=None,
            after={"subscription": snapshot(subscription, plan, items), "seats": seat_state(totals, used)},
            at=now,
        )
        events.emit(session, deps, SubscriptionActivePayload.of(subscription, plan), now)
        seats_changed(session, deps, tenant.id, "subscription.changed", totals, used, now)
        if key:
            idempotency.remember(
                session, tenant.id, "subscribe", key, spec, subscription.id, deps.clock.now()
            )
    return subscription


async def _trial_days(session: AsyncSession, tenant: TenantRow, plan: PlanRow, wanted: bool | None) -> int:
    """The days of trial this subscription starts with: the plan's, once per tenant and plan."""
    if wanted is False:
        return 0
    if not plan.trial_days:
        if wanted:
            raise ValidationFailed(
                "input.trial", f"plan {plan.code!r} offers no trial; subscribe without `trial: true`"
            )
        return 0
    had = await session.get(TrialRow, (tenant.id, plan.id))
    if had is not None:
        if wanted:
            raise ValidationFailed(
                "input.trial",
                f"tenant {tenant.id!r} already had its trial of plan {plan.code!r} (from "
                f"{had.started_at.date().isoformat()}); a plan's trial is given once: subscribe with "
                "`trial: false`",
            )
        return 0
    return plan.trial_days


async def get_subscription(deps: Deps, actor: Principal, subscription_id: str) -> SubscriptionRow:
    async with deps.store.read() as session:
        row = await session.get(SubscriptionRow, subscription_id)
    require_visible(row is not None and actor.can_manage(row.tenant_id), "Subscription", subscription_id)
    return row


async def cancel_subscription(deps: Deps, actor: Principal, spec: SubscriptionCancel) -> SubscriptionRow:
    """Cancel now, or at the end of the current period, keeping the reason given (if
    any). A cancelled subscription gives no seats, so members can no longer be invited.
    Nothing is refunded for the rest of a period cancelled now. Cancelling a cancelled
    one changes nothing (nor its reason). A subscription can always be cancelled, even
    one whose renewal cannot be billed."""
    at_period_end = spec.at_period_end
    async with deps.store.transaction() as session:
        tenant, subscription = await locked_subscription(session, actor, spec.subscription_id)
        try:
            async with session.begin_nested():
                now = await renew_first(session, deps, tenant, subscription)
        except ValidationFailed as exc:  # a period that cannot renew does not keep it alive
            now = (await tenant_clock(session, deps, tenant)).now()
            usage_billing.note_renewal_error(session, tenant, subscription, exc.reason, now)
        if subscription.status is SubscriptionStatus.CANCELLED or (
            at_period_end and subscription.cancel_at_period_end
        ):
            return subscription
        if at_period_end and subscription.status is SubscriptionStatus.PAUSED:
            raise ValidationFailed(
                "atPeriodEnd",
                f"subscription {subscription.id!r} is paused and has no period to end; cancel it now "
                "(atPeriodEnd: false)",
            )
        subscription.cancellation_reason = spec.reason or subscription.cancellation_reason
        if at_period_end:
            lifecycle.schedule_cancel(session, actor, tenant, subscription, now)
        else:
            if subscription.status is SubscriptionStatus.ACTIVE or subscription.status in OWING:
                # The period's usage up to now is billed as it ends (or, if it cannot be, said why).
                # A trial's is free; a paused subscription's was billed when it paused.
                await bill_final_usage_or_note(session, deps, tenant, subscription, now)
            await lifecycle.cancel(session, deps, actor, tenant, subscription, now, at_period_end=False)
    return subscription


async def pause_subscription(deps: Deps, actor: Principal, spec: SubscriptionPause) -> SubscriptionRow:
    """Pause an ACTIVE subscription now: the usage of its period so far is billed (a FINAL
    invoice, if it costs anything), then nothing is invoiced and nothing granted until it
    resumes (at ``resumes_at``, or by ``resume_subscription``); the rest of the period paid
    in advance is not refunded. Seats and members are kept."""
    async with deps.store.transaction() as session:
        tenant, subscription = await locked_subscription(session, actor, spec.subscription_id)
        now = await renew_first(session, deps, tenant, subscription)
        if subscription.status is not SubscriptionStatus.ACTIVE:
            raise SubscriptionNotActive(
                f"Subscription {subscription.id!r} is {subscription.status.value}; only an ACTIVE "
                "subscription can be paused"
                + (" (pay what is overdue first)" if subscription.status in OWING else "")
            )
        if subscription.cancel_at_period_end:
            raise ValidationFailed(
                "subscriptionId",
                f"subscription {subscription.id!r} is set to cancel at the end of its period; cancel it now "
                "(atPeriodEnd: false) rather than pause it",
            )
        if spec.resumes_at is not None and spec.resumes_at <= now:
            raise ValidationFailed(
                "resumesAt",
                f"must be after now ({now.isoformat()}) on the tenant's clock; leave it out to resume "
                "by hand",
            )
        await bill_final_usage_or_note(session, deps, tenant, subscription, now)
        await lifecycle.pause(session, deps, actor, tenant, subscription, spec.resumes_at, now)
    return subscription


async def resume_subscription(deps: Deps, actor: Principal, subscription_id: str) -> SubscriptionRow:
    """Resume a PAUSED subscription now: a new period starts and is invoiced."""
    async with deps.store.transaction() as session:
        tenant, subscription = await locked_subscription(session, actor, subscription_id)
        now = await renew_first(session, deps, tenant, subscription)
        if subscription.status is not SubscriptionStatus.PAUSED:
            raise SubscriptionNotActive(
                f"Subscription {subscription.id!r} is {subscription.status.value}, not PAUSED; "
                "nothing to resume"
            )
        await timeline.resume(session, deps, actor, tenant, subscription, now)
    return subscription
