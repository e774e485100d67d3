"""Issuing invoices (numbered gap-free per tenant, lines kept as computed) and the
credit ledger they consume from and grant to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.credits import service as credits
from models.invoicing.queries import credit_balances, invoice_lines
from models.invoicing.rules import Line, Totals, due_date, settle
from models.kernel.enums import (
    CollectionMethod,
    CreditReason,
    InvoiceReason,
    InvoiceStatus,
    ProviderTaskKind,
    SalesMode,
)
from models.kernel.ids import new_id
from models.platform import events
from models.platform.access import Principal, require_tenant, require_visible
from models.platform.deps import Deps
from models.platform.outbox import queue_provider_task
from models.platform.pagination import Page, paginate
from models.platform.payloads import InvoiceCreatedPayload, InvoicePaidPayload
from models.tables import CreditEntryRow, InvoiceLineRow, InvoiceRow, TenantRow


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


async def invoice_totals(session: AsyncSession, tenant: TenantRow, lines: Sequence[Line]) -> Totals:
    """What ``lines`` come to for this tenant now: its tax rate, and its credit
    balance paying what it can. Call it with the tenant row locked."""
    (balance,) = await credit_balances(session, [tenant.id])
    return settle(lines, tenant.tax_rate_ppm, balance)


async def issue_invoice(
    session: AsyncSession,
    deps: Deps,
    *,
    tenant: TenantRow,
    subscription_id: str | None,
    reason: InvoiceReason,
    currency: str,
    lines: Sequence[Line],
    totals: Totals,
    period: tuple[datetime, datetime],
    at: datetime,
) -> InvoiceRow:
    """Write the invoice, its lines and its credit-ledger entries. ``totals`` come
    from ``invoice_totals`` in the same transaction, so they are what the caller
    showed (a preview computes them the same way). Emits ``invoice.created``; with a
    payment provider, a SELF_SERVE tenant's invoice with something due is queued for
    collection (SALES_LED tenants are billed by people in the provider)."""
    if sum(line.amount for line in lines) != totals.subtotal:
        raise ValueError("totals were computed for other lines")
    invoice = await open_draft(
        session,
        tenant=tenant,
        subscription_id=subscription_id,
        reason=reason,
        currency=currency,
        lines=lines,
        period=period,
        at=at,
    )
    await _settle(session, deps, tenant, invoice, totals, at)
    return invoice


async def open_draft(
    session: AsyncSession,
    *,
    tenant: TenantRow,
    subscription_id: str | None,
    reason: InvoiceReason,
    currency: str,
    lines: Sequence[Line],
    period: tuple[datetime, datetime],
    at: datetime,
) -> InvoiceRow:
    """A DRAFT invoice holding ``lines`` (numbered now, so numbers stay gap-free), whose
    tax and credits are worked out when ``finalize_draft`` adds the rest of its lines: a
    renewal's, while its period's usage waits for the grace window. No event yet, and
    nothing owed until it is final."""
    subtotal = sum(line.amount for line in lines)
    invoice = InvoiceRow(
        id=new_id("inv"),
        tenant_id=tenant.id,
        subscription_id=subscription_id,
        number=await next_invoice_number(session, tenant.id),
        status=InvoiceStatus.DRAFT,
        reason=reason,
        currency=currency,
        period_start=period[0],
        period_end=period[1],
        subtotal=subtotal,
        tax=0,
        credits_applied=0,
        total=subtotal,
        amount_due=max(subtotal, 0),
        created_at=at,
    )
    session.add(invoice)
    await session.flush()  # its lines refer to it
    _add_lines(session, invoice, lines, start=0)
    return invoice


async def finalize_draft(
    session: AsyncSession,
    deps: Deps,
    tenant: TenantRow,
    invoice: InvoiceRow,
    lines: Sequence[Line],
    at: datetime,
) -> InvoiceRow:
    """Add ``lines`` to a DRAFT invoice, then tax it and let the credit balance pay what
    it can, as ``issue_invoice`` does: the invoice is OPEN (or PAID, nothing due), told
    and collected. Call it with the tenant and the invoice locked."""
    if invoice.status is not InvoiceStatus.DRAFT:
        raise ValueError(f"invoice {invoice.id} is {invoice.status}, not a draft")
    (held,) = await invoice_lines(session, [invoice.id])
    _add_lines(session, invoice, lines, start=len(held))
    every = [Line(line.kind, line.description, line.quantity, line.unit_amount, line.amount) for line in held]
    totals = await invoice_totals(session, tenant, [*every, *lines])
    await _settle(session, deps, tenant, invoice, totals, at)
    return invoice


def _add_lines(session: AsyncSession, invoice: InvoiceRow, lines: Sequence[Line], *, start: int) -> None:
    period = (invoice.period_start, invoice.period_end)
    session.add_all(
        InvoiceLineRow(
            id=new_id("il"),
            invoice_id=invoice.id,
            position=position,
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            amount=line.amount,
            addon_id=line.addon_id,
            period_start=(line.period or period)[0],
            period_end=(line.period or period)[1],
        )
        for position, line in enumerate(lines, start)
    )


async def _settle(
    session: AsyncSession, deps: Deps, tenant: TenantRow, invoice: InvoiceRow, totals: Totals, at: datetime
) -> None:
    """Make the invoice final at ``totals``: its credit-ledger entries (the credits it
    applied, soonest-expiring first, or the credit it granted), ``invoice.created``
    (and ``invoice.paid`` when nothing is due), and its collection."""
    invoice.status = InvoiceStatus.PAID if totals.amount_due == 0 else InvoiceStatus.OPEN
    invoice.subtotal, invoice.tax, invoice.total = totals.subtotal, totals.tax, totals.total
    invoice.credits_applied, invoice.amount_due = totals.credits_applied, totals.amount_due
    invoice.paid_at = at if totals.amount_due == 0 else None
    if invoice.status is InvoiceStatus.OPEN and tenant.collection_method is CollectionMethod.SEND_INVOICE:
        invoice.due_date = due_date(at, tenant.days_until_due, tenant.timezone)
    await credits.draw(
        session,
        tenant,
        amount=totals.credits_applied,
        invoice_id=invoice.id,
        invoice_number=invoice.number,
        currency=invoice.currency,
        at=at,
    )
    if totals.credit_granted:
        session.add(
            CreditEntryRow(
                id=new_id("cred"),
                tenant_id=tenant.id,
                currency=invoice.currency,
                amount=totals.credit_granted,
                reason=CreditReason.GRANTED,
                invoice_id=invoice.id,
                description=f"Credit from invoice {invoice.number}",
                at=at,
            )
        )
    events.emit(session, deps, InvoiceCreatedPayload.of(invoice), at)
    if invoice.status is InvoiceStatus.PAID:  # nothing was due: paid as it was made
        events.emit(session, deps, InvoicePaidPayload.of(invoice), at)
    if invoice.amount_due > 0 and tenant.sales_mode is SalesMode.SELF_SERVE:
        queue_provider_task(
            session,
            deps,
            tenant_id=tenant.id,
            kind=ProviderTaskKind.COLLECT_INVOICE,
            subject_id=invoice.id,
            now=deps.clock.now(),
        )


async def get_invoice(deps: Deps, actor: Principal, invoice_id: str) -> InvoiceRow:
    async with deps.store.read() as session:
        row = await session.get(InvoiceRow, invoice_id)
    require_visible(row is not None and actor.can_manage(row.tenant_id), "Invoice", invoice_id)
    return row


async def list_invoices(
    deps: Deps, actor: Principal, tenant_id: str, first: int | None, after: str | None
) -> Page[InvoiceRow]:
    """A tenant's invoices, newest first."""
    require_tenant(actor, tenant_id)
    query = select(InvoiceRow).where(InvoiceRow.tenant_id == tenant_id)
    async with deps.store.read() as session:
        return await paginate(session, query, InvoiceRow.id, first, after, newest_first=True)
