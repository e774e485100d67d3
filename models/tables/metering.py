"""Meters, usage points, their daily rollups, usage idempotency keys, and the usage
charges plans carry.

Usage values are kept exactly, as integers of millionths of a unit (``MICRO``);
timestamps of points are whole seconds since the epoch (UTC). A rollup row holds every
statistic of one tenant's meter on one day of the tenant's timezone, whatever the
meter's aggregation, so changing the aggregation changes every count at once.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, CheckConstraint, Date, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.kernel.enums import Aggregation, PricingModel
from models.tables.base import EnumText, ModelJSON, UTCDateTime
from models.tables.subscriptions import UsagePlan


class MeterRow(SQLModel, table=True):
    """A metering unit: what is counted, and how a day's or month's points combine."""

    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint("aggregation IN ('SUM', 'MAX', 'COUNT', 'LATEST')", name="aggregation"),
    )

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    aggregation: Aggregation = Field(default=Aggregation.SUM, sa_type=EnumText(Aggregation, 10))
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class UsagePointRow(SQLModel, table=True):
    """The value of a tenant's meter at one second: ADD and SUB change it, DIRECT sets it.

    No foreign keys here or on ``usage_keys``, the two tables every event writes: on
    PostgreSQL their row-by-row checks were 30 % of a 10,000-event batch. Ingestion
    checks the tenant and the meter itself, under the tenant's row lock, and neither
    can be deleted; the daily rollups keep their foreign keys."""

    __tablename__ = "usage_points"

    tenant_id: str = Field(primary_key=True, max_length=40)
    meter_id: str = Field(primary_key=True, max_length=40)
    ts: int = Field(primary_key=True, sa_type=BigInteger)  # seconds since the epoch, UTC
    value: int = Field(sa_type=BigInteger)  # millionths of a unit


class UsageDayRow(SQLModel, table=True):
    """Every statistic of a tenant's meter on one local day, maintained as points
    change: the sum and the number of points by deltas, the maximum and the latest
    point recomputed from that day's points only when the one they named falls or goes."""

    __tablename__ = "usage_days"
    __table_args__ = (CheckConstraint("points > 0", name="points"),)

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=40)
    meter_id: str = Field(primary_key=True, foreign_key="meters.id", max_length=40)
    day: date = Field(primary_key=True, sa_type=Date)
    total: int = Field(sa_type=BigInteger)
    points: int = Field(sa_type=BigInteger)
    max_value: int = Field(sa_type=BigInteger)
    latest_ts: int = Field(sa_type=BigInteger)
    latest_value: int = Field(sa_type=BigInteger)


class UsageKeyRow(SQLModel, table=True):
    """A usage event recorded with an idempotency key, kept at least 35 days so a retry
    counts nothing; the event is kept to tell a retry from another event with that key."""

    __tablename__ = "usage_keys"
    __table_args__ = (Index("ix_usage_keys_created_at", "created_at"),)

    tenant_id: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=255)
    meter_id: str = Field(max_length=40)
    method: str = Field(max_length=10)
    value: int = Field(sa_type=BigInteger)
    ts: int = Field(sa_type=BigInteger)
    ts_given: bool  # False: the timestamp defaulted to the tenant's clock
    created_at: datetime = Field(sa_type=UTCDateTime)


class StoredTier(BaseModel):
    model_config = ConfigDict(frozen=True)

    up_to: int | None  # units; None: the last tier, unbounded
    unit_amount: int  # minor units per unit
    flat_amount: int = 0  # minor units, once the tier is reached


class UsageChargeRow(SQLModel, table=True):
    """What a plan charges for a meter's usage in a period, billed in arrears.

    Amounts are minor units: ``unit_amount`` per unit (PER_UNIT) or per package of
    ``package_size`` units (PACKAGE); ``tiers`` (GRADUATED, VOLUME) in ascending order. The first
    ``free_units`` of each period cost nothing.
    """

    __tablename__ = "usage_charges"
    __table_args__ = (
        UniqueConstraint("plan_id", "meter_id"),
        CheckConstraint("model IN ('PER_UNIT', 'PACKAGE', 'GRADUATED', 'VOLUME')", name="model"),
        CheckConstraint("unit_amount >= 0 AND free_units >= 0 AND package_size >= 1", name="amounts"),
    )

    id: str = Field(primary_key=True, max_length=40)
    plan_id: str = Field(foreign_key="plans.id", index=True, max_length=40)
    meter_id: str = Field(foreign_key="meters.id", index=True, max_length=40)
    model: PricingModel = Field(sa_type=EnumText(PricingModel, 20))
    unit_amount: int = Field(default=0, sa_type=BigInteger)
    package_size: int = Field(default=1, sa_type=BigInteger)
    free_units: int = Field(default=0, sa_type=BigInteger)
    tiers: list[StoredTier] | None = Field(default=None, sa_type=ModelJSON(list[StoredTier]))
    created_at: datetime = Field(sa_type=UTCDateTime)


class BilledUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int  # minor units
    units: int  # millionths of a unit, as the meter aggregates the period


class UsageBillingRow(SQLModel, table=True):
    """One period's usage as billed: the plans that priced it, each until when, and what
    each meter came to. A renewal's usage waits for its grace window (``finalize_at``)
    on the renewal invoice, a draft until then; usage that arrives for the period after it
    was billed marks it ``stale``, and the next invoice that bills usage bills the
    difference once, on a line naming the period."""

    __tablename__ = "usage_billings"
    __table_args__ = (
        Index("ix_usage_billings_tenant_id_period_start", "tenant_id", "period_start"),
        Index(
            "ix_usage_billings_pending",
            "finalize_at",
            sqlite_where=text("finalized_at IS NULL"),
            postgresql_where=text("finalized_at IS NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=40)
    subscription_id: str = Field(foreign_key="subscriptions.id", max_length=40)
    # The invoice its usage is on (None: a period whose usage came to nothing).
    invoice_id: str | None = Field(default=None, foreign_key="invoices.id", index=True, max_length=40)
    period_start: datetime = Field(sa_type=UTCDateTime)
    period_end: datetime = Field(sa_type=UTCDateTime)
    plans: list[UsagePlan] = Field(sa_type=ModelJSON(list[UsagePlan]))
    finalize_at: datetime = Field(sa_type=UTCDateTime)
    finalized_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # meter id -> what the period's usage of it was billed so far (None until finalized)
    billed: dict[str, BilledUsage] | None = Field(default=None, sa_type=ModelJSON(dict[str, BilledUsage]))
    stale: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
