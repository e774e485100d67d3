"""Members take seats. Inviting checks for a free seat of the member's type and inserts
the member as one atomic step under the tenant's and its subscription's row locks
(PostgreSQL: both taken by one statement, then one statement counts, checks and inserts)
inside a write transaction (SQLite: BEGIN IMMEDIATE), so concurrent invites queue and N
of them for k free seats admit exactly k, each holding the locks for a few round trips.
What the tenant's clock has made due (a period that ended...) is applied first, as the
worker would."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import CompoundSelect

from models.kernel.enums import MemberStatus, SeatType, SubscriptionStatus
from models.kernel.errors import SubscriptionNotActive, ValidationFailed
from models.kernel.ids import new_id
from models.members.due import due_elsewhere, due_on_subscription
from models.members.inputs import MemberInvite
from models.platform import audit, locks
from models.platform.access import Principal, require_tenant, require_visible
from models.platform.clocks import tenant_clock
from models.platform.deps import Deps
from models.seats.changes import seats_changed
from models.seats.queries import admission, admit, seats_in_use
from models.seats.rules import check_seat_free
from models.subscriptions.queries import seat_totals_of
from models.subscriptions.timeline import renew_first
from models.tables import MemberRow, TenantRow


def _member_state(member: MemberRow) -> dict[str, Any]:
    return {"id": member.id, "email": member.email, "seatType": member.seat_type, "status": member.status}


def _seats(seat_type: SeatType, total: int, used: int) -> dict[str, Any]:
    return {"seatType": seat_type.value, "total": total, "used": used}


@cache
def _admission(dialect: str) -> CompoundSelect:
    """The admitting statement (``seats.queries.admission``), held back when the tenant's
    clock has made an invoice's or a credit grant's moment due (``due_elsewhere``)."""
    return admission(due_elsewhere(), postgresql=dialect == "postgresql")


def _check_active(tenant_id: str, subscription: Any) -> Any:
    """The live subscription (a light row or a ``SubscriptionRow``), if it takes new members."""
    if subscription is None or subscription.status is SubscriptionStatus.CANCELLED:
        raise SubscriptionNotActive(
            f"Tenant {tenant_id!r} has no active subscription, so it has no seats; subscribe first."
        )
    if subscription.status in (SubscriptionStatus.UNPAID, SubscriptionStatus.PAUSED):
        # Its seats and members are kept, but no one new joins an account that is not paying.
        raise SubscriptionNotActive(
            f"Subscription {subscription.id!r} is {subscription.status.value}: no one can be invited "
            "until "
            + (
                "what is overdue is paid."
                if subscription.status is SubscriptionStatus.UNPAID
                else "it resumes (resumeSubscription)."
            )
        )
    return subscription


async def invite_member(deps: Deps, actor: Principal, spec: MemberInvite) -> MemberRow:
    """Under the locks (``locks.tenant_and_live_subscription_rows``): one statement that
    counts the seats and inserts the member (``seats.queries.admit``), then the audit
    entry and the event, written at the commit. What the tenant's clock has made due is
    applied first (``renew_first``), only when something is: the subscription's own
    moments are read from its locked row, the invoices' and credit grants' ride along in
    the admitting statement, which then inserts nothing."""
    require_tenant(actor, spec.tenant_id)
    email = spec.email.lower()
    member_values = {
        "id": new_id("mem"),
        "tenant_id": spec.tenant_id,
        "email": email,
        "seat_type": spec.seat_type,
        "status": MemberStatus.ACTIVE,
        "invited_by": actor.api_key_id,
    }
    statement = _admission(deps.store.dialect)  # built once per process, before any lock
    async with deps.store.transaction() as session:
        live = await locks.tenant_and_live_subscription_rows(session, spec.tenant_id)
        subscription: Any = live.subscription
        now = live.frozen_time or deps.clock.now()  # clocks.clock_for_tenant
        caught_up = subscription is not None and due_on_subscription(subscription, now)
        while True:
            if caught_up:  # the slow path, as every other change takes it
                tenant = await locks.tenant(session, spec.tenant_id)
                subscription = await locks.live_subscription(session, tenant.id)
                now = await renew_first(session, deps, tenant, subscription)
                await session.flush()
            subscription = _check_active(spec.tenant_id, subscription)
            values = {**member_values, "created_at": now}
            params = {**values, "subscription_id": subscription.id, "plan_id": subscription.plan_id}
            admission = await admit(session, statement, {**params, "now": now, "look": not caught_up})
            if not admission.held_back:
                break
            caught_up = True
        if admission.taken is not None:
            raise ValidationFailed(
                "input.email", f"{email} is already a member of this team ({admission.taken})"
            )
        total, used = admission.totals[spec.seat_type], admission.used.get(spec.seat_type, 0)
        check_seat_free(spec.seat_type, total, used)
        member = MemberRow(**values)
        audit.record(
            session,
            actor,
            tenant_id=member.tenant_id,
            action="member.invited",
            subject_id=member.id,
            before={"member": None, "seats": _seats(spec.seat_type, total, used)},
            after={"member": _member_state(member), "seats": _seats(spec.seat_type, total, used + 1)},
            at=now,
        )
        seats_changed(
            session,
            deps,
            member.tenant_id,
            "member.invited",
            admission.totals,
            {**admission.used, spec.seat_type: used + 1},
            now,
            member.id,
        )
    return member


async def remove_member(deps: Deps, actor: Principal, member_id: str) -> MemberRow:
    """Free the member's seat. Removing someone already removed changes nothing."""
    async with deps.store.transaction() as session:
        found = await session.get(MemberRow, member_id)
        require_visible(found is not None and actor.can_manage(found.tenant_id), "Member", member_id)
        # The lock order: the tenant, its subscription, then the member.
        tenant: TenantRow = await locks.tenant(session, found.tenant_id)
        subscription = await locks.live_subscription(session, found.tenant_id)
        member = await locks.member(session, member_id)
        if member.status is MemberStatus.REMOVED:
            return member
        seat_type = member.seat_type
        totals = await seat_totals_of(session, subscription)
        total = totals[seat_type]
        (used_by_type,) = await seats_in_use(session, [member.tenant_id])
        used = used_by_type.get(seat_type, 0)
        before = _member_state(member)
        now = (await tenant_clock(session, deps, tenant)).now()
        member.status = MemberStatus.REMOVED
        member.removed_at = now
        audit.record(
            session,
            actor,
            tenant_id=member.tenant_id,
            action="member.removed",
            subject_id=member.id,
            before={"member": before, "seats": _seats(seat_type, total, used)},
            after={"member": _member_state(member), "seats": _seats(seat_type, total, used - 1)},
            at=now,
        )
        seats_changed(
            session,
            deps,
            member.tenant_id,
            "member.removed",
            totals,
            {**used_by_type, seat_type: used - 1},
            now,
            member.id,
        )
    return member
