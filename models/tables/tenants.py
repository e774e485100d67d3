from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from models.kernel.enums import CollectionMethod, SalesMode
from models.tables.base import EnumText, UTCDateTime


class TenantRow(SQLModel, table=True):
    """A customer of the SaaS operator: who is billed, in which currency and timezone.

    Billing info is kept flat: it is typed once here and mirrored to providers.
    """

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("sales_mode IN ('SELF_SERVE', 'SALES_LED')", name="sales_mode"),
        CheckConstraint("tax_rate_ppm >= 0 AND tax_rate_ppm <= 1000000", name="tax_rate_ppm"),
        CheckConstraint(
            "collection_method IN ('CHARGE_AUTOMATICALLY', 'SEND_INVOICE')", name="collection_method"
        ),
        CheckConstraint("days_until_due >= 0 AND days_until_due <= 365", name="days_until_due"),
    )

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    currency: str = Field(max_length=3)
    timezone: str = Field(max_length=64)
    sales_mode: SalesMode = Field(default=SalesMode.SELF_SERVE, sa_type=EnumText(SalesMode, 20))
    # How its invoices are paid: charged to the saved card, or sent with payment terms
    # (due daysUntilDue days after they are issued, paid by transfer: recordPayment).
    collection_method: CollectionMethod = Field(
        default=CollectionMethod.CHARGE_AUTOMATICALLY,
        sa_type=EnumText(CollectionMethod, 20),
        sa_column_kwargs={"server_default": "CHARGE_AUTOMATICALLY"},
    )
    days_until_due: int = Field(default=30, sa_column_kwargs={"server_default": "30"})
    company_name: str | None = Field(default=None, max_length=200)
    address_line1: str | None = Field(default=None, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    address_city: str | None = Field(default=None, max_length=120)
    address_state: str | None = Field(default=None, max_length=120)
    address_postal_code: str | None = Field(default=None, max_length=20)
    address_country: str | None = Field(default=None, max_length=2)
    provider_customer_id: str | None = Field(default=None, max_length=255)
    test_clock_id: str | None = Field(default=None, foreign_key="test_clocks.id", index=True, max_length=40)
    # Invoice numbers are ``{invoice_prefix}-{n:04d}``, n counting up without gaps.
    invoice_prefix: str = Field(max_length=12, unique=True)
    invoice_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Exclusive tax on every invoice, in parts per million (10 % = 100000).
    tax_rate_ppm: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The tenant's usage before this instant has been billed: usage recorded for that time
    # afterwards is late, and the next invoice that bills usage bills it (usage_billings).
    usage_billed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
