"""Members take seats. Inviting checks for a free seat of the member's type and
inserts the member as one atomic step: the tenant's live subscription is row-locked
(PostgreSQL) inside a write transaction (SQLite: BEGIN IMMEDIATE), so concurrent
invites queue and N of them for k free seats admit exactly k."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import EmailStr, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.kernel.enums import MemberStatus, SeatType
from models.kernel.errors import NoSeatsAvailable, NotFound, SubscriptionNotActive, ValidationFailed
from models.kernel.ids import new_id
from models.kernel.validation import Input
from models.platform import audit, events
from models.platform.access import Principal, require_tenant, require_visible
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.platform.events import EventType
from models.platform.reads import rows_by_ids
from models.platform.store import ROW_LOCK
from models.seats.queries import seats_in_use
from models.seats.rules import seat_totals
from models.subscriptions.queries import live_subscriptions, subscription_addons
from models.subscriptions.renewals import is_due, renew_subscription
from models.tables import AddonRow, MemberRow, PlanRow, SubscriptionRow, TenantRow


class InviteSpec(Input):
    tenant_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    email: Annotated[EmailStr, StringConstraints(max_length=320)]
    seat_type: SeatType = SeatType.FULL


async def seat_totals_of(session: AsyncSession, subscription: SubscriptionRow | None) -> dict[SeatType, int]:
    if subscription is None:
        return seat_totals(None, [])
    plan = await session.get(PlanRow, subscription.plan_id)
    (held,) = await subscription_addons(session, [subscription.id])
    addons = await rows_by_ids(session, AddonRow, [h.addon_id for h in held])
    return seat_totals(plan, zip(addons, (h.quantity for h in held), strict=True))


def _member_state(member: MemberRow) -> dict[str, Any]:
    return {"id": member.id, "email": member.email, "seatType": member.seat_type, "status": member.status}


def _seats(seat_type: SeatType, total: int, used: int) -> dict[str, Any]:
    return {"seatType": seat_type.value, "total": total, "used": used}


class _Overdue(Exception):
    """The subscription's period ended and the billing run has not renewed it yet."""

    def __init__(self, tenant_id: str, subscription_id: str) -> None:
        self.tenant_id, self.subscription_id = tenant_id, subscription_id


async def invite_member(deps: Deps, actor: Principal, data: Any) -> MemberRow:
    spec: InviteSpec = InviteSpec.parse(data)
    require_tenant(actor, spec.tenant_id)
    while True:
        try:
            return await _invite(deps, actor, spec)
        except _Overdue as due:
            # Bill what fell due first (it may cancel, or apply a scheduled change
            # that takes seats away), as the worker would have.
            await renew_subscription(deps, due.tenant_id, due.subscription_id)


async def _invite(deps: Deps, actor: Principal, spec: InviteSpec) -> MemberRow:
    email = spec.email.lower()
    async with deps.store.transaction() as session:
        tenant = await session.get(TenantRow, spec.tenant_id)
        if tenant is None:
            raise NotFound("Tenant", spec.tenant_id)
        (subscription,) = await live_subscriptions(session, [tenant.id], for_update=True)
        if subscription is None:
            raise SubscriptionNotActive(
                f"Tenant {tenant.id!r} has no active subscription, so it has no seats; subscribe first."
            )
        now = (await tenant_clock(session, deps, tenant)).now()
        if is_due(subscription, now):
            raise _Overdue(tenant.id, subscription.id)
        taken = await session.scalar(
            select(MemberRow.id).where(
                MemberRow.tenant_id == tenant.id,
                MemberRow.email == email,
                MemberRow.status == MemberStatus.ACTIVE,
            )
        )
        if taken is not None:
            raise ValidationFailed("input.email", f"{email} is already a member of this team ({taken})")
        totals = await seat_totals_of(session, subscription)
        total = totals[spec.seat_type]
        (used_by_type,) = await seats_in_use(session, [tenant.id])
        used = used_by_type.get(spec.seat_type, 0)
        if used >= total:
            raise NoSeatsAvailable(spec.seat_type.value)
        member = MemberRow(
            id=new_id("mem"), tenant_id=tenant.id, email=email, seat_type=spec.seat_type,
            invited_by=actor.api_key_id, created_at=now,
        )
        session.add(member)
        audit.record(
            session, actor, tenant_id=tenant.id, action="member.invited", subject_id=member.id,
            before={"member": None, "seats": _seats(spec.seat_type, total, used)},
            after={"member": _member_state(member), "seats": _seats(spec.seat_type, total, used + 1)},
            at=now,
        )
        _seats_changed(session, deps, "member.invited", member, totals, {**used_by_type, spec.seat_type: used + 1}, now)
    return member


async def remove_member(deps: Deps, actor: Principal, member_id: str) -> MemberRow:
    """Free the member's seat. Removing someone already removed changes nothing."""
    async with deps.store.transaction() as session:
        found = await session.get(MemberRow, member_id)
        require_visible(found is not None and actor.can_manage(found.tenant_id), "Member", member_id)
        # The same lock order as invites: the subscription, then the member.
        (subscription,) = await live_subscriptions(session, [found.tenant_id], for_update=True)
        member = await session.get(MemberRow, member_id, with_for_update=ROW_LOCK, populate_existing=True)
        if member.status == MemberStatus.REMOVED:
            return member
        seat_type = member.seat_type
        totals = await seat_totals_of(session, subscription)
        total = totals[seat_type]
        (used_by_type,) = await seats_in_use(session, [member.tenant_id])
        used = used_by_type.get(seat_type, 0)
        before = _member_state(member)
        tenant = await session.get(TenantRow, member.tenant_id)
        now = (await tenant_clock(session, deps, tenant)).now()
        member.status = MemberStatus.REMOVED
        member.removed_at = now
        audit.record(
            session, actor, tenant_id=member.tenant_id, action="member.removed", subject_id=member.id,
            before={"member": before, "seats": _seats(seat_type, total, used)},
            after={"member": _member_state(member), "seats": _seats(seat_type, total, used - 1)},
            at=now,
        )
        _seats_changed(session, deps, "member.removed", member, totals, {**used_by_type, seat_type: used - 1}, now)
    return member


def _seats_changed(
    session: AsyncSession, deps: Deps, reason: str, member: MemberRow, totals: dict[SeatType, int],
    used: dict[SeatType, int], at: datetime,
) -> None:
    events.emit(session, deps.bus, EventType.SEATS_CHANGED, member.tenant_id,
                events.seats_data(member.tenant_id, reason, member.id, totals, used), at)
