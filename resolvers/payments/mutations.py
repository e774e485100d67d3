"""Payments: the provider's card setup page."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.payments import service as payments
from models.payments import tasks as provider_tasks
from models.tenants import service as tenants
from resolvers.shared.context import Info
from resolvers.shared.errors import ForbiddenError, NotFoundError, ProviderError, ValidationError
from resolvers.tenants.types import Tenant


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
