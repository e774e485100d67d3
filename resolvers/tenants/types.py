from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from models.credit_notes import service as credit_notes
from models.credits import queries as credit_queries
from models.invoicing import service as invoices
from models.kernel.enums import CollectionMethod as CollectionMethodValue
from models.kernel.enums import SalesMode as SalesModeValue
from models.platform.clocks import clock_for_tenant
from models.platform.pagination import Page, page_size
from models.tables import TenantRow
from resolvers.credit_notes import loaders as credit_notes_loaders
from resolvers.credit_notes.types import CreditNote
from resolvers.credits import loaders as credits_loaders
from resolvers.credits.types import CreditGrant, CreditLedgerEntry
from resolvers.entitlements import loaders as entitlements_loaders
from resolvers.entitlements.types import Entitlement
from resolvers.invoicing import loaders as invoicing_loaders
from resolvers.invoicing.types import Invoice
from resolvers.members import loaders as members_loaders
from resolvers.members.types import Member
from resolvers.metering import loaders as metering_loaders
from resolvers.metering.types import MeterUnitCount, parse_month
from resolvers.seats.types import SeatSummary
from resolvers.shared.context import Info
from resolvers.shared.enums import CollectionMethod, SalesMode
from resolvers.shared.loaded import selects
from resolvers.shared.money import Money
from resolvers.shared.pagination import Connection
from resolvers.subscriptions import loaders as subscriptions_loaders
from resolvers.subscriptions.seats import seat_summary
from resolvers.subscriptions.types import Subscription
from resolvers.tenants import loaders as tenants_loaders
from resolvers.test_clocks import loaders as test_clocks_loaders
from resolvers.test_clocks.types import TestClock


@strawberry.type
class Address:
    line1: str
    line2: str | None
    city: str
    state: str | None
    postal_code: str | None
    country: str = strawberry.field(description="ISO 3166-1 alpha-2.")


@strawberry.type
class BillingInfo:
    company_name: str | None
    address: Address | None


@strawberry.type
class Tenant:
    id: strawberry.ID
    name: str
    email: str
    currency: str = strawberry.field(description="ISO 4217; every amount billed to the tenant is in it.")
    timezone: str = strawberry.field(description="IANA; days and months are counted in it.")
    sales_mode: SalesMode
    collection_method: CollectionMethod
    days_until_due: int = strawberry.field(
        description="With SEND_INVOICE, the days from an invoice's issue to its due date (the end of that "
        "day)."
    )
    billing_info: BillingInfo | None
    provider_customer_id: str | None
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[TenantRow]

    @classmethod
    def from_row(cls, row: TenantRow) -> Tenant:
        address = (
            Address(
                line1=row.address_line1,
                line2=row.address_line2,
                city=row.address_city or "",
                state=row.address_state,
                postal_code=row.address_postal_code,
                country=row.address_country,
            )
            if row.address_line1 and row.address_country
            else None
        )
        billing = (
            BillingInfo(company_name=row.company_name, address=address)
            if row.company_name or address
            else None
        )
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            email=row.email,
            currency=row.currency,
            timezone=row.timezone,
            sales_mode=SalesModeValue(row.sales_mode),
            collection_method=CollectionMethodValue(row.collection_method),
            days_until_due=row.days_until_due,
            billing_info=billing,
            provider_customer_id=row.provider_customer_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @strawberry.field(
        description="Why the payment provider refused, for good, a call owed for this tenant (its "
        "customer's sync "
        "or an invoice's collection); null when nothing failed. Fix the cause, then `retryProviderTasks`."
    )
    async def provider_error(self, info: Info) -> str | None:
        return await tenants_loaders.provider_failure.load(info, self.row.id)

    @strawberry.field(description="The test clock this tenant lives on, if any.")
    async def test_clock(self, info: Info) -> TestClock | None:
        if self.row.test_clock_id is None:
            return None
        row = await test_clocks_loaders.test_clock.load(info, self.row.test_clock_id)
        return TestClock.from_row(row) if row else None

    @strawberry.field(description="The tenant's current time: its test clock's, when attached.")
    async def now(self, info: Info) -> datetime:
        test_clock = (
            await test_clocks_loaders.test_clock.load(info, self.row.test_clock_id)
            if self.row.test_clock_id
            else None
        )
        return clock_for_tenant(info.context.deps, self.row, test_clock).now()

    @strawberry.field(description="The live (not cancelled) subscription, if any.")
    async def subscription(self, info: Info) -> Subscription | None:
        row = await subscriptions_loaders.live_subscription.load(info, self.row.id)
        return Subscription.from_row(row) if row else None

    @strawberry.field(description="Seats the live subscription gives, and how many members use.")
    async def seats(self, info: Info) -> SeatSummary:
        return await seat_summary(
            info, self.row.id, await subscriptions_loaders.live_subscription.load(info, self.row.id)
        )

    @strawberry.field(
        description="The tenant's entitlement to every feature, by code, as its clock now sees it (ADMIN and "
        "its TENANT keys; `entitlement` asks about one feature, or one member)."
    )
    async def entitlements(self, info: Info) -> list[Entitlement]:
        return [
            Entitlement.of(e) for e in await entitlements_loaders.tenant_entitlements.load(info, self.row)
        ]

    @strawberry.field(description="Active members, oldest first.")
    async def members(self, info: Info) -> list[Member]:
        return [Member.from_row(r) for r in await members_loaders.members.load(info, self.row.id)]

    @strawberry.field(description="Exclusive tax on the tenant's invoices, in percent (e.g. 10 or 8.875).")
    def tax_rate(self) -> Decimal:
        rate = Decimal(self.row.tax_rate_ppm) / 10_000
        return rate.quantize(Decimal(1)) if rate == rate.to_integral_value() else rate.normalize()

    @strawberry.field(
        description="Credit from downgrades and credits, consumed by later invoices; never negative."
    )
    async def credit_balance(self, info: Info) -> Money:
        return Money.of(await invoicing_loaders.credit_balance.load(info, self.row.id), self.row.currency)

    @strawberry.field(description="Credit granted to the tenant (grantCredits), newest first.")
    async def credit_grants(self, info: Info) -> list[CreditGrant]:
        return [CreditGrant.from_row(r) for r in await credits_loaders.tenant_grants.load(info, self.row.id)]

    @strawberry.field(
        description="The credit ledger, newest first: every grant, use, expiry and credit note, each with "
        "the balance it left, so where the credit went can be read off it."
    )
    async def credit_ledger(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CreditLedgerEntry]:
        ctx = info.context
        page = await credit_queries.ledger(ctx.deps, ctx.actor, self.row.id, first, after)
        return Connection[CreditLedgerEntry].from_page(page, CreditLedgerEntry.of)

    @strawberry.field(
        description="Every meter's count in a month (`YYYY-MM`) of the tenant's timezone, meters oldest "
        "first; "
        "by default the month the tenant's clock is in now. Batched: a list of tenants costs what one does."
    )
    async def meter_unit_month_counts(self, info: Info, month: str | None = None) -> list[MeterUnitCount]:
        first_day = parse_month(month) if month is not None else None
        return [
            MeterUnitCount.of(c)
            for c in await metering_loaders.month_counts.load(info, (self.row, first_day))
        ]

    @strawberry.field(description="The tenant's invoices, newest first.")
    async def invoices(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Invoice]:
        ctx = info.context
        if after is None:  # the first page: batched over every tenant in the response
            size = page_size(first)
            page = Page.of(await invoicing_loaders.newest_invoices.load(info, (self.row.id, size + 1)), size)
        else:
            page = await invoices.list_invoices(ctx.deps, ctx.actor, self.row.id, first, after)
        connection = Connection[Invoice].from_page(page, Invoice.from_row)
        if selects(info, "edges", "node", "lines"):
            await Invoice.load_lines(info, [edge.node for edge in connection.edges])
        return connection

    @strawberry.field(description="The tenant's credit notes, newest first.")
    async def credit_notes(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CreditNote]:
        ctx = info.context
        if after is None:  # the first page: batched over every tenant in the response
            size = page_size(first)
            rows = await credit_notes_loaders.newest_credit_notes.load(info, (self.row.id, size + 1))
            page = Page.of(rows, size)
        else:
            page = await credit_notes.list_credit_notes(ctx.deps, ctx.actor, self.row.id, first, after)
        return Connection[CreditNote].from_page(page, CreditNote.from_row)
