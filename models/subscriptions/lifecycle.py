"""Every change of a subscription's status happens here, each with its audit entry and
its event, written in the caller's transaction (tenant and subscription locked):

    TRIALING ──trial ends (first invoice)──▶ ACTIVE
    ACTIVE ──invoice overdue, or its charge failed──▶ PAST_DUE ──grace over──▶ UNPAID
    PAST_DUE, UNPAID ──everything overdue paid (or given up on)──▶ ACTIVE
    ACTIVE ──paused──▶ PAUSED ──resumed (new period, invoiced)──▶ ACTIVE
    any but CANCELLED ──cancelled (now, or at period end)──▶ CANCELLED

Scheduling a cancellation for the period's end changes no status; the renewal at that
end cancels. ``rules.TRANSITIONS`` is the state machine; ``timeline`` decides when the
clock moves one; ``docs/architecture.md`` draws it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import ProviderTaskKind, SubscriptionStatus, TaskStatus
from models.platform import audit, events
from models.platform.access import Principal
from models.platform.deps import Deps
from models.platform.payloads import (
    SubscriptionActivePayload,
    SubscriptionCancelledPayload,
    SubscriptionPastDuePayload,
    SubscriptionPausedPayload,
    SubscriptionPayload,
    SubscriptionRecoveredPayload,
    SubscriptionResumedPayload,
    SubscriptionTrialWillEndPayload,
    SubscriptionUnpaidPayload,
)
from models.subscriptions.items import count_and_tell
from models.subscriptions.rules import check_transition
from models.tables import InvoiceRow, PlanRow, ProviderTaskRow, SubscriptionRow, TenantRow

ACTIVE, PAST_DUE, UNPAID, PAUSED = (
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.PAUSED,
)


def _move(subscription: SubscriptionRow, target: SubscriptionStatus, at: datetime) -> dict[str, Any]:
    """Change the status (if the state machine allows it); the state before, for the audit."""
    check_transition(subscription.status, target)
    before = {"status": subscription.status}
    subscription.status, subscription.updated_at = target, at
    return before


async def _tell(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    at: datetime,
    payload: type[SubscriptionPayload],
    **extra: Any,
) -> None:
    """The audit entry and the event of one transition."""
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action=action,
        subject_id=subscription.id,
        before=before,
        after={"status": subscription.status, **after},
        at=at,
    )
    plan = await session.get(PlanRow, subscription.plan_id)
    events.emit(session, deps, payload.of(subscription, plan, **extra), at)


async def cancel(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    at: datetime,
    *,
    at_period_end: bool,
) -> None:
    """CANCELLED from ``at``: it gives no seats any more, a change it had scheduled is
    dropped, and no failed charge of its invoices is retried. The caller has billed its
    last period's usage."""
    before = _move(subscription, SubscriptionStatus.CANCELLED, at)
    if not at_period_end:
        before["cancelAtPeriodEnd"] = subscription.cancel_at_period_end
    subscription.cancelled_at = at
    subscription.scheduled_change = None
    subscription.resumes_at = None
    await session.execute(
        update(InvoiceRow)
        .where(InvoiceRow.subscription_id == subscription.id, InvoiceRow.next_retry_at.is_not(None))
        .values(next_retry_at=None)
    )
    # A retry already queued (its charge not yet run) is withdrawn too: the outbox runs
    # apart from this transaction, and a cancelled subscription is never charged again.
    failed = select(InvoiceRow.id).where(
        InvoiceRow.subscription_id == subscription.id, InvoiceRow.payment_failed_at.is_not(None)
    )
    await session.execute(
        update(ProviderTaskRow)
        .where(
            ProviderTaskRow.kind == ProviderTaskKind.COLLECT_INVOICE,
            ProviderTaskRow.status == TaskStatus.PENDING,
            ProviderTaskRow.subject_id.in_(failed),
        )
        .values(status=TaskStatus.DONE, last_error=f"withdrawn: subscription {subscription.id} was cancelled")
        .execution_options(synchronize_session=False)
    )
    after: dict[str, Any] = (
        {"atPeriodEnd": True} if at_period_end else {"cancelAtPeriodEnd": subscription.cancel_at_period_end}
    )
    after["cancellationReason"] = subscription.cancellation_reason
    await _tell(
        session,
        deps,
        actor,
        tenant,
        subscription,
        "subscription.cancelled",
        before,
        after,
        at,
        SubscriptionCancelledPayload,
        at_period_end=at_period_end,
        cancellation_reason=subscription.cancellation_reason,
    )
    await count_and_tell(session, deps, tenant.id, None, "subscription.cancelled", at)


def schedule_cancel(
    session: AsyncSession, actor: Principal, tenant: TenantRow, subscription: SubscriptionRow, at: datetime
) -> None:
    """Cancel when the current period ends: the renewal at that end cancels instead."""
    before = {"status": subscription.status, "cancelAtPeriodEnd": subscription.cancel_at_period_end}
    subscription.cancel_at_period_end = True
    subscription.updated_at = at
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action="subscription.cancel_scheduled",
        subject_id=subscription.id,
        before=before,
        after={
            "status": subscription.status,
            "cancelAtPeriodEnd": True,
            "cancellationReason": subscription.cancellation_reason,
        },
        at=at,
    )


async def remind_trial(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    at: datetime,
) -> None:
    """subscription.trial_will_end, once, three days before the trial ends (no status change)."""
    subscription.trial_reminder_at = None
    await _tell(
        session,
        deps,
        actor,
        tenant,
        subscription,
        "subscription.trial_will_end",
        {"status": subscription.status},
        {"trialEnd": subscription.trial_end.isoformat()},
        at,
        SubscriptionTrialWillEndPayload,
        trial_end=subscription.trial_end,
    )


async def end_trial(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    invoice_number: str | None,
    at: datetime,
) -> None:
    """TRIALING -> ACTIVE: the trial is over and its first period invoiced
    (subscription.active, as when a tenant subscribes without a trial)."""
    before = _move(subscription, ACTIVE, at)
    await _tell(
        session,
        deps,
        actor,
        tenant,
        subscription,
        "subscription.trial_ended",
        before,
        {"invoice": invoice_number},
        at,
        SubscriptionActivePayload,
    )


async def mark_past_due(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    invoice: InvoiceRow,
    at: datetime,
) -> None:
    """ACTIVE -> PAST_DUE: ``invoice`` is overdue or its payment failed. Its entitlements
    hold until the grace ends (BillingPolicy.past_due_grace); then it is UNPAID."""
    before = _move(subscription, PAST_DUE, at)
    subscription.past_due_at = at
    subscription.grace_ends_at = at + deps.policy.past_due_grace
    await _tell(
        session,
        deps,
        actor,
        tenant,
        subscription,
        "subscription.past_due",
        before,
        {"invoice": invoice.number, "graceEndsAt": subscription.grace_ends_at.isoformat()},
        at,
        SubscriptionPastDuePayload,
        invoice_id=invoice.id,
        grace_ends_at=subscription.grace_ends_at,
    )


async def mark_unpaid(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    at: datetime,
) -> None:
    """PAST_DUE -> UNPAID: the grace passed with an invoice still owed. It grants nothing
    and takes no new members; its seats and members are kept."""
    before = _move(subscription, UNPAID, at)
    await _tell(
        session,
        deps,
        actor,
        tenant,
        subscription,
        "subscription.unpaid",
        before,
        {},
        at,
        SubscriptionUnpaidPayload,
    )


async def recover(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    invoice: InvoiceRow,
    at: datetime,
) -> None:
    """PAST_DUE or UNPAID -> ACTIVE: nothing it failed to pay is still owed (``invoice``
    was the last). Sends subscription.recovered, and subscription.active as before."""
    before = _move(subscription, ACTIVE, at)
    subscription.past_due_at = subscription.grace_ends_at = None
    await _tell(
        session,
        deps,
        actor,
        tenant,
        subscription,
        "subscription.recovered",
        before,
        {"invoice": invoice.number},
        at,
        SubscriptionRecoveredPayload,
        invoice_id=invoice.id,
    )
    plan = await session.get(PlanRow, subscription.plan_id)
    events.emit(session, deps, SubscriptionActivePayload.of(subscription, plan), at)


async def pause(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    resumes_at: datetime | None,
    at: datetime,
) -> None:
    """ACTIVE -> PAUSED: nothing is invoiced and nothing granted until it resumes (at
    ``resumes_at``, or when asked); seats and members are kept."""
    before = _move(subscription, PAUSED, at)
    subscription.paused_at, subscription.resumes_at = at, resumes_at
    if subscription.scheduled_change is not None:  # the period it waited for will not end
        before["scheduledChange"] = subscription.scheduled_change.model_dump(mode="json")
        subscription.scheduled_change = None
    await _tell(
        session,
        deps,
        actor,
        tenant,
        subscription,
        "subscription.paused",
        before,
        {"resumesAt": resumes_at.isoformat() if resumes_at else None},
        at,
        SubscriptionPausedPayload,
        resumes_at=resumes_at,
    )


async def resume(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    invoice: InvoiceRow | None,
    at: datetime,
) -> None:
    """PAUSED -> ACTIVE, its new period (set by the caller) invoiced by ``invoice``."""
    before = _move(subscription, ACTIVE, at)
    before["pausedAt"] = subscription.paused_at.isoformat() if subscription.paused_at else None
    subscription.paused_at = subscription.resumes_at = None
    await _tell(
        session,
        deps,
        actor,
        tenant,
        subscription,
        "subscription.resumed",
        before,
        {"invoice": invoice.number if invoice else None},
        at,
        SubscriptionResumedPayload,
        invoice_id=invoice.id if invoice else None,
    )
