from __future__ import annotations

from typing import Annotated

import strawberry

from models.tenants import service as tenants
from resolvers.shared.context import Info
from resolvers.shared.pagination import Connection
from resolvers.tenants.types import Tenant


@strawberry.type
class TenantQueries:
    @strawberry.field(description="A tenant; NOT_FOUND when it does not exist or this key may not see it.")
    async def tenant(self, info: Info, id: strawberry.ID) -> Tenant | None:
        ctx = info.context
        return Tenant.from_row(await tenants.read_tenant(ctx.deps, ctx.actor, id))

    @strawberry.field(description="Tenants this key may see, oldest first (ADMIN: all of them).")
    async def tenants(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Only tenants whose name, email or provider customer id contains this text, "
                "or whose id starts with it, ignoring case (at most 200 characters; % and _ match "
                "themselves). Null or blank: every tenant."
            ),
        ] = None,
    ) -> Connection[Tenant]:
        ctx = info.context
        page = await tenants.list_tenants(ctx.deps, ctx.actor, first, after, search, light=True)
        return Connection[Tenant].from_page(page, Tenant.from_row)
