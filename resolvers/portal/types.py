from __future__ import annotations

from datetime import datetime

import strawberry

from models.portal.rules import PortalPermissions
from models.tables import PortalSessionRow
from resolvers.shared.enums import ProrationBillingMode


@strawberry.type(description="A link to a tenant's billing portal: it opens once, before expiresAt.")
class PortalSession:
    url: str = strawberry.field(description="Hand it to the customer's browser; shown once.")
    expires_at: datetime = strawberry.field(description="The link must be opened before this.")


@strawberry.type(description="The billing portal session making this request.")
class OpenPortalSession:
    id: strawberry.ID
    tenant_id: strawberry.ID
    return_url: str = strawberry.field(description="Where the portal's 'Back' link leads.")
    expires_at: datetime = strawberry.field(description="When the session ends unless it is used again.")

    @classmethod
    def from_row(cls, row: PortalSessionRow) -> OpenPortalSession:
        ends = [t for t in (row.idle_expires_at, row.expires_at) if t is not None]
        return cls(
            id=strawberry.ID(row.id),
            tenant_id=strawberry.ID(row.tenant_id),
            return_url=row.return_url,
            expires_at=min(ends) if ends else row.link_expires_at,
        )


@strawberry.type(
    description="What customers may change themselves in the billing portal; the portal hides the rest "
    "and the API refuses it (PORTAL_ACTION_NOT_ALLOWED). Reading is always allowed."
)
class PortalConfiguration:
    change_plan: bool = strawberry.field(description="Switch to another plan.")
    change_seats: bool = strawberry.field(
        description="Change add-on (seat) quantities within the plan's bounds."
    )
    cancel_at_period_end: bool
    cancel_immediately: bool
    pause: bool = strawberry.field(description="Pause and resume the subscription.")
    apply_coupons: bool
    manage_members: bool = strawberry.field(description="Invite and remove members.")
    proration_billing_mode: ProrationBillingMode = strawberry.field(
        description="The only mode portal plan changes (and previews) bill with."
    )

    @classmethod
    def of(cls, value: PortalPermissions) -> PortalConfiguration:
        return cls(
            change_plan=value.change_plan,
            change_seats=value.change_seats,
            cancel_at_period_end=value.cancel_at_period_end,
            cancel_immediately=value.cancel_immediately,
            pause=value.pause,
            apply_coupons=value.apply_coupons,
            manage_members=value.manage_members,
            proration_billing_mode=value.proration_billing_mode,
        )
