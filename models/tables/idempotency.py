from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.tables.base import UTCDateTime


class IdempotencyKeyRow(SQLModel, table=True):
    """The first successful result of a keyed request, and a fingerprint of the
    request, so a retry replays that result and a different request is refused."""

    __tablename__ = "idempotency_keys"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=40)
    operation: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    result_id: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)
