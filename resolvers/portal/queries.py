from __future__ import annotations

import strawberry

from models.portal import service as portal
from resolvers.portal.types import OpenPortalSession, PortalConfiguration
from resolvers.shared.context import Info


@strawberry.type
class PortalQueries:
    @strawberry.field(description="What customers may change in the billing portal.")
    async def portal_configuration(self, info: Info) -> PortalConfiguration:
        info.context.actor  # noqa: B018 - authenticated callers only
        return PortalConfiguration.of(await portal.permissions(info.context.deps))

    @strawberry.field(
        description="The billing portal session making this request (its tenant, return URL and expiry); "
        "null for an API key."
    )
    async def portal_session(self, info: Info) -> OpenPortalSession | None:
        ctx = info.context
        row = await portal.current_session(ctx.deps, ctx.actor)
        return OpenPortalSession.from_row(row) if row is not None else None
