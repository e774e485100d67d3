from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from models.tables import AuditEntryRow


@strawberry.type(
    description="One change to what a tenant has or owes: seats, its subscription, an invoice's payment."
)
class AuditEntry:
    id: strawberry.ID
    at: datetime = strawberry.field(description="When, on the tenant's clock.")
    actor: str = strawberry.field(
        description="The id of the API key that made the change; `operator` for the CLI or "
        "GATEWAY_ADMIN_API_KEY; "
        "`provider:stripe` for what Stripe reported by webhook."
    )
    action: str = strawberry.field(
        description="`subscription.created`, `member.invited`, `member.removed`, ..."
    )
    subject_id: strawberry.ID | None = strawberry.field(description="The subscription or member changed.")
    before: JSON | None
    after: JSON | None

    @classmethod
    def from_row(cls, row: AuditEntryRow) -> AuditEntry:
        return cls(
            id=strawberry.ID(row.id),
            at=row.at,
            actor=row.actor_api_key_id or "operator",
            action=row.action,
            subject_id=strawberry.ID(row.subject_id) if row.subject_id else None,
            before=row.before,
            after=row.after,
        )
