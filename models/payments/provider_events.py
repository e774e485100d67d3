"""What the payment provider reports by webhook, applied to invoices and subscriptions.

The gateway edge verifies the provider's signature and maps its event into a
``ProviderEvent`` (so nothing here knows the SDK). Each event is processed in one
transaction that also stores its id in ``provider_events``: a second delivery, even a
concurrent one, is acknowledged and changes nothing, and a failure half-way leaves
nothing behind (the provider retries). The rules hold in any order: a PAID invoice
stays PAID whatever arrives after it.

An event is about one of our invoices only when the provider's own records agree: the
metadata naming our invoice id is copied by the dashboard's "duplicate invoice", editable
by anyone, and shared by every environment on the same provider account. So the event's
customer must be the tenant's, and an invoice matched by that metadata must also agree
on currency, on the amount paid, and on the provider invoice it is collected as.
Anything else is stored with the reason it was ignored, and changes nothing.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.invoicing.service import next_invoice_number
from models.kernel.enums import (
    EventType,
    InvoiceReason,
    InvoiceStatus,
    LineKind,
    ProviderTaskKind,
    Role,
    SalesMode,
    SubscriptionStatus,
)
from models.kernel.ids import new_id
from models.platform import audit, locks
from models.platform.access import Principal
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.platform.events import emit, invoice_data
from models.platform.outbox import queue_provider_task
from models.subscriptions import lifecycle
from models.tables import InvoiceLineRow, InvoiceRow, ProviderEventRow, TenantRow

log = logging.getLogger("gateway.provider_events")

PAID, OPEN = InvoiceStatus.PAID, InvoiceStatus.OPEN
VOID, UNCOLLECTIBLE = InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE


class ProviderEventKind(enum.Enum):
    """The provider events the gateway acts on, whatever the provider calls them."""

    INVOICE_FINALIZED = "INVOICE_FINALIZED"  # an invoice is final and payable
    INVOICE_PAID = "INVOICE_PAID"
    INVOICE_PAYMENT_FAILED = "INVOICE_PAYMENT_FAILED"
    INVOICE_ACTION_REQUIRED = "INVOICE_ACTION_REQUIRED"  # the customer must confirm (3-D Secure)
    # Someone gave up on the invoice at the provider (the dashboard): it is no longer owed.
    INVOICE_VOIDED = "INVOICE_VOIDED"
    INVOICE_UNCOLLECTIBLE = "INVOICE_UNCOLLECTIBLE"
    # The customer saved a card on the provider's page (the edge made it their default).
    PAYMENT_METHOD_SAVED = "PAYMENT_METHOD_SAVED"


@dataclass(frozen=True, slots=True)
class ProviderInvoiceLine:
    description: str
    amount: int  # minor units; negative for a credit
    quantity: int = 1
    unit_amount: int | None = None
    period: tuple[datetime, datetime] | None = None


@dataclass(frozen=True, slots=True)
class ProviderInvoiceSnapshot:
    """The provider's invoice as the event shows it (amounts in minor units)."""

    provider_invoice_id: str
    currency: str
    customer_id: str | None = None
    gateway_invoice_id: str | None = None  # our invoice id, from the metadata our adapter sets
    status: str | None = None  # the provider's: draft, open, paid, void, uncollectible
    hosted_invoice_url: str | None = None
    number: str | None = None
    subtotal: int = 0
    tax: int = 0
    total: int = 0
    amount_due: int = 0
    amount_paid: int = 0
    lines: tuple[ProviderInvoiceLine, ...] = ()
    period: tuple[datetime, datetime] | None = None
    # The gateway's adapter voided it itself (it would have charged the wrong amount):
    # our invoice is still owed, so its void changes nothing here.
    discarded_by_gateway: bool = False


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A provider's event, or what the gateway learned itself from the provider (the
    collection task's charge: id ``collect-<invoice id>-paid``), checked the same way."""

    id: str
    provider: str  # "stripe"
    type: str  # the provider's own name for it, as stored
    kind: ProviderEventKind | None  # None: not one the gateway acts on
    created: datetime
    invoice: ProviderInvoiceSnapshot | None = None
    failure_message: str | None = None
    customer_id: str | None = None  # PAYMENT_METHOD_SAVED: whose card
    tenant_id: str | None = None  # PAYMENT_METHOD_SAVED: the tenant the gateway opened the page for
    ignored: str | None = None  # why the edge could not read what the gateway would act on


@dataclass(frozen=True, slots=True)
class Processed:
    duplicate: bool  # the id was seen before: nothing was done this time
    outcome: str


def provider_actor(provider: str) -> Principal:
    """Who the audit trail names for what the provider reported (``provider:stripe``)."""
    return Principal(role=Role.ADMIN, api_key_id=f"provider:{provider}")


async def seen_provider_event(deps: Deps, event_id: str) -> Processed | None:
    """How an event processed before was answered; None if it is new. Lets the edge skip
    the provider calls an event needs when it is a redelivery (Stripe redelivers for up
    to three days; its idempotency keys last one)."""
    async with deps.store.read() as session:
        seen = await session.get(ProviderEventRow, event_id)
    return None if seen is None else Processed(True, seen.outcome)


async def process_provider_event(deps: Deps, event: ProviderEvent) -> Processed:
    """Apply ``event`` once. An unexpected error propagates with nothing applied."""
    try:
        async with deps.store.transaction() as session:
            seen = await session.get(ProviderEventRow, event.id)
            if seen is not None:
                return Processed(True, seen.outcome)
            row = ProviderEventRow(
                id=event.id, provider=event.provider, type=event.type[:100], outcome="processing",
                received_at=deps.clock.now(),
            )
            session.add(row)
            await session.flush()  # claims the id: a concurrent duplicate waits here, then fails
            outcome = (await _apply(session, deps, event))[:200]
            row.outcome = outcome
    except IntegrityError:
        async with deps.store.read() as session:
            seen = await session.get(ProviderEventRow, event.id)
        if seen is None:
            raise  # not a duplicate delivery: a real failure
        return Processed(True, seen.outcome)
    return Processed(False, outcome)


async def _apply(session: AsyncSession, deps: Deps, event: ProviderEvent) -> str:
    snap = event.invoice
    if event.kind is None:
        return f"ignored: {event.type} is not an event the gateway acts on"
    if event.ignored is not None:
        return f"ignored: {event.ignored}"
    if event.kind is ProviderEventKind.PAYMENT_METHOD_SAVED:
        return await _card_saved(session, deps, event)
    if snap is None:
        return f"ignored: {event.type} carries no invoice"
    found, by_metadata = await _find_invoice(session, snap)
    if found is None and event.kind in GIVES_UP:
        return f"ignored: no invoice in this gateway is collected as {snap.provider_invoice_id}"
    if found is None:
        if snap.gateway_invoice_id:
            return f"ignored: no invoice {snap.gateway_invoice_id} in this gateway"
        tenant_or_reason = await _external_tenant(session, snap)
        if isinstance(tenant_or_reason, str):
            return tenant_or_reason
        tenant = await locks.tenant(session, tenant_or_reason.id)
        invoice = await locks.invoice_by_provider_id(session, snap.provider_invoice_id)  # again, under the lock
        now = (await tenant_clock(session, deps, tenant)).now()
        if invoice is None:
            invoice = await _mirror_external_invoice(session, deps, tenant, event, snap, now)
    else:
        tenant = await locks.tenant(session, found.tenant_id)
        invoice = await locks.invoice(session, found.id)
        mismatch = _mismatch(tenant, invoice, event, by_metadata=by_metadata)
        if mismatch is not None:
            log.warning("provider event %s (%s) %s", event.id, event.type, mismatch)
            return mismatch
        now = (await tenant_clock(session, deps, tenant)).now()
    kind = event.kind
    if _pays(event):
        return await _paid(session, deps, tenant, invoice, event, now)
    if kind is ProviderEventKind.INVOICE_PAYMENT_FAILED:
        return await _failed(session, deps, tenant, invoice, event, now)
    if kind in GIVES_UP:
        return await _given_up(session, deps, tenant, invoice, event, now)
    if kind is ProviderEventKind.INVOICE_ACTION_REQUIRED:
        _link(invoice, snap, replace_url=invoice.status != PAID)
        return f"invoice {invoice.id}: waiting for the customer to confirm the payment"
    _link(invoice, snap)
    return f"invoice {invoice.id}: finalized at the provider"


async def card_page_owner(deps: Deps, tenant_id: str | None, customer_id: str | None) -> str | None:
    """Why a completed card page is not one the gateway opened for ``tenant_id`` whose
    provider customer is ``customer_id`` (None: it is). The edge asks before it touches
    the customer's cards: a Checkout made by anything else on the account is not ours."""
    if not tenant_id:
        return "the card page was not opened by this gateway (no gateway_tenant_id in its metadata)"
    async with deps.store.read() as session:
        tenant = await session.get(TenantRow, tenant_id)
    return _not_owner(tenant, tenant_id, customer_id)


def _not_owner(tenant: TenantRow | None, tenant_id: str, customer_id: str | None) -> str | None:
    if tenant is None:
        return f"no tenant {tenant_id} in this gateway"
    if not customer_id or customer_id != tenant.provider_customer_id:
        return f"customer {customer_id} is not tenant {tenant_id}'s"
    return None


async def _card_saved(session: AsyncSession, deps: Deps, event: ProviderEvent) -> str:
    """The new default card should pay what is still owed: one COLLECT_INVOICE task per
    OPEN invoice with an amount due that the gateway collects (SELF_SERVE), each
    charging under a key of its own (an earlier decline is not replayed)."""
    if event.customer_id is None or event.tenant_id is None:
        return "ignored: the provider's page saved no card"
    tenant = await locks.tenant_if_any(session, event.tenant_id)
    reason = _not_owner(tenant, event.tenant_id, event.customer_id)
    if reason is not None:
        return f"ignored: {reason}"
    done = f"the card saved on the provider's page is now customer {event.customer_id}'s default"
    if tenant.sales_mode != SalesMode.SELF_SERVE:
        return done
    owed = (await session.scalars(select(InvoiceRow.id).where(
        InvoiceRow.tenant_id == tenant.id, InvoiceRow.status == OPEN, InvoiceRow.amount_due > 0,
        InvoiceRow.reason != InvoiceReason.EXTERNAL,
    ).order_by(InvoiceRow.created_at, InvoiceRow.id))).all()
    now = deps.clock.now()
    for invoice_id in owed:  # even with a task already queued: it may be past its charge (an extra one finds it paid)
        queue_provider_task(session, deps, tenant_id=tenant.id, kind=ProviderTaskKind.COLLECT_INVOICE,
                            subject_id=invoice_id, now=now)
    return done + (f"; collecting {len(owed)} open invoice(s) with it" if owed else "")


async def _by_provider_id(session: AsyncSession, provider_invoice_id: str) -> InvoiceRow | None:
    return await session.scalar(select(InvoiceRow).where(InvoiceRow.provider_invoice_id == provider_invoice_id))


async def _find_invoice(
    session: AsyncSession, snap: ProviderInvoiceSnapshot
) -> tuple[InvoiceRow | None, bool]:
    """The invoice already collected as this provider invoice, else the one its metadata
    names; and whether it was found by the metadata only (which needs more checks). The
    link wins: metadata edited on a linked provider invoice cannot move its payments."""
    linked = await _by_provider_id(session, snap.provider_invoice_id)
    if linked is not None:
        return linked, False
    if snap.gateway_invoice_id:
        return await session.get(InvoiceRow, snap.gateway_invoice_id), True
    return None, False


GIVES_UP = (ProviderEventKind.INVOICE_VOIDED, ProviderEventKind.INVOICE_UNCOLLECTIBLE)


def _pays(event: ProviderEvent) -> bool:
    kind = event.kind
    return kind is ProviderEventKind.INVOICE_PAID or (
        kind is ProviderEventKind.INVOICE_FINALIZED and event.invoice is not None and event.invoice.status == "paid"
    )


def _mismatch(tenant: TenantRow, invoice: InvoiceRow, event: ProviderEvent, *, by_metadata: bool) -> str | None:
    """Why ``event`` is not about ``invoice`` (checked on the locked rows), or None."""
    snap = event.invoice
    if tenant.provider_customer_id is None:
        return f"ignored: tenant {tenant.id} has no provider customer to check invoice {invoice.id}'s events against"
    if snap.customer_id != tenant.provider_customer_id:
        return f"ignored: customer {snap.customer_id} does not match invoice {invoice.id}"
    if not by_metadata:
        return None
    if invoice.provider_invoice_id not in (None, snap.provider_invoice_id):
        return f"ignored: invoice {invoice.id} is collected as {invoice.provider_invoice_id}"
    if snap.currency.upper() != invoice.currency.upper():
        return f"ignored: currency {snap.currency} does not match invoice {invoice.id}"
    paid = snap.amount_paid or snap.total  # nothing paid on a paid invoice: out of band, or by balance
    if _pays(event) and paid < invoice.amount_due:
        return f"ignored: amount paid {paid} does not match invoice {invoice.id} (due {invoice.amount_due})"
    return None


async def _external_tenant(session: AsyncSession, snap: ProviderInvoiceSnapshot) -> TenantRow | str:
    """The SALES_LED tenant whose customer a person invoiced in the provider, or why not."""
    if snap.status in (None, "draft"):
        return f"ignored: invoice {snap.provider_invoice_id} is not final yet"
    if not snap.customer_id:
        return f"ignored: invoice {snap.provider_invoice_id} names no customer"
    tenants = (
        await session.scalars(select(TenantRow).where(TenantRow.provider_customer_id == snap.customer_id).limit(2))
    ).all()
    if len(tenants) != 1:
        many = "more than one tenant has" if tenants else "no tenant has"
        return f"ignored: {many} customer {snap.customer_id}"
    if tenants[0].sales_mode != SalesMode.SALES_LED:
        return f"ignored: tenant {tenants[0].id} is SELF_SERVE; the gateway makes its invoices"
    return tenants[0]


async def _mirror_external_invoice(
    session: AsyncSession, deps: Deps, tenant: TenantRow, event: ProviderEvent, snap: ProviderInvoiceSnapshot,
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
        (min(p[0] for p in periods), max(p[1] for p in periods)) if periods
        else snap.period or (event.created, event.created)
    )
    invoice = InvoiceRow(
        id=new_id("inv"), tenant_id=tenant.id, subscription_id=None,
        number=await next_invoice_number(session, tenant.id), status=OPEN, reason=InvoiceReason.EXTERNAL,
        currency=snap.currency.upper(), period_start=period[0], period_end=period[1],
        subtotal=total - tax, tax=tax, credits_applied=charged - due, total=total, amount_due=due, created_at=now,
        provider_invoice_id=snap.provider_invoice_id, hosted_invoice_url=snap.hosted_invoice_url,
    )
    session.add(invoice)
    await session.flush()  # its lines refer to it
    for position, line in enumerate(lines):
        quantity, unit = _quantity_and_unit(line)
        session.add(InvoiceLineRow(
            id=new_id("il"), invoice_id=invoice.id, position=position,
            kind=LineKind.CREDIT if line.amount < 0 else LineKind.BASE,
            description=(line.description or "Invoice item")[:500], quantity=quantity, unit_amount=unit,
            amount=line.amount, period_start=(line.period or period)[0], period_end=(line.period or period)[1],
        ))
    emit(session, deps.bus, EventType.INVOICE_CREATED, tenant.id, invoice_data(invoice), now)
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


def _link(invoice: InvoiceRow, snap: ProviderInvoiceSnapshot, *, replace_url: bool = False) -> None:
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


async def _paid(
    session: AsyncSession, deps: Deps, tenant: TenantRow, invoice: InvoiceRow, event: ProviderEvent, now: datetime
) -> str:
    _link(invoice, event.invoice)
    if invoice.status == PAID:
        return f"ignored: invoice {invoice.id} is already paid"
    if invoice.status == InvoiceStatus.VOID:
        log.warning("provider reports payment of void invoice %s (%s)", invoice.id, invoice.provider_invoice_id)
        return f"ignored: invoice {invoice.id} is void"
    actor = provider_actor(event.provider)
    before = _state(invoice)
    invoice.status, invoice.paid_at = PAID, event.created
    invoice.payment_failed_at = invoice.payment_error = None
    audit.record(session, actor, tenant_id=tenant.id, action="invoice.paid", subject_id=invoice.id,
                 before=before, after=_state(invoice), at=now)
    await _reactivate(session, deps, tenant, invoice, actor, now)
    emit(session, deps.bus, EventType.INVOICE_PAID, tenant.id, invoice_data(invoice), now)
    return f"invoice {invoice.id}: paid"


async def _reactivate(
    session: AsyncSession, deps: Deps, tenant: TenantRow, invoice: InvoiceRow, actor: Principal, now: datetime
) -> None:
    """PAST_DUE -> ACTIVE once no OPEN invoice with a failed payment is left (``invoice``
    has just been paid or given up on)."""
    live = await locks.live_subscription(session, tenant.id)
    if live is None or live.status is not SubscriptionStatus.PAST_DUE:
        return
    failing = await session.scalar(select(InvoiceRow.id).where(
        InvoiceRow.tenant_id == tenant.id, InvoiceRow.status == OPEN, InvoiceRow.payment_failed_at.is_not(None),
        InvoiceRow.id != invoice.id,
    ).limit(1))
    if failing is None:
        await lifecycle.reactivate(session, deps, actor, tenant, live, invoice.number, now)


async def _given_up(
    session: AsyncSession, deps: Deps, tenant: TenantRow, invoice: InvoiceRow, event: ProviderEvent, now: datetime
) -> str:
    """Voided or marked uncollectible at the provider: no longer owed, so it no longer
    keeps the subscription PAST_DUE. Never undoes a payment; uncollectible may still be
    voided (as at Stripe), not the other way round."""
    target = VOID if event.kind is ProviderEventKind.INVOICE_VOIDED else UNCOLLECTIBLE
    if event.invoice.discarded_by_gateway:
        return (f"ignored: the gateway itself voided {event.invoice.provider_invoice_id} (it did not match invoice "
                f"{invoice.id}, which is still owed)")
    if invoice.status == target:
        return f"ignored: invoice {invoice.id} is already {target.lower()}"
    if invoice.status not in (OPEN, InvoiceStatus.DRAFT, UNCOLLECTIBLE) or (
        invoice.status == UNCOLLECTIBLE and target != VOID
    ):
        return f"ignored: invoice {invoice.id} is {invoice.status.lower()}, not {target.lower()}"
    actor = provider_actor(event.provider)
    before = _state(invoice)
    invoice.status = target
    action = "invoice.voided" if target == VOID else "invoice.marked_uncollectible"
    audit.record(session, actor, tenant_id=tenant.id, action=action, subject_id=invoice.id,
                 before=before, after=_state(invoice), at=now)
    await _reactivate(session, deps, tenant, invoice, actor, now)
    return f"invoice {invoice.id}: {target.lower()}"


async def _failed(
    session: AsyncSession, deps: Deps, tenant: TenantRow, invoice: InvoiceRow, event: ProviderEvent, now: datetime
) -> str:
    _link(invoice, event.invoice, replace_url=invoice.status != PAID)
    if invoice.status in (PAID, VOID, UNCOLLECTIBLE):  # no longer owed: it cannot make anything PAST_DUE
        return f"ignored: invoice {invoice.id} is already {invoice.status.lower()}"
    if invoice.payment_failed_at is not None and event.created < invoice.payment_failed_at:
        return f"ignored: invoice {invoice.id} has a later failure already"
    actor = provider_actor(event.provider)
    before = _state(invoice)
    invoice.payment_failed_at = event.created
    invoice.payment_error = event.failure_message[:500] if event.failure_message else None
    audit.record(session, actor, tenant_id=tenant.id, action="invoice.payment_failed", subject_id=invoice.id,
                 before=before, after=_state(invoice), at=now)
    subscription = await locks.subscription(session, invoice.subscription_id) if invoice.subscription_id else None
    if subscription is None or subscription.status is SubscriptionStatus.CANCELLED:
        subscription = await locks.live_subscription(session, tenant.id)
    if subscription is not None and subscription.status is SubscriptionStatus.ACTIVE:
        lifecycle.mark_past_due(session, actor, tenant, subscription, invoice.number, now)
    emit(session, deps.bus, EventType.INVOICE_PAYMENT_FAILED, tenant.id, invoice_data(invoice), now)
    return f"invoice {invoice.id}: payment failed"
