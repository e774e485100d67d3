"""Renewals: at period end a subscription applies its scheduled change, gets its
renewal invoice (base and add-ons for the next period, in advance, credits
consumed) and rolls its period; or, when set to cancel at period end, cancels.

Each subscription renews in one transaction, so a crash leaves it either renewed
or untouched; the period only moves forward and the database refuses a second
renewal invoice for a period, so running the billing twice issues nothing twice.
``timeline.catch_up`` calls ``renew`` for the periods that end before each other moment
the clock brings (``timeline.renew_due`` is what the ``bill`` command, ``advanceTestClock``
and the worker in ``serve`` run).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models.discounts import service as discounts
from models.invoicing.rules import Line, recurring_lines
from models.invoicing.service import invoice_totals, issue_invoice, open_draft
from models.kernel.enums import InvoiceReason, InvoiceStatus
from models.kernel.errors import ValidationFailed
from models.kernel.periods import next_boundary
from models.metering.billing import plans_until, price_usage
from models.platform import audit, events, locks
from models.platform.access import Principal, require_visible
from models.platform.deps import Deps
from models.platform.payloads import SubscriptionPlanChangedPayload, SubscriptionRenewedPayload
from models.platform.reads import rows_by_ids
from models.seats.queries import seats_in_use
from models.seats.rules import overbooked, seat_totals
from models.subscriptions import lifecycle, usage_billing
from models.subscriptions.items import count_and_tell, replace_addons, snapshot
from models.subscriptions.queries import held_items
from models.subscriptions.rules import is_due
from models.tables import AddonRow, InvoiceRow, PlanRow, SubscriptionRow, TenantRow
from models.tables.subscriptions import UsagePlan

log = logging.getLogger("models.subscriptions.renewals")
OPEN = InvoiceStatus.OPEN


async def renew(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    now: datetime,
) -> list[InvoiceRow]:
    """Renew every period of ``subscription`` that has ended by ``now``, oldest
    first, in the caller's transaction (tenant and subscription rows locked)."""
    issued: list[InvoiceRow] = []
    while is_due(subscription, now):
        end = subscription.current_period_end
        if subscription.cancel_at_period_end:
            final = await bill_final_usage_or_note(session, deps, tenant, subscription, end)
            issued.extend([final] if final else [])
            await lifecycle.cancel(session, deps, actor, tenant, subscription, end, at_period_end=True)
            break
        # Usage is billed in arrears, by the plans the closing period had.
        period = (subscription.current_period_start, end)
        plans = plans_until(subscription, end)
        subscription.usage_plans = None
        previous_plan = subscription.plan_id
        plan, items, scheduled_change_applied = await _apply_scheduled_change(
            session, deps, actor, tenant, subscription, end
        )
        try:
            period_end = next_boundary(subscription.billing_anchor, end, plan.interval, tenant.timezone)
        except (ValueError, OverflowError):
            raise ValidationFailed(
                "currentPeriodEnd",
                f"subscription {subscription.id!r} cannot renew: its next period would end after "
                "the year 9999",
            ) from None
        invoice = await _renewal_invoice(
            session, deps, tenant, subscription, recurring_lines(plan, items), period, plans, period_end, now
        )
        before = {"periodStart": subscription.current_period_start.isoformat(), "periodEnd": end.isoformat()}
        subscription.current_period_start, subscription.current_period_end = end, period_end
        subscription.updated_at = end
        audit.record(
            session,
            actor,
            tenant_id=tenant.id,
            action="subscription.renewed",
            subject_id=subscription.id,
            before=before,
            after={
                "periodStart": end.isoformat(),
                "periodEnd": period_end.isoformat(),
                "invoice": invoice.number,
            },
            at=end,
        )
        if scheduled_change_applied:  # told once the period it starts is the subscription's
            changed = SubscriptionPlanChangedPayload.of(
                subscription, plan, previous_plan_id=previous_plan, scheduled=True
            )
            events.emit(session, deps, changed, end)
            await count_and_tell(session, deps, tenant.id, subscription, "subscription.changed", end)
        events.emit(
            session, deps, SubscriptionRenewedPayload.of(subscription, plan, invoice_id=invoice.id), end
        )
        issued.append(invoice)
    return issued


async def _renewal_invoice(
    session: AsyncSession,
    deps: Deps,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    recurring: list[Line],
    closing: tuple[datetime, datetime],
    plans: list[UsagePlan],
    period_end: datetime,
    now: datetime,
) -> InvoiceRow:
    """The invoice of the period starting at ``closing``'s end: its base and add-ons in
    advance, and the closing period's usage in arrears. Without usage charges it is final
    at once; with them it is a draft until the grace window after the period has passed
    (usage reported in it still lands here), then final. Usage that cannot be billed
    leaves it a draft, said on the subscription: the period renews all the same."""
    end = closing[1]
    if not await usage_billing.charges_anything(session, plans):
        return await bill_in_advance(session, deps, tenant, subscription, recurring, (end, period_end))
    # The discount is taken off the lines billed in advance (the usage is added at the grace window's end).
    found = await discounts.live_discount(session, subscription.id)
    recurring = discounts.discounted(found, recurring, subscription.plan_id, starts_period=True)
    invoice = await open_draft(
        session,
        tenant=tenant,
        subscription_id=subscription.id,
        reason=InvoiceReason.RENEWAL,
        currency=tenant.currency,
        lines=recurring,
        period=(end, period_end),
        at=end,
    )
    await _record_discount(session, tenant, subscription, found, recurring, True, period_end, end)
    finalize_at = end + deps.policy.usage_grace
    row = usage_billing.record(
        session, tenant, subscription, invoice, closing, plans, finalize_at=finalize_at, charges=None
    )
    if finalize_at <= now:
        try:
            async with session.begin_nested():
                await usage_billing.finalize(session, deps, tenant, row, finalize_at)
        except ValidationFailed as exc:
            usage_billing.note_renewal_error(
                session, tenant, subscription, f"usage could not be billed: {exc.reason}", end
            )
    return invoice


async def bill_in_advance(
    session: AsyncSession,
    deps: Deps,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    recurring: list[Line],
    period: tuple[datetime, datetime],
) -> InvoiceRow:
    """The RENEWAL invoice of ``period``'s plan and add-ons, in advance, final at once
    (a renewal without usage to bill, a trial's end, a resume), less the discount."""
    found = await discounts.live_discount(session, subscription.id)
    recurring = discounts.discounted(found, recurring, subscription.plan_id, starts_period=True)
    totals = await invoice_totals(session, tenant, recurring)
    invoice = await issue_invoice(
        session,
        deps,
        tenant=tenant,
        subscription_id=subscription.id,
        reason=InvoiceReason.RENEWAL,
        currency=tenant.currency,
        lines=recurring,
        totals=totals,
        period=period,
        at=period[0],
    )
    await _record_discount(session, tenant, subscription, found, recurring, True, period[1], period[0])
    return invoice


async def _record_discount(
    session: AsyncSession,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    found: discounts.Discounted | None,
    lines: list[Line],
    starts_period: bool,
    period_end: datetime,
    at: datetime,
) -> None:
    if found is None:
        return
    plan = await session.get(PlanRow, subscription.plan_id)
    discounts.record_use(
        found,
        lines,
        starts_period=starts_period,
        subscription=subscription,
        period_end=period_end,
        interval=plan.interval,
        timezone=tenant.timezone,
        at=at,
    )


async def bill_final_usage_or_note(
    session: AsyncSession, deps: Deps, tenant: TenantRow, subscription: SubscriptionRow, at: datetime
) -> InvoiceRow | None:
    """``bill_final_usage``, or, when that usage cannot be billed, None with the reason
    noted on the subscription: a subscription can always end."""
    try:
        async with session.begin_nested():
            return await bill_final_usage(session, deps, tenant, subscription, at)
    except ValidationFailed as exc:
        subscription.usage_plans = None
        usage_billing.note_renewal_error(
            session, tenant, subscription, f"the last usage could not be billed: {exc.reason}", at
        )
        return None


async def bill_final_usage(
    session: AsyncSession, deps: Deps, tenant: TenantRow, subscription: SubscriptionRow, at: datetime
) -> InvoiceRow | None:
    """The FINAL invoice of a subscription that ends at ``at``: its last period's usage up
    to then, in arrears, and any late usage of earlier periods. None when nothing of it
    costs anything."""
    period = (subscription.current_period_start, at)
    plans = plans_until(subscription, at)
    charges = await price_usage(session, tenant, plans, *period)
    late = await usage_billing.late_usage(session, tenant)
    subscription.usage_plans = None
    lines = [c.line() for c in charges] + [line for item in late for line in item.lines]
    found = await discounts.live_discount(session, subscription.id)
    lines = discounts.discounted(found, lines, subscription.plan_id, starts_period=False)
    invoice = None
    if any(line.amount for line in lines):
        invoice = await issue_invoice(
            session,
            deps,
            tenant=tenant,
            subscription_id=subscription.id,
            reason=InvoiceReason.FINAL,
            currency=tenant.currency,
            lines=lines,
            totals=await invoice_totals(session, tenant, lines),
            period=period,
            at=at,
        )
        await _record_discount(session, tenant, subscription, found, lines, False, at, at)
    if charges:
        usage_billing.record(
            session, tenant, subscription, invoice, period, plans, finalize_at=at, charges=charges
        )
    usage_billing.settle_late(tenant, late, at)
    return invoice


async def _apply_scheduled_change(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    at: datetime,
) -> tuple[PlanRow, list[tuple[AddonRow, int]], bool]:
    """The plan and add-ons the next period bills: the scheduled change's, if it
    still fits the members the team has now (then True); else what the subscription has."""
    current_plan = await session.get(PlanRow, subscription.plan_id)
    current = await held_items(session, subscription.id)
    change = subscription.scheduled_change
    if not change:
        return current_plan, current, False
    subscription.scheduled_change = None
    plan = await session.get(PlanRow, change.plan_id)
    wanted = [(a.addon_id, a.quantity) for a in change.addons]
    addons = await rows_by_ids(session, AddonRow, [addon_id for addon_id, _ in wanted])
    items = [
        (addon, quantity) for addon, (_, quantity) in zip(addons, wanted, strict=True) if addon and quantity
    ]
    (used,) = await seats_in_use(session, [tenant.id])
    over = overbooked(seat_totals(plan, items), used) if plan else {}
    held = {addon.id: quantity for addon, quantity in current}
    # Archived while the change waited: it may keep what it had, not buy more.
    archived = [a.code for a, q in items if a.archived_at is not None and q > held.get(a.id, 0)]
    before = snapshot(subscription, current_plan, current)
    if plan is None or over or archived:
        if plan is None:
            reason = "the plan no longer exists"
        elif over:
            reason = "members hold more seats than it gives: " + ", ".join(
                f"{n} {t.value}" for t, n in over.items()
            )
        else:
            reason = "add-ons were archived before it applied: " + ", ".join(archived)
        audit.record(
            session,
            actor,
            tenant_id=tenant.id,
            action="subscription.scheduled_change_dropped",
            subject_id=subscription.id,
            before={"subscription": before, "scheduledChange": change.model_dump(mode="json")},
            after={"reason": reason},
            at=at,
        )
        return current_plan, current, False
    if plan.interval != current_plan.interval:
        subscription.billing_anchor = at  # a new interval counts its periods from here
    subscription.plan_id = plan.id
    await replace_addons(session, subscription.id, items)
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action="subscription.plan_changed",
        subject_id=subscription.id,
        before={"subscription": before},
        after={"subscription": snapshot(subscription, plan, items), "scheduled": True},
        at=at,
    )
    return plan, items, True


async def locked_subscription(
    session: AsyncSession, actor: Principal, subscription_id: str
) -> tuple[TenantRow, SubscriptionRow]:
    """The subscription (NOT_FOUND unless the key may manage its tenant) and its tenant,
    locked in ``platform.locks`` order: the tenant, then the subscription."""
    found = await session.get(SubscriptionRow, subscription_id)
    require_visible(found is not None and actor.can_manage(found.tenant_id), "Subscription", subscription_id)
    tenant = await locks.tenant(session, found.tenant_id)
    return tenant, await locks.subscription(session, subscription_id)
