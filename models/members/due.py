"""Whether the tenant's clock has made anything due, without applying it: an invite runs
``timeline.renew_first`` only when it has, instead of every one of ``timeline.next_due``'s
reads on every invite. These mirror ``next_due`` and ``renewals.renew``'s conditions and
must move with them (tests/api/test_invites_catch_up.py invites at each kind of moment)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ColumnElement, String, and_, bindparam, exists, or_

from models.kernel.enums import InvoiceStatus, SubscriptionStatus
from models.subscriptions.rules import is_due
from models.tables import CreditGrantRow, InvoiceRow, SubscriptionRow, UTCDateTime


def due_on_subscription(subscription: SubscriptionRow, now: datetime) -> bool:
    """A renewal, a trial's reminder or end, a resume, or a grace's end has come by ``now``:
    read from the (locked) subscription row alone."""
    if is_due(subscription, now):
        return True
    status = subscription.status
    moments: list[datetime | None] = []
    if status is SubscriptionStatus.TRIALING and subscription.trial_end is not None:
        moments = [subscription.trial_reminder_at, subscription.trial_end]
    elif status is SubscriptionStatus.PAUSED:
        moments = [subscription.resumes_at]
    elif status is SubscriptionStatus.PAST_DUE:
        moments = [subscription.grace_ends_at]
    return any(at is not None and at <= now for at in moments)


def due_elsewhere() -> ColumnElement[bool]:
    """True in SQL when ``:look`` and an invoice has come due unpaid, a failed charge's
    retry, or a credit grant's expiry has come by ``:now`` for the tenant ``:tenant_id``."""
    tenant_id, now = bindparam("tenant_id", type_=String), bindparam("now", type_=UTCDateTime)
    overdue = exists().where(
        InvoiceRow.tenant_id == tenant_id,
        InvoiceRow.status == InvoiceStatus.OPEN,
        InvoiceRow.due_date.is_not(None),
        InvoiceRow.overdue_at.is_(None),
        InvoiceRow.due_date <= now,
    )
    retry = exists().where(InvoiceRow.tenant_id == tenant_id, InvoiceRow.next_retry_at <= now)
    expiring = exists().where(
        CreditGrantRow.tenant_id == tenant_id,
        CreditGrantRow.expires_at.is_not(None),
        CreditGrantRow.expired_at.is_(None),
        CreditGrantRow.expires_at <= now,
    )
    return and_(bindparam("look", type_=Boolean), or_(overdue, retry, expiring))
