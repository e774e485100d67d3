"""What the services tell partners and live subscribers: each operation records its
events in its own transaction, with the data a partner needs, and an operation that
fails records none. (Delivery is tested in test_webhooks_outbound.py and
tests/gateway/test_live.py; this is what is delivered.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models.platform.deps import Deps
from models.tables import EventRow
from tests.builders.api import Api
from tests.builders.billing import advance, change_input, change_plan, invite, plan_with_seat_addon, subscribe
from tests.builders.clocks import new_clock, tenant_on


async def events_since(deps: Deps, seen: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """The events recorded since the last call (oldest first), as (type, data)."""
    async with deps.store.read() as session:
        rows = (await session.scalars(select(EventRow).order_by(EventRow.id))).all()
    new = [(row.type, row.data) for row in rows if row.id not in seen]
    seen.update(row.id for row in rows)
    return new


async def test_a_subscriptions_life_is_told_in_events_with_the_data_partners_need(
    api: Api, deps: Deps
) -> None:
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant = await tenant_on(api, "Told", clock)
    plan, seat = await plan_with_seat_addon(api, "team", 99_00, 15_00, includedSeats=5)
    bigger, big_seat = await plan_with_seat_addon(api, "bigger", 199_00, 10_00, includedSeats=10)
    seen: set[str] = set()

    subscription = await subscribe(api, tenant, plan, {seat: 1})
    invoice = subscription["latestInvoice"]
    assert [t for t, _ in await events_since(deps, seen)] == [
        "invoice.created",
        "subscription.active",
        "seats.changed",
    ]
    events = dict(await events_since(deps, set()))
    assert events["invoice.created"] | {"tenantId": tenant} == {
        "invoiceId": invoice["id"],
        "tenantId": tenant,
        "subscriptionId": subscription["id"],
        "number": invoice["number"],
        "status": "OPEN",
        "reason": "SUBSCRIBE",
        "currency": "USD",
        "total": 114_00,
        "amountDue": 114_00,
        "hostedInvoiceUrl": None,
    }
    assert events["subscription.active"]["planCode"] == "team"
    assert events["seats.changed"] == {
        "tenantId": tenant,
        "reason": "subscription.changed",
        "memberId": None,
        "seats": {
            "FULL": {"total": 6, "used": 0},
            "VIEWER": {"total": 0, "used": 0},
            "GUEST": {"total": 0, "used": 0},
        },
    }

    member = await invite(api, tenant, "ann@told.example")
    ((kind, data),) = await events_since(deps, seen)
    assert (kind, data["reason"], data["memberId"], data["seats"]["FULL"]) == (
        "seats.changed",
        "member.invited",
        member["id"],
        {"total": 6, "used": 1},
    )

    # A refused operation records nothing.
    assert (await subscribe(api, tenant, plan))["code"] == "ALREADY_SUBSCRIBED"
    assert await events_since(deps, seen) == []

    # An immediate change: its invoice, the plan change, and the seats it brings.
    change = await change_plan(api, change_input(subscription["id"], bigger, {big_seat: 2}))
    assert [t for t, _ in await events_since(deps, seen)] == [
        "invoice.created",
        "subscription.plan_changed",
        "seats.changed",
    ]
    events = dict(await events_since(deps, set()))
    assert (
        events["subscription.plan_changed"]["planCode"],
        events["subscription.plan_changed"]["invoiceId"],
    ) == ("bigger", change["invoice"]["id"])

    # Scheduled back to the small plan: told at the renewal, with the new period.
    scheduled = await change_plan(
        api, change_input(subscription["id"], plan, {seat: 0}, effective_at="NEXT_BILLING_DATE")
    )
    assert scheduled["__typename"] == "PlanChange"
    assert await events_since(deps, seen) == []
    await advance(api, clock, "2026-04-01T00:00:00Z")
    renewal = await events_since(deps, seen)
    assert [t for t, _ in renewal] == [
        "invoice.created",
        "subscription.plan_changed",
        "seats.changed",
        "subscription.renewed",
    ]
    changed = dict(renewal)["subscription.plan_changed"]
    assert (changed["planCode"], changed["scheduled"], changed["currentPeriodStart"]) == (
        "team",
        True,
        "2026-04-01T00:00:00+00:00",
    )
    assert dict(renewal)["seats.changed"]["seats"]["FULL"] == {"total": 5, "used": 1}

    cancel = """mutation($id: ID!) {
      cancelSubscription(subscriptionId: $id, atPeriodEnd: false) { __typename } }"""
    await api(cancel, {"id": subscription["id"]})
    cancelled = await events_since(deps, seen)
    assert [t for t, _ in cancelled] == ["subscription.cancelled", "seats.changed"]
    assert dict(cancelled)["seats.changed"]["seats"]["FULL"] == {"total": 0, "used": 1}


async def test_an_invoice_with_nothing_due_is_paid_as_it_is_made(api: Api, deps: Deps) -> None:
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant = await tenant_on(api, "Free", clock)
    free, _ = await plan_with_seat_addon(api, "free", 0, 5_00, includedSeats=3)
    invoice = (await subscribe(api, tenant, free))["latestInvoice"]
    assert invoice["status"] == "PAID"
    paid = (await api("query($id: ID!) { invoice(id: $id) { paidAt } }", {"id": invoice["id"]}))["invoice"]
    assert paid["paidAt"] == "2026-03-01T00:00:00+00:00"
    types = [t for t, _ in await events_since(deps, set())]
    assert types[:2] == ["invoice.created", "invoice.paid"]


async def test_a_usage_batch_is_one_event_per_tenant_counting_what_was_accepted(api: Api, deps: Deps) -> None:
    a = await tenant_on(api, "A", await new_clock(api, "2026-03-01T00:00:00Z"))
    b = await tenant_on(api, "B", await new_clock(api, "2026-03-01T00:00:00Z"))
    for name in ("api_calls", "storage_gb"):
        await api("mutation($n: String!) { createMeter(input: {name: $n}) { __typename } }", {"n": name})
    batch = [
        {"tenantId": a, "meterName": "api_calls", "value": 1},
        {"tenantId": a, "meterName": "api_calls", "value": 2},
        {"tenantId": a, "meterName": "storage_gb", "value": 5},
        {"tenantId": b, "meterName": "api_calls", "value": 1},
        {"tenantId": b, "meterName": "api_calls", "value": -1},  # refused: no event counts it
    ]
    await api(
        "mutation($e: [RecordUsageInput!]!) { recordUsageBatch(events: $e) { __typename } }", {"e": batch}
    )
    usage = [data for kind, data in await events_since(deps, set()) if kind == "usage.recorded"]
    assert sorted(usage, key=lambda data: data["tenantId"] == b) == [
        {"tenantId": a, "accepted": 3, "meters": {"api_calls": 2, "storage_gb": 1}},
        {"tenantId": b, "accepted": 1, "meters": {"api_calls": 1}},
    ]
