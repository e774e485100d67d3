from __future__ import annotations

from decimal import Decimal

import strawberry

from resolvers.shared.enums import CollectionMethod, SalesMode


@strawberry.input
class AddressInput:
    line1: str
    line2: str | None = None
    city: str
    state: str | None = None
    postal_code: str | None = None
    country: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. US, JP, DE.")


@strawberry.input
class BillingInfoInput:
    company_name: str | None = None
    address: AddressInput | None = None


@strawberry.input
class CreateTenantInput:
    name: str
    email: str
    currency: str = strawberry.field(description="ISO 4217, e.g. USD, EUR, JPY.")
    timezone: str = strawberry.field(default="UTC", description="IANA, e.g. Asia/Tokyo.")
    sales_mode: SalesMode = SalesMode.SELF_SERVE
    billing_info: BillingInfoInput | None = None
    test_clock_id: strawberry.ID | None = strawberry.field(
        default=None, description="Attach the tenant to a test clock for its whole life."
    )
    tax_rate: Decimal = strawberry.field(
        default=Decimal(0), description="Exclusive tax on its invoices, in percent (e.g. 10 or 8.875)."
    )
    collection_method: CollectionMethod = CollectionMethod.CHARGE_AUTOMATICALLY
    days_until_due: int = strawberry.field(
        default=30, description="With SEND_INVOICE: days from an invoice's issue to its due date (0-365)."
    )
