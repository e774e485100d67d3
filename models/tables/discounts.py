"""Coupons (the catalog of what can be taken off) and discounts (a coupon redeemed on a
subscription: one live discount per subscription, each redemption kept)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from models.kernel.enums import CouponDuration
from models.tables.base import EnumText, UTCDateTime

LIVE = "ended_at IS NULL"


class CouponRow(SQLModel, table=True):
    """A percentage (in thousandths of a percent: 20 % is 20000) or an amount off in the
    coupon's currency, for one invoice, N periods or for ever."""

    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint(
            "(percent_off IS NOT NULL AND amount_off IS NULL AND currency IS NULL) OR "
            "(percent_off IS NULL AND amount_off IS NOT NULL AND currency IS NOT NULL)",
            name="off",
        ),
        CheckConstraint("percent_off IS NULL OR (percent_off > 0 AND percent_off <= 100000)", name="percent"),
        CheckConstraint("amount_off IS NULL OR amount_off > 0", name="amount"),
        CheckConstraint("duration IN ('ONCE', 'REPEATING', 'FOREVER')", name="duration"),
        CheckConstraint(
            "(duration = 'REPEATING') = (duration_in_periods IS NOT NULL)", name="duration_in_periods"
        ),
        CheckConstraint(
            "times_redeemed >= 0 AND (max_redemptions IS NULL OR times_redeemed <= max_redemptions)",
            name="redemptions",
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    percent_off: int | None = Field(default=None)  # thousandths of a percent
    amount_off: int | None = Field(default=None, sa_type=BigInteger)
    currency: str | None = Field(default=None, max_length=3)
    duration: CouponDuration = Field(sa_type=EnumText(CouponDuration, 10))
    duration_in_periods: int | None = Field(default=None)
    # The plans and add-ons it covers (their ids); None: everything.
    applies_to: list[str] | None = Field(default=None, sa_type=JSON)
    max_redemptions: int | None = Field(default=None)
    times_redeemed: int = Field(default=0)
    redeem_by: datetime | None = Field(default=None, sa_type=UTCDateTime)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class DiscountRow(SQLModel, table=True):
    """A coupon redeemed on a subscription. Live until ``ended_at`` (removed, or its
    duration spent); ``periods_left`` counts the periods a REPEATING one still covers,
    ``invoices`` how many invoices it has taken something off."""

    __tablename__ = "discounts"
    __table_args__ = (
        Index(
            "uq_discounts_subscription_id_live",
            "subscription_id",
            unique=True,
            sqlite_where=text(LIVE),
            postgresql_where=text(LIVE),
        ),
        CheckConstraint("periods_left IS NULL OR periods_left >= 0", name="periods_left"),
    )

    id: str = Field(primary_key=True, max_length=40)
    coupon_id: str = Field(foreign_key="coupons.id", index=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=40)
    subscription_id: str = Field(foreign_key="subscriptions.id", max_length=40)
    started_at: datetime = Field(sa_type=UTCDateTime)
    periods_left: int | None = Field(default=None)
    invoices: int = Field(default=0)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
