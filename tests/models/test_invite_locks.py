"""An invite locks the tenant and its live subscription in one statement, in the order
every writer takes them (models/platform/locks.py): the tenant first. Were it the other
way round, an invite holding the subscription and a change holding the tenant could
wait for each other."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from models.members import service as members
from models.members.inputs import MemberInvite
from models.platform import locks
from models.platform.access import operator
from models.platform.deps import Deps
from tests.builders.api import Api, new_tenant
from tests.builders.billing import create_plan, subscribe

TRY_TENANT = "SELECT 1 FROM tenants WHERE id = :id FOR NO KEY UPDATE NOWAIT"


async def test_an_invite_waiting_for_the_subscription_already_holds_the_tenant(
    api: Api, deps: Deps, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("row locks are PostgreSQL's; SQLite's write lock serializes whole transactions")
    tenant = await new_tenant(api)
    await subscribe(api, tenant, await create_plan(api, "team", 49_00, includedSeats=2))
    spec = MemberInvite.parse({"tenant_id": tenant, "email": "ann@team.example", "seat_type": "FULL"})

    async with deps.store.transaction() as holder:
        assert await locks.live_subscription(holder, tenant) is not None  # held until this block ends
        invite = asyncio.create_task(members.invite_member(deps, operator(), spec))
        await asyncio.sleep(0.3)
        assert not invite.done()
        async with deps.store.engine.connect() as probe:
            with pytest.raises(Exception, match="could not obtain lock"):
                await probe.execute(text(TRY_TENANT), {"id": tenant})
    member = await invite
    assert member.email == "ann@team.example"


async def test_an_invite_waiting_for_the_tenant_holds_nothing_yet(api: Api, deps: Deps, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("row locks are PostgreSQL's")
    tenant = await new_tenant(api)
    await subscribe(api, tenant, await create_plan(api, "team", 49_00, includedSeats=2))
    spec = MemberInvite.parse({"tenant_id": tenant, "email": "ann@team.example", "seat_type": "FULL"})

    async with deps.store.transaction() as holder:
        await locks.tenant(holder, tenant)
        invite = asyncio.create_task(members.invite_member(deps, operator(), spec))
        await asyncio.sleep(0.3)
        assert not invite.done()
        async with deps.store.engine.connect() as probe:  # the subscription is free
            await probe.execute(
                text("SELECT 1 FROM subscriptions WHERE tenant_id = :id FOR NO KEY UPDATE NOWAIT"),
                {"id": tenant},
            )
    assert (await invite).status.value == "ACTIVE"
