"""Reads of credit notes, batched for the per-request loaders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.credit_notes.rules import Line
from models.kernel.enums import CreditNoteOutcome
from models.tables import CreditNoteLineRow, CreditNoteRow, InvoiceLineRow
from models.tables.base import table_of


async def credit_notes_of_invoices(session: AsyncSession, invoice_ids: Sequence[str]) -> list[list[Any]]:
    """Each invoice's credit notes, oldest first, in one statement."""
    rows = await session.scalars(
        select(CreditNoteRow).where(CreditNoteRow.invoice_id.in_(invoice_ids)).order_by(CreditNoteRow.id)
    )
    found: dict[str, list[Any]] = {}
    for row in rows:
        found.setdefault(row.invoice_id, []).append(row)
    return [found.get(invoice_id, []) for invoice_id in invoice_ids]


async def newest_credit_notes(session: AsyncSession, keys: Sequence[tuple[str, int]]) -> list[list[Any]]:
    """For each (tenant id, n): the tenant's n newest credit notes, newest first, in one
    statement per distinct n (a window over the tenants): the first page of
    ``Tenant.creditNotes`` for every tenant of a response at once."""
    notes = table_of(CreditNoteRow)
    found: dict[tuple[str, int], list[Any]] = {}
    for n in {n for _, n in keys}:
        tenant_ids = [t for t, size in keys if size == n]
        rank = (
            func.row_number()
            .over(partition_by=CreditNoteRow.tenant_id, order_by=CreditNoteRow.id.desc())
            .label("rank")
        )
        ranked = select(CreditNoteRow.id, rank).where(CreditNoteRow.tenant_id.in_(tenant_ids)).subquery()
        query = select(notes).join(ranked, ranked.c.id == notes.c.id).where(ranked.c.rank <= n)
        for row in await session.execute(query.order_by(notes.c.id.desc())):
            found.setdefault((row.tenant_id, n), []).append(row)
    return [found.get(key, []) for key in keys]


async def credited_so_far(session: AsyncSession, invoice_id: str) -> tuple[int, int]:
    """What the invoice's credit notes come to, and how much of it was refunded."""
    refunded = func.sum(CreditNoteRow.amount).filter(CreditNoteRow.outcome == CreditNoteOutcome.REFUND)
    total, refund = (
        await session.execute(
            select(func.coalesce(func.sum(CreditNoteRow.amount), 0), func.coalesce(refunded, 0)).where(
                CreditNoteRow.invoice_id == invoice_id
            )
        )
    ).one()
    return int(total), int(refund)


async def credit_note_count(session: AsyncSession, tenant_id: str) -> int:
    return int(await session.scalar(select(func.count()).where(CreditNoteRow.tenant_id == tenant_id)) or 0)


async def creditable_lines(session: AsyncSession, invoice_id: str) -> dict[str, Line]:
    """The invoice's lines by id, each with what credit notes by line credited on it so far."""
    credited = (
        select(CreditNoteLineRow.invoice_line_id, func.sum(CreditNoteLineRow.amount).label("credited"))
        .join(InvoiceLineRow, InvoiceLineRow.id == CreditNoteLineRow.invoice_line_id)
        .where(InvoiceLineRow.invoice_id == invoice_id)
        .group_by(CreditNoteLineRow.invoice_line_id)
        .subquery()
    )
    rows = await session.execute(
        select(InvoiceLineRow, func.coalesce(credited.c.credited, 0))
        .outerjoin(credited, credited.c.invoice_line_id == InvoiceLineRow.id)
        .where(InvoiceLineRow.invoice_id == invoice_id)
        .order_by(InvoiceLineRow.position)
    )
    return {
        row.id: Line(row.id, row.position, row.kind, row.description, row.amount, int(done))
        for row, done in rows
    }


async def lines_of_credit_notes(
    session: AsyncSession, credit_note_ids: Sequence[str]
) -> list[list[tuple[CreditNoteLineRow, InvoiceLineRow]]]:
    """Each credit note's lines with the invoice lines they credit, in the note's order."""
    rows = await session.execute(
        select(CreditNoteLineRow, InvoiceLineRow)
        .join(InvoiceLineRow, InvoiceLineRow.id == CreditNoteLineRow.invoice_line_id)
        .where(CreditNoteLineRow.credit_note_id.in_(credit_note_ids))
        .order_by(CreditNoteLineRow.credit_note_id, CreditNoteLineRow.position)
    )
    found: dict[str, list[tuple[CreditNoteLineRow, InvoiceLineRow]]] = {}
    for note_line, invoice_line in rows:
        found.setdefault(note_line.credit_note_id, []).append((note_line, invoice_line))
    return [found.get(note_id, []) for note_id in credit_note_ids]


async def credited_on_lines(session: AsyncSession, invoice_line_ids: Sequence[str]) -> list[int]:
    """What credit notes by line credited on each invoice line so far, in one statement."""
    rows = await session.execute(
        select(CreditNoteLineRow.invoice_line_id, func.sum(CreditNoteLineRow.amount))
        .where(CreditNoteLineRow.invoice_line_id.in_(invoice_line_ids))
        .group_by(CreditNoteLineRow.invoice_line_id)
    )
    found = {line_id: int(total) for line_id, total in rows}
    return [found.get(line_id, 0) for line_id in invoice_line_ids]
