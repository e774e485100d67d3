"""What the clock does to a tenant's billing, in the order it happens: a trial's
reminder and end, a paused subscription's resume, an invoice coming due unpaid, the
end of a PAST_DUE grace, a failed charge's retry, a credit grant's expiry, and renewals.

``catch_up`` applies, one at a time and oldest first, every such moment that has come
by ``now`` on the tenant's clock, each at its own instant (an invoice due on day 31 makes
the subscription PAST_DUE as of day 31, even when the clock jumps to day 60 at once), in
the caller's transaction with the tenant and the subscription locked. Every moment, once
applied, is no longer pending (the state it reads has moved on), so running it twice, or
from two workers, applies each once. The billing worker, ``billing-gateway bill``,
``advanceTestClock`` and every change to a subscription (``renewals.renew_first``) run it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.credits import service as credits
from models.invoicing.rules import check_representable, recurring_lines
from models.invoicing.service import invoice_totals
from models.kernel.enums import InvoiceStatus, ProviderTaskKind, SubscriptionStatus
from models.kernel.errors import ValidationFailed
from models.kernel.periods import period_boundary
from models.platform import audit, events, locks
from models.platform.access import Principal, operator
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.platform.outbox import queue_provider_task
from models.platform.payloads import InvoiceOverduePayload
from models.subscriptions import lifecycle, usage_billing
from models.subscriptions.queries import held_items
from models.subscriptions.renewals import bill_in_advance, renew
from models.subscriptions.rules import RENEWING
from models.tables import (
    CreditGrantRow,
    InvoiceRow,
    PlanRow,
    SubscriptionRow,
    TenantRow,
    TestClockRow,
    UTCDateTime,
)

log = logging.getLogger("models.subscriptions.timeline")
OPEN = InvoiceStatus.OPEN
TRIALING, ACTIVE, PAST_DUE, PAUSED = (
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.PAUSED,
)


class Moment(enum.IntEnum):
    """What comes due; at the same instant, in this order."""

    TRIAL_REMINDER = 1
    TRIAL_END = 2
    RESUME = 3
    OVERDUE = 4
    GRACE_END = 5
    RETRY = 6
    GRANT_EXPIRY = 7  # after whatever else comes due at its instant, which may still draw on it


@dataclass(frozen=True, slots=True)
class Due:
    at: datetime
    moment: Moment
    invoice: InvoiceRow | None = None
    grant: CreditGrantRow | None = None


async def catch_up(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow | None,
    now: datetime,
) -> list[InvoiceRow]:
    """Apply everything due by ``now``, oldest first; the invoices it issued."""
    issued: list[InvoiceRow] = []
    while True:
        due = await next_due(session, tenant, subscription, now)
        if subscription is not None:  # the periods that ended before it renew first
            state = (subscription.status, subscription.current_period_end)
            issued.extend(await renew(session, deps, actor, tenant, subscription, due.at if due else now))
            if due is not None and (subscription.status, subscription.current_period_end) != state:
                # A renewal at ``due``'s instant may have settled it: a cancellation at the
                # period's end ends the grace and the retries (applying the stale moment
                # raised InvalidTransition, CANCELLED -> UNPAID, found by
                # tests/reliability/test_lifecycle_property.py). Look again.
                continue
        if due is None:
            return issued
        issued.extend(await _apply(session, deps, actor, tenant, subscription, due))


async def next_due(
    session: AsyncSession, tenant: TenantRow, subscription: SubscriptionRow | None, now: datetime
) -> Due | None:
    """The earliest moment (other than a renewal) due by ``now``, if any."""
    found: list[Due] = []
    if subscription is not None:
        status = subscription.status
        if status is TRIALING and subscription.trial_end is not None:
            if subscription.trial_reminder_at is not None:
                found.append(Due(subscription.trial_reminder_at, Moment.TRIAL_REMINDER))
            found.append(Due(subscription.trial_end, Moment.TRIAL_END))
        elif status is PAUSED and subscription.resumes_at is not None:
            found.append(Due(subscription.resumes_at, Moment.RESUME))
        elif status is PAST_DUE and subscription.grace_ends_at is not None:
            found.append(Due(subscription.grace_ends_at, Moment.GRACE_END))
    overdue = await session.scalar(
        select(InvoiceRow)
        .where(
            InvoiceRow.tenant_id == tenant.id,
            InvoiceRow.status == InvoiceStatus.OPEN,
            InvoiceRow.due_date.is_not(None),
            InvoiceRow.overdue_at.is_(None),
            InvoiceRow.due_date <= now,
        )
        .order_by(InvoiceRow.due_date, InvoiceRow.id)
        .limit(1)
    )
    if overdue is not None:
        found.append(Due(overdue.due_date, Moment.OVERDUE, overdue))
    retry = await session.scalar(
        select(InvoiceRow)
        .where(InvoiceRow.tenant_id == tenant.id, InvoiceRow.next_retry_at <= now)
        .order_by(InvoiceRow.next_retry_at, InvoiceRow.id)
        .limit(1)
    )
    if retry is not None:
        found.append(Due(retry.next_retry_at, Moment.RETRY, retry))
    expiring = await credits.next_expiry(session, tenant.id, now)
    if expiring is not None:
        found.append(Due(expiring.expires_at, Moment.GRANT_EXPIRY, grant=expiring))
    found = [d for d in found if d.at <= now]
    return min(found, key=lambda d: (d.at, d.moment)) if found else None


async def _apply(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow | None,
    due: Due,
) -> list[InvoiceRow]:
    at = due.at
    if due.moment is Moment.TRIAL_REMINDER:
        await lifecycle.remind_trial(session, deps, actor, tenant, subscription, at)
    elif due.moment is Moment.TRIAL_END:
        if subscription.cancel_at_period_end:  # cancelled during the trial: it ends unbilled
            await lifecycle.cancel(session, deps, actor, tenant, subscription, at, at_period_end=True)
            return []
        invoice = await start_period(session, deps, tenant, subscription, at)
        await lifecycle.end_trial(session, deps, actor, tenant, subscription, invoice.number, at)
        return [invoice]
    elif due.moment is Moment.RESUME:
        return [await resume(session, deps, actor, tenant, subscription, at)]
    elif due.moment is Moment.OVERDUE:
        await _overdue(session, deps, actor, tenant, subscription, due.invoice, at)
    elif due.moment is Moment.GRACE_END:
        await lifecycle.mark_unpaid(session, deps, actor, tenant, subscription, at)
    elif due.moment is Moment.GRANT_EXPIRY:
        credits.expire(session, tenant, due.grant, at)
    else:
        _retry(session, deps, actor, tenant, due.invoice, at)
    return []


async def start_period(
    session: AsyncSession, deps: Deps, tenant: TenantRow, subscription: SubscriptionRow, at: datetime
) -> InvoiceRow:
    """A new first period from ``at`` (a trial's end, a resume), its plan and add-ons
    invoiced in advance; periods count from here on."""
    plan = await session.get(PlanRow, subscription.plan_id)
    items = await held_items(session, subscription.id)
    try:
        end = period_boundary(at, plan.interval, 1, tenant.timezone)
    except (ValueError, OverflowError):
        raise ValidationFailed(
            "currentPeriodEnd",
            f"subscription {subscription.id!r} cannot start a period at {at.isoformat()}: it would end "
            "after the year 9999",
        ) from None
    lines = recurring_lines(plan, items)
    totals = await invoice_totals(session, tenant, lines)
    check_representable(lines, totals.total, totals.balance_after)
    subscription.billing_anchor = subscription.current_period_start = at
    subscription.current_period_end = end
    subscription.usage_plans = None
    return await bill_in_advance(session, deps, tenant, subscription, lines, (at, end))


async def resume(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    at: datetime,
) -> InvoiceRow:
    """PAUSED -> ACTIVE at ``at`` with a new period invoiced; PAST_DUE at once if an
    invoice from before the pause is still overdue."""
    invoice = await start_period(session, deps, tenant, subscription, at)
    await lifecycle.resume(session, deps, actor, tenant, subscription, invoice, at)
    owing = await session.scalar(
        select(InvoiceRow)
        .where(
            InvoiceRow.tenant_id == tenant.id,
            InvoiceRow.status == InvoiceStatus.OPEN,
            InvoiceRow.overdue_at.is_not(None) | InvoiceRow.payment_failed_at.is_not(None),
        )
        .limit(1)
    )
    if owing is not None:
        await lifecycle.mark_past_due(session, deps, actor, tenant, subscription, owing, at)
    return invoice


async def _overdue(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow | None,
    invoice: InvoiceRow,
    at: datetime,
) -> None:
    """An OPEN invoice not paid by its due date: invoice.overdue, and its tenant's
    subscription PAST_DUE (if it was ACTIVE)."""
    invoice.overdue_at = at
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action="invoice.overdue",
        subject_id=invoice.id,
        before={"status": invoice.status, "dueDate": invoice.due_date.isoformat()},
        after={"status": invoice.status, "overdueAt": at.isoformat()},
        at=at,
    )
    events.emit(session, deps, InvoiceOverduePayload.of(invoice, due_date=invoice.due_date), at)
    if subscription is not None and subscription.status is ACTIVE:
        await lifecycle.mark_past_due(session, deps, actor, tenant, subscription, invoice, at)


def _retry(
    session: AsyncSession, deps: Deps, actor: Principal, tenant: TenantRow, invoice: InvoiceRow, at: datetime
) -> None:
    """Queue the charge of a failed invoice again (the provider task outbox; its
    idempotency key is new per task, so the provider charges again rather than replaying
    the decline). The next retry is scheduled if this one fails too."""
    invoice.next_retry_at = None
    invoice.retries += 1
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action="invoice.retry_queued",
        subject_id=invoice.id,
        before={"status": invoice.status},
        after={"status": invoice.status, "retry": invoice.retries},
        at=at,
    )
    if invoice.status is InvoiceStatus.OPEN and deps.mirrors:
        queue_provider_task(
            session,
            deps,
            tenant_id=tenant.id,
            kind=ProviderTaskKind.COLLECT_INVOICE,
            subject_id=invoice.id,
            now=deps.clock.now(),
        )


@dataclass
class BillingRun:
    renewed: int = 0
    finalized: int = 0  # renewal invoices made final once their usage grace window passed
    invoices: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


async def renew_due(
    deps: Deps, *, test_clock_id: str | None = None, subscription_id: str | None = None
) -> BillingRun:
    """Bring every tenant that has something due on its clock (the test clock's frozen
    time, else now) up to date (``timeline.catch_up``: renewals, trials, resumes, due
    dates, graces, retries), each in its own transaction, then bill the usage of every
    renewal whose grace window has passed. One that cannot be billed is said on its
    subscription (``renewalError``) and tried again by the next run; one that fails
    unexpectedly is logged; the others go on."""
    now = deps.clock.now()
    async with deps.store.read() as session:
        due = await _due_tenants(session, now, test_clock_id, subscription_id)
    run = BillingRun()
    for tenant_id, sub_id in due:
        try:
            issued = await advance_tenant(deps, tenant_id)
        except ValidationFailed as exc:
            if sub_id is not None:
                await _note_failure(deps, tenant_id, sub_id, exc.reason)
            run.failed.append(sub_id or tenant_id)
            continue
        except Exception:
            log.exception(
                "billing run failed for a tenant; the next run retries it",
                extra={"tenant_id": tenant_id, "subscription_id": sub_id},
            )
            run.failed.append(sub_id or tenant_id)
            continue
        if issued:
            run.renewed += 1
            run.invoices.extend(invoice.number for invoice in issued)
    if subscription_id is None:
        run.finalized = await usage_billing.finalize_due(deps, test_clock_id=test_clock_id)
    return run


async def _due_tenants(
    session: AsyncSession, now: datetime, test_clock_id: str | None, subscription_id: str | None
) -> list[tuple[str, str | None]]:
    """(tenant, live subscription) of every tenant with something due, soonest first."""
    clock = func.coalesce(TestClockRow.frozen_time, literal(now, UTCDateTime()))
    live = SubscriptionRow.status != SubscriptionStatus.CANCELLED
    moments = [
        (SubscriptionRow.current_period_end, SubscriptionRow.status.in_(RENEWING)),
        (SubscriptionRow.trial_reminder_at, SubscriptionRow.status == SubscriptionStatus.TRIALING),
        (SubscriptionRow.trial_end, SubscriptionRow.status == SubscriptionStatus.TRIALING),
        (SubscriptionRow.resumes_at, SubscriptionRow.status == SubscriptionStatus.PAUSED),
        (SubscriptionRow.grace_ends_at, SubscriptionRow.status == SubscriptionStatus.PAST_DUE),
    ]
    found: dict[str, tuple[datetime, str | None]] = {}

    def keep(rows: Sequence[Any]) -> None:
        for tenant_id, sub_id, at in rows:
            if tenant_id not in found or at < found[tenant_id][0]:
                found[tenant_id] = (at, sub_id or (found.get(tenant_id) or (at, None))[1])

    for column, status in moments:
        query = (
            select(SubscriptionRow.tenant_id, SubscriptionRow.id, column)
            .join(TenantRow, TenantRow.id == SubscriptionRow.tenant_id)
            .outerjoin(TestClockRow, TestClockRow.id == TenantRow.test_clock_id)
            .where(status, column <= clock)
        )
        if test_clock_id is not None:
            query = query.where(TenantRow.test_clock_id == test_clock_id)
        if subscription_id is not None:
            query = query.where(SubscriptionRow.id == subscription_id)
        keep((await session.execute(query)).all())
    if subscription_id is None:
        for column, waiting in (
            (
                InvoiceRow.due_date,
                (InvoiceRow.status == InvoiceStatus.OPEN) & InvoiceRow.overdue_at.is_(None),
            ),
            (InvoiceRow.next_retry_at, InvoiceRow.next_retry_at.is_not(None)),
        ):
            query = (
                select(InvoiceRow.tenant_id, SubscriptionRow.id, column)
                .join(TenantRow, TenantRow.id == InvoiceRow.tenant_id)
                .outerjoin(TestClockRow, TestClockRow.id == TenantRow.test_clock_id)
                .outerjoin(SubscriptionRow, (SubscriptionRow.tenant_id == TenantRow.id) & live)
                .where(waiting, column <= clock)
            )
            if test_clock_id is not None:
                query = query.where(TenantRow.test_clock_id == test_clock_id)
            keep((await session.execute(query)).all())
        # Grants expire for tenants with a subscription or without one.
        query = (
            select(CreditGrantRow.tenant_id, SubscriptionRow.id, CreditGrantRow.expires_at)
            .join(TenantRow, TenantRow.id == CreditGrantRow.tenant_id)
            .outerjoin(TestClockRow, TestClockRow.id == TenantRow.test_clock_id)
            .outerjoin(SubscriptionRow, (SubscriptionRow.tenant_id == TenantRow.id) & live)
            .where(
                CreditGrantRow.expires_at.is_not(None),
                CreditGrantRow.expired_at.is_(None),
                CreditGrantRow.expires_at <= clock,
            )
        )
        if test_clock_id is not None:
            query = query.where(TenantRow.test_clock_id == test_clock_id)
        keep((await session.execute(query)).all())
    return [(tenant_id, sub_id) for tenant_id, (_, sub_id) in sorted(found.items(), key=lambda kv: kv[1][0])]


async def _note_failure(deps: Deps, tenant_id: str, subscription_id: str, reason: str) -> None:
    async with deps.store.transaction() as session:
        tenant = await locks.tenant(session, tenant_id)
        subscription = await locks.subscription(session, subscription_id)
        if subscription is not None:
            now = (await tenant_clock(session, deps, tenant)).now()
            usage_billing.note_renewal_error(session, tenant, subscription, reason, now)


async def advance_tenant(deps: Deps, tenant_id: str) -> list[InvoiceRow]:
    """Apply what is due for one tenant (nothing if another run got there first); its
    errors propagate."""
    async with deps.store.transaction() as session:
        tenant = await locks.tenant(session, tenant_id)
        subscription = await locks.live_subscription(session, tenant_id)
        now = (await tenant_clock(session, deps, tenant)).now()
        return await catch_up(session, deps, operator(), tenant, subscription, now)


async def renew_first(
    session: AsyncSession, deps: Deps, tenant: TenantRow, subscription: SubscriptionRow | None
) -> datetime:
    """The one way a change acts on the current period: everything the clock owes the
    tenant is applied first (``timeline.catch_up``: renewals, a trial's end, a resume, an
    overdue invoice...), as the worker would have (it may cancel, or apply a scheduled
    change, and what the caller does next must see that). Tenant and subscription are
    locked by the caller; returns the tenant's now."""
    now = (await tenant_clock(session, deps, tenant)).now()
    await catch_up(session, deps, operator(), tenant, subscription, now)
    return now
