"""Every row lock the services take, and the one order they take them in.

A writer that holds several locks takes them top to bottom in this list, never back up,
so two writers can only ever wait for each other, not deadlock:

    test clock                 advancing a clock runs the renewals of its tenants after it
    tenant(s), in id order     serializes a tenant's billing: subscribes, changes, renewals,
                               invoice numbers, usage ingestion, credit-ledger reads
    subscription               serializes seat counting against its purchase: invites,
                               removals, plan changes, lifecycle transitions
    member                     one removal at a time
    invoice                    payments and provider results on one invoice
    provider task              a worker's result against a newer claim
    catalog: plan, then add-on attaching, archiving, usage charges, feature grants;
                               buyers read add-ons FOR SHARE
    feature, then a grant      archiving a feature, replacing or revoking a grant
    meter, API key             single-row updates
    webhook endpoint, then     deleting an endpoint waits for attempts being recorded;
    its deliveries             recording one counts the endpoint's timeouts (its circuit)

On PostgreSQL the row locks are ``FOR NO KEY UPDATE`` (``ROW_LOCK``): they queue other
writers of the row but not inserts whose foreign keys point at it, so a transaction
holding a tenant and another inserting a member of that tenant cannot deadlock. On
SQLite every write transaction starts with ``BEGIN IMMEDIATE`` and holds the database's
one write lock, so these statements are plain reads there and the order holds trivially.
Before it, a process's writers queue on one asyncio lock (``Store.transaction``): SQLite's
own wait for its lock is a poll with sleeps of up to 100 ms, which left the database idle
between writers; the in-process queue hands the lock on at once (other processes still
wait on SQLite's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import SubscriptionStatus
from models.kernel.errors import NotFound
from models.platform.store import ROW_LOCK
from models.tables import (
    AddonRow,
    ApiKeyRow,
    FeatureGrantRow,
    FeatureRow,
    InvoiceRow,
    MemberRow,
    MeterRow,
    PlanRow,
    ProviderTaskRow,
    SubscriptionRow,
    TenantRow,
    TestClockRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
)


async def _row(session: AsyncSession, table: type[Any], row_id: Any) -> Any:
    """The row, locked, read afresh even when the session already holds it."""
    return await session.get(table, row_id, with_for_update=ROW_LOCK, populate_existing=True)


async def test_clock(session: AsyncSession, clock_id: str) -> TestClockRow | None:
    """Before its tenants: moving a clock then renews what fell due for them."""
    return await _row(session, TestClockRow, clock_id)


async def tenant(session: AsyncSession, tenant_id: str) -> TenantRow:
    """The tenant (NOT_FOUND if there is none): its billing happens one writer at a time."""
    row = await _row(session, TenantRow, tenant_id)
    if row is None:
        raise NotFound("Tenant", tenant_id)
    return row


async def tenant_if_any(session: AsyncSession, tenant_id: str) -> TenantRow | None:
    """``tenant``, or None when there is no such tenant."""
    return await _row(session, TenantRow, tenant_id)


async def tenants(session: AsyncSession, tenant_ids: Iterable[str]) -> list[TenantRow]:
    """Several tenants, in id order (a usage batch may name many): two batches naming the
    same tenants lock them in the same order."""
    ids = sorted(set(tenant_ids))
    if not ids:
        return []
    query = select(TenantRow).where(TenantRow.id.in_(ids)).order_by(TenantRow.id).with_for_update(**ROW_LOCK)
    return list((await session.scalars(query.execution_options(populate_existing=True))).all())


async def subscription(session: AsyncSession, subscription_id: str) -> SubscriptionRow | None:
    """After its tenant: seats are counted against what it holds."""
    return await _row(session, SubscriptionRow, subscription_id)


async def live_subscription(session: AsyncSession, tenant_id: str) -> SubscriptionRow | None:
    """The tenant's subscription that is not cancelled (at most one), after the tenant."""
    query = (
        select(SubscriptionRow)
        .where(SubscriptionRow.tenant_id == tenant_id, SubscriptionRow.status != SubscriptionStatus.CANCELLED)
        .with_for_update(**ROW_LOCK)
        .execution_options(populate_existing=True)
    )
    return await session.scalar(query)


_t, _s, _c = TenantRow.__table__.c, SubscriptionRow.__table__.c, TestClockRow.__table__.c
_TENANT_EXISTS = select(_t.id).where(_t.id == bindparam("tenant_id"))
_CLOCK = select(_c.frozen_time).where(_c.id == bindparam("clock_id"))
# A tenant's live subscription, with the columns a seat change decides by.
_LIVE = (
    select(
        _t.test_clock_id,
        _s.id,
        _s.plan_id,
        _s.status,
        _s.current_period_end,
        _s.trial_end,
        _s.trial_reminder_at,
        _s.resumes_at,
        _s.grace_ends_at,
    )
    .join_from(
        TenantRow.__table__,
        SubscriptionRow.__table__,
        (_s.tenant_id == _t.id) & (_s.status != SubscriptionStatus.CANCELLED),
    )
    .where(_t.id == bindparam("tenant_id"))
)
# Both rows in one statement, the tenant's first (PostgreSQL locks a row's relations in
# the order its OF clause names them).
_LIVE_LOCKED = _LIVE.with_for_update(of=[TenantRow.__table__, SubscriptionRow.__table__], **ROW_LOCK)


@dataclass(frozen=True, slots=True)
class LiveRows:
    subscription: Row[Any] | None  # ``_LIVE``'s columns; None: the tenant has no live subscription
    frozen_time: datetime | None  # its test clock's, read once the locks are held; None: no test clock


async def tenant_and_live_subscription_rows(session: AsyncSession, tenant_id: str) -> LiveRows:
    """``tenant`` then ``live_subscription``, both locked by one statement, as light rows
    that the session does not keep (NOT_FOUND when there is no such tenant; nothing is
    locked when it has no live subscription). SQLite: plain reads under the write lock."""
    params = {"tenant_id": tenant_id}
    postgres = session.bind.dialect.name == "postgresql"
    found = (await session.execute(_LIVE_LOCKED if postgres else _LIVE, params)).first()
    if found is None:
        if (await session.execute(_TENANT_EXISTS, params)).first() is None:
            raise NotFound("Tenant", tenant_id)
        return LiveRows(None, None)
    if found.test_clock_id is None:
        return LiveRows(found, None)
    return LiveRows(found, await session.scalar(_CLOCK, {"clock_id": found.test_clock_id}))


async def member(session: AsyncSession, member_id: str) -> MemberRow | None:
    """After the tenant's subscription, as invites take them."""
    return await _row(session, MemberRow, member_id)


async def invoice(session: AsyncSession, invoice_id: str) -> InvoiceRow | None:
    """After its tenant: what the provider reports about one invoice applies once."""
    return await _row(session, InvoiceRow, invoice_id)


async def invoice_by_provider_id(session: AsyncSession, provider_invoice_id: str) -> InvoiceRow | None:
    query = (
        select(InvoiceRow)
        .where(InvoiceRow.provider_invoice_id == provider_invoice_id)
        .with_for_update(**ROW_LOCK)
        .execution_options(populate_existing=True)
    )
    return await session.scalar(query)


async def provider_task(session: AsyncSession, task_id: int) -> ProviderTaskRow | None:
    """A worker records its result against the claim it holds, not a newer one."""
    return await session.get(ProviderTaskRow, task_id, with_for_update=True, populate_existing=True)


async def plan(session: AsyncSession, plan_id: str) -> PlanRow | None:
    """Before its add-ons: concurrent attaches of one pair queue."""
    return await _row(session, PlanRow, plan_id)


async def addon(session: AsyncSession, addon_id: str) -> AddonRow | None:
    """An archive in flight finishes before an attach reads it."""
    return await _row(session, AddonRow, addon_id)


async def addons_for_share(session: AsyncSession, addon_ids: Sequence[str]) -> list[AddonRow]:
    """Add-ons being bought, FOR SHARE: one being archived right now is read once the
    archive commits, while buyers do not wait for each other."""
    query = select(AddonRow).where(AddonRow.id.in_(addon_ids)).with_for_update(read=True)
    return list((await session.scalars(query)).all())


async def feature(session: AsyncSession, feature_id: str) -> FeatureRow | None:
    """After the plan or add-on that grants it: archiving it, or granting it."""
    return await _row(session, FeatureRow, feature_id)


async def feature_grant(session: AsyncSession, grant_id: str) -> FeatureGrantRow | None:
    """One grant at a time replaced or revoked (the partial unique index holds one active)."""
    return await _row(session, FeatureGrantRow, grant_id)


async def meter(session: AsyncSession, meter_id: str) -> MeterRow | None:
    return await _row(session, MeterRow, meter_id)


async def api_key(session: AsyncSession, key_id: str) -> ApiKeyRow | None:
    return await _row(session, ApiKeyRow, key_id)


async def webhook_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpointRow | None:
    """Before its deliveries: deleting an endpoint waits for attempts being recorded."""
    return await session.get(WebhookEndpointRow, endpoint_id, with_for_update=True, populate_existing=True)


async def webhook_endpoint_of_attempt(session: AsyncSession, endpoint_id: str) -> WebhookEndpointRow | None:
    """Before the delivery whose attempt is recorded: the attempt counts the endpoint's
    timeouts in a row (its circuit), one attempt at a time. ``FOR NO KEY UPDATE``, so
    deliveries inserted for it meanwhile do not wait; a delete still does."""
    return await _row(session, WebhookEndpointRow, endpoint_id)


async def webhook_deliveries_of(session: AsyncSession, endpoint_id: str) -> None:
    """Every delivery of an endpoint (after the endpoint)."""
    await session.execute(
        select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.endpoint_id == endpoint_id).with_for_update()
    )


async def webhook_delivery(session: AsyncSession, delivery_id: str) -> WebhookDeliveryRow | None:
    return await session.get(WebhookDeliveryRow, delivery_id, with_for_update=True, populate_existing=True)


async def invoice_prefixes(session: AsyncSession) -> None:
    """Choosing a new tenant's invoice prefix: two new "Acme"s must not both pick ACME.
    A transaction-scoped advisory lock on PostgreSQL (nothing to lock a row of yet)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('tenants.invoice_prefix'))"))
