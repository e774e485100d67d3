"""What the tenant use cases take: validated input models."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints

from models.kernel.enums import CollectionMethod, SalesMode
from models.kernel.validation import CountryCode, CurrencyCode, Input, Name, NonBlank, TimezoneName

Line = Annotated[NonBlank, StringConstraints(max_length=200)]
Optional200 = Annotated[str, StringConstraints(max_length=200)] | None
DaysUntilDue = Annotated[int, Field(ge=0, le=365)]  # SEND_INVOICE: days from issue to due


class AddressUpdate(Input):
    line1: Line
    line2: Optional200 = None
    city: Annotated[NonBlank, StringConstraints(max_length=120)]
    state: Annotated[str, StringConstraints(max_length=120)] | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: CountryCode


class BillingInfoUpdate(Input):
    company_name: Optional200 = None
    address: AddressUpdate | None = None


# Percent, e.g. 10 or 8.875; kept as parts per million (10 % = 100000).
TaxRate = Annotated[Decimal, Field(ge=0, le=100, decimal_places=4, allow_inf_nan=False)]


class TaxRateUpdate(Input):
    tax_rate: TaxRate


class TenantCreate(Input):
    name: Name
    email: EmailStr
    currency: CurrencyCode
    timezone: TimezoneName = "UTC"
    sales_mode: SalesMode = SalesMode.SELF_SERVE
    billing_info: BillingInfoUpdate | None = None
    test_clock_id: str | None = None
    tax_rate: TaxRate = Decimal(0)
    collection_method: CollectionMethod = CollectionMethod.CHARGE_AUTOMATICALLY
    days_until_due: DaysUntilDue = 30


class PaymentTermsUpdate(Input):
    collection_method: CollectionMethod
    days_until_due: DaysUntilDue = 30
