from __future__ import annotations

import strawberry

from models.platform import audit
from resolvers.audit.types import AuditEntry
from resolvers.shared.context import Info
from resolvers.shared.pagination import Connection


@strawberry.type
class AuditQueries:
    @strawberry.field(description="A tenant's changes (seats, subscription, payments), oldest first.")
    async def audit_log(
        self, info: Info, tenant_id: strawberry.ID, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEntry]:
        ctx = info.context
        page = await audit.audit_log(ctx.deps, ctx.actor, tenant_id, first, after)
        return Connection[AuditEntry].from_page(page, AuditEntry.from_row)

    @strawberry.field(
        description="Changes to the catalog's features and grants, oldest first (ADMIN): they belong to "
        "no tenant."
    )
    async def catalog_audit_log(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEntry]:
        ctx = info.context
        page = await audit.catalog_log(ctx.deps, ctx.actor, first, after)
        return Connection[AuditEntry].from_page(page, AuditEntry.from_row)
