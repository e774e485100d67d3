"""Credit notes: corrections of an issued invoice, numbered per tenant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.kernel.enums import CreditNoteOutcome
from models.tables.base import EnumText, UTCDateTime


class CreditNoteRow(SQLModel, table=True):
    """A credit note against an invoice (``ACME-CN-0001``): on an OPEN invoice it lowered
    what was due (``lowered_due``); on a PAID one it went to the tenant's credit balance
    or was refunded through the provider (``provider_refund_id`` once the provider made
    the refund). The credit notes of an invoice never come to more than its total."""

    __tablename__ = "credit_notes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("outcome IN ('CREDIT_BALANCE', 'REFUND')", name="outcome"),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=40)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=40)
    number: str = Field(max_length=40)
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    outcome: CreditNoteOutcome = Field(sa_type=EnumText(CreditNoteOutcome, 20))
    lowered_due: bool = Field(default=False)
    reason: str = Field(max_length=500)
    provider_refund_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)


class CreditNoteLineRow(SQLModel, table=True):
    """What a credit note issued by line credits on each invoice line it names; the
    note's amount is the sum of its lines. A line is never credited by line beyond its
    amount (checked under the invoice's lock)."""

    __tablename__ = "credit_note_lines"
    __table_args__ = (
        UniqueConstraint("credit_note_id", "invoice_line_id"),
        CheckConstraint("amount > 0", name="amount"),
    )

    id: str = Field(primary_key=True, max_length=40)
    credit_note_id: str = Field(foreign_key="credit_notes.id", index=True, max_length=40)
    invoice_line_id: str = Field(foreign_key="invoice_lines.id", index=True, max_length=40)
    position: int
    amount: int = Field(sa_type=BigInteger)
