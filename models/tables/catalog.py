from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint
from sqlmodel import Field, SQLModel

from models.kernel.enums import Interval, SeatType
from models.tables.base import EnumText, UTCDateTime


class PlanRow(SQLModel, table=True):
    """A base plan: a recurring price per interval that includes some FULL seats."""

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("interval IN ('MONTH', 'YEAR')", name="interval"),
        CheckConstraint("base_price >= 0", name="base_price"),
        CheckConstraint("included_seats >= 0", name="included_seats"),
        CheckConstraint("trial_days >= 0 AND trial_days <= 730", name="trial_days"),
        CheckConstraint("min_seats IS NULL OR min_seats >= 0", name="min_seats"),
        CheckConstraint(
            "max_seats IS NULL OR (max_seats >= 1 AND max_seats >= COALESCE(min_seats, 0) "
            "AND max_seats >= included_seats)",
            name="max_seats",
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    currency: str = Field(max_length=3)
    interval: Interval = Field(sa_type=EnumText(Interval, 10))
    base_price: int = Field(sa_type=BigInteger)
    included_seats: int = Field(default=0)
    min_seats: int | None = Field(default=None)
    max_seats: int | None = Field(default=None)
    # Days of free trial a tenant gets the first time it subscribes to the plan (0: none).
    trial_days: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(sa_type=UTCDateTime)


class AddonRow(SQLModel, table=True):
    """Something bought in quantities on top of a plan; with a seat type, each unit
    gives ``seats_per_unit`` seats of that type (a 5-seat pack gives 5)."""

    __tablename__ = "addons"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price"),
        CheckConstraint("seat_type IS NULL OR seat_type IN ('FULL', 'VIEWER', 'GUEST')", name="seat_type"),
        CheckConstraint("seats_per_unit >= 1", name="seats_per_unit"),
    )

    id: str = Field(primary_key=True, max_length=40)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    currency: str = Field(max_length=3)
    price: int = Field(sa_type=BigInteger)
    seat_type: SeatType | None = Field(default=None, sa_type=EnumText(SeatType, 10))
    seats_per_unit: int = Field(default=1)
    tax_category: str = Field(max_length=64)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class PlanAddonRow(SQLModel, table=True):
    """An add-on offered with a plan."""

    __tablename__ = "plan_addons"

    plan_id: str = Field(primary_key=True, foreign_key="plans.id", max_length=40)
    addon_id: str = Field(primary_key=True, foreign_key="addons.id", index=True, max_length=40)
    attached_at: datetime = Field(sa_type=UTCDateTime)
