from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from models.kernel.enums import SubscriptionStatus
from models.tables.base import EnumText, ModelJSON, UTCDateTime

LIVE = "status <> 'CANCELLED'"


class _Stored(BaseModel):
    model_config = ConfigDict(frozen=True)


class ScheduledAddon(_Stored):
    addon_id: str
    quantity: int


class ScheduledChange(_Stored):
    """A change with effectiveAt NEXT_BILLING_DATE, applied by the renewal."""

    plan_id: str
    addons: tuple[ScheduledAddon, ...]
    requested_at: datetime


class UsagePlan(_Stored):
    """A plan the current period switched away from, and until when it held."""

    plan_id: str
    until: datetime


class SubscriptionRow(SQLModel, table=True):
    """A tenant's plan for the current period. A tenant has at most one live
    (not cancelled) subscription; the database holds that, not just the code."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('TRIALING', 'ACTIVE', 'PAST_DUE', 'UNPAID', 'PAUSED', 'CANCELLED')", name="status"
        ),
        CheckConstraint("current_period_end > current_period_start", name="period"),
        Index(
            "uq_subscriptions_tenant_id_live",
            "tenant_id",
            unique=True,
            sqlite_where=text(LIVE),
            postgresql_where=text(LIVE),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=40)
    plan_id: str = Field(foreign_key="plans.id", index=True, max_length=40)
    status: SubscriptionStatus = Field(
        default=SubscriptionStatus.ACTIVE, sa_type=EnumText(SubscriptionStatus, 20)
    )
    billing_anchor: datetime = Field(sa_type=UTCDateTime)
    current_period_start: datetime = Field(sa_type=UTCDateTime)
    current_period_end: datetime = Field(sa_type=UTCDateTime, index=True)  # what billing runs look for
    # Set by cancelSubscription(atPeriodEnd: true): the renewal cancels instead.
    cancel_at_period_end: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why it was cancelled (or set to cancel), as the canceller gave it (trimmed); None: not said.
    cancellation_reason: str | None = Field(default=None, max_length=500)
    # A change with effectiveAt NEXT_BILLING_DATE, applied by the renewal.
    scheduled_change: ScheduledChange | None = Field(default=None, sa_type=ModelJSON(ScheduledChange))
    # The plans this period switched away from, in order, each with when: the period's
    # usage is priced by each plan for its part of it. Emptied when a new period starts.
    usage_plans: list[UsagePlan] | None = Field(default=None, sa_type=ModelJSON(list[UsagePlan]))
    # Why the last attempt to renew could not be billed, and when (None: it renewed, or
    # nothing was due). Shown on Subscription.renewalError; the next billing run tries again.
    renewal_error: str | None = Field(default=None, max_length=1000)
    renewal_failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When it became PAST_DUE (None otherwise): its entitlements hold for the grace after.
    past_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When a PAST_DUE one becomes UNPAID if still owing (past_due_at + the grace).
    grace_ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A trial's end (the first invoice's start), and when subscription.trial_will_end is to
    # be sent (three days before; None once sent).
    trial_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    trial_reminder_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # While PAUSED: since when, and when it resumes by itself (None: when asked).
    paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resumes_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class SubscriptionAddonRow(SQLModel, table=True):
    """How many units of an add-on a subscription has (rows with quantity 0 are not kept)."""

    __tablename__ = "subscription_addons"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)

    subscription_id: str = Field(primary_key=True, foreign_key="subscriptions.id", max_length=40)
    addon_id: str = Field(primary_key=True, foreign_key="addons.id", index=True, max_length=40)
    quantity: int


class TrialRow(SQLModel, table=True):
    """A trial a tenant had of a plan: one per tenant and plan, ever."""

    __tablename__ = "trials"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=40)
    plan_id: str = Field(primary_key=True, foreign_key="plans.id", max_length=40)
    subscription_id: str = Field(foreign_key="subscriptions.id", max_length=40)
    started_at: datetime = Field(sa_type=UTCDateTime)
