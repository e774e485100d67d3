from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from models.kernel.enums import Role
from models.tables.base import EnumText, UTCDateTime


class ApiKeyRow(SQLModel, table=True):
    """An API key. Only the SHA-256 of the secret is kept; the secret is shown once.

    Secrets carry 240 random bits, so a fast hash is the right tool (a slow
    password hash protects low-entropy secrets and would cost every request).
    """

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("role IN ('ADMIN', 'TENANT', 'PARTNER')", name="role"),
        CheckConstraint(
            "(role = 'ADMIN' AND tenant_id IS NULL) OR (role <> 'ADMIN' AND tenant_id IS NOT NULL)",
            name="tenant_scope",
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    role: Role = Field(sa_type=EnumText(Role, 20))
    tenant_id: str | None = Field(default=None, foreign_key="tenants.id", index=True, max_length=40)
    secret_hash: str = Field(max_length=64, unique=True)
    secret_hint: str = Field(max_length=16)
    created_by: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
