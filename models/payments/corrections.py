"""Provider tasks that carry corrections of an invoice to the provider: a credit note
refunded (``REFUND_CREDIT_NOTE``: a refund of the payment of its invoice, under a key
derived from the credit note id, recorded on the credit note once made) and an invoice
voided in the gateway (``VOID_INVOICE``: its provider copy voided too).

A tenant's tasks run in order, so a collection queued before the void runs first and,
finding the invoice VOID, neither sends nor charges it; the void then finds no
provider copy (nothing was made) or voids the one an earlier collection made."""

from __future__ import annotations

import logging

from models.kernel.enums import InvoiceStatus
from models.platform import locks
from models.platform.deps import Deps
from models.platform.provider import ProviderError, RefundToMake
from models.tables import CreditNoteRow, InvoiceRow, ProviderTaskRow

log = logging.getLogger("models.payments.corrections")


async def refund_credit_note(deps: Deps, task: ProviderTaskRow) -> None:
    async with deps.store.read() as session:
        note = await session.get(CreditNoteRow, task.subject_id)
        invoice = await session.get(InvoiceRow, note.invoice_id) if note else None
    if note is None or invoice is None:
        return
    if note.provider_refund_id is not None:
        return  # made by an earlier attempt, whose answer was recorded
    if invoice.provider_invoice_id is None:
        raise ProviderError(
            f"invoice {invoice.number} has no provider copy: credit note {note.number} cannot be refunded "
            "through the provider. Refund the customer another way.",
            retryable=False,
        )
    refund_id = await deps.provider.refund_payment(
        RefundToMake(
            credit_note_id=note.id,
            invoice_id=invoice.id,
            tenant_id=invoice.tenant_id,
            provider_invoice_id=invoice.provider_invoice_id,
            amount=note.amount,
            currency=note.currency,
        ),
        idempotency_key=f"{note.id}-refund",
    )
    async with deps.store.transaction() as session:
        await locks.invoice(session, invoice.id)  # its credit notes change under its lock
        row = await session.get(CreditNoteRow, note.id, populate_existing=True)
        if row is not None and row.provider_refund_id is None:
            row.provider_refund_id = refund_id
    log.info("credit note %s refunded: provider refund %s", note.number, refund_id)


async def void_at_provider(deps: Deps, task: ProviderTaskRow) -> None:
    async with deps.store.read() as session:
        invoice = await session.get(InvoiceRow, task.subject_id)
    if invoice is None:
        return
    if invoice.status is not InvoiceStatus.VOID:
        log.warning("invoice %s is %s, not VOID: not voided at the provider", invoice.id, invoice.status)
        return
    if invoice.provider_invoice_id is None:
        log.info("invoice %s voided: the provider holds no copy of it", invoice.id)
        return
    voided = await deps.provider.void_invoice(
        invoice.id, invoice.provider_invoice_id, idempotency_key=f"{invoice.id}-voided"
    )
    log.info(
        "invoice %s voided: provider invoice %s is %s",
        invoice.id,
        invoice.provider_invoice_id,
        voided.status if voided else "gone",
    )
