"""Issuing credit notes against invoices and voiding OPEN invoices (ADMIN: the operator
corrects what a tenant owes).

A credit note on an OPEN invoice lowers what is due (``invoices.credited``; PAID once
nothing is owed); on a PAID one it goes to the tenant's credit balance (a ledger entry
``CREDIT_NOTE``, used by its next invoices) or is refunded through the provider (a
``REFUND_CREDIT_NOTE`` task: one refund per credit note, however often it is retried).
Numbers run gap-free per tenant (``ACME-CN-0001``), counted under the tenant's lock.

A voided invoice is no longer owed: the credit balance it had drawn on is given back, a
PAST_DUE subscription owing nothing else recovers, ``invoice.voided`` is told (all of it
``payments.invoice_events.void``, as when the provider voids an invoice), and the
provider's copy is voided too (``VOID_INVOICE``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.credit_notes import rules
from models.credit_notes.inputs import CreditNoteIssue
from models.credit_notes.queries import credit_note_count, creditable_lines, credited_so_far
from models.kernel.enums import CreditReason, InvoiceStatus, ProviderTaskKind
from models.kernel.errors import InvoiceNotCreditable
from models.kernel.ids import new_id
from models.kernel.money import Money
from models.payments.invoice_events import mark_paid, void
from models.payments.tasks import collection_queued, tell_provider_if_it_holds
from models.platform import audit, locks
from models.platform.access import Principal, require_admin, require_tenant, require_visible
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.platform.events import emit
from models.platform.outbox import queue_provider_task
from models.platform.pagination import Page, paginate
from models.platform.payloads import CreditNoteCreatedPayload, CreditNoteLinePayload
from models.tables import CreditEntryRow, CreditNoteLineRow, CreditNoteRow, InvoiceRow


async def issue_credit_note(deps: Deps, actor: Principal, spec: CreditNoteIssue) -> CreditNoteRow:
    """A credit note of ``spec.amount``, or by line (``spec.lines``: its amount their sum)."""
    require_admin(actor, "issueCreditNote")
    async with deps.store.transaction() as session:
        found = await session.get(InvoiceRow, spec.invoice_id)
        require_visible(found is not None, "Invoice", spec.invoice_id)
        tenant = await locks.tenant(session, found.tenant_id)
        invoice = await locks.invoice(session, found.id)
        now = (await tenant_clock(session, deps, tenant)).now()
        creditable = await _creditable(session, deps, invoice)
        rules.require_open_or_paid(creditable)
        by_line = await _line_credits(session, invoice, spec)
        amount = spec.amount if spec.amount is not None else sum(credit for _, credit in by_line)
        effect = rules.effect(creditable, amount, spec.outcome)
        note = CreditNoteRow(
            id=new_id("cn"),
            tenant_id=tenant.id,
            invoice_id=invoice.id,
            number=rules.number(tenant.invoice_prefix, await credit_note_count(session, tenant.id) + 1),
            amount=amount,
            currency=invoice.currency,
            outcome=spec.outcome,
            lowered_due=effect is rules.Effect.LOWER_DUE,
            reason=spec.reason,
            created_at=now,
        )
        session.add(note)
        await session.flush()  # its lines refer to it
        session.add_all(
            CreditNoteLineRow(
                id=new_id("cnl"), credit_note_id=note.id, invoice_line_id=line.id, position=i, amount=credit
            )
            for i, (line, credit) in enumerate(by_line)
        )
        before = {"status": invoice.status, "amountDue": invoice.amount_due, "credited": invoice.credited}
        if effect is rules.Effect.LOWER_DUE:
            invoice.amount_due -= amount
            invoice.credited += amount
        elif effect is rules.Effect.TO_BALANCE:
            session.add(
                CreditEntryRow(
                    id=new_id("cred"),
                    tenant_id=tenant.id,
                    currency=invoice.currency,
                    amount=amount,
                    reason=CreditReason.CREDIT_NOTE,
                    invoice_id=invoice.id,
                    description=f"Credit note {note.number} on invoice {invoice.number}",
                    at=now,
                )
            )
        await session.flush()
        _record(session, deps, actor, invoice, note, by_line, before, now)
        if effect is rules.Effect.LOWER_DUE and invoice.amount_due == invoice.amount_paid:
            # Nothing is owed any more: paid, as Stripe marks paid an invoice credited to zero.
            await mark_paid(session, deps, actor, tenant, invoice, now, now)
        elif effect is rules.Effect.REFUND:
            queue_provider_task(
                session,
                deps,
                tenant_id=tenant.id,
                kind=ProviderTaskKind.REFUND_CREDIT_NOTE,
                subject_id=note.id,
                now=deps.clock.now(),
            )
    return note


async def _creditable(session: AsyncSession, deps: Deps, invoice: InvoiceRow) -> rules.Creditable:
    """The locked invoice as the rules see it."""
    credit_noted, refunded = await credited_so_far(session, invoice.id)
    # The provider holds a copy, or will (its collection is queued, maybe running): its
    # amount due is fixed there, so an OPEN one is not lowered here (rules.effect).
    held = invoice.provider_invoice_id is not None or (
        deps.mirrors and await collection_queued(session, invoice.id)
    )
    return rules.Creditable(
        number=invoice.number,
        status=invoice.status,
        currency=invoice.currency,
        total=invoice.total,
        amount_due=invoice.amount_due,
        amount_paid=invoice.amount_paid,
        credit_noted=credit_noted,
        refunded=refunded,
        charged_by_provider=deps.mirrors
        and invoice.provider_invoice_id is not None
        and invoice.amount_paid == 0,
        held_by_provider=held,
    )


async def _line_credits(
    session: AsyncSession, invoice: InvoiceRow, spec: CreditNoteIssue
) -> list[tuple[rules.Line, int]]:
    """What a note by line credits on each line it names (read under the invoice's lock)."""
    if spec.lines is None:
        return []
    return rules.line_credits(
        invoice.number,
        invoice.currency,
        await creditable_lines(session, invoice.id),
        [(line.invoice_line_id, line.amount) for line in spec.lines],
    )


def _record(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    invoice: InvoiceRow,
    note: CreditNoteRow,
    by_line: list[tuple[rules.Line, int]],
    before: dict[str, Any],
    now: datetime,
) -> None:
    """The note's audit entry and its ``credit_note.created`` event."""
    lines = [{"invoiceLineId": line.id, "amount": credit} for line, credit in by_line]
    audit.record(
        session,
        actor,
        tenant_id=invoice.tenant_id,
        action="invoice.credited",
        subject_id=invoice.id,
        before=before,
        after={
            "status": invoice.status,
            "amountDue": invoice.amount_due,
            "credited": invoice.credited,
            "creditNote": {
                "id": note.id,
                "number": note.number,
                "amount": note.amount,
                "outcome": note.outcome.value,
                "reason": note.reason,
                **({"lines": lines} if lines else {}),
            },
        },
        at=now,
    )
    emit(
        session,
        deps,
        CreditNoteCreatedPayload(
            tenant_id=invoice.tenant_id,
            credit_note_id=note.id,
            number=note.number,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            amount=note.amount,
            currency=note.currency,
            outcome=note.outcome,
            lowered_due=note.lowered_due,
            reason=note.reason,
            lines=[CreditNoteLinePayload(invoice_line_id=line.id, amount=credit) for line, credit in by_line],
        ),
        now,
    )


async def void_invoice(deps: Deps, actor: Principal, invoice_id: str) -> InvoiceRow:
    require_admin(actor, "voidInvoice")
    async with deps.store.transaction() as session:
        found = await session.get(InvoiceRow, invoice_id)
        require_visible(found is not None, "Invoice", invoice_id)
        tenant = await locks.tenant(session, found.tenant_id)
        invoice = await locks.invoice(session, found.id)
        now = (await tenant_clock(session, deps, tenant)).now()
        if invoice.status is not InvoiceStatus.OPEN:
            raise InvoiceNotCreditable(
                f"invoice {invoice.number} is {invoice.status.value}; only an OPEN invoice can be voided"
                + (" (credit a PAID one with a credit note)" if invoice.status is InvoiceStatus.PAID else "")
            )
        if invoice.amount_paid:
            raise InvoiceNotCreditable(
                f"invoice {invoice.number} has {Money(invoice.amount_paid, invoice.currency).formatted} paid "
                "by hand against it: issue a credit note for what is still owed instead of voiding it"
            )
        await void(session, deps, actor, tenant, invoice, now)
        await tell_provider_if_it_holds(session, deps, invoice, ProviderTaskKind.VOID_INVOICE)
    return invoice


async def get_credit_note(deps: Deps, actor: Principal, credit_note_id: str) -> CreditNoteRow:
    async with deps.store.read() as session:
        row = await session.get(CreditNoteRow, credit_note_id)
    require_visible(row is not None and actor.can_manage(row.tenant_id), "CreditNote", credit_note_id)
    return row


async def list_credit_notes(
    deps: Deps, actor: Principal, tenant_id: str, first: int | None, after: str | None
) -> Page[CreditNoteRow]:
    """A tenant's credit notes, newest first."""
    require_tenant(actor, tenant_id)
    query = select(CreditNoteRow).where(CreditNoteRow.tenant_id == tenant_id)
    async with deps.store.read() as session:
        return await paginate(session, query, CreditNoteRow.id, first, after, newest_first=True)
