"""Reads of credit notes, batched for the per-request loaders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import CreditNoteOutcome
from models.tables import CreditNoteRow


async def credit_notes_of_invoices(session: AsyncSession, invoice_ids: Sequence[str]) -> list[list[Any]]:
    """Each invoice's credit notes, oldest first, in one statement."""
    rows = await session.scalars(
        select(CreditNoteRow).where(CreditNoteRow.invoice_id.in_(invoice_ids)).order_by(CreditNoteRow.id)
    )
    found: dict[str, list[Any]] = {}
    for row in rows:
        found.setdefault(row.invoice_id, []).append(row)
    return [found.get(invoice_id, []) for invoice_id in invoice_ids]


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
