"""Issuing invoices: numbered gap-free per tenant, lines kept as computed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from models.billing.pricing import Line
from models.ids import new_id
from models.tables import InvoiceLineRow, InvoiceRow, InvoiceStatus, TenantRow


async def next_invoice_number(session: AsyncSession, tenant_id: str) -> str:
    """``ACME-0001``, ``ACME-0002``...: the counter moves in the invoice's own
    transaction (and row-locks the tenant until it commits), so numbers never skip."""
    count, prefix = (
        await session.execute(
            update(TenantRow)
            .where(TenantRow.id == tenant_id)
            .values(invoice_count=TenantRow.invoice_count + 1)
            .returning(TenantRow.invoice_count, TenantRow.invoice_prefix)
            .execution_options(synchronize_session=False)
        )
    ).one()
    return f"{prefix}-{count:04d}"


async def issue_invoice(
    session: AsyncSession,
    *,
    tenant_id: str,
    subscription_id: str | None,
    currency: str,
    lines: Sequence[Line],
    period: tuple[datetime, datetime],
    at: datetime,
) -> InvoiceRow:
    subtotal = sum(line.amount for line in lines)
    invoice = InvoiceRow(
        id=new_id("inv"),
        tenant_id=tenant_id,
        subscription_id=subscription_id,
        number=await next_invoice_number(session, tenant_id),
        status=InvoiceStatus.OPEN.value,
        currency=currency,
        period_start=period[0],
        period_end=period[1],
        subtotal=subtotal,
        tax=0,
        credits_applied=0,
        total=subtotal,
        amount_due=subtotal,
        created_at=at,
    )
    session.add(invoice)
    await session.flush()  # its lines refer to it
    session.add_all(
        InvoiceLineRow(
            id=new_id("il"),
            invoice_id=invoice.id,
            position=position,
            kind=line.kind.value,
            description=line.description,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            amount=line.amount,
            addon_id=line.addon_id,
            period_start=period[0],
            period_end=period[1],
        )
        for position, line in enumerate(lines)
    )
    return invoice
