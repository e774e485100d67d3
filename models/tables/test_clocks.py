from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.kernel.enums import TestClockStatus
from models.tables.base import EnumText, UTCDateTime


class TestClockRow(SQLModel, table=True):
    """A Stripe-style test clock: tenants attached to it live on ``frozen_time``."""

    __tablename__ = "test_clocks"
    __test__ = False  # not a pytest class, despite the name

    id: str = Field(primary_key=True, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    frozen_time: datetime = Field(sa_type=UTCDateTime)
    status: TestClockStatus = Field(default=TestClockStatus.READY, sa_type=EnumText(TestClockStatus, 20))
    created_at: datetime = Field(sa_type=UTCDateTime)
