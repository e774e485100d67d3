"""What a provider event does to one of our invoices: paid, failed, given up on (void or
uncollectible), or mirrored from the provider for a SALES_LED tenant; and what that
means for the subscription (``subscriptions.lifecycle``)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.credits.service import give_back
from models.invoicing.rules import next_retry
from models.invoicing.service import next_invoice_number
from models.kernel.enums import (
    InvoiceReason,
    InvoiceStatus,
    LineKind,
    Role,
    SalesMode,
    SubscriptionStatus,
)
from models.kernel.ids import new_id
from models.platform import audit, locks
from models.platform.access import Principal
from models.platform.deps import Deps
from models.platform.events import emit
from models.platform.payloads import (
    InvoiceCreatedPayload,
    InvoicePaidPayload,
    InvoicePaymentFailedPayload,
    InvoiceVoidedPayload,
)
from models.platform.provider import (
    ProviderEvent,
    ProviderEventKind,
    ProviderInvoiceLine,
    ProviderInvoiceSnapshot,
)
from models.subscriptions import lifecycle
from models.tables import InvoiceLineRow, InvoiceRow, TenantRow

PAID, OPEN = InvoiceStatus.PAID, InvoiceStatus.OPEN
VOID, UNCOLLECTIBLE = InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE
log = logging.getLogger("models.payments")


async def external_tenant(session: AsyncSession, snap: ProviderInvoiceSnapshot) -> TenantRow | str:
    """The SALES_LED tenant whose customer a person invoiced in the provider, or why not."""
    if snap.status in (None, "draft"):
        return f"ignored: invoice {snap.provider_invoice_id} is not final yet"
    if not snap.customer_id:
        return f"ignored: invoice {snap.provider_invoice_id} names no customer"
    tenants = (
        await session.scalars(
            select(TenantRow).where(TenantRow.provider_customer_id == snap.customer_id).limit(2)
        )
    ).all()
    if len(tenants) != 1:
        many = "more than one tenant has" if tenants else "no tenant has"
        return f"ignored: {many} customer {snap.customer_id}"
    if tenants[0].sales_mode != SalesMode.SALES_LED:
        return f"ignored: tenant {tenants[0].id} is SELF_SERVE; the gateway makes its invoices"
    return tenants[0]


async def mirror_external_invoice(
    session: AsyncSession,
    deps: Deps,
    tenant: TenantRow,
    event: ProviderEvent,
    snap: ProviderInvoiceSnapshot,
    now: datetime,
) -> InvoiceRow:
    """An EXTERNAL invoice holding what the provider's says: its lines, tax, total and due."""
    total, tax = snap.total, snap.tax
    charged = max(total, 0)
    due = min(max(snap.amount_due, 0), charged)  # the provider's customer balance may pay part
    lines = list(snap.lines)
    rest = (total - tax) - sum(line.amount for line in lines)
    if rest:  # discounts, or lines the event did not carry
        text = "Discounts applied in the provider" if rest < 0 else "Further lines of the provider's invoice"
        lines.append(ProviderInvoiceLine(text, rest))
    periods = [line.period for line in lines if line.period]
    period = (
        (min(p[0] for p in periods), max(p[1] for p in periods))
        if periods
        else snap.period or (event.created, event.created)
    )
    invoice = InvoiceRow(
        id=new_id("inv"),
        tenant_id=tenant.id,
        subscription_id=None,
        number=await next_invoice_number(session, tenant.id),
        status=OPEN,
        reason=InvoiceReason.EXTERNAL,
        currency=snap.currency.upper(),
        period_start=period[0],
        period_end=period[1],
        subtotal=total - tax,
        tax=tax,
        credits_applied=charged - due,
        total=total,
        amount_due=due,
        created_at=now,
        provider_invoice_id=snap.provider_invoice_id,
        hosted_invoice_url=snap.hosted_invoice_url,
    )
    session.add(invoice)
    await session.flush()  # its lines refer to it
    for position, line in enumerate(lines):
        quantity, unit = _quantity_and_unit(line)
        session.add(
            InvoiceLineRow(
                id=new_id("il"),
                invoice_id=invoice.id,
                position=position,
                kind=LineKind.CREDIT if line.amount < 0 else LineKind.BASE,
                description=(line.description or "Invoice item")[:500],
                quantity=quantity,
                unit_amount=unit,
                amount=line.amount,
                period_start=(line.period or period)[0],
                period_end=(line.period or period)[1],
            )
        )
    emit(session, deps, InvoiceCreatedPayload.of(invoice), now)
    log.info("mirrored provider invoice %s as %s (%s)", snap.provider_invoice_id, invoice.id, invoice.number)
    return invoice


def _quantity_and_unit(line: ProviderInvoiceLine) -> tuple[int, int]:
    """The line's quantity and unit price when they multiply to its amount, else 1 x amount."""
    quantity = max(line.quantity, 1)
    if line.unit_amount is not None and line.unit_amount * quantity == line.amount:
        return quantity, line.unit_amount
    if line.amount % quantity == 0:
        return quantity, line.amount // quantity
    return 1, line.amount


def link(invoice: InvoiceRow, snap: ProviderInvoiceSnapshot, *, replace_url: bool = False) -> None:
    """Keep the provider's id and the page where the customer pays (and passes 3-D Secure)."""
    invoice.provider_invoice_id = invoice.provider_invoice_id or snap.provider_invoice_id
    if snap.hosted_invoice_url and (replace_url or not invoice.hosted_invoice_url):
        invoice.hosted_invoice_url = snap.hosted_invoice_url


def _state(invoice: InvoiceRow) -> dict[str, str | None]:
    return {
        "status": invoice.status,
        "paidAt": invoice.paid_at.isoformat() if invoice.paid_at else None,
        "paymentFailedAt": invoice.payment_failed_at.isoformat() if invoice.payment_failed_at else None,
        "paymentError": invoice.payment_error,
    }


async def apply_paid(
    session: AsyncSession,
    deps: Deps,
    tenant: TenantRow,
    invoice: InvoiceRow,
    event: ProviderEvent,
    now: datetime,
) -> str:
    link(invoice, event.invoice)
    if invoice.status == PAID:
        return f"ignored: invoice {invoice.id} is already paid"
    if invoice.status == InvoiceStatus.VOID:
        log.warning(
            "provider reports payment of void invoice %s (%s)", invoice.id, invoice.provider_invoice_id
        )
        return f"ignored: invoice {invoice.id} is void"
    await mark_paid(session, deps, provider_actor(event.provider), tenant, invoice, event.created, now)
    return f"invoice {invoice.id}: paid"


async def mark_paid(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    invoice: InvoiceRow,
    paid_at: datetime,
    now: datetime,
) -> None:
    """An OPEN invoice is paid (at the provider, or by the payments recorded by hand):
    audited, told, its retries over, and the subscription recovered if nothing else
    overdue is owed."""
    before = _state(invoice)
    invoice.status, invoice.paid_at = PAID, paid_at
    invoice.payment_failed_at = invoice.payment_error = invoice.next_retry_at = None
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action="invoice.paid",
        subject_id=invoice.id,
        before=before,
        after=_state(invoice),
        at=now,
    )
    await _recover(session, deps, tenant, invoice, actor, now)
    emit(session, deps, InvoicePaidPayload.of(invoice), now)


async def _recover(
    session: AsyncSession, deps: Deps, tenant: TenantRow, invoice: InvoiceRow, actor: Principal, now: datetime
) -> None:
    """PAST_DUE or UNPAID -> ACTIVE once no OPEN invoice that failed or is overdue is left
    (``invoice`` has just been paid or given up on)."""
    live = await locks.live_subscription(session, tenant.id)
    if live is None or live.status not in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID):
        return
    owing = await session.scalar(
        select(InvoiceRow.id)
        .where(
            InvoiceRow.tenant_id == tenant.id,
            InvoiceRow.status == OPEN,
            InvoiceRow.payment_failed_at.is_not(None) | InvoiceRow.overdue_at.is_not(None),
            InvoiceRow.id != invoice.id,
        )
        .limit(1)
    )
    if owing is None:
        await lifecycle.recover(session, deps, actor, tenant, live, invoice, now)


async def apply_given_up(
    session: AsyncSession,
    deps: Deps,
    tenant: TenantRow,
    invoice: InvoiceRow,
    event: ProviderEvent,
    now: datetime,
) -> str:
    """Voided or marked uncollectible at the provider: no longer owed, so it no longer
    keeps the subscription PAST_DUE. Never undoes a payment; uncollectible may still be
    voided (as at Stripe), not the other way round."""
    target = VOID if event.kind is ProviderEventKind.INVOICE_VOIDED else UNCOLLECTIBLE
    if event.invoice.discarded_by_gateway:
        return (
            f"ignored: the gateway itself voided {event.invoice.provider_invoice_id} (it did not match "
            "invoice "
            f"{invoice.id}, which is still owed)"
        )
    if invoice.status == target:
        return f"ignored: invoice {invoice.id} is already {target.lower()}"
    if invoice.status not in (OPEN, InvoiceStatus.DRAFT, UNCOLLECTIBLE) or (
        invoice.status == UNCOLLECTIBLE and target != VOID
    ):
        return f"ignored: invoice {invoice.id} is {invoice.status.lower()}, not {target.lower()}"
    actor = provider_actor(event.provider)
    if target == VOID:
        await void(session, deps, actor, tenant, invoice, now)
    else:
        await give_up(session, deps, actor, tenant, invoice, target, now)
    return f"invoice {invoice.id}: {target.lower()}"


async def void(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    invoice: InvoiceRow,
    now: datetime,
) -> None:
    """The one way an invoice becomes VOID, whether voidInvoice or the provider voided it:
    the credit balance it drew on given back (``credits.give_back``), audited, the
    subscription recovered if nothing else overdue is owed (``give_up``), and
    ``invoice.voided`` told. Call it with the tenant and the invoice locked."""
    await give_back(
        session,
        tenant,
        invoice_id=invoice.id,
        invoice_number=invoice.number,
        currency=invoice.currency,
        at=now,
    )
    await give_up(session, deps, actor, tenant, invoice, VOID, now)
    emit(session, deps, InvoiceVoidedPayload.of(invoice), now)


async def give_up(
    session: AsyncSession,
    deps: Deps,
    actor: Principal,
    tenant: TenantRow,
    invoice: InvoiceRow,
    target: InvoiceStatus,
    now: datetime,
) -> None:
    """The invoice is VOID or UNCOLLECTIBLE (at the provider, or voidInvoice): audited,
    its retries over, and the subscription recovered if nothing else overdue is owed."""
    before = _state(invoice)
    invoice.status, invoice.next_retry_at = target, None
    action = "invoice.voided" if target == VOID else "invoice.marked_uncollectible"
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action=action,
        subject_id=invoice.id,
        before=before,
        after=_state(invoice),
        at=now,
    )
    await _recover(session, deps, tenant, invoice, actor, now)


async def apply_failed(
    session: AsyncSession,
    deps: Deps,
    tenant: TenantRow,
    invoice: InvoiceRow,
    event: ProviderEvent,
    now: datetime,
) -> str:
    link(invoice, event.invoice, replace_url=invoice.status != PAID)
    if invoice.status in (PAID, VOID, UNCOLLECTIBLE):  # no longer owed: it cannot make anything PAST_DUE
        return f"ignored: invoice {invoice.id} is already {invoice.status.lower()}"
    if invoice.payment_failed_at is not None and event.created < invoice.payment_failed_at:
        return f"ignored: invoice {invoice.id} has a later failure already"
    actor = provider_actor(event.provider)
    before = _state(invoice)
    invoice.payment_failed_at = event.created
    invoice.payment_error = event.failure_message[:500] if event.failure_message else None
    audit.record(
        session,
        actor,
        tenant_id=tenant.id,
        action="invoice.payment_failed",
        subject_id=invoice.id,
        before=before,
        after=_state(invoice),
        at=now,
    )
    own = await locks.subscription(session, invoice.subscription_id) if invoice.subscription_id else None
    subscription = own
    if subscription is None or subscription.status is SubscriptionStatus.CANCELLED:
        subscription = await locks.live_subscription(session, tenant.id)
    if subscription is not None and subscription.status is SubscriptionStatus.ACTIVE:
        await lifecycle.mark_past_due(session, deps, actor, tenant, subscription, invoice, now)
    if own is not None and own.status is not SubscriptionStatus.CANCELLED and invoice.due_date is None:
        # Dunning: an invoice charged automatically (one sent with terms has a due date instead)
        # is charged again on the schedule while it stays unpaid and its subscription lives.
        invoice.next_retry_at = next_retry(now, invoice.retries, deps.policy.dunning_retry_days)
    emit(session, deps, InvoicePaymentFailedPayload.of(invoice), now)
    return f"invoice {invoice.id}: payment failed"


def provider_actor(provider: str) -> Principal:
    """Who the audit trail names for what the provider reported (``provider:stripe``)."""
    return Principal(role=Role.ADMIN, api_key_id=f"provider:{provider}")
