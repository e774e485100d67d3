from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import strawberry

from models.tenants import service as tenants
from models.tenants.inputs import BillingInfoUpdate, PaymentTermsUpdate, TenantCreate
from resolvers.shared.context import Info
from resolvers.shared.enums import CollectionMethod
from resolvers.shared.errors import ForbiddenError, NotFoundError, ValidationError
from resolvers.tenants.inputs import BillingInfoInput, CreateTenantInput
from resolvers.tenants.types import Tenant

CreateTenantResult = Annotated[
    Tenant | ValidationError | ForbiddenError | NotFoundError, strawberry.union("CreateTenantResult")
]
SetTaxRateResult = Annotated[
    Tenant | ValidationError | ForbiddenError | NotFoundError, strawberry.union("SetTaxRateResult")
]
SetPaymentTermsResult = Annotated[
    Tenant | ValidationError | ForbiddenError | NotFoundError, strawberry.union("SetPaymentTermsResult")
]
UpdateBillingInfoResult = Annotated[
    Tenant | ValidationError | NotFoundError, strawberry.union("UpdateBillingInfoResult")
]


@strawberry.type
class TenantMutations:
    @strawberry.mutation(description="Create a tenant (ADMIN).")
    async def create_tenant(self, info: Info, input: CreateTenantInput) -> CreateTenantResult:
        ctx = info.context
        row = await tenants.create_tenant(ctx.deps, ctx.actor, TenantCreate.parse(strawberry.asdict(input)))
        return Tenant.from_row(row)

    @strawberry.mutation(description="Replace the tenant's billing info; fields left out are cleared.")
    async def update_billing_info(
        self, info: Info, tenant_id: strawberry.ID, input: BillingInfoInput
    ) -> UpdateBillingInfoResult:
        ctx = info.context
        row = await tenants.update_billing_info(
            ctx.deps, ctx.actor, tenant_id, BillingInfoUpdate.parse(strawberry.asdict(input))
        )
        return Tenant.from_row(row)

    @strawberry.mutation(
        description="Set the exclusive tax rate (percent) of the tenant's next invoices (ADMIN)."
    )
    async def set_tax_rate(self, info: Info, tenant_id: strawberry.ID, tax_rate: Decimal) -> SetTaxRateResult:
        ctx = info.context
        return Tenant.from_row(await tenants.set_tax_rate(ctx.deps, ctx.actor, tenant_id, tax_rate))

    @strawberry.mutation(
        description="How the tenant's next invoices are paid (ADMIN): CHARGE_AUTOMATICALLY, or SEND_INVOICE "
        "due daysUntilDue days after issue. Invoices already issued keep their terms."
    )
    async def set_payment_terms(
        self,
        info: Info,
        tenant_id: strawberry.ID,
        collection_method: CollectionMethod,
        days_until_due: int = 30,
    ) -> SetPaymentTermsResult:
        ctx = info.context
        spec = PaymentTermsUpdate.parse(
            {"collection_method": collection_method, "days_until_due": days_until_due}, path=""
        )
        return Tenant.from_row(await tenants.set_payment_terms(ctx.deps, ctx.actor, tenant_id, spec))
