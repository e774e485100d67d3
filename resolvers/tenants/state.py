"""customerState: what a frontend needs to render a tenant's account, in one call."""

from __future__ import annotations

import strawberry

from models.entitlements import service as entitlements
from resolvers.entitlements.types import Entitlement
from resolvers.seats.types import SeatSummary
from resolvers.shared.context import Info
from resolvers.shared.money import Money
from resolvers.subscriptions.types import Subscription
from resolvers.tenants.types import Tenant


@strawberry.type(
    description="A tenant's subscription, seats, entitlements and credit balance, read together."
)
class CustomerState:
    tenant: Tenant
    entitlements: list[Entitlement] = strawberry.field(description="Every feature's, by code.")

    @strawberry.field(description="The live (not cancelled) subscription, if any.")
    async def subscription(self, info: Info) -> Subscription | None:
        return await self.tenant.subscription(info)

    @strawberry.field
    async def seats(self, info: Info) -> SeatSummary:
        return await self.tenant.seats(info)

    @strawberry.field
    async def credit_balance(self, info: Info) -> Money:
        return await self.tenant.credit_balance(info)


@strawberry.type
class CustomerStateQueries:
    @strawberry.field(
        description="Subscription, seats, entitlements and credit balance in one call (ADMIN, the tenant's "
        "TENANT keys)."
    )
    async def customer_state(self, info: Info, tenant_id: strawberry.ID) -> CustomerState:
        ctx = info.context
        state = await entitlements.customer_state(ctx.deps, ctx.actor, tenant_id)
        return CustomerState(
            tenant=Tenant.from_row(state.tenant),
            entitlements=[Entitlement.of(e) for e in state.state.entitlements],
        )
