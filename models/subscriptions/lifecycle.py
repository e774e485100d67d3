"""Every change of a subscription's status happens here, each with its audit entry and
its event, written in the caller's transaction (tenant and subscription locked):

    ACTIVE ──payment failed──▶ PAST_DUE ──paid, or given up on──▶ ACTIVE
    ACTIVE, PAST_DUE ──cancelled (now, or at period end)──▶ CANCELLED

Scheduling a cancellation for the period's end changes no status; the renewal at that
end cancels. ``rules.TRANSITIONS`` is the state machine; ``docs/architecture.md`` draws it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import SubscriptionStatus
from models.platform import audit, events
from models.platform.access import Principal
from models.platform.deps import Deps
from models.platform.payloads import SubscriptionActivePayload, SubscriptionCancelledPayload
from models.subscriptions.items import count_and_tell
from models.subscriptions.rules import check_transition
from models.tables import PlanRow, SubscriptionRow, TenantRow


def _move(subscription: SubscriptionRow, target: SubscriptionStatus, at: datetime) -> dict[str, Any]:
    """Change the status (if the state machine allows it); the state before, for the audit."""
    check_transition(subscription.status, target)
    before = {"status": subscription.status}
    subscription.status, subscription.updated_at = target, at
    return before


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
    """CANCELLED from ``at``: it gives no seats any more, and a change it had scheduled
    is dropped. The caller has billed its last period's usage."""
    before = _move(subscription, SubscriptionStatus.CANCELLED, at)
    if not at_period_end:
        before["cancelAtPeriodEnd"] = subscription.cancel_at_period_end
    subscription.cancelled_at = at
    subscription.scheduled_change = None
    after: dict[str, Any] = {"status": subscription.status}
    after.update(
        {"atPeriodEnd": True} if at_period_end else {"cancelAtPeriodEnd": subscription.cancel_at_period_end}
    )
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action="subscription.cancelled",
        subject_id=subscription.id,
        before=before,
        after=after,
        at=at,
    )
    plan = await session.get(PlanRow, subscription.plan_id)
    events.emit(
        session,
        deps,
        SubscriptionCancelledPayload.of(subscription, plan, at_period_end=at_period_end),
        at,
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
        after={"status": subscription.status, "cancelAtPeriodEnd": True},
        at=at,
    )


def mark_past_due(
    session: AsyncSession,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    invoice_number: str,
    at: datetime,
) -> None:
    """ACTIVE -> PAST_DUE: a payment of one of its invoices failed."""
    before = _move(subscription, SubscriptionStatus.PAST_DUE, at)
    subscription.past_due_at = at  # its entitlements hold for the grace after (BillingPolicy.past_due_grace)
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action="subscription.past_due",
        subject_id=subscription.id,
        before=before,
        after={"status": subscription.status, "invoice": invoice_number},
        at=at,
    )


async def reactivate(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    invoice_number: str,
    at: datetime,
) -> None:
    """PAST_DUE -> ACTIVE: nothing it failed to pay is still owed."""
    before = _move(subscription, SubscriptionStatus.ACTIVE, at)
    subscription.past_due_at = None
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action="subscription.reactivated",
        subject_id=subscription.id,
        before=before,
        after={"status": subscription.status, "invoice": invoice_number},
        at=at,
    )
    plan = await session.get(PlanRow, subscription.plan_id)
    events.emit(session, deps, SubscriptionActivePayload.of(subscription, plan), at)
