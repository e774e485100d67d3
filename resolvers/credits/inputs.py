from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.shared.scalars import MinorUnits


@strawberry.input
class GrantCreditsInput:
    tenant_id: strawberry.ID
    amount: MinorUnits = strawberry.field(description="In the tenant's currency's minor unit; positive.")
    expires_at: datetime | None = strawberry.field(
        default=None,
        description="When what is left of it leaves the balance (an EXPIRED ledger entry), on the tenant's "
        "clock; null: never.",
    )
    description: str = strawberry.field(description="Why it was granted: shown on the ledger.")
