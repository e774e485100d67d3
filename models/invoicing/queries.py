"""Reads of invoices, their lines and the credit ledger,
shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.platform.reads import fetch
from models.tables import (
    CreditEntryRow,
    InvoiceLineRow,
    InvoiceRow,
)
from models.tables.base import table_of


async def latest_invoices(session: AsyncSession, subscription_ids: Sequence[str]) -> list[InvoiceRow | None]:
    newest = (
        select(func.max(InvoiceRow.id))
        .where(InvoiceRow.subscription_id.in_(subscription_ids))
        .group_by(InvoiceRow.subscription_id)
    )
    rows = (await session.scalars(select(InvoiceRow).where(InvoiceRow.id.in_(newest)))).all()
    found = {row.subscription_id: row for row in rows}
    return [found.get(s) for s in subscription_ids]


async def invoice_lines(session: AsyncSession, invoice_ids: Sequence[str]) -> list[list[Any]]:
    """Each invoice's lines in order, as read-only rows (attributes named as the
    model's): a page of invoices holds hundreds of lines, and building ORM objects
    for them cost more than reading them."""
    lines = table_of(InvoiceLineRow)
    groups: dict[str, list[Any]] = defaultdict(list)
    query = select(lines).where(lines.c.invoice_id.in_(invoice_ids)).order_by(lines.c.position)
    for row in await fetch(session, query):
        groups[row.invoice_id].append(row)
    return [groups.get(i, []) for i in invoice_ids]


async def newest_invoices(session: AsyncSession, keys: Sequence[tuple[str, int]]) -> list[list[Any]]:
    """For each (tenant id, n): the tenant's n newest invoices, newest first, in one
    statement per distinct n (a window over the tenants), as read-only rows (see
    ``invoice_lines``)."""
    invoices = table_of(InvoiceRow)
    found: dict[tuple[str, int], list[Any]] = {}
    for n in {n for _, n in keys}:
        tenant_ids = [t for t, size in keys if size == n]
        rank = (
            func.row_number()
            .over(partition_by=InvoiceRow.tenant_id, order_by=InvoiceRow.id.desc())
            .label("rank")
        )
        ranked = select(InvoiceRow.id, rank).where(InvoiceRow.tenant_id.in_(tenant_ids)).subquery()
        query = (
            select(invoices)
            .join(ranked, ranked.c.id == invoices.c.id)
            .where(ranked.c.rank <= n)
            .order_by(invoices.c.id.desc())
        )
        for row in await fetch(session, query):
            found.setdefault((row.tenant_id, n), []).append(row)
    return [found.get(key, []) for key in keys]


async def credit_balances(session: AsyncSession, tenant_ids: Sequence[str]) -> list[int]:
    """Each tenant's credit balance: the sum of its ledger entries."""
    query = (
        select(CreditEntryRow.tenant_id, func.sum(CreditEntryRow.amount))
        .where(CreditEntryRow.tenant_id.in_(tenant_ids))
        .group_by(CreditEntryRow.tenant_id)
    )
    sums = {tenant_id: int(total) for tenant_id, total in await fetch(session, query)}
    return [sums.get(t, 0) for t in tenant_ids]
