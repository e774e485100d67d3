"""An invite applies first whatever the tenant's clock has made due and no worker has
applied yet, as the worker would, and admits or refuses by what that leaves: a renewal,
a resume, an invoice coming due unpaid, a grace's end, a credit grant's expiry. (The
invite reads only whether anything is due, and catches up only then:
models/members/due.py mirrors timeline.next_due, and each test here covers one of its
moments.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from models.kernel.clock import FixedClock
from tests.builders.api import START, Api, new_tenant
from tests.builders.billing import create_plan, credit_balance, invite, invoices, subscribe
from tests.builders.credits import grant_credits

STATE = """query($id: ID!) { subscription(id: $id) { status currentPeriodStart } }"""
PAUSE = """mutation($id: ID!, $at: DateTime) { pauseSubscription(subscriptionId: $id, resumesAt: $at) {
  __typename ... on Subscription { status } ... on Error { code message } } }"""


async def _team(api: Api, **terms: Any) -> tuple[str, str]:
    """A tenant on the process clock, subscribed at START to a $49 monthly plan with 2 seats."""
    if terms:
        data = await api(
            """mutation($input: CreateTenantInput!) { createTenant(input: $input) {
                 ... on Tenant { id } ... on Error { code message } } }""",
            {"input": {"name": "Late", "email": "billing@late.example", "currency": "USD", **terms}},
        )
        tenant = data["createTenant"]["id"]
    else:
        tenant = await new_tenant(api, "Late")
    subscription = await subscribe(api, tenant, await create_plan(api, "team", 49_00, includedSeats=2))
    assert subscription["__typename"] == "Subscription", subscription
    return tenant, subscription["id"]


async def _state(api: Api, subscription: str) -> tuple[str, str]:
    found = (await api(STATE, {"id": subscription}))["subscription"]
    return found["status"], found["currentPeriodStart"]


def _move(clock: FixedClock, to: datetime) -> None:
    clock.set(to)  # the worker has not run since


async def test_an_invite_after_the_period_ended_renews_first(api: Api, clock: FixedClock) -> None:
    tenant, subscription = await _team(api)
    _move(clock, START + timedelta(days=40))
    assert (await invite(api, tenant, "ann@late.example"))["status"] == "ACTIVE"
    assert await _state(api, subscription) == ("ACTIVE", "2026-02-15T12:00:00+00:00")
    assert len(await invoices(api, tenant)) == 2


async def test_an_invite_after_a_pause_has_ended_resumes_the_subscription_and_is_admitted(
    api: Api, clock: FixedClock
) -> None:
    tenant, subscription = await _team(api)
    paused = (await api(PAUSE, {"id": subscription, "at": "2026-01-20T00:00:00Z"}))["pauseSubscription"]
    assert paused["status"] == "PAUSED", paused
    assert (await invite(api, tenant, "ann@late.example"))["code"] == "SUBSCRIPTION_NOT_ACTIVE"
    _move(clock, datetime.fromisoformat("2026-01-21T00:00:00+00:00"))
    assert (await invite(api, tenant, "ann@late.example"))["status"] == "ACTIVE"
    assert await _state(api, subscription) == ("ACTIVE", "2026-01-20T00:00:00+00:00")


async def test_an_invite_after_an_invoice_came_due_unpaid_marks_it_overdue_and_is_admitted(
    api: Api, clock: FixedClock
) -> None:
    tenant, subscription = await _team(api, collectionMethod="SEND_INVOICE", daysUntilDue=5)
    _move(clock, START + timedelta(days=6))
    assert (await invite(api, tenant, "ann@late.example"))["status"] == "ACTIVE"
    assert (await _state(api, subscription))[0] == "PAST_DUE"


async def test_an_invite_after_the_grace_ended_is_refused_for_an_unpaid_subscription(
    api: Api, clock: FixedClock
) -> None:
    tenant, _ = await _team(api, collectionMethod="SEND_INVOICE", daysUntilDue=5)
    _move(clock, START + timedelta(days=25))  # due on day 5, grace of 14 days over on day 19
    refused = await invite(api, tenant, "ann@late.example")
    assert refused["code"] == "SUBSCRIPTION_NOT_ACTIVE" and "is UNPAID" in refused["message"], refused


async def test_an_invite_after_a_credit_grant_expired_expires_it(api: Api, clock: FixedClock) -> None:
    tenant, _ = await _team(api)
    made = await grant_credits(api, tenant, 10_00, "2026-01-20T00:00:00Z")
    assert made["__typename"] == "CreditGrant", made
    _move(clock, datetime.fromisoformat("2026-01-21T00:00:00+00:00"))
    assert (await invite(api, tenant, "ann@late.example"))["status"] == "ACTIVE"
    assert await credit_balance(api, tenant) == 0


async def test_an_invite_with_nothing_due_changes_nothing_but_the_team(api: Api, clock: FixedClock) -> None:
    tenant, subscription = await _team(api, collectionMethod="SEND_INVOICE", daysUntilDue=5)
    _move(clock, START + timedelta(days=4))
    assert (await invite(api, tenant, "ann@late.example"))["status"] == "ACTIVE"
    assert (await invite(api, tenant, "bob@late.example"))["status"] == "ACTIVE"
    assert (await invite(api, tenant, "cy@late.example"))["code"] == "NO_SEATS_AVAILABLE"
    assert await _state(api, subscription) == ("ACTIVE", "2026-01-15T12:00:00+00:00")
    assert len(await invoices(api, tenant)) == 1
