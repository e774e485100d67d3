"""What a credit note may do to an invoice (pure).

On an OPEN invoice a credit note lowers what is due, by at most what is still owed on it
(its amount due less what was paid by hand); once nothing is owed the invoice is PAID,
as Stripe marks paid an invoice a credit note brings to zero. On a PAID invoice it goes
to the tenant's credit balance, or is refunded through the provider, by at most what the
provider charged for it less what was refunded already. Either way the credit notes of
an invoice never come to more than its total. Every refusal names what is left.

A credit note by line names invoice lines and what to credit on each (by default all
that is left of it); its amount is their sum. A line is never credited by line beyond
its amount; a DISCOUNT line, or one that credits rather than charges, is not creditable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.kernel.enums import CreditNoteOutcome, InvoiceStatus, LineKind
from models.kernel.errors import InvoiceNotCreditable, ValidationFailed
from models.kernel.money import Money


class Effect(enum.Enum):
    LOWER_DUE = "LOWER_DUE"  # an OPEN invoice: what is due goes down
    TO_BALANCE = "TO_BALANCE"  # a PAID invoice: the tenant's credit balance goes up
    REFUND = "REFUND"  # a PAID invoice: a refund through the provider is queued


@dataclass(frozen=True, slots=True)
class Creditable:
    """The invoice as a credit note finds it."""

    number: str
    status: InvoiceStatus
    currency: str
    total: int
    amount_due: int
    amount_paid: int  # paid by hand (recordPayment)
    credit_noted: int  # the amounts of its credit notes so far
    refunded: int  # of which REFUND
    charged_by_provider: bool  # the provider holds it and took its payment (not by hand)
    held_by_provider: bool  # the provider holds a copy, so its amount due is fixed there


def number(prefix: str, n: int) -> str:
    """``ACME-CN-0001``: the tenant's invoice prefix, counted apart from its invoices."""
    return f"{prefix}-CN-{n:04d}"


def _left(invoice: Creditable, amount: int) -> str:
    return Money(max(amount, 0), invoice.currency).formatted


def require_open_or_paid(invoice: Creditable) -> None:
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
        raise InvoiceNotCreditable(
            f"invoice {invoice.number} is {invoice.status.value}; credit notes apply to OPEN or PAID invoices"
        )


def effect(invoice: Creditable, amount: int, outcome: CreditNoteOutcome) -> Effect:
    """What a credit note of ``amount`` with ``outcome`` does, or InvoiceNotCreditable."""
    name = f"invoice {invoice.number}"
    creditable = max(invoice.total, 0) - invoice.credit_noted
    require_open_or_paid(invoice)
    if amount > creditable:
        raise InvoiceNotCreditable(
            f"{name} totals {_left(invoice, invoice.total)} and its credit notes come to "
            f"{_left(invoice, invoice.credit_noted)}: at most {_left(invoice, creditable)} is left to credit"
        )
    if invoice.status is InvoiceStatus.OPEN:
        owed = invoice.amount_due - invoice.amount_paid
        if outcome is CreditNoteOutcome.REFUND:
            raise InvoiceNotCreditable(
                f"{name} is OPEN: nothing was charged to refund; a credit note lowers what is due "
                "(outcome CREDIT_BALANCE)"
            )
        if invoice.held_by_provider:
            raise InvoiceNotCreditable(
                f"{name} is OPEN at the payment provider, which would still ask for its full amount: "
                "void it (voidInvoice) and invoice what is owed anew, or credit it once it is PAID"
            )
        if amount > owed:
            raise InvoiceNotCreditable(
                f"{name} is OPEN with {_left(invoice, owed)} still owed: credit at most that"
            )
        return Effect.LOWER_DUE
    if outcome is CreditNoteOutcome.CREDIT_BALANCE:
        return Effect.TO_BALANCE
    if not invoice.charged_by_provider:
        raise InvoiceNotCreditable(
            f"{name} was not paid through the payment provider: nothing to refund from; credit it to the "
            "balance (outcome CREDIT_BALANCE) or refund it outside the gateway"
        )
    refundable = invoice.amount_due - invoice.refunded
    if amount > refundable:
        raise InvoiceNotCreditable(
            f"{name} was charged {_left(invoice, invoice.amount_due)} and "
            f"{_left(invoice, invoice.refunded)} of it refunded: "
            f"at most {_left(invoice, refundable)} is left to refund"
        )
    return Effect.REFUND


@dataclass(frozen=True, slots=True)
class Line:
    """An invoice line as a credit note by line finds it."""

    id: str
    position: int  # 0-based, as the invoice lists its lines
    kind: LineKind
    description: str
    amount: int
    credited: int  # what credit notes by line credited on it so far


def _line_name(invoice_number: str, line: Line, currency: str) -> str:
    text = line.description if len(line.description) <= 60 else line.description[:59] + "…"
    return (
        f"line {line.position + 1} of invoice {invoice_number} ({line.kind.value} "
        f"{text!r}, {Money(line.amount, currency).formatted})"
    )


def line_credits(
    invoice_number: str,
    currency: str,
    lines: Mapping[str, Line],
    wanted: Sequence[tuple[str, int | None]],
) -> list[tuple[Line, int]]:
    """What each named line is credited: the amount asked (all that is left of the line
    when none is), never more than is left of it. ``wanted`` is (invoice line id, amount)
    in the input's order; errors name ``input.lines[i]``."""
    credits: list[tuple[Line, int]] = []
    for index, (line_id, amount) in enumerate(wanted):
        field = f"input.lines[{index}]"
        line = lines.get(line_id)
        if line is None:
            raise ValidationFailed(
                f"{field}.invoiceLineId",
                f"{line_id!r} is not a line of invoice {invoice_number}; take the ids from Invoice.lines",
            )
        name = _line_name(invoice_number, line, currency)
        if line.kind is LineKind.DISCOUNT:
            raise ValidationFailed(
                f"{field}.invoiceLineId",
                f"{name} is a DISCOUNT: it lowers the invoice, so there is nothing on it to credit; "
                "credit the lines it discounted, or credit by amount",
            )
        if line.amount <= 0:
            raise ValidationFailed(
                f"{field}.invoiceLineId",
                f"{name} credits rather than charges: there is nothing on it to credit",
            )
        left = line.amount - line.credited
        if left <= 0:
            raise InvoiceNotCreditable(f"{name} is credited in full already: nothing is left to credit on it")
        if amount is not None and amount > left:
            raise InvoiceNotCreditable(
                f"{field}.amount: {name} has {Money(line.credited, currency).formatted} credited already: "
                f"at most {Money(left, currency).formatted} is left to credit on it"
            )
        credits.append((line, left if amount is None else amount))
    return credits
