from __future__ import annotations

import strawberry

from models.invoicing import service as invoices
from resolvers.invoicing.types import Invoice
from resolvers.shared.context import Info


@strawberry.type
class InvoiceQueries:
    @strawberry.field(description="An invoice; NOT_FOUND when this key may not see it.")
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice | None:
        ctx = info.context
        return Invoice.from_row(await invoices.get_invoice(ctx.deps, ctx.actor, id))
