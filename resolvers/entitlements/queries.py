from __future__ import annotations

import strawberry
from sqlalchemy import select

from models.entitlements import service as entitlements
from models.tables import MeterRow
from resolvers.entitlements.types import Entitlement, Feature
from resolvers.shared.context import Info


@strawberry.type
class EntitlementQueries:
    @strawberry.field(description="Every feature, by code; archived ones only when asked for.")
    async def features(self, info: Info, include_archived: bool = False) -> list[Feature]:
        ctx = info.context
        rows = await entitlements.list_features(ctx.deps, include_archived)
        async with ctx.deps.store.read() as session:
            meters = {row.id: row.name for row in await session.execute(select(MeterRow.id, MeterRow.name))}
        return [Feature.from_row(r, meters.get(r.meter_id or "")) for r in rows]

    @strawberry.field(
        description="May the tenant (or, with memberId, one of its members) use the feature right now: "
        "exact, read at the moment asked. ADMIN, the tenant's TENANT or PARTNER keys."
    )
    async def entitlement(
        self, info: Info, tenant_id: strawberry.ID, feature_code: str, member_id: strawberry.ID | None = None
    ) -> Entitlement:
        ctx = info.context
        return Entitlement.of(
            await entitlements.entitlement(ctx.deps, ctx.actor, tenant_id, feature_code, member_id)
        )
