from __future__ import annotations

import strawberry

from models.catalog import service as catalog
from resolvers.catalog.types import Addon, Plan
from resolvers.shared.context import Info


@strawberry.type
class CatalogQueries:
    @strawberry.field(description="Every plan, oldest first.")
    async def plans(self, info: Info) -> list[Plan]:
        return [Plan.from_row(r) for r in await catalog.list_plans(info.context.deps)]

    @strawberry.field(description="Add-ons, oldest first; archived ones only when asked for.")
    async def addons(self, info: Info, include_archived: bool = False) -> list[Addon]:
        return [Addon.from_row(r) for r in await catalog.list_addons(info.context.deps, include_archived)]
