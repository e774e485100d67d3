"""Reads of invoices, their lines and the credit ledger,
shared by services and DataLoaders: each answers for many
parents in one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.platform.reads import any_of, compiled_once, fetch, keyed
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


_LINES = keyed(
    select(table_of(InvoiceLineRow)).order_by(table_of(InvoiceLineRow).c.position),
    table_of(InvoiceLineRow).c.invoice_id,
)
_RANKED = (
    select(
        InvoiceRow.id,
        func.row_number()
        .over(partition_by=InvoiceRow.tenant_id, order_by=InvoiceRow.id.desc())
        .label("rank"),
    )
    .where(any_of(InvoiceRow.tenant_id, "keys"))
    .subquery()
)
_NEWEST = compiled_once(
    select(table_of(InvoiceRow))
    .join(_RANKED, _RANKED.c.id == table_of(InvoiceRow).c.id)
    .where(_RANKED.c.rank <= bindparam("n", type_=Integer))
    .order_by(table_of(InvoiceRow).c.id.desc())
)
_BALANCES = keyed(
    select(CreditEntryRow.tenant_id, func.sum(CreditEntryRow.amount)).group_by(CreditEntryRow.tenant_id),
    CreditEntryRow.tenant_id,
)


async def invoice_lines(session: AsyncSession, invoice_ids: Sequence[str]) -> list[list[Any]]:
    """Each invoice's lines in order, as read-only rows (attributes named as the
    model's): a page of invoices holds hundreds of lines, and building ORM objects
    for them cost more than reading them."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in await fetch(session, _LINES, keys=list(invoice_ids)):
        groups[row.invoice_id].append(row)
    return [groups.get(i, []) for i in invoice_ids]


async def newest_invoices(session: AsyncSession, keys: Sequence[tuple[str, int]]) -> list[list[Any]]:
    """For each (tenant id, n): the tenant's n newest invoices, newest first, in one
    statement per distinct n (a window over the tenants), as read-only rows (see
    ``invoice_lines``)."""
    found: dict[tuple[str, int], list[Any]] = {}
    for n in {n for _, n in keys}:
        tenant_ids = [t for t, size in keys if size == n]
        for row in await fetch(session, _NEWEST, keys=tenant_ids, n=n):
            found.setdefault((row.tenant_id, n), []).append(row)
    return [found.get(key, []) for key in keys]


async def credit_balances(session: AsyncSession, tenant_ids: Sequence[str]) -> list[int]:
    """Each tenant's credit balance: the sum of its ledger entries."""
    sums = {
        tenant_id: int(total) for tenant_id, total in await fetch(session, _BALANCES, keys=list(tenant_ids))
    }
    return [sums.get(t, 0) for t in tenant_ids]
