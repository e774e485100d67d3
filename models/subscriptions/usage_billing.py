"""A period's usage, billed exactly once.

Usage is billed in arrears: when a period ends (on its renewal invoice, once the grace
window has passed, ``BillingPolicy.usage_grace``), when a change ends the period
(FULL_IMMEDIATELY) and when the subscription ends (its FINAL invoice). Each time, the
period, the plans that priced it (each until when) and what each meter came to are
recorded in ``usage_billings``, and the tenant's ``usage_billed_until`` moves to the
period's end.

Usage recorded afterwards for such a period is late (ingestion marks the period
``stale``). The next renewal or final invoice prices the period again from its recorded
plans and bills the difference (a credit, if usage was taken away) on a line naming the
period, and records it: whatever the order of events and bills, each period's usage is
billed once, at what its final usage costs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.invoicing.rules import Line
from models.invoicing.service import finalize_draft
from models.kernel.enums import LineKind
from models.kernel.errors import ValidationFailed
from models.kernel.ids import new_id
from models.metering.billing import charges_of, price_usage
from models.metering.rules import PricedUsage, format_units
from models.platform import audit, locks
from models.platform.access import operator
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.tables import InvoiceRow, SubscriptionRow, TenantRow, UsageBillingRow
from models.tables.metering import BilledUsage
from models.tables.subscriptions import UsagePlan

log = logging.getLogger("models.subscriptions.usage_billing")


async def charges_anything(session: AsyncSession, plans: list[UsagePlan]) -> bool:
    """Whether any of these plans charges for a meter's usage."""
    return bool(await charges_of(session, [p.plan_id for p in plans]))


def record(
    session: AsyncSession,
    tenant: TenantRow,
    subscription: SubscriptionRow,
    invoice: InvoiceRow | None,
    period: tuple[datetime, datetime],
    plans: list[UsagePlan],
    *,
    finalize_at: datetime,
    charges: list[PricedUsage] | None,
) -> UsageBillingRow:
    """Record a period's usage billing: billed now (``charges``), or waiting on
    ``invoice``, a draft, until ``finalize_at`` (``charges`` None)."""
    row = UsageBillingRow(
        id=new_id("ub"),
        tenant_id=tenant.id,
        subscription_id=subscription.id,
        invoice_id=invoice.id if invoice else None,
        period_start=period[0],
        period_end=period[1],
        plans=plans,
        finalize_at=finalize_at,
    )
    if charges is not None:
        _billed(tenant, row, charges, finalize_at)
    session.add(row)
    return row


def _billed(tenant: TenantRow, row: UsageBillingRow, charges: list[PricedUsage], at: datetime) -> None:
    row.billed = {c.meter_id: BilledUsage(amount=c.amount, units=c.units) for c in charges}
    row.finalized_at, row.stale = at, False
    if tenant.usage_billed_until is None or tenant.usage_billed_until < row.period_end:
        tenant.usage_billed_until = row.period_end


@dataclass(frozen=True, slots=True)
class LateUsage:
    """A billed period whose usage changed since: the line that bills the difference."""

    row: UsageBillingRow
    charges: list[PricedUsage]
    lines: list[Line]


async def late_usage(session: AsyncSession, tenant: TenantRow) -> list[LateUsage]:
    """Every billed period of the tenant whose usage changed after it was billed, priced
    again by the plans it had, with the lines for the difference (none if it came to the
    same). Writes nothing: ``settle_late`` records what is billed."""
    rows = (
        await session.scalars(
            select(UsageBillingRow)
            .where(
                UsageBillingRow.tenant_id == tenant.id,
                UsageBillingRow.stale.is_(True),
                UsageBillingRow.finalized_at.is_not(None),
            )
            .order_by(UsageBillingRow.period_start, UsageBillingRow.id)
        )
    ).all()
    late = []
    for row in rows:
        charges = await price_usage(session, tenant, row.plans, row.period_start, row.period_end)
        late.append(LateUsage(row, charges, _difference(row, charges)))
    return late


def _difference(row: UsageBillingRow, charges: list[PricedUsage]) -> list[Line]:
    lines = []
    billed = row.billed or {}
    first, last = row.period_start.date().isoformat(), row.period_end.date().isoformat()
    for c in charges:
        before = billed.get(c.meter_id, BilledUsage(amount=0, units=0))
        amount = c.amount - before.amount
        if not amount:
            continue
        units = c.units - before.units
        what = f"{format_units(abs(units))} {'more' if units >= 0 else 'fewer'} units"
        lines.append(
            Line(
                LineKind.USAGE if amount > 0 else LineKind.CREDIT,
                f"{c.display_name}: late usage for {first} to {last} ({what})",
                1,
                amount,
                amount,
                period=(row.period_start, row.period_end),
            )
        )
    return lines


def settle_late(tenant: TenantRow, late: list[LateUsage], at: datetime) -> None:
    """Record that the differences ``late`` found are billed."""
    for item in late:
        _billed(tenant, item.row, item.charges, item.row.finalized_at or at)


async def finalize(
    session: AsyncSession, deps: Deps, tenant: TenantRow, row: UsageBillingRow, at: datetime
) -> InvoiceRow:
    """Bill a renewal's usage once its grace window has passed: the period's usage and any
    late usage of earlier periods go on the renewal invoice, which becomes final."""
    invoice = await locks.invoice(session, row.invoice_id) if row.invoice_id else None
    if invoice is None:
        raise ValueError(f"usage billing {row.id} has no invoice to finalize")
    charges = await price_usage(session, tenant, row.plans, row.period_start, row.period_end)
    late = await late_usage(session, tenant)
    lines = [c.line() for c in charges] + [line for item in late for line in item.lines]
    await finalize_draft(session, deps, tenant, invoice, lines, at)
    _billed(tenant, row, charges, at)
    settle_late(tenant, late, at)
    return invoice


async def finalize_due(deps: Deps, *, test_clock_id: str | None = None) -> int:
    """Finalize every renewal invoice whose usage grace window has passed on its tenant's
    clock, each in its own transaction; how many. One whose usage cannot be billed is
    left a draft, its subscription's ``renewalError`` saying why, and tried again by the
    next run."""
    async with deps.store.read() as session:
        query = select(UsageBillingRow.id, UsageBillingRow.tenant_id).where(
            UsageBillingRow.finalized_at.is_(None)
        )
        if test_clock_id is not None:
            query = query.join(TenantRow, TenantRow.id == UsageBillingRow.tenant_id).where(
                TenantRow.test_clock_id == test_clock_id
            )
        pending = (await session.execute(query.order_by(UsageBillingRow.finalize_at))).all()
    done = 0
    for row_id, tenant_id in pending:
        try:
            done += await _finalize_one(deps, tenant_id, row_id)
        except ValidationFailed as exc:
            await note_billing_error(deps, row_id, exc)
    return done


async def _finalize_one(deps: Deps, tenant_id: str, row_id: str) -> int:
    async with deps.store.transaction() as session:
        tenant = await locks.tenant(session, tenant_id)
        row = await session.get(UsageBillingRow, row_id, populate_existing=True)
        now = (await tenant_clock(session, deps, tenant)).now()
        if row is None or row.finalized_at is not None or row.finalize_at > now:
            return 0
        await finalize(session, deps, tenant, row, row.finalize_at)
        subscription = await session.get(SubscriptionRow, row.subscription_id)
        if subscription is not None and subscription.renewal_error is not None:
            subscription.renewal_error = subscription.renewal_failed_at = None
        return 1


async def note_billing_error(deps: Deps, row_id: str, exc: ValidationFailed) -> None:
    """Show why a period's usage cannot be billed on its subscription (``renewalError``),
    in the audit trail and the log, once per distinct reason."""
    async with deps.store.transaction() as session:
        row = await session.get(UsageBillingRow, row_id)
        if row is None:
            return
        tenant = await locks.tenant(session, row.tenant_id)
        subscription = await locks.subscription(session, row.subscription_id)
        if subscription is not None:
            now = (await tenant_clock(session, deps, tenant)).now()
            note_renewal_error(session, tenant, subscription, f"usage could not be billed: {exc.reason}", now)


def note_renewal_error(
    session: AsyncSession, tenant: TenantRow, subscription: SubscriptionRow, reason: str, at: datetime
) -> None:
    """Record why a renewal (or its usage) could not be billed, where an operator sees it:
    ``Subscription.renewalError``, an audit entry and an ERROR log line, each once per
    distinct reason; the billing runs try again, quietly."""
    reason = reason[:1000]
    if subscription.renewal_error == reason:
        return
    subscription.renewal_error, subscription.renewal_failed_at = reason, at
    audit.record(
        session,
        operator(),
        tenant_id=tenant.id,
        action="subscription.renewal_failed",
        subject_id=subscription.id,
        before=None,
        after={"reason": reason},
        at=at,
    )
    log.error("subscription %s cannot be renewed: %s", subscription.id, reason)
