"""Payments: the provider's card setup page, retries of provider calls, and payments
recorded by hand."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.payments import manual
from models.payments import service as payments
from models.payments import tasks as provider_tasks
from models.tenants import service as tenants
from resolvers.invoicing.types import Invoice
from resolvers.shared.context import Info
from resolvers.shared.enums import PaymentMethod
from resolvers.shared.errors import ForbiddenError, NotFoundError, ProviderError, ValidationError
from resolvers.shared.scalars import MinorUnits
from resolvers.tenants.types import Tenant


@strawberry.input
class RecordPaymentInput:
    invoice_id: strawberry.ID
    amount: MinorUnits = strawberry.field(
        description="Minor units of the invoice's currency received; at most what is still due."
    )
    method: PaymentMethod
    reference: str | None = strawberry.field(
        default=None, description="The bank's or cheque's reference, kept for the books (200 characters)."
    )


RecordPaymentResult = Annotated[
    Invoice | ValidationError | NotFoundError | ForbiddenError, strawberry.union("RecordPaymentResult")
]


@strawberry.type(description="A page of the payment provider where the customer enters a card.")
class PaymentSetupSession:
    url: str = strawberry.field(
        description="Send the customer here (Stripe Checkout in setup mode); the provider sends them back "
        "to the returnUrl. The card never passes through the gateway."
    )


@strawberry.type(description="Provider tasks queued again after they had failed for good.")
class ProviderTasksRetried:
    tenant: Tenant
    retried: int = strawberry.field(description="How many were queued again (0: none had failed).")


RetryProviderTasksResult = Annotated[
    ProviderTasksRetried | NotFoundError | ForbiddenError, strawberry.union("RetryProviderTasksResult")
]

PaymentSetupSessionResult = Annotated[
    PaymentSetupSession | ValidationError | NotFoundError | ProviderError,
    strawberry.union("PaymentSetupSessionResult"),
]


@strawberry.type
class PaymentMutations:
    @strawberry.mutation(
        description="Open the payment provider's page where the tenant enters a card for its invoices "
        "(ADMIN or the tenant's own key). PROVIDER_ERROR when no provider is configured."
    )
    async def create_payment_setup_session(
        self, info: Info, tenant_id: strawberry.ID, return_url: str
    ) -> PaymentSetupSessionResult:
        ctx = info.context
        url = await payments.create_payment_setup_session(ctx.deps, ctx.actor, tenant_id, return_url)
        return PaymentSetupSession(url=url)

    @strawberry.mutation(
        description="Queue again every provider call the payment provider refused for good for this tenant "
        "(`Tenant.providerError` says why), once the cause is fixed (ADMIN)."
    )
    async def retry_provider_tasks(self, info: Info, tenant_id: strawberry.ID) -> RetryProviderTasksResult:
        ctx = info.context
        retried = await provider_tasks.retry_failed_tasks(ctx.deps, ctx.actor, tenant_id)
        tenant = await tenants.get_tenant(ctx.deps, ctx.actor, tenant_id)
        return ProviderTasksRetried(tenant=Tenant.from_row(tenant), retried=retried)

    @strawberry.mutation(
        description="Record a payment received outside the provider (a bank transfer, a cheque) against an "
        "OPEN invoice (ADMIN). Partial payments add up (Invoice.amountPaid); the invoice is PAID when they "
        "reach its amount due, and a PAST_DUE or UNPAID subscription owing nothing else is ACTIVE again."
    )
    async def record_payment(self, info: Info, input: RecordPaymentInput) -> RecordPaymentResult:
        ctx = info.context
        row = await manual.record_payment(
            ctx.deps, ctx.actor, manual.PaymentRecord.parse(strawberry.asdict(input))
        )
        return Invoice.from_row(row)
