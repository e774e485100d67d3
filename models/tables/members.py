from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from models.kernel.enums import MemberStatus, SeatType
from models.tables.base import EnumText, UTCDateTime

HOLDS_SEAT = "status = 'ACTIVE'"


class MemberRow(SQLModel, table=True):
    """A person on a tenant's team, holding one seat of their type while ACTIVE.
    Removed members are kept (the audit trail names them) but hold no seat."""

    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("status IN ('ACTIVE', 'REMOVED')", name="status"),
        CheckConstraint("seat_type IN ('FULL', 'VIEWER', 'GUEST')", name="seat_type"),
        Index(
            "uq_members_tenant_id_email_active",
            "tenant_id",
            "email",
            unique=True,
            sqlite_where=text(HOLDS_SEAT),
            postgresql_where=text(HOLDS_SEAT),
        ),
        Index("ix_members_tenant_id_status_seat_type", "tenant_id", "status", "seat_type"),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=40)
    email: str = Field(max_length=320)
    seat_type: SeatType = Field(sa_type=EnumText(SeatType, 10))
    status: MemberStatus = Field(default=MemberStatus.ACTIVE, sa_type=EnumText(MemberStatus, 10))
    invited_by: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
