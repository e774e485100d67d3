from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from models.tables.base import UTCDateTime

PENDING_EXPIRY = "expires_at IS NOT NULL AND expired_at IS NULL"


class CreditGrantRow(SQLModel, table=True):
    """Credit granted by the operator (grantCredits), maybe expiring. ``remaining`` is
    ``amount`` less the ledger entries that drew on it (APPLIED) or expired it (EXPIRED):
    it moves only together with one of those entries, in the same transaction."""

    __tablename__ = "credit_grants"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining"),
        # What the clock looks for: grants still to expire.
        Index(
            "ix_credit_grants_expiry",
            "expires_at",
            sqlite_where=text(PENDING_EXPIRY),
            postgresql_where=text(PENDING_EXPIRY),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=40)
    currency: str = Field(max_length=3)
    amount: int = Field(sa_type=BigInteger)
    remaining: int = Field(sa_type=BigInteger)
    description: str = Field(max_length=500)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
