"""Queries shared by services and DataLoaders: each answers for many parents in
one statement, lined up with the keys it was given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.billing.seats import SeatType
from models.store.engine import ROW_LOCK
from models.tables import (
    AddonRow,
    CreditEntryRow,
    InvoiceLineRow,
    InvoiceRow,
    MemberRow,
    MemberStatus,
    MeterRow,
    PlanAddonRow,
    ProviderTaskRow,
    SubscriptionAddonRow,
    SubscriptionRow,
    TaskStatus,
    UsageChargeRow,
)
from models.tables.subscriptions import SubscriptionStatus

Row = TypeVar("Row")


async def rows_by_ids(session: AsyncSession, table: type[Row], ids: Sequence[str]) -> list[Row | None]:
    """One SELECT for many ids; the result lines up with ``ids`` (None where missing)."""
    id_column: Any = table.id  # type: ignore[attr-defined]
    rows = (await session.scalars(select(table).where(id_column.in_(ids)))).all()
    found = {row.id: row for row in rows}  # type: ignore[attr-defined]
    return [found.get(i) for i in ids]


async def _grouped(session: AsyncSession, query: Any, key: Any, keys: Sequence[str]) -> list[list[Any]]:
    """Rows of ``query`` whose ``key`` is in ``keys``, as one list per key."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in (await session.execute(query.where(key.in_(keys)).add_columns(key))).all():
        groups[row[-1]].append(row[0])
    return [groups.get(k, []) for k in keys]


async def live_subscriptions(
    session: AsyncSession, tenant_ids: Sequence[str], *, for_update: bool = False
) -> list[SubscriptionRow | None]:
    """Each tenant's subscription that is not cancelled (there is at most one)."""
    query = select(SubscriptionRow).where(SubscriptionRow.status != SubscriptionStatus.CANCELLED.value)
    if for_update:
        query = query.with_for_update(**ROW_LOCK)
    groups = await _grouped(session, query, SubscriptionRow.tenant_id, tenant_ids)
    return [group[0] if group else None for group in groups]


async def subscription_addons(
    session: AsyncSession, subscription_ids: Sequence[str]
) -> list[list[SubscriptionAddonRow]]:
    query = select(SubscriptionAddonRow).order_by(SubscriptionAddonRow.addon_id)
    return await _grouped(session, query, SubscriptionAddonRow.subscription_id, subscription_ids)


async def addons_of_plans(session: AsyncSession, plan_ids: Sequence[str]) -> list[list[AddonRow]]:
    query = (
        select(AddonRow)
        .join(PlanAddonRow, PlanAddonRow.addon_id == AddonRow.id)
        .order_by(AddonRow.id)
    )
    return await _grouped(session, query, PlanAddonRow.plan_id, plan_ids)


async def usage_charges_of_plans(
    session: AsyncSession, plan_ids: Sequence[str]
) -> list[list[tuple[UsageChargeRow, MeterRow]]]:
    """Each plan's usage charges with their meters, by meter name."""
    groups: dict[str, list[tuple[UsageChargeRow, MeterRow]]] = defaultdict(list)
    rows = await session.execute(
        select(UsageChargeRow, MeterRow).join(MeterRow, MeterRow.id == UsageChargeRow.meter_id)
        .where(UsageChargeRow.plan_id.in_(plan_ids)).order_by(MeterRow.name)
    )
    for charge, meter in rows.all():
        groups[charge.plan_id].append((charge, meter))
    return [groups.get(plan_id, []) for plan_id in plan_ids]


async def seats_in_use(session: AsyncSession, tenant_ids: Sequence[str]) -> list[dict[SeatType, int]]:
    """Active members per seat type, per tenant."""
    counts: dict[str, dict[SeatType, int]] = defaultdict(dict)
    query = (
        select(MemberRow.tenant_id, MemberRow.seat_type, func.count())
        .where(MemberRow.tenant_id.in_(tenant_ids), MemberRow.status == MemberStatus.ACTIVE.value)
        .group_by(MemberRow.tenant_id, MemberRow.seat_type)
    )
    for tenant_id, seat_type, count in (await session.execute(query)).all():
        counts[tenant_id][SeatType(seat_type)] = count
    return [counts.get(t, {}) for t in tenant_ids]


async def members_of_tenants(
    session: AsyncSession, tenant_ids: Sequence[str], *, include_removed: bool = False
) -> list[list[MemberRow]]:
    query = select(MemberRow).order_by(MemberRow.id)
    if not include_removed:
        query = query.where(MemberRow.status == MemberStatus.ACTIVE.value)
    return await _grouped(session, query, MemberRow.tenant_id, tenant_ids)


async def latest_invoices(
    session: AsyncSession, subscription_ids: Sequence[str]
) -> list[InvoiceRow | None]:
    newest = (
        select(func.max(InvoiceRow.id))
        .where(InvoiceRow.subscription_id.in_(subscription_ids))
        .group_by(InvoiceRow.subscription_id)
    )
    rows = (await session.scalars(select(InvoiceRow).where(InvoiceRow.id.in_(newest)))).all()
    found = {row.subscription_id: row for row in rows}
    return [found.get(s) for s in subscription_ids]


async def invoice_lines(session: AsyncSession, invoice_ids: Sequence[str]) -> list[list[Any]]:
    """Each invoice's lines in order, as read-only rows (attributes named as the
    model's): a page of invoices holds hundreds of lines, and building ORM objects
    for them cost more than reading them."""
    lines = InvoiceLineRow.__table__  # type: ignore[attr-defined]
    groups: dict[str, list[Any]] = defaultdict(list)
    query = select(lines).where(lines.c.invoice_id.in_(invoice_ids)).order_by(lines.c.position)
    for row in await session.execute(query):
        groups[row.invoice_id].append(row)
    return [groups.get(i, []) for i in invoice_ids]


async def newest_invoices(
    session: AsyncSession, keys: Sequence[tuple[str, int]]
) -> list[list[Any]]:
    """For each (tenant id, n): the tenant's n newest invoices, newest first, in one
    statement per distinct n (a window over the tenants), as read-only rows (see
    ``invoice_lines``)."""
    invoices = InvoiceRow.__table__  # type: ignore[attr-defined]
    found: dict[tuple[str, int], list[Any]] = {}
    for n in {n for _, n in keys}:
        tenant_ids = [t for t, size in keys if size == n]
        rank = (
            func.row_number()
            .over(partition_by=InvoiceRow.tenant_id, order_by=InvoiceRow.id.desc())
            .label("rank")
        )
        ranked = select(InvoiceRow.id, rank).where(InvoiceRow.tenant_id.in_(tenant_ids)).subquery()
        query = (
            select(invoices)
            .join(ranked, ranked.c.id == invoices.c.id)
            .where(ranked.c.rank <= n)
            .order_by(invoices.c.id.desc())
        )
        for row in await session.execute(query):
            found.setdefault((row.tenant_id, n), []).append(row)
    return [found.get(key, []) for key in keys]


async def credit_balances(session: AsyncSession, tenant_ids: Sequence[str]) -> list[int]:
    """Each tenant's credit balance: the sum of its ledger entries."""
    query = (
        select(CreditEntryRow.tenant_id, func.sum(CreditEntryRow.amount))
        .where(CreditEntryRow.tenant_id.in_(tenant_ids))
        .group_by(CreditEntryRow.tenant_id)
    )
    sums = {tenant_id: int(total) for tenant_id, total in (await session.execute(query)).all()}
    return [sums.get(t, 0) for t in tenant_ids]


async def provider_failures(session: AsyncSession, tenant_ids: Sequence[str]) -> list[str | None]:
    """Each tenant's oldest provider task the provider refused for good, as a sentence
    (None: nothing failed)."""
    query = (
        select(ProviderTaskRow)
        .where(ProviderTaskRow.tenant_id.in_(tenant_ids), ProviderTaskRow.status == TaskStatus.FAILED.value)
        .order_by(ProviderTaskRow.id)
    )
    found: dict[str, str] = {}
    for task in (await session.scalars(query)).all():
        what = "syncing the customer" if task.kind == "SYNC_CUSTOMER" else f"collecting invoice {task.subject_id}"
        found.setdefault(task.tenant_id, f"{what} failed after {task.attempts} attempt(s): {task.last_error}")
    return [found.get(t) for t in tenant_ids]
