"""Subscribing a tenant to a plan with add-on quantities, and reading subscriptions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from models.catalog.service import buyable_addons
from models.invoicing.rules import check_representable, recurring_lines
from models.invoicing.service import invoice_totals, issue_invoice
from models.kernel.enums import InvoiceReason, SeatType
from models.kernel.errors import AlreadySubscribed, CurrencyMismatch, NotFound, SeatsInUse, ValidationFailed
from models.kernel.ids import new_id
from models.kernel.periods import period_boundary
from models.kernel.validation import Input
from models.platform import audit, events, idempotency
from models.platform.access import Principal, require_tenant, require_visible
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.platform.events import EventType
from models.platform.reads import rows_by_ids
from models.platform.store import ROW_LOCK
from models.seats.queries import members_of_tenants, seats_in_use
from models.seats.rules import check_bounds, overbooked, seat_totals
from models.subscriptions.queries import live_subscriptions, subscription_addons
from models.tables import AddonRow, PlanRow, SubscriptionAddonRow, SubscriptionRow, TenantRow

ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class AddonQuantity(Input):
    addon_id: ObjectId
    quantity: Annotated[int, Field(ge=0, le=1_000_000)]


class SubscribeSpec(Input):
    tenant_id: ObjectId
    plan_id: ObjectId
    addons: Annotated[list[AddonQuantity], Field(max_length=100)] = []
    idempotency_key: IdempotencyKey | None = None


def distinct_addons(addons: Sequence[AddonQuantity], field: str) -> list[tuple[str, int]]:
    seen: set[str] = set()
    for index, item in enumerate(addons):
        if item.addon_id in seen:
            raise ValidationFailed(
                f"{field}[{index}].addonId", "lists an add-on twice; give each add-on once with its total quantity"
            )
        seen.add(item.addon_id)
    return [(item.addon_id, item.quantity) for item in addons]


async def lock_tenant(session: AsyncSession, tenant_id: str) -> TenantRow:
    tenant = await session.get(TenantRow, tenant_id, with_for_update=ROW_LOCK)
    if tenant is None:
        raise NotFound("Tenant", tenant_id)
    return tenant


async def plan_for(session: AsyncSession, tenant: TenantRow, plan_id: str) -> PlanRow:
    """A plan the tenant can be billed on: it exists and is priced in the tenant's currency."""
    plan = await session.get(PlanRow, plan_id)
    if plan is None:
        raise NotFound("Plan", plan_id)
    if plan.currency != tenant.currency:
        raise CurrencyMismatch(
            f"Plan {plan.code!r} is priced in {plan.currency} but the tenant is billed in {tenant.currency}."
        )
    return plan


def seat_state(totals: dict[SeatType, int], used: dict[SeatType, int]) -> dict[str, Any]:
    return {t.value: {"total": totals[t], "used": used.get(t, 0)} for t in SeatType}


async def check_members_fit(
    session: AsyncSession, tenant_id: str, totals: dict[SeatType, int]
) -> dict[SeatType, int]:
    """The seats members hold by type; SEATS_IN_USE when that is more than ``totals`` give."""
    (used,) = await seats_in_use(session, [tenant_id])
    over = overbooked(totals, used)
    if not over:
        return used
    (members,) = await members_of_tenants(session, [tenant_id])
    holding = [m for m in members if m.seat_type in over]
    for member in holding:  # keep them readable after the rollback this error causes
        session.expunge(member)
    excess = ", ".join(f"{n} {t.value}" for t, n in over.items())
    raise SeatsInUse(
        f"Members hold more seats than this would leave: remove {excess} member(s) first.",
        members_to_remove=sum(over.values()),
        members=holding,
    )


async def subscribe(deps: Deps, actor: Principal, data: Any) -> SubscriptionRow:
    """Start the tenant's subscription now (on its clock) and issue its first invoice:
    the base price and each add-on for the first period, in advance."""
    spec: SubscribeSpec = SubscribeSpec.parse(data)
    require_tenant(actor, spec.tenant_id)
    wanted = distinct_addons(spec.addons, "input.addons")
    async with deps.store.transaction() as session:
        tenant = await lock_tenant(session, spec.tenant_id)  # serializes subscribes of a tenant
        now = (await tenant_clock(session, deps, tenant)).now()
        key = spec.idempotency_key
        if key and (first := await idempotency.replayed(session, tenant.id, "subscribe", key, spec, deps.clock.now())):
            return await session.get(SubscriptionRow, first)
        (live,) = await live_subscriptions(session, [tenant.id])
        if live is not None:
            raise AlreadySubscribed(
                f"Tenant {tenant.id!r} already has subscription {live.id!r}; use changePlan to change it."
            )
        plan = await plan_for(session, tenant, spec.plan_id)
        items = await buyable_addons(session, plan, wanted, "input.addons")
        totals = seat_totals(plan, items)
        check_bounds(plan, sum(totals.values()))
        used = await check_members_fit(session, tenant.id, totals)
        lines = recurring_lines(plan, items)
        due = await invoice_totals(session, tenant, lines)
        check_representable(lines, due.total, due.balance_after)

        try:
            end = period_boundary(now, plan.interval, 1, tenant.timezone)
        except (ValueError, OverflowError):
            raise ValidationFailed(
                "input.tenantId", f"the tenant's clock ({now.isoformat()}) leaves no room for a period before year 10000"
            ) from None
        subscription = SubscriptionRow(
            id=new_id("sub"), tenant_id=tenant.id, plan_id=plan.id, billing_anchor=now,
            current_period_start=now, current_period_end=end, created_at=now, updated_at=now,
        )
        session.add(subscription)
        await session.flush()  # the add-on rows refer to it (no ORM relationship orders them)
        session.add_all(
            SubscriptionAddonRow(subscription_id=subscription.id, addon_id=a.id, quantity=q) for a, q in items
        )
        await issue_invoice(
            session, deps, tenant=tenant, subscription_id=subscription.id, reason=InvoiceReason.SUBSCRIBE,
            currency=plan.currency, lines=lines, totals=due,
            period=(now, end), at=now,
        )
        audit.record(
            session, actor, tenant_id=tenant.id, action="subscription.created", subject_id=subscription.id,
            before=None, after={"subscription": snapshot(subscription, plan, items), "seats": seat_state(totals, used)},
            at=now,
        )
        events.emit(session, deps.bus, EventType.SUBSCRIPTION_ACTIVE, tenant.id,
                    events.subscription_data(subscription, plan), now)
        events.emit(session, deps.bus, EventType.SEATS_CHANGED, tenant.id,
                    events.seats_data(tenant.id, "subscription.changed", None, totals, used), now)
        if key:
            idempotency.remember(session, tenant.id, "subscribe", key, spec, subscription.id, deps.clock.now())
    return subscription


def snapshot(subscription: SubscriptionRow, plan: PlanRow, items: Sequence[tuple[AddonRow, int]]) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "status": subscription.status,
        "plan": plan.code,
        "addons": [{"addon": a.code, "quantity": q} for a, q in items],
    }


async def get_subscription(deps: Deps, actor: Principal, subscription_id: str) -> SubscriptionRow:
    async with deps.store.read() as session:
        row = await session.get(SubscriptionRow, subscription_id)
    require_visible(row is not None and actor.can_manage(row.tenant_id), "Subscription", subscription_id)
    return row



async def held_items(session: AsyncSession, subscription_id: str) -> list[tuple[AddonRow, int]]:
    """The add-ons a subscription has, with their quantities."""
    (held,) = await subscription_addons(session, [subscription_id])
    addons = await rows_by_ids(session, AddonRow, [h.addon_id for h in held])
    return [(addon, h.quantity) for addon, h in zip(addons, held, strict=True) if addon is not None]


async def replace_addons(session: AsyncSession, subscription_id: str, items: Sequence[tuple[AddonRow, int]]) -> None:
    """Make the subscription's add-on rows the given totals (quantity 0 rows are not kept)."""
    (held,) = await subscription_addons(session, [subscription_id])
    rows = {row.addon_id: row for row in held}
    for addon, quantity in items:
        row = rows.pop(addon.id, None)
        if row is None:
            session.add(SubscriptionAddonRow(subscription_id=subscription_id, addon_id=addon.id, quantity=quantity))
        else:
            row.quantity = quantity
    for row in rows.values():
        await session.delete(row)


async def locked_subscription(
    session: AsyncSession, actor: Principal, subscription_id: str, *, lock: bool = True
) -> tuple[TenantRow, SubscriptionRow]:
    """The subscription (NOT_FOUND unless the key may manage its tenant) and its
    tenant, both row-locked in that order: tenant first, as every writer does."""
    found = await session.get(SubscriptionRow, subscription_id)
    require_visible(found is not None and actor.can_manage(found.tenant_id), "Subscription", subscription_id)
    if not lock:
        return await session.get(TenantRow, found.tenant_id), found
    tenant = await lock_tenant(session, found.tenant_id)
    subscription = await session.get(SubscriptionRow, subscription_id, with_for_update=ROW_LOCK, populate_existing=True)
    return tenant, subscription

