from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.kernel.enums import CreditReason, InvoiceReason, InvoiceStatus, LineKind, PaymentMethod
from models.tables.base import EnumText, UTCDateTime

RENEWAL = "reason = 'RENEWAL'"
EXPIRED = "reason = 'EXPIRED'"
CREDIT_REASONS = "'GRANTED', 'APPLIED', 'GRANT', 'EXPIRED', 'CREDIT_NOTE'"
AWAITING = "status = 'OPEN' AND due_date IS NOT NULL AND overdue_at IS NULL"


class InvoiceRow(SQLModel, table=True):
    """What a tenant owes, as the gateway computed it. Numbers run gap-free per tenant.

    ``total`` is negative when a change credits more than it charges: nothing is due
    and the difference goes to the tenant's credit balance (as Stripe does).
    """

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint("status IN ('DRAFT', 'OPEN', 'PAID', 'VOID', 'UNCOLLECTIBLE')", name="status"),
        CheckConstraint("total = subtotal + tax", name="total"),
        CheckConstraint(
            "credits_applied >= 0 AND amount_due >= 0 AND "
            "amount_due = (CASE WHEN total > 0 THEN total ELSE 0 END) - credits_applied - credited",
            name="amount_due",
        ),
        CheckConstraint("reason IN ('SUBSCRIBE', 'CHANGE', 'RENEWAL', 'FINAL', 'EXTERNAL')", name="reason"),
        # A period is renewed once, however many billing runs race for it.
        Index(
            "uq_invoices_subscription_id_renewal",
            "subscription_id",
            "period_start",
            unique=True,
            sqlite_where=text(RENEWAL),
            postgresql_where=text(RENEWAL),
        ),
        CheckConstraint("amount_paid >= 0 AND amount_paid <= amount_due", name="amount_paid"),
        CheckConstraint("credited >= 0", name="credited"),
        # What the billing run looks for: invoices coming due, and failed charges to retry.
        Index("ix_invoices_due", "due_date", sqlite_where=text(AWAITING), postgresql_where=text(AWAITING)),
        Index(
            "ix_invoices_retry",
            "next_retry_at",
            sqlite_where=text("next_retry_at IS NOT NULL"),
            postgresql_where=text("next_retry_at IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=40)
    subscription_id: str | None = Field(
        default=None, foreign_key="subscriptions.id", index=True, max_length=40
    )
    number: str = Field(max_length=40)
    status: InvoiceStatus = Field(sa_type=EnumText(InvoiceStatus, 20))
    reason: InvoiceReason = Field(default=InvoiceReason.SUBSCRIBE, sa_type=EnumText(InvoiceReason, 20))
    currency: str = Field(max_length=3)
    period_start: datetime = Field(sa_type=UTCDateTime)
    period_end: datetime = Field(sa_type=UTCDateTime)
    subtotal: int = Field(sa_type=BigInteger)
    tax: int = Field(default=0, sa_type=BigInteger)
    credits_applied: int = Field(default=0, sa_type=BigInteger)
    total: int = Field(sa_type=BigInteger)
    amount_due: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # The provider's copy (Stripe's in_...), the page where the customer pays it and
    # passes 3-D Secure, and what the provider last reported about its payment.
    provider_invoice_id: str | None = Field(default=None, max_length=255, unique=True)
    hosted_invoice_url: str | None = Field(default=None, max_length=2000)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    payment_failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    payment_error: str | None = Field(default=None, max_length=500)
    # Payment terms and dunning. When an OPEN invoice must be paid (SEND_INVOICE: the end
    # of its due day; None: charged at once), when it was found overdue, what was paid of
    # it by hand (recordPayment), and when its failed charge is next retried (and how
    # many retries were queued: GATEWAY_DUNNING_RETRY_DAYS).
    due_date: datetime | None = Field(default=None, sa_type=UTCDateTime)
    overdue_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    amount_paid: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    next_retry_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retries: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # What credit notes took off the amount due while the invoice was OPEN (those on a
    # PAID invoice go to the credit balance or are refunded, and leave it as it was).
    credited: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})


class PaymentRow(SQLModel, table=True):
    """A payment recorded by hand against an invoice (bank transfer, cheque)."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("method IN ('BANK_TRANSFER', 'CHECK', 'OTHER')", name="method"),
    )

    id: str = Field(primary_key=True, max_length=40)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=40)
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    method: PaymentMethod = Field(sa_type=EnumText(PaymentMethod, 20))
    reference: str | None = Field(default=None, max_length=200)
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class InvoiceLineRow(SQLModel, table=True):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("kind IN ('BASE', 'ADDON', 'USAGE', 'PRORATION', 'CREDIT', 'DISCOUNT')", name="kind"),
    )

    id: str = Field(primary_key=True, max_length=40)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=40)
    position: int
    kind: LineKind = Field(sa_type=EnumText(LineKind, 20))
    description: str = Field(max_length=500)
    quantity: int = Field(sa_type=BigInteger)  # usage lines count units: billions are plausible
    unit_amount: int = Field(sa_type=BigInteger)
    amount: int = Field(sa_type=BigInteger)
    addon_id: str | None = Field(default=None, max_length=40)
    period_start: datetime = Field(sa_type=UTCDateTime)
    period_end: datetime = Field(sa_type=UTCDateTime)


class CreditEntryRow(SQLModel, table=True):
    """The credit ledger: a grant (positive) or a consumption (negative) of a
    tenant's credit balance, which is the sum of its entries and never negative.
    ``grant_id`` names the credit grant an entry made (GRANT), drew on (APPLIED) or
    expired (EXPIRED); an APPLIED entry without one drew on credit that never expires."""

    __tablename__ = "credit_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount"),
        CheckConstraint(f"reason IN ({CREDIT_REASONS})", name="reason"),
        # A grant expires once.
        Index(
            "uq_credit_entries_grant_id_expired",
            "grant_id",
            unique=True,
            sqlite_where=text(EXPIRED),
            postgresql_where=text(EXPIRED),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=40)
    currency: str = Field(max_length=3)
    amount: int = Field(sa_type=BigInteger)
    reason: CreditReason = Field(sa_type=EnumText(CreditReason, 20))
    invoice_id: str | None = Field(default=None, foreign_key="invoices.id", max_length=40)
    grant_id: str | None = Field(default=None, foreign_key="credit_grants.id", index=True, max_length=40)
    description: str = Field(max_length=500)
    at: datetime = Field(sa_type=UTCDateTime)
