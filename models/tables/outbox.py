"""What happened (events, for outbound webhooks and live subscriptions), what is still
owed to the payment provider (provider tasks), and what the provider told us
(provider events, kept once by their id).

Provider tasks run after the local transaction that queued them commits, in order per
tenant, each retried with backoff until it succeeds; a provider outage never loses or
blocks a local change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, text
from sqlmodel import Field, SQLModel

from models.kernel.enums import ProviderTaskKind, TaskStatus
from models.tables.base import EnumText, UTCDateTime


class EventRow(SQLModel, table=True):
    """One domain event (``seats.changed``, ``invoice.paid``...), written in the
    transaction that made it happen. ``dispatched`` turns true once webhook
    deliveries for it exist."""

    __tablename__ = "events"
    __table_args__ = (
        Index(
            "ix_events_undispatched",
            "created_at",
            sqlite_where=text("NOT dispatched"),
            postgresql_where=text("NOT dispatched"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    type: str = Field(max_length=60)
    tenant_id: str | None = Field(default=None, index=True, max_length=40)
    data: dict[str, Any] = Field(sa_type=JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    dispatched: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


class ProviderTaskRow(SQLModel, table=True):
    """A call owed to the payment provider. ``id`` counts up, so a tenant's tasks run
    in the order they were queued (its customer exists before its invoices)."""

    __tablename__ = "provider_tasks"
    __table_args__ = (
        CheckConstraint("status IN ('PENDING', 'DONE', 'FAILED')", name="status"),
        CheckConstraint(
            "kind IN ('SYNC_CUSTOMER', 'COLLECT_INVOICE', 'MARK_PAID_OUT_OF_BAND', 'REFUND_CREDIT_NOTE', "
            "'VOID_INVOICE')",
            name="kind",
        ),
        Index(
            "ix_provider_tasks_pending",
            "tenant_id",
            "id",
            sqlite_where=text("status = 'PENDING'"),
            postgresql_where=text("status = 'PENDING'"),
        ),
    )

    # BIGINT counts up by itself on PostgreSQL; on SQLite only INTEGER PRIMARY KEY does.
    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer, "sqlite")
    )
    tenant_id: str = Field(foreign_key="tenants.id", max_length=40)
    kind: ProviderTaskKind = Field(sa_type=EnumText(ProviderTaskKind, 30))
    subject_id: str = Field(max_length=40)  # the tenant, the invoice or the credit note
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    status: TaskStatus = Field(default=TaskStatus.PENDING, sa_type=EnumText(TaskStatus, 20))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ProviderEventRow(SQLModel, table=True):
    """An inbound provider webhook event, stored once by its id: a second delivery
    of the same event is acknowledged and not processed again."""

    __tablename__ = "provider_events"

    id: str = Field(primary_key=True, max_length=255)
    provider: str = Field(max_length=20)
    type: str = Field(max_length=100)
    outcome: str = Field(max_length=200)  # what processing did, or why it ignored the event
    received_at: datetime = Field(sa_type=UTCDateTime)
