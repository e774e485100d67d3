"""Changing a live subscription: ``previewChangePlan`` and ``changePlan``, one pricing
path (``_plan``), so the preview is by construction what the change charges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from models.catalog.service import buyable_addons, plan_for
from models.discounts import service as discounts
from models.invoicing.rules import Line, Totals, check_representable, recurring_items, recurring_lines, settle
from models.invoicing.service import invoice_totals, issue_invoice
from models.kernel.enums import EffectiveAt, InvoiceReason, ProrationMode, SubscriptionStatus
from models.kernel.errors import AddonNotAttached, Forbidden, SubscriptionNotActive, ValidationFailed
from models.kernel.periods import next_boundary, period_boundary
from models.metering.billing import plans_until, usage_charges, usage_lines
from models.metering.rules import PricedUsage
from models.plan_changes.inputs import PlanChangeRequest
from models.plan_changes.rules import Window, change_lines, days_left, describe, describe_in_trial
from models.platform import audit, events, idempotency
from models.platform.access import Principal
from models.platform.deps import Deps
from models.platform.payloads import SubscriptionPlanChangedPayload
from models.seats.queries import check_members_fit, seat_state
from models.seats.rules import SeatSummary, check_bounds, seat_totals, summarize
from models.subscriptions import usage_billing
from models.subscriptions.inputs import distinct_addons
from models.subscriptions.items import count_and_tell, replace_addons, snapshot
from models.subscriptions.queries import held_items
from models.subscriptions.renewals import locked_subscription
from models.subscriptions.timeline import renew_first
from models.tables import AddonRow, InvoiceRow, PlanRow, SubscriptionRow, TenantRow
from models.tables.subscriptions import ScheduledAddon, ScheduledChange, UsagePlan


@dataclass
class PlannedChange:
    """What a change does: the preview shows it, ``change_plan`` applies it."""

    tenant: TenantRow
    subscription: SubscriptionRow
    plan: PlanRow
    items: list[tuple[AddonRow, int]]
    mode: ProrationMode
    effective_at: datetime
    scheduled: bool
    lines: list[Line]
    totals: Totals
    period: tuple[datetime, datetime]  # the subscription's period once the change applies
    seats: SeatSummary
    text: str
    # The current period's usage so far, priced by the plans it had: billed now by a
    # FULL_IMMEDIATELY change (it ends the period), else at the renewal.
    usage: list[PricedUsage]
    # The subscription's discount (taken off ``lines``), and whether this change starts a period.
    discount: discounts.Discounted | None = None
    starts_period: bool = False

    @property
    def currency(self) -> str:
        return self.plan.currency


async def _plan(
    session: AsyncSession,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    spec: PlanChangeRequest,
    now: datetime,
) -> PlannedChange:
    if subscription.status == SubscriptionStatus.CANCELLED:
        raise SubscriptionNotActive(
            f"Subscription {subscription.id!r} is cancelled; subscribe the tenant again instead."
        )
    if subscription.status == SubscriptionStatus.PAUSED:
        raise SubscriptionNotActive(
            f"Subscription {subscription.id!r} is paused; resume it (resumeSubscription) before "
            "changing its plan."
        )
    trialing = subscription.status == SubscriptionStatus.TRIALING
    current_plan = await session.get(PlanRow, subscription.plan_id)
    current = await held_items(session, subscription.id)
    plan = await plan_for(session, tenant, spec.plan_id)
    wanted = (
        distinct_addons(spec.addons, "input.addons")
        if spec.addons is not None
        else [(addon.id, quantity) for addon, quantity in current]
    )
    try:
        items = await buyable_addons(
            session, plan, wanted, "input.addons", held={addon.id: quantity for addon, quantity in current}
        )
    except AddonNotAttached as exc:
        if spec.addons is not None:
            raise
        raise AddonNotAttached(
            f"{exc.message.split(' (')[0]}, which the subscription has, is not offered with plan "
            f"{plan.code!r}; "
            "pass `addons` with the totals to have on the new plan (`[]` drops every add-on)."
        ) from None
    totals_by_type = seat_totals(plan, items)
    check_bounds(plan, sum(totals_by_type.values()))
    used = await check_members_fit(session, tenant.id, totals_by_type)
    mode = spec.proration_billing_mode
    # During a trial every change applies at once and costs nothing: the trial's end bills the plan it has.
    scheduled = spec.effective_at is EffectiveAt.NEXT_BILLING_DATE and not trialing
    interval = plan.interval
    new_interval = plan.interval != current_plan.interval
    if new_interval and not scheduled and mode is not ProrationMode.FULL_IMMEDIATELY and not trialing:
        raise ValidationFailed(
            "input.prorationBillingMode",
            f"{current_plan.name} is billed per {current_plan.interval.lower()} and {plan.name} per "
            f"{plan.interval.lower()}, so the billing period cannot stay: use FULL_IMMEDIATELY (a new period "
            "starts now) or effectiveAt NEXT_BILLING_DATE",
        )

    window = None
    lines: list[Line] = []
    usage: list[PricedUsage] | None = None
    end = subscription.current_period_end
    if scheduled:
        if subscription.cancel_at_period_end:
            raise ValidationFailed(
                "input.effectiveAt",
                f"subscription {subscription.id!r} cancels at the end of this period, so it has no next "
                "billing "
                "date; change it now (IMMEDIATELY) instead",
            )
        effective_at = end
        anchor = end if new_interval else subscription.billing_anchor
        try:
            period = (end, next_boundary(anchor, end, interval, tenant.timezone))
        except (ValueError, OverflowError):
            raise ValidationFailed(
                "input.effectiveAt",
                "the next billing period would end after the year 9999; change it now instead",
            ) from None
    elif trialing:
        effective_at, period, usage = now, (subscription.current_period_start, end), []
    else:
        effective_at = now
        remaining, days = days_left(subscription.current_period_start, end, now, tenant.timezone)
        window = Window(remaining, days, now, end)
        lines = change_lines(
            recurring_items(current_plan, current), recurring_items(plan, items), mode, window
        )
        if mode is ProrationMode.FULL_IMMEDIATELY:
            # The period ends now, so its usage is billed now, by the plans it had.
            usage = await usage_charges(session, tenant, subscription, now)
            lines += usage_lines(usage)
            try:
                period = (now, period_boundary(now, interval, 1, tenant.timezone))
            except (ValueError, OverflowError):
                raise ValidationFailed(
                    "input.prorationBillingMode",
                    "the tenant's clock leaves no room for a new period before year 10000",
                ) from None
        else:
            period = (subscription.current_period_start, end)
    if usage is None:
        usage = await usage_charges(session, tenant, subscription, now)
    # The discount comes off before tax, the same way for the preview and the charge.
    starts_period = not scheduled and not trialing and mode is ProrationMode.FULL_IMMEDIATELY
    discount = await discounts.live_discount(session, subscription.id)
    lines = discounts.discounted(discount, lines, plan.id, starts_period=starts_period)
    totals = await invoice_totals(session, tenant, lines)
    renewal_total = settle(recurring_lines(plan, items), tenant.tax_rate_ppm, 0).total
    check_representable(lines, totals.total, renewal_total, totals.balance_after)
    seat_delta = sum(totals_by_type.values()) - sum(seat_totals(current_plan, current).values())
    text = (
        describe_in_trial(
            currency=plan.currency,
            plan_changed=plan.name if plan.id != current_plan.id else None,
            seat_delta=seat_delta,
            trial_ends=end.astimezone(ZoneInfo(tenant.timezone)).date().isoformat(),
            first_total=renewal_total,
        )
        if trialing
        else None
    ) or describe(
        currency=plan.currency,
        plan_changed=plan.name if plan.id != current_plan.id else None,
        seat_delta=seat_delta,
        mode=mode,
        totals=totals,
        window=window,
        takes_effect=effective_at.astimezone(ZoneInfo(tenant.timezone)).date().isoformat()
        if scheduled
        else None,
        renewal_total=renewal_total,
    )
    return PlannedChange(
        tenant=tenant,
        subscription=subscription,
        plan=plan,
        items=items,
        mode=mode,
        effective_at=effective_at,
        scheduled=scheduled,
        lines=lines,
        totals=totals,
        period=period,
        seats=summarize(plan, items, used),
        text=text,
        usage=usage,
        discount=discount,
        starts_period=starts_period,
    )


async def preview_change(deps: Deps, actor: Principal, spec: PlanChangeRequest) -> PlannedChange:
    """What ``change_plan`` with the same input would do now. Writes nothing (a
    period that has already ended is renewed first, as the worker would)."""
    # Under the locks a change takes, so the preview never mixes the states before and
    # after a change that commits while it reads; it commits nothing but that renewal.
    async with deps.store.transaction() as session:
        tenant, subscription = await locked_subscription(session, actor, spec.subscription_id)
        _check_mode(actor, spec)
        now = await renew_first(session, deps, tenant, subscription)
        return await _plan(session, tenant, subscription, spec, now)


def _check_mode(actor: Principal, spec: PlanChangeRequest) -> None:
    """DO_NOT_BILL and DIFFERENCE_IMMEDIATELY are the operator's to grant: a tenant
    could otherwise take a dearer plan for free, or prorate up and get the whole
    difference back on the way down."""
    if (
        spec.effective_at is EffectiveAt.IMMEDIATELY
        and spec.proration_billing_mode in (ProrationMode.DO_NOT_BILL, ProrationMode.DIFFERENCE_IMMEDIATELY)
        and not actor.is_admin
    ):
        raise Forbidden(
            f"prorationBillingMode {spec.proration_billing_mode.value} needs an ADMIN API key; "
            "use PRORATED_IMMEDIATELY or FULL_IMMEDIATELY, or effectiveAt NEXT_BILLING_DATE."
        )


@dataclass
class AppliedChange:
    subscription: SubscriptionRow
    invoice: InvoiceRow | None


async def change_plan(deps: Deps, actor: Principal, spec: PlanChangeRequest) -> AppliedChange:
    """Apply a change now (billing it by its mode) or schedule it for the renewal."""
    async with deps.store.transaction() as session:
        tenant, subscription = await locked_subscription(session, actor, spec.subscription_id)
        _check_mode(actor, spec)
        key = spec.idempotency_key
        if key and (
            first := await idempotency.replayed(session, tenant.id, "changePlan", key, spec, deps.clock.now())
        ):
            return await _replay(session, first)
        now = await renew_first(session, deps, tenant, subscription)
        change = await _plan(session, tenant, subscription, spec, now)
        invoice = await _apply(session, deps, actor, change, now)
        if key:
            result = invoice.id if invoice else subscription.id
            idempotency.remember(session, tenant.id, "changePlan", key, spec, result, deps.clock.now())
    return AppliedChange(subscription, invoice)


async def _replay(session: AsyncSession, result_id: str) -> AppliedChange:
    invoice = await session.get(InvoiceRow, result_id) if result_id.startswith("inv_") else None
    subscription = await session.get(SubscriptionRow, invoice.subscription_id if invoice else result_id)
    return AppliedChange(subscription, invoice)


async def _apply(
    session: AsyncSession, deps: Deps, actor: Principal, change: PlannedChange, now: datetime
) -> InvoiceRow | None:
    subscription, tenant, plan = change.subscription, change.tenant, change.plan
    before_plan = await session.get(PlanRow, subscription.plan_id)
    before_items = await held_items(session, subscription.id)
    before = snapshot(subscription, before_plan, before_items)
    if change.scheduled:
        subscription.scheduled_change = ScheduledChange(
            plan_id=plan.id,
            addons=tuple(ScheduledAddon(addon_id=a.id, quantity=q) for a, q in change.items),
            requested_at=now,
        )
        subscription.updated_at = now
        audit.record(
            session,
            actor,
            tenant_id=tenant.id,
            action="subscription.change_scheduled",
            subject_id=subscription.id,
            before={"subscription": before},
            after={
                "scheduledChange": {
                    "plan": plan.code,
                    "addons": [{"addon": a.code, "quantity": q} for a, q in change.items],
                    "effectiveAt": change.effective_at.isoformat(),
                }
            },
            at=now,
        )
        return None
    ended = None
    if subscription.status == SubscriptionStatus.TRIALING:
        pass  # nothing of a trial is billed: its usage, nor its plans
    elif change.mode is ProrationMode.FULL_IMMEDIATELY:
        # The period ends now: its usage is billed on this change's invoice, recorded as billed.
        ended = ((subscription.current_period_start, now), plans_until(subscription, now))
        subscription.billing_anchor = now
        subscription.usage_plans = None
    elif plan.id != subscription.plan_id:
        # The rest of the period's usage is priced by the new plan, its part so far by the old.
        subscription.usage_plans = [
            *(subscription.usage_plans or []),
            UsagePlan(plan_id=subscription.plan_id, until=now),
        ]
    subscription.plan_id = plan.id
    subscription.current_period_start, subscription.current_period_end = change.period
    subscription.scheduled_change = None  # an immediate change replaces a scheduled one
    subscription.updated_at = now
    await replace_addons(session, subscription.id, change.items)
    invoice = None
    if change.lines:
        invoice = await issue_invoice(
            session,
            deps,
            tenant=tenant,
            subscription_id=subscription.id,
            reason=InvoiceReason.CHANGE,
            currency=change.currency,
            lines=change.lines,
            totals=change.totals,
            period=change.period,
            at=now,
        )
        discounts.record_use(
            change.discount,
            change.lines,
            starts_period=change.starts_period,
            subscription=subscription,
            period_end=change.period[1],
            interval=plan.interval,
            timezone=tenant.timezone,
            at=now,
        )
    if ended is not None and change.usage:
        period, plans = ended
        usage_billing.record(
            session, tenant, subscription, invoice, period, plans, finalize_at=now, charges=change.usage
        )
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action="subscription.plan_changed",
        subject_id=subscription.id,
        before={"subscription": before},
        after={
            "subscription": snapshot(subscription, plan, change.items),
            "mode": change.mode.value,
            "invoice": invoice.number if invoice else None,
            "seats": seat_state(
                seat_totals(plan, change.items), {c.seat_type: c.used for c in change.seats.by_type}
            ),
        },
        at=now,
    )
    changed = SubscriptionPlanChangedPayload.of(
        subscription,
        plan,
        previous_plan_id=before_plan.id,
        proration_billing_mode=change.mode,
        invoice_id=invoice.id if invoice else None,
    )
    events.emit(session, deps, changed, now)
    if seat_totals(plan, change.items) != seat_totals(before_plan, before_items):
        await count_and_tell(session, deps, tenant.id, subscription, "subscription.changed", now)
    return invoice
