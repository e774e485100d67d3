from __future__ import annotations

from datetime import datetime

import strawberry

from models.credits.queries import LedgerEntry
from models.kernel.enums import CreditReason as CreditReasonValue
from models.tables import CreditGrantRow
from resolvers.credits import loaders
from resolvers.invoicing.types import Invoice
from resolvers.shared.context import Info
from resolvers.shared.money import Money

CreditReason = strawberry.enum(
    CreditReasonValue,
    name="CreditReason",
    description="Why the credit balance moved: GRANT, credit granted (grantCredits); GRANTED, a change "
    "credited more than it charged; CREDIT_NOTE, a credit note on a paid invoice; APPLIED, an invoice "
    "used credit; EXPIRED, what was left of a grant when it expired.",
)


@strawberry.type(
    description="Credit granted to a tenant (grantCredits). Invoices use the soonest-expiring credit first; "
    "what is left at `expiresAt` expires."
)
class CreditGrant:
    id: strawberry.ID
    amount: Money
    remaining: Money = strawberry.field(description="What is left to use: 0 once used up or expired.")
    currency: str
    expires_at: datetime | None = strawberry.field(description="Null: never expires.")
    expired_at: datetime | None = strawberry.field(description="When it expired; null until then.")
    description: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: CreditGrantRow) -> CreditGrant:
        return cls(
            id=strawberry.ID(row.id),
            amount=Money.of(row.amount, row.currency),
            remaining=Money.of(row.remaining, row.currency),
            currency=row.currency,
            expires_at=row.expires_at,
            expired_at=row.expired_at,
            description=row.description,
            created_at=row.created_at,
        )


@strawberry.type(description="An entry of the credit ledger: the balance is the sum of the entries.")
class CreditLedgerEntry:
    entry: strawberry.Private[LedgerEntry]
    id: strawberry.ID
    amount: Money = strawberry.field(description="Positive: credit added; negative: used or expired.")
    reason: CreditReason
    description: str
    at: datetime = strawberry.field(description="On the tenant's clock.")
    balance_after: Money = strawberry.field(description="The credit balance once this entry was made.")

    @classmethod
    def of(cls, entry: LedgerEntry) -> CreditLedgerEntry:
        row = entry.row
        return cls(
            entry=entry,
            id=strawberry.ID(row.id),
            amount=Money.of(row.amount, row.currency),
            reason=CreditReasonValue(row.reason),
            description=row.description,
            at=row.at,
            balance_after=Money.of(entry.balance_after, row.currency),
        )

    @strawberry.field(description="The invoice that used the credit, or whose change or credit note made it.")
    async def invoice(self, info: Info) -> Invoice | None:
        if self.entry.row.invoice_id is None:
            return None
        row = await loaders.invoice.load(info, self.entry.row.invoice_id)
        return Invoice.from_row(row) if row is not None else None

    @strawberry.field(description="The grant this entry made, drew on or expired; null for other credit.")
    async def grant(self, info: Info) -> CreditGrant | None:
        if self.entry.row.grant_id is None:
            return None
        row = await loaders.grant.load(info, self.entry.row.grant_id)
        return CreditGrant.from_row(row) if row is not None else None
