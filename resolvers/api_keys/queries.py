from __future__ import annotations

import strawberry

from models.api_keys import service as api_keys
from resolvers.api_keys.types import ApiKey
from resolvers.shared.context import Info
from resolvers.shared.pagination import Connection


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(
        description="API keys, oldest first, revoked ones included (secrets are never shown). "
        "ADMIN: every key, or one tenant's with `tenantId`; a TENANT key: its own tenant's."
    )
    async def api_keys(
        self,
        info: Info,
        tenant_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ApiKey]:
        ctx = info.context
        page = await api_keys.list_api_keys(ctx.deps, ctx.actor, tenant_id, first, after)
        return Connection[ApiKey].from_page(page, ApiKey.from_row)
