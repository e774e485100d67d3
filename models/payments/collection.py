"""Running what is owed to the payment provider (the provider-task outbox), and the
card setup page.

Tasks run outside any transaction: a provider call can take seconds or fail, and a
local change must never wait on it or be lost with it. Each result is written back in
its own short transaction, so what the provider made is recorded the moment it is
known: the provider invoice id right after the (empty) draft is made, before any item,
so a retry goes straight back to it.

When the answer to the charge says paid, the invoice is marked PAID at once through
the same path as the provider's webhook (``process_provider_event``, under an event id
of its own, with the same checks); the webhook, which also hears of payments made
later on the hosted invoice page, then finds it done, and PAID never depends on it.
When it says declined, the failure is recorded the same way, under an event id of its
own per attempt (the task), so the subscription is PAST_DUE and the dunning schedule
(``GATEWAY_DUNNING_RETRY_DAYS``) starts without waiting for the webhook. The webhook of
that same failure is dated by the provider at the decline, before this answer, so it is
then ignored as older (``apply_failed``); only one that outruns the answer is applied too.

An invoice issued with payment terms (``SEND_INVOICE``: it has a due date) is sent by
the provider with them, and never charged.

An invoice paid by hand (``recordPayment``) is marked paid at the provider out of band
(``MARK_PAID_OUT_OF_BAND``), so it is no longer payable on the provider's page nor
reminded of; nothing is done to one the provider has paid or voided already. A tenant's
tasks run in order, so a collection queued before the payment runs first and, finding
the invoice no longer OPEN, neither sends nor charges it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models.kernel.enums import CollectionMethod, InvoiceStatus, ProviderTaskKind, SalesMode
from models.payments import corrections
from models.payments.provider_events import process_provider_event
from models.payments.tasks import claim_provider_tasks, finish_provider_task
from models.platform import locks
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.platform.provider import (
    Address,
    Customer,
    InvoiceItem,
    InvoiceToCollect,
    PaymentOutcome,
    ProviderError,
    ProviderEvent,
    ProviderEventKind,
    ProviderInvoice,
    ProviderInvoiceSnapshot,
)
from models.tables import InvoiceLineRow, InvoiceRow, ProviderTaskRow, TenantRow

log = logging.getLogger("models.payments.collection")


async def run_provider_tasks(deps: Deps) -> int:
    """Run the due provider tasks (at most one per tenant, oldest first); how many
    were attempted. Call again until it returns 0 to drain a tenant's queue."""
    if not deps.mirrors:
        return 0
    tasks = await claim_provider_tasks(deps)
    for task in tasks:
        await _run(deps, task)
    return len(tasks)


async def _run(deps: Deps, task: ProviderTaskRow) -> None:
    try:
        if task.kind == ProviderTaskKind.SYNC_CUSTOMER:
            await _sync_customer(deps, task)
        elif task.kind == ProviderTaskKind.COLLECT_INVOICE:
            await _collect_invoice(deps, task)
        elif task.kind == ProviderTaskKind.MARK_PAID_OUT_OF_BAND:
            await _mark_paid_out_of_band(deps, task)
        elif task.kind == ProviderTaskKind.REFUND_CREDIT_NOTE:
            await corrections.refund_credit_note(deps, task)
        elif task.kind == ProviderTaskKind.VOID_INVOICE:
            await corrections.void_at_provider(deps, task)
        else:
            raise ProviderError(f"unknown provider task kind {task.kind!r}", retryable=False)
    except ProviderError as exc:
        if exc.retryable:
            log.warning(
                "provider task %s (%s %s) failed, attempt %d; retrying later: %s",
                task.id,
                task.kind,
                task.subject_id,
                task.attempts,
                exc,
            )
        else:
            log.error(
                "provider task %s (%s %s) FAILED for good: %s", task.id, task.kind, task.subject_id, exc
            )
        await finish_provider_task(deps, task, error=str(exc), retryable=exc.retryable)
        return
    except Exception as exc:  # our side (the database, a bug): keep the task, try again later
        log.exception(
            "provider task %s (%s %s) failed unexpectedly; retrying later",
            task.id,
            task.kind,
            task.subject_id,
        )
        await finish_provider_task(deps, task, error=f"{type(exc).__name__}: {exc}", retryable=True)
        return
    await finish_provider_task(deps, task)


def _customer(tenant: TenantRow) -> Customer:
    """The tenant as the provider should know it: its billing info, typed once here."""
    address = None
    if tenant.address_line1 and tenant.address_city and tenant.address_country:
        address = Address(
            line1=tenant.address_line1,
            line2=tenant.address_line2,
            city=tenant.address_city,
            state=tenant.address_state,
            postal_code=tenant.address_postal_code,
            country=tenant.address_country,
        )
    return Customer(
        tenant_id=tenant.id,
        name=tenant.name,
        email=tenant.email,
        company_name=tenant.company_name,
        address=address,
    )


async def _save_customer_id(deps: Deps, tenant_id: str, customer_id: str) -> str:
    """Record the provider's id; a concurrent creation that saved first wins (both
    used the same idempotency key, so they are the same customer)."""
    async with deps.store.transaction() as session:
        tenant = await locks.tenant(session, tenant_id)
        if tenant.provider_customer_id is None:
            tenant.provider_customer_id = customer_id
        return tenant.provider_customer_id


async def load_tenant(deps: Deps, tenant_id: str) -> TenantRow | None:
    async with deps.store.read() as session:
        return await session.get(TenantRow, tenant_id)


async def ensure_customer(deps: Deps, tenant: TenantRow) -> str:
    """The tenant's provider customer id, creating the customer now if it has none."""
    if tenant.provider_customer_id is not None:
        return tenant.provider_customer_id
    customer_id = await deps.provider.upsert_customer(
        _customer(tenant), None, idempotency_key=f"{tenant.id}-customer"
    )
    return await _save_customer_id(deps, tenant.id, customer_id)


async def _sync_customer(deps: Deps, task: ProviderTaskRow) -> None:
    tenant = await load_tenant(deps, task.subject_id)
    if tenant is None:
        return
    if tenant.provider_customer_id is None:
        await ensure_customer(deps, tenant)
        return
    await deps.provider.upsert_customer(
        _customer(tenant), tenant.provider_customer_id, idempotency_key=f"task-{task.id}"
    )


async def _load_invoice(
    deps: Deps, invoice_id: str
) -> tuple[InvoiceRow | None, TenantRow | None, list[InvoiceLineRow], datetime | None]:
    """The invoice, its tenant, its lines in order, and the tenant's now."""
    async with deps.store.read() as session:
        invoice = await session.get(InvoiceRow, invoice_id)
        tenant = await session.get(TenantRow, invoice.tenant_id) if invoice else None
        lines = (
            await session.scalars(
                select(InvoiceLineRow)
                .where(InvoiceLineRow.invoice_id == invoice_id)
                .order_by(InvoiceLineRow.position)
            )
        ).all()
        now = (await tenant_clock(session, deps, tenant)).now() if tenant else None
    return invoice, tenant, list(lines), now


async def _collect_invoice(deps: Deps, task: ProviderTaskRow) -> None:
    invoice, tenant, lines, now = await _load_invoice(deps, task.subject_id)
    if invoice is None or tenant is None:
        return
    if tenant.sales_mode == SalesMode.SALES_LED:
        log.info(
            "invoice %s not collected: tenant %s is SALES_LED (billed by people in the provider)",
            invoice.id,
            tenant.id,
        )
        return
    if invoice.amount_due <= 0 or invoice.status != InvoiceStatus.OPEN:
        return
    customer_id = await ensure_customer(deps, tenant)
    collect = _to_collect(invoice, lines, customer_id, _terms(invoice, now, tenant.timezone))
    provider = deps.provider
    found = await provider.find_or_create_invoice(
        collect, invoice.provider_invoice_id, idempotency_key=invoice.id
    )
    if found.provider_invoice_id != invoice.provider_invoice_id:
        await _record(deps, invoice.id, found.provider_invoice_id, found.hosted_invoice_url)
    if found.status == "draft":
        await provider.add_missing_items(collect, found.provider_invoice_id, idempotency_key=invoice.id)
    if collect.collection_method is CollectionMethod.SEND_INVOICE:
        # Payment terms: the provider sends it and the customer pays by its due date. Never
        # charged, whatever card the customer has; the same checks of its amount first.
        sent = await provider.send_invoice(collect, found.provider_invoice_id, idempotency_key=invoice.id)
        await _record(deps, invoice.id, found.provider_invoice_id, sent.hosted_invoice_url)
        if sent.status == "paid":  # paid at the provider already (its hosted page)
            await _paid_now(deps, invoice.id, sent)
        return
    # Checks the provider's total against the amount due before charging anything. One key
    # per task: its retries replay one charge, while a later task (a new card, a dunning
    # retry) is a new attempt that Stripe must not answer with the decline it stored for an
    # earlier key.
    outcome = await provider.pay_invoice(
        collect, found.provider_invoice_id, idempotency_key=f"{invoice.id}-pay-{task.id}"
    )
    await _record(deps, invoice.id, found.provider_invoice_id, outcome.invoice.hosted_invoice_url)
    if outcome.invoice.status == "paid":
        await _paid_now(deps, invoice.id, outcome.invoice)
    elif outcome.declined:
        await _failed_now(deps, invoice.id, task, outcome)


async def _mark_paid_out_of_band(deps: Deps, task: ProviderTaskRow) -> None:
    """The invoice was paid by hand (``recordPayment``): mark the provider's invoice paid
    out of band (nothing charged), under a key derived from the invoice id. The provider
    does nothing to one already paid or void, and reports None when it holds none (a
    collection that never ran, or made nothing)."""
    invoice, tenant, lines, now = await _load_invoice(deps, task.subject_id)
    if invoice is None or tenant is None:
        return
    if invoice.status != InvoiceStatus.PAID:
        log.warning(
            "invoice %s is %s, not PAID: not marked paid at the provider", invoice.id, invoice.status.value
        )
        return
    if tenant.provider_customer_id is None:
        return  # the provider was never told of the customer, so it holds none of its invoices
    collect = _to_collect(invoice, lines, tenant.provider_customer_id, _terms(invoice, now, tenant.timezone))
    marked = await deps.provider.mark_paid_out_of_band(
        collect, invoice.provider_invoice_id, idempotency_key=f"{invoice.id}-paid-out-of-band"
    )
    if marked is None:
        log.info("invoice %s paid by hand: the provider holds no invoice for it", invoice.id)
        return
    if marked.status != "deleted" and marked.provider_invoice_id != invoice.provider_invoice_id:
        await _record(deps, invoice.id, marked.provider_invoice_id, marked.hosted_invoice_url)
    log.info(
        "invoice %s paid by hand: provider invoice %s is %s",
        invoice.id,
        marked.provider_invoice_id,
        marked.status,
    )


async def _paid_now(deps: Deps, invoice_id: str, paid: ProviderInvoice) -> None:
    """The provider said paid: apply it now, as its webhook would be applied (checked
    against the invoice, once by event id, so the webhook that follows is a no-op)."""
    if None in (paid.total, paid.amount_due, paid.amount_paid) or not paid.currency:
        log.warning(
            "invoice %s: the provider's answer for %s lacks its amounts; PAID waits for its webhook",
            invoice_id,
            paid.provider_invoice_id,
        )
        return
    result = await process_provider_event(
        deps,
        ProviderEvent(
            id=f"collect-{invoice_id}-paid",
            provider=deps.provider.name,
            type="invoice.paid (collection answer)",
            kind=ProviderEventKind.INVOICE_PAID,
            created=deps.clock.now(),
            invoice=ProviderInvoiceSnapshot(
                provider_invoice_id=paid.provider_invoice_id,
                currency=paid.currency,
                customer_id=paid.customer_id,
                gateway_invoice_id=invoice_id,
                status="paid",
                hosted_invoice_url=paid.hosted_invoice_url,
                total=paid.total,
                amount_due=paid.amount_due,
                amount_paid=paid.amount_paid,
            ),
        ),
    )
    refused = result.outcome.startswith("ignored") and "already paid" not in result.outcome
    (log.warning if refused else log.info)(
        "invoice %s paid at %s: %s", invoice_id, paid.provider_invoice_id, result.outcome
    )


async def _failed_now(deps: Deps, invoice_id: str, task: ProviderTaskRow, outcome: PaymentOutcome) -> None:
    """The provider said declined (or no card, or the customer must confirm): record the
    failure now, as its webhook would be applied (checked against the invoice, once per
    attempt: the event id names the task), so the subscription is PAST_DUE and the next
    charge is scheduled without waiting for the webhook. Its own webhook of the same
    failure is dated earlier, so it then changes nothing."""
    answer = outcome.invoice
    if not answer.currency or not answer.customer_id:
        log.warning(
            "invoice %s: the provider's answer for %s lacks its currency or customer; the failure (%s) "
            "waits for its webhook",
            invoice_id,
            answer.provider_invoice_id,
            outcome.declined,
        )
        return
    result = await process_provider_event(
        deps,
        ProviderEvent(
            id=f"collect-{invoice_id}-failed-{task.id}",
            provider=deps.provider.name,
            type="invoice.payment_failed (collection answer)",
            kind=ProviderEventKind.INVOICE_PAYMENT_FAILED,
            created=deps.clock.now(),
            invoice=ProviderInvoiceSnapshot(
                provider_invoice_id=answer.provider_invoice_id,
                currency=answer.currency,
                customer_id=answer.customer_id,
                gateway_invoice_id=invoice_id,
                status=answer.status,
                hosted_invoice_url=answer.hosted_invoice_url,
                total=answer.total or 0,
                amount_due=answer.amount_due or 0,
                amount_paid=answer.amount_paid or 0,
            ),
            failure_message=outcome.declined,
        ),
    )
    (log.warning if result.outcome.startswith("ignored") else log.info)(
        "invoice %s (%s) not paid: %s; %s",
        invoice_id,
        answer.provider_invoice_id,
        outcome.declined,
        result.outcome,
    )


def _to_collect(
    invoice: InvoiceRow, lines: list[InvoiceLineRow], customer_id: str, terms: dict[str, Any]
) -> InvoiceToCollect:
    """One item per line, then tax, then the credits applied and what credit notes took
    off while it was OPEN (both negative): their sum is
    exactly the amount due, so the provider charges what the gateway computed. An
    invoice with a due date was issued with payment terms (``SEND_INVOICE``) and keeps
    them, whatever the tenant's are now."""
    items = [
        InvoiceItem(
            key=line.id,
            description=line.description,
            amount=line.amount,
            period=(line.period_start, line.period_end),
        )
        for line in lines
    ]
    if invoice.tax:
        items.append(InvoiceItem(key="tax", description="Tax", amount=invoice.tax))
    if invoice.credits_applied:
        items.append(
            InvoiceItem(key="credits", description="Credit balance applied", amount=-invoice.credits_applied)
        )
    if invoice.credited:
        items.append(InvoiceItem(key="credit-notes", description="Credit notes", amount=-invoice.credited))
    if sum(item.amount for item in items) != invoice.amount_due:
        raise ProviderError(
            f"invoice {invoice.id}: its lines, tax and credits come to {sum(i.amount for i in items)}, "
            f"not its amount due {invoice.amount_due}; not collected",
            retryable=False,
        )
    return InvoiceToCollect(
        invoice_id=invoice.id,
        number=invoice.number,
        tenant_id=invoice.tenant_id,
        customer_id=customer_id,
        currency=invoice.currency,
        amount_due=invoice.amount_due,
        items=tuple(items),
        **terms,
    )


def _terms(invoice: InvoiceRow, now: datetime, timezone: str) -> dict[str, Any]:
    """An invoice with a due date was issued with payment terms (``SEND_INVOICE``) and
    keeps them, whatever the tenant's are now: the provider is told the days from today
    (the tenant's clock) to its due day, as ``invoicing.rules.due_date`` counts them (due
    by the end of that day in the tenant's timezone), so both due dates fall on one day
    even when collection runs late."""
    if invoice.due_date is None:
        return {}
    zone = ZoneInfo(timezone)
    today, after_due = now.astimezone(zone).date(), invoice.due_date.astimezone(zone).date()
    return {
        "collection_method": CollectionMethod.SEND_INVOICE,
        "days_until_due": max((after_due - today).days - 1, 0),
        "due_date": invoice.due_date,
    }


async def _record(deps: Deps, invoice_id: str, provider_invoice_id: str, hosted_url: str | None) -> None:
    async with deps.store.transaction() as session:
        invoice = await locks.invoice(session, invoice_id)
        invoice.provider_invoice_id = provider_invoice_id
        if hosted_url:
            invoice.hosted_invoice_url = hosted_url
