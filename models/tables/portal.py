"""Customer billing portal: one-time links and the sessions they open, and the operator's
portal configuration (what customers may change themselves)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from models.kernel.enums import ProrationMode
from models.tables.base import EnumText, UTCDateTime


class PortalSessionRow(SQLModel, table=True):
    """A createPortalSession link and, once opened, the browser session it became.

    Only SHA-256 hashes of the link token and of the session secret are kept (both
    carry 240 random bits). The link opens once (``opened_at``) before ``link_expires_at``;
    the session lasts until ``idle_expires_at`` (moved by use) or ``expires_at``,
    whichever comes first, or until ``ended_at`` (signed out)."""

    __tablename__ = "portal_sessions"
    __table_args__ = (
        CheckConstraint("(opened_at IS NULL) = (session_hash IS NULL)", name="opened"),
        CheckConstraint("(opened_at IS NULL) = (expires_at IS NULL)", name="expiry"),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=40)
    return_url: str = Field(max_length=2000)
    link_hash: str = Field(max_length=64, unique=True)
    link_expires_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    session_hash: str | None = Field(default=None, max_length=64, unique=True)
    idle_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PortalConfigurationRow(SQLModel, table=True):
    """What customers may do in the billing portal; one row (``id = 'default'``), absent
    until the operator first changes the defaults."""

    __tablename__ = "portal_configuration"
    __table_args__ = (
        CheckConstraint(
            "proration_billing_mode IN ('PRORATED_IMMEDIATELY', 'DIFFERENCE_IMMEDIATELY', "
            "'FULL_IMMEDIATELY', "
            "'DO_NOT_BILL')",
            name="proration_billing_mode",
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    change_plan: bool
    change_seats: bool
    cancel_at_period_end: bool
    cancel_immediately: bool
    pause: bool
    apply_coupons: bool
    manage_members: bool
    proration_billing_mode: ProrationMode = Field(sa_type=EnumText(ProrationMode, 30))
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str | None = Field(default=None, max_length=40)
