from __future__ import annotations

from typing import Annotated

import strawberry

from models.portal import service as portal
from models.portal.inputs import PortalConfigurationUpdate
from resolvers.portal.types import PortalConfiguration, PortalSession
from resolvers.shared.context import Info
from resolvers.shared.enums import ProrationBillingMode
from resolvers.shared.errors import ForbiddenError, NotFoundError, ValidationError

CreatePortalSessionResult = Annotated[
    PortalSession | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("CreatePortalSessionResult"),
]
UpdatePortalConfigurationResult = Annotated[
    PortalConfiguration | ValidationError | ForbiddenError,
    strawberry.union("UpdatePortalConfigurationResult"),
]


@strawberry.input(description="The settings to change; a setting left out stays as it is.")
class PortalConfigurationInput:
    change_plan: bool | None = None
    change_seats: bool | None = None
    cancel_at_period_end: bool | None = None
    cancel_immediately: bool | None = None
    pause: bool | None = None
    apply_coupons: bool | None = None
    manage_members: bool | None = None
    proration_billing_mode: ProrationBillingMode | None = None


def _base_url(info: Info) -> str:
    """The gateway's URL as this request reached it (GATEWAY_PUBLIC_URL overrides it)."""
    request = info.context.request
    return str(request.base_url) if request is not None else "http://127.0.0.1:8000"


@strawberry.type
class PortalMutations:
    @strawberry.mutation(
        description="A short-lived link that opens the tenant's billing portal in a browser, once (ADMIN, or "
        "the tenant's own key). returnUrl must be https (http on loopback only where the operator allows "
        "it): the portal's 'Back' link leads there."
    )
    async def create_portal_session(
        self, info: Info, tenant_id: strawberry.ID, return_url: str
    ) -> CreatePortalSessionResult:
        ctx = info.context
        link = await portal.create_portal_session(
            ctx.deps, ctx.actor, str(tenant_id), return_url, base_url=_base_url(info)
        )
        return PortalSession(url=link.url, expires_at=link.session.link_expires_at)

    @strawberry.mutation(description="Change what customers may do in the billing portal (ADMIN).")
    async def update_portal_configuration(
        self, info: Info, input: PortalConfigurationInput
    ) -> UpdatePortalConfigurationResult:
        ctx = info.context
        spec = PortalConfigurationUpdate.parse(strawberry.asdict(input))
        return PortalConfiguration.of(await portal.update_configuration(ctx.deps, ctx.actor, spec))
