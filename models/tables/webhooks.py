"""Outbound webhooks: the partner endpoints, one delivery per (endpoint, event), and
every attempt at a delivery (the delivery log)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.kernel.enums import DeliveryStatus
from models.tables.base import EnumText, UTCDateTime


class WebhookEndpointRow(SQLModel, table=True):
    """Where a partner receives events. ``tenant_id`` null: every tenant's events."""

    __tablename__ = "webhook_endpoints"

    id: str = Field(primary_key=True, max_length=40)
    url: str = Field(max_length=2000)
    events: list[str] = Field(sa_type=JSON)
    tenant_id: str | None = Field(default=None, foreign_key="tenants.id", index=True, max_length=40)
    # The Standard Webhooks signing secret (whsec_...): shown once, kept to sign.
    secret: str = Field(max_length=100)
    description: str | None = Field(default=None, max_length=500)
    disabled: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Registered by an ADMIN key to a loopback or private address while the operator
    # allowed it (GATEWAY_WEBHOOKS_ALLOW_PRIVATE): only then may it be delivered there.
    allow_private: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    # The circuit (``models.webhooks.rules.circuit_pause``): timeouts in a row, and
    # until when its deliveries wait after too many.
    consecutive_timeouts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    paused_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookDeliveryRow(SQLModel, table=True):
    """An event owed to an endpoint. Its id is the ``webhook-id`` header, the same on
    every attempt, so the receiver can drop repeats."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        CheckConstraint("status IN ('PENDING', 'SUCCEEDED', 'FAILED')", name="status"),
    )

    id: str = Field(primary_key=True, max_length=40)
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", max_length=40)
    event_id: str = Field(foreign_key="events.id", index=True, max_length=40)
    event_type: str = Field(max_length=60)
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=EnumText(DeliveryStatus, 20))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class WebhookAttemptRow(SQLModel, table=True):
    """One try at a delivery: when, what the endpoint answered (or why it could not)."""

    __tablename__ = "webhook_attempts"

    id: str = Field(primary_key=True, max_length=40)
    delivery_id: str = Field(foreign_key="webhook_deliveries.id", index=True, max_length=40)
    attempt: int
    at: datetime = Field(sa_type=UTCDateTime)
    status_code: int | None = Field(default=None)
    error: str | None = Field(default=None, max_length=1000)
    response_body: str | None = Field(default=None, max_length=1000)
    duration_ms: int
