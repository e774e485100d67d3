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

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import (
    InvoiceReason,
    InvoiceStatus,
    ProviderTaskKind,
    SalesMode,
)
from models.payments.invoice_events import (
    apply_failed,
    apply_given_up,
    apply_paid,
    external_tenant,
    link,
    mirror_external_invoice,
)
from models.platform import locks
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.platform.outbox import queue_provider_task
from models.platform.provider import ProviderEvent, ProviderEventKind, ProviderInvoiceSnapshot
from models.tables import InvoiceRow, ProviderEventRow, TenantRow

log = logging.getLogger("models.payments")

PAID, OPEN = InvoiceStatus.PAID, InvoiceStatus.OPEN
VOID, UNCOLLECTIBLE = InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE


@dataclass(frozen=True, slots=True)
class Processed:
    duplicate: bool  # the id was seen before: nothing was done this time
    outcome: str


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
                id=event.id,
                provider=event.provider,
                type=event.type[:100],
                outcome="processing",
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
        tenant_or_reason = await external_tenant(session, snap)
        if isinstance(tenant_or_reason, str):
            return tenant_or_reason
        tenant = await locks.tenant(session, tenant_or_reason.id)
        invoice = await locks.invoice_by_provider_id(
            session, snap.provider_invoice_id
        )  # again, under the lock
        now = (await tenant_clock(session, deps, tenant)).now()
        if invoice is None:
            invoice = await mirror_external_invoice(session, deps, tenant, event, snap, now)
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
        return await apply_paid(session, deps, tenant, invoice, event, now)
    if kind is ProviderEventKind.INVOICE_PAYMENT_FAILED:
        return await apply_failed(session, deps, tenant, invoice, event, now)
    if kind in GIVES_UP:
        return await apply_given_up(session, deps, tenant, invoice, event, now)
    if kind is ProviderEventKind.INVOICE_ACTION_REQUIRED:
        link(invoice, snap, replace_url=invoice.status != PAID)
        return f"invoice {invoice.id}: waiting for the customer to confirm the payment"
    link(invoice, snap)
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
    owed = (
        await session.scalars(
            select(InvoiceRow.id)
            .where(
                InvoiceRow.tenant_id == tenant.id,
                InvoiceRow.status == OPEN,
                InvoiceRow.amount_due > 0,
                InvoiceRow.reason != InvoiceReason.EXTERNAL,
            )
            .order_by(InvoiceRow.created_at, InvoiceRow.id)
        )
    ).all()
    now = deps.clock.now()
    for (
        invoice_id
    ) in owed:  # even with a task already queued: it may be past its charge (an extra one finds it paid)
        queue_provider_task(
            session,
            deps,
            tenant_id=tenant.id,
            kind=ProviderTaskKind.COLLECT_INVOICE,
            subject_id=invoice_id,
            now=now,
        )
    return done + (f"; collecting {len(owed)} open invoice(s) with it" if owed else "")


async def _by_provider_id(session: AsyncSession, provider_invoice_id: str) -> InvoiceRow | None:
    return await session.scalar(
        select(InvoiceRow).where(InvoiceRow.provider_invoice_id == provider_invoice_id)
    )


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
        kind is ProviderEventKind.INVOICE_FINALIZED
        and event.invoice is not None
        and event.invoice.status == "paid"
    )


def _mismatch(
    tenant: TenantRow, invoice: InvoiceRow, event: ProviderEvent, *, by_metadata: bool
) -> str | None:
    """Why ``event`` is not about ``invoice`` (checked on the locked rows), or None."""
    snap = event.invoice
    if tenant.provider_customer_id is None:
        return (
            f"ignored: tenant {tenant.id} has no provider customer to check invoice {invoice.id}'s "
            "events against"
        )
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
