"""Payments made outside the provider (a bank transfer, a cheque), recorded by the
operator against an OPEN invoice: partial payments add up, and the invoice is PAID
(the subscription recovered, if that was what it owed) when they reach its amount due.

An invoice the provider holds (it was pushed there, or its collection is queued) is then
marked paid there too, out of band (``MARK_PAID_OUT_OF_BAND``): otherwise it would stay
payable on the provider's page, and reminded of, after the customer paid by transfer. A
collection still queued finds the invoice PAID and neither sends nor charges it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from models.kernel.enums import InvoiceStatus, PaymentMethod, ProviderTaskKind
from models.kernel.errors import Forbidden, ValidationFailed
from models.kernel.ids import new_id
from models.kernel.money import MAX_SAFE_INTEGER, Money
from models.kernel.validation import Input
from models.payments.invoice_events import mark_paid
from models.payments.tasks import tell_provider_if_it_holds
from models.platform import audit, locks
from models.platform.access import Principal, require_visible
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.tables import InvoiceRow, PaymentRow


class PaymentRecord(Input):
    invoice_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    amount: Annotated[int, Field(gt=0, le=MAX_SAFE_INTEGER)]
    method: PaymentMethod
    reference: Annotated[str, StringConstraints(max_length=200)] | None = None


async def record_payment(deps: Deps, actor: Principal, spec: PaymentRecord) -> InvoiceRow:
    """Record ``spec.amount`` paid against the invoice (ADMIN: the operator saw the money)."""
    if not actor.is_admin:
        raise Forbidden("recordPayment needs an ADMIN API key: only the operator can say money arrived.")
    async with deps.store.transaction() as session:
        found = await session.get(InvoiceRow, spec.invoice_id)
        require_visible(found is not None, "Invoice", spec.invoice_id)
        tenant = await locks.tenant(session, found.tenant_id)
        invoice = await locks.invoice(session, found.id)
        now = (await tenant_clock(session, deps, tenant)).now()
        if invoice.status is not InvoiceStatus.OPEN:
            raise ValidationFailed(
                "input.invoiceId",
                f"invoice {invoice.number} is {invoice.status.value}; payments are recorded against "
                "OPEN invoices",
            )
        remaining = invoice.amount_due - invoice.amount_paid
        if spec.amount > remaining:
            raise ValidationFailed(
                "input.amount",
                f"is more than the {Money(remaining, invoice.currency).formatted} still due on invoice "
                f"{invoice.number}; record at most that",
            )
        session.add(
            PaymentRow(
                id=new_id("pay"),
                invoice_id=invoice.id,
                tenant_id=tenant.id,
                amount=spec.amount,
                currency=invoice.currency,
                method=spec.method,
                reference=spec.reference,
                recorded_at=now,
            )
        )
        before = {"status": invoice.status, "amountPaid": invoice.amount_paid}
        invoice.amount_paid += spec.amount
        audit.record(
            session,
            actor,
            tenant_id=tenant.id,
            action="invoice.payment_recorded",
            subject_id=invoice.id,
            before=before,
            after={
                "status": invoice.status,
                "amountPaid": invoice.amount_paid,
                "payment": {"amount": spec.amount, "method": spec.method.value, "reference": spec.reference},
            },
            at=now,
        )
        if invoice.amount_paid == invoice.amount_due:
            await mark_paid(session, deps, actor, tenant, invoice, now, now)
            await tell_provider_if_it_holds(session, deps, invoice, ProviderTaskKind.MARK_PAID_OUT_OF_BAND)
    return invoice
