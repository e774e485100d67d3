"""Seat changes and `entitlements.changed`: a partner's endpoint hears of the seat changes
that move what a tenant is entitled to (seats bought with an add-on that grants more) and
not of an invite, which moves nothing: the tenant's entitlements, and every member's,
read the same before and after it, even with a grant restricted to FULL seats."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.webhooks.outbound import run_deliveries
from models.platform.deps import Deps
from tests.builders.api import Api, new_tenant
from tests.builders.billing import (
    attach,
    change_input,
    change_plan,
    create_addon,
    create_plan,
    invite,
    subscribe,
)
from tests.builders.entitlements import entitlement, feature, grant
from tests.builders.receivers import Receiver, receiving
from tests.builders.webhook_endpoints import new_endpoint

HOOKED = ["seats.changed", "entitlements.changed"]
CODES = ("editing", "projects")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as receiver:
        yield receiver


async def seated_tenant(api: Api, deps: Deps) -> tuple[str, dict[str, str]]:
    """A tenant on a team plan (2 FULL seats, 3 projects, editing for FULL seats only)
    that may buy a viewer seat add-on granting 2 projects more a unit; subscribed."""
    team = await create_plan(api, "team", 10_00, includedSeats=2)
    viewer = await create_addon(api, "viewer_seat", 0, seatType="VIEWER")
    await attach(api, team, viewer)
    await feature(api, "editing", "BOOLEAN")
    await feature(api, "projects", "LIMIT")
    await grant(api, "editing", plan=team, seatTypes=["FULL"])
    await grant(api, "projects", plan=team, limit=3)
    await grant(api, "projects", addon=viewer, limit=2)
    tenant = await new_tenant(api, "Acme")
    subscription = await subscribe(api, tenant, team)
    assert subscription["__typename"] == "Subscription", subscription
    await run_deliveries(deps)  # the subscription's own events: no endpoint yet
    return tenant, {"team": team, "viewer": viewer, "subscription": subscription["id"]}


async def entitled(api: Api, tenant: str, member: str | None = None) -> list[tuple[Any, ...]]:
    found = [await entitlement(api, tenant, code, member) for code in CODES]
    return [(e["enabled"], e["reason"], e["limit"], e["used"]) for e in found]


def sent(receiver: Receiver, secret: str) -> list[tuple[str, dict[str, Any]]]:
    return [(r["type"], r["data"]) for r in (r.verified(secret) for r in receiver.requests)]


async def test_an_invite_sends_seats_changed_and_no_entitlements_changed_as_nothing_moved(
    api: Api, deps: Deps, receiver: Receiver
) -> None:
    tenant, _ = await seated_tenant(api, deps)
    ada = await invite(api, tenant, "ada@acme.example.com", "FULL")
    await run_deliveries(deps)  # Ada's invite: no endpoint yet
    _, secret = await new_endpoint(api, receiver.url(), HOOKED, tenant)
    before = (await entitled(api, tenant), await entitled(api, tenant, ada["id"]))

    bob = await invite(api, tenant, "bob@acme.example.com", "FULL")
    assert bob["__typename"] == "Member", bob
    await run_deliveries(deps)

    ((kind, data),) = sent(receiver, secret)
    assert (kind, data["reason"], data["memberId"]) == ("seats.changed", "member.invited", bob["id"])
    assert data["seats"]["FULL"] == {"total": 2, "used": 2}
    # Nothing the tenant or a member is entitled to moved: so nothing to announce.
    assert (await entitled(api, tenant), await entitled(api, tenant, ada["id"])) == before
    assert await entitled(api, tenant, bob["id"]) == before[1]


async def test_seats_bought_with_an_add_on_that_grants_more_send_entitlements_changed(
    api: Api, deps: Deps, receiver: Receiver
) -> None:
    tenant, ids = await seated_tenant(api, deps)
    _, secret = await new_endpoint(api, receiver.url(), HOOKED, tenant)
    assert await entitled(api, tenant) == [(True, None, None, None), (True, None, 3, 0)]

    changed = await change_plan(api, change_input(ids["subscription"], ids["team"], {ids["viewer"]: 2}))
    assert changed["__typename"] == "PlanChange", changed
    await run_deliveries(deps)

    received = dict(sent(receiver, secret))
    assert received["seats.changed"]["seats"]["VIEWER"] == {"total": 2, "used": 0}
    projects = [e for e in received["entitlements.changed"]["entitlements"] if e["featureCode"] == "projects"]
    assert [(p["enabled"], p["limit"], p["remaining"]) for p in projects] == [(True, 7, 7)]
    assert await entitled(api, tenant) == [(True, None, None, None), (True, None, 7, 0)]
    # An invite into the seats bought moves nothing more.
    assert (await invite(api, tenant, "vic@acme.example.com", "VIEWER"))["__typename"] == "Member"
    await run_deliveries(deps)
    assert [kind for kind, _ in sent(receiver, secret)].count("entitlements.changed") == 1
