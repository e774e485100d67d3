from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from models.tables.base import UTCDateTime


class AuditEntryRow(SQLModel, table=True):
    """One change: who (API key id; NULL for the operator), what, the state before and
    after, and when on the tenant's clock. Never updated. A catalog change (features and
    their grants) belongs to no tenant: its ``tenant_id`` is NULL."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_tenant_id_id", "tenant_id", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str | None = Field(default=None, foreign_key="tenants.id", max_length=40)
    actor_api_key_id: str | None = Field(default=None, max_length=40)
    action: str = Field(max_length=64)
    subject_id: str | None = Field(default=None, max_length=40)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    at: datetime = Field(sa_type=UTCDateTime)
