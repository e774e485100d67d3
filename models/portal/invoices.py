"""What the portal's printable invoice page shows: the invoice, every line, and the
tenant's billing details, read in one snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.invoicing.queries import invoice_lines
from models.platform.access import Principal, require_visible
from models.platform.deps import Deps
from models.tables import InvoiceRow, TenantRow


@dataclass(frozen=True, slots=True)
class PrintableInvoice:
    tenant: TenantRow
    invoice: InvoiceRow
    lines: list[Any]  # read-only rows named as InvoiceLineRow's attributes


async def printable_invoice(deps: Deps, actor: Principal, invoice_id: str) -> PrintableInvoice:
    """NOT_FOUND for an invoice the caller may not see, exactly as for a missing one."""
    async with deps.store.snapshot() as session:
        invoice = await session.get(InvoiceRow, invoice_id)
        require_visible(invoice is not None and actor.can_manage(invoice.tenant_id), "Invoice", invoice_id)
        assert invoice is not None
        tenant = await session.get(TenantRow, invoice.tenant_id)
        assert tenant is not None
        (lines,) = await invoice_lines(session, [invoice.id])
    return PrintableInvoice(tenant=tenant, invoice=invoice, lines=lines)
