from __future__ import annotations

from typing import Annotated

import strawberry

from models.credits import service as credits
from models.credits.inputs import CreditGrantCreate
from models.subscriptions import timeline
from resolvers.credits.inputs import GrantCreditsInput
from resolvers.credits.types import CreditGrant
from resolvers.shared.context import Info
from resolvers.shared.errors import ForbiddenError, NotFoundError, ValidationError

GrantCreditsResult = Annotated[
    CreditGrant | ValidationError | NotFoundError | ForbiddenError, strawberry.union("GrantCreditsResult")
]


@strawberry.type
class CreditMutations:
    @strawberry.mutation(
        description="Grant credit to a tenant (ADMIN), in its currency, maybe expiring: its next invoices "
        "use it, the soonest-expiring credit first; what is left at `expiresAt` expires (an EXPIRED "
        "ledger entry). Renewals that fell due before it are made first, without it."
    )
    async def grant_credits(self, info: Info, input: GrantCreditsInput) -> GrantCreditsResult:
        ctx = info.context
        spec = CreditGrantCreate.parse(strawberry.asdict(input))
        row = await credits.grant_credits(ctx.deps, ctx.actor, spec, renew_first=timeline.renew_first)
        return CreditGrant.from_row(row)
