"""Reads of credit grants and the credit ledger: a tenant's grants (batched for
DataLoaders) and its ledger a page at a time, each entry with the balance it left."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.platform.access import Principal, require_tenant
from models.platform.deps import Deps
from models.platform.pagination import Page, paginate
from models.tables import CreditEntryRow, CreditGrantRow


async def tenant_grants(session: AsyncSession, tenant_ids: Sequence[str]) -> list[list[CreditGrantRow]]:
    """Each tenant's credit grants, newest first."""
    groups: dict[str, list[CreditGrantRow]] = defaultdict(list)
    query = (
        select(CreditGrantRow)
        .where(CreditGrantRow.tenant_id.in_(tenant_ids))
        .order_by(CreditGrantRow.id.desc())
    )
    for row in await session.scalars(query):
        groups[row.tenant_id].append(row)
    return [groups.get(t, []) for t in tenant_ids]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    row: CreditEntryRow
    balance_after: int  # the tenant's credit balance once this entry was made

    @property
    def id(self) -> str:  # the page's cursor
        return self.row.id


async def ledger(
    deps: Deps, actor: Principal, tenant_id: str, first: int | None, after: str | None
) -> Page[LedgerEntry]:
    """The tenant's credit ledger, newest first: every grant, use, expiry and credit
    note; the balance after each costs one more statement per page."""
    require_tenant(actor, tenant_id)
    query = select(CreditEntryRow).where(CreditEntryRow.tenant_id == tenant_id)
    async with deps.store.read() as session:
        page = await paginate(session, query, CreditEntryRow.id, first, after, newest_first=True)
        if not page.items:
            return Page([], page.has_next_page, page.has_previous_page)
        balance = await session.scalar(
            select(func.coalesce(func.sum(CreditEntryRow.amount), 0)).where(
                CreditEntryRow.tenant_id == tenant_id, CreditEntryRow.id <= page.items[0].id
            )
        )
    entries, balance = [], int(balance or 0)
    for row in page.items:
        entries.append(LedgerEntry(row, balance))
        balance -= row.amount
    return Page(entries, page.has_next_page, page.has_previous_page)
