"""The demo's subscription lifecycle: a tenant in its trial, one paying by invoice (net 14)
whose first invoice is overdue on its test clock, and one paused; and how every demo team
is subscribed. Seeded by ``demo.seed_demo`` through the services the API uses; safe to
run again."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from models.kernel.errors import AlreadySubscribed, NoSeatsAvailable, SubscriptionNotActive, ValidationFailed
from models.members import service as members
from models.members.inputs import MemberInvite
from models.platform.access import operator
from models.platform.deps import Deps
from models.subscriptions import service as subscriptions
from models.subscriptions.inputs import SubscriptionCreate, SubscriptionPause
from models.subscriptions.queries import live_subscriptions
from models.tables import AddonRow, PlanRow, SubscriptionRow, TenantRow, TestClockRow
from models.tenants.inputs import TenantCreate
from models.test_clocks import service as test_clocks

TRIAL_DAYS = 14  # the Professional plan's trial
NET_DAYS = 14  # the overdue tenant's payment terms
OVERDUE_EMAIL = "ap@kestrel.example"
# Its test clock starts this long ago and is advanced to now: the invoice issued at the
# start fell due (the end of day 14) and is overdue since day 15, within the grace days.
OVERDUE_CLOCK_DAYS = NET_DAYS + 6
PAUSED_EMAIL = "studio@quill.example"
PAUSED_DAYS = 30  # the paused tenant resumes by itself this long after the seed paused it

LIFECYCLE_TENANTS: list[dict[str, Any]] = [
    {
        "name": "Lumen Labs",
        "email": "founders@lumen.example",
        "currency": "USD",
        "timezone": "Europe/London",
        "sales_mode": "SELF_SERVE",
    },
    {
        "name": "Kestrel Engineering",
        "email": OVERDUE_EMAIL,
        "currency": "USD",
        "timezone": "America/Chicago",
        "sales_mode": "SALES_LED",
        "collection_method": "SEND_INVOICE",
        "days_until_due": NET_DAYS,
    },
    {
        "name": "Quill Studio",
        "email": PAUSED_EMAIL,
        "currency": "USD",
        "timezone": "America/Los_Angeles",
        "sales_mode": "SELF_SERVE",
    },
]
# Tenant (by email) -> plan, add-on quantities, members.
LIFECYCLE_TEAMS: dict[str, dict[str, Any]] = {
    "founders@lumen.example": {
        "plan": "professional",
        "addons": {"professional_seat": 3},
        "members": [("iris@lumen.example", "FULL"), ("omar@lumen.example", "FULL")],
    },
    OVERDUE_EMAIL: {
        "plan": "starter",
        "addons": {"starter_seat": 2},
        "members": [
            ("wren@kestrel.example", "FULL"),
            ("hale@kestrel.example", "FULL"),
            ("ives@kestrel.example", "FULL"),
        ],
    },
    PAUSED_EMAIL: {
        "plan": "per_user",
        "addons": {"user_seat": 4},
        "members": [
            ("nell@quill.example", "FULL"),
            ("rafe@quill.example", "FULL"),
            ("tove@quill.example", "FULL"),
        ],
    },
}


async def test_clocks_for(deps: Deps, specs: list[dict[str, Any]]) -> dict[str, str]:
    """A test clock, started ``OVERDUE_CLOCK_DAYS`` ago, for the overdue tenant if it is
    not there yet: email -> clock id, for ``TenantCreate.test_clock_id``."""
    async with deps.store.read() as session:
        there = await session.scalar(select(TenantRow.id).where(TenantRow.email == OVERDUE_EMAIL))
    if there is not None or OVERDUE_EMAIL not in {spec["email"] for spec in specs}:
        return {}
    start = deps.clock.now().replace(second=0, microsecond=0) - timedelta(days=OVERDUE_CLOCK_DAYS)
    clock = await test_clocks.create_test_clock(deps, operator(), start, "Kestrel Engineering: net 14")
    return {OVERDUE_EMAIL: clock.id}


def tenant_create(spec: dict[str, Any], clocks: dict[str, str]) -> TenantCreate:
    """A demo tenant's input, on its test clock if ``clocks`` has one for it."""
    return TenantCreate.parse({**spec, "test_clock_id": clocks.get(spec["email"])})


async def seed_lifecycle(deps: Deps) -> None:
    """Subscribe the lifecycle tenants (Lumen Labs starts its trial), then move Kestrel's
    clock past its invoice's due date and pause Quill Studio, once each."""
    subscribed = await seed_teams(deps, LIFECYCLE_TEAMS)
    await _overdue(deps)
    if PAUSED_EMAIL in subscribed:  # paused once, when subscribed: a later seed leaves it be
        resumes_at = deps.clock.now().replace(microsecond=0) + timedelta(days=PAUSED_DAYS)
        pause = SubscriptionPause.parse(
            {"subscription_id": subscribed[PAUSED_EMAIL], "resumes_at": resumes_at}
        )
        await subscriptions.pause_subscription(deps, operator(), pause)


async def seed_teams(deps: Deps, teams: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Subscribe each tenant of ``teams`` (by email: plan, add-on quantities, members with
    their seat types) and invite its members, skipping what is there; email ->
    subscription id of those subscribed now."""
    admin = operator()
    async with deps.store.read() as session:
        found = select(TenantRow.email, TenantRow.id).where(TenantRow.email.in_(list(teams)))
        tenant_ids = dict((await session.execute(found)).all())
        plans = dict((await session.execute(select(PlanRow.code, PlanRow.id))).all())
        addons = dict((await session.execute(select(AddonRow.code, AddonRow.id))).all())
    subscribed: dict[str, str] = {}
    for email, team in teams.items():
        tenant_id = tenant_ids[email]
        wanted = [{"addon_id": addons[code], "quantity": q} for code, q in team["addons"].items()]
        spec = {"tenant_id": tenant_id, "plan_id": plans[team["plan"]], "addons": wanted}
        try:
            subscribed[email] = (
                await subscriptions.subscribe(deps, admin, SubscriptionCreate.parse(spec))
            ).id
        except AlreadySubscribed:
            pass
        for member, seat_type in team["members"]:
            invite = MemberInvite.parse({"tenant_id": tenant_id, "email": member, "seat_type": seat_type})
            # Already a member, or the team changed since (no seat left; paused or unpaid: no one joins).
            with contextlib.suppress(ValidationFailed, NoSeatsAvailable, SubscriptionNotActive):
                await members.invite_member(deps, admin, invite)
    return subscribed


async def _overdue(deps: Deps) -> None:
    """Advance Kestrel's test clock ``OVERDUE_CLOCK_DAYS`` past its subscription's start:
    the invoice is overdue (invoice.overdue) and the subscription PAST_DUE, as of the
    due date; a later seed finds the clock there and moves nothing."""
    async with deps.store.read() as session:
        tenant = await session.scalar(select(TenantRow).where(TenantRow.email == OVERDUE_EMAIL))
        clock = await session.get(TestClockRow, tenant.test_clock_id) if tenant.test_clock_id else None
        (subscription,) = await live_subscriptions(session, [tenant.id])
    if clock is None or not isinstance(subscription, SubscriptionRow):
        return
    target = subscription.created_at + timedelta(days=OVERDUE_CLOCK_DAYS)
    if clock.frozen_time < target:
        with contextlib.suppress(ValidationFailed):  # another seed advanced it first
            await test_clocks.advance_test_clock(deps, operator(), clock.id, target)
