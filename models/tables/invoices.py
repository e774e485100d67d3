from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables.base import UTCDateTime


class InvoiceStatus(enum.Enum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAID = "PAID"
    VOID = "VOID"
    UNCOLLECTIBLE = "UNCOLLECTIBLE"


class InvoiceRow(SQLModel, table=True):
    """What a tenant owes, as the gateway computed it. Numbers run gap-free per tenant."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint(
            "status IN ('DRAFT', 'OPEN', 'PAID', 'VOID', 'UNCOLLECTIBLE')", name="status"
        ),
        CheckConstraint("total = subtotal + tax", name="total"),
        CheckConstraint("amount_due = total - credits_applied AND amount_due >= 0", name="amount_due"),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=40)
    subscription_id: str | None = Field(
        default=None, foreign_key="subscriptions.id", index=True, max_length=40
    )
    number: str = Field(max_length=40)
    status: str = Field(max_length=20)
    currency: str = Field(max_length=3)
    period_start: datetime = Field(sa_type=UTCDateTime)
    period_end: datetime = Field(sa_type=UTCDateTime)
    subtotal: int = Field(sa_type=BigInteger)
    tax: int = Field(default=0, sa_type=BigInteger)
    credits_applied: int = Field(default=0, sa_type=BigInteger)
    total: int = Field(sa_type=BigInteger)
    amount_due: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(sa_type=UTCDateTime)


class InvoiceLineRow(SQLModel, table=True):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("kind IN ('BASE', 'ADDON', 'USAGE', 'PRORATION', 'CREDIT')", name="kind"),
    )

    id: str = Field(primary_key=True, max_length=40)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=40)
    position: int
    kind: str = Field(max_length=20)
    description: str = Field(max_length=500)
    quantity: int
    unit_amount: int = Field(sa_type=BigInteger)
    amount: int = Field(sa_type=BigInteger)
    addon_id: str | None = Field(default=None, max_length=40)
    period_start: datetime = Field(sa_type=UTCDateTime)
    period_end: datetime = Field(sa_type=UTCDateTime)
