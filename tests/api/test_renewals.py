"""Renewals: what advanceTestClock, renew_due and the serve worker issue when a
period ends. Each ended period renews once, in order, dated at its start, with
periods that chain in the tenant's timezone; credits are consumed, a crash leaves
nothing half-done, billing twice (or twice at once) issues nothing twice,
cancellation (now or at period end) stops renewals, and a scheduled change that no
longer fits the members is dropped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from gateway.workers import billing_worker
from models.kernel.clock import FixedClock
from models.platform.deps import Deps
from models.subscriptions import renewals, timeline
from models.tables import AuditEntryRow, CreditEntryRow, InvoiceRow, SubscriptionRow, TenantRow
from tests.builders.api import START, Api, new_tenant
from tests.builders.billing import (
    INVOICE,
    advance,
    attach,
    change_input,
    change_plan,
    create_addon,
    create_plan,
    credit_balance,
    invite,
    subscribe,
)
from tests.builders.clocks import new_clock, tenant_on

STATE = """id status currentPeriodStart currentPeriodEnd cancelAtPeriodEnd cancelledAt
  addons { addon { code } quantity } scheduledChange { effectiveAt plan { code } addons { quantity } }"""


async def per_seat_plan(api: Api, seat_price: int = 10_00, **plan_fields: Any) -> tuple[str, str]:
    """A $0 plan billed only by its FULL seat add-on."""
    plan = await create_plan(api, "per_seat", 0, name="Per seat", **plan_fields)
    seat = await create_addon(api, "seat", seat_price, seatType="FULL", name="Seat")
    assert (await attach(api, plan, seat))["__typename"] == "Plan"
    return plan, seat


async def history(api: Api, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's invoices, oldest first, with when each was created."""
    data = (
        await api(
            f"""query($id: ID!) {{ tenant(id: $id) {{
             invoices(first: 100) {{ edges {{ node {{ {INVOICE} createdAt }} }} }} }} }}""",
            {"id": tenant_id},
        )
    )["tenant"]
    return [edge["node"] for edge in reversed(data["invoices"]["edges"])]


async def renewal_invoices(api: Api, tenant_id: str) -> list[dict[str, Any]]:
    return [invoice for invoice in await history(api, tenant_id) if invoice["reason"] == "RENEWAL"]


async def state(api: Api, subscription_id: str) -> dict[str, Any]:
    return (
        await api(
            f"query($id: ID!) {{ subscription(id: $id) {{ __typename {STATE} }} }}", {"id": subscription_id}
        )
    )["subscription"]


async def tenant_view(api: Api, tenant_id: str) -> dict[str, Any]:
    return (
        await api(
            "query($id: ID!) { tenant(id: $id) { subscription { id status } seats { total } } }",
            {"id": tenant_id},
        )
    )["tenant"]


async def cancel(api: Api, subscription_id: str, at_period_end: bool) -> dict[str, Any]:
    return (
        await api(
            f"""mutation($id: ID!, $end: Boolean!) {{
             cancelSubscription(subscriptionId: $id, atPeriodEnd: $end) {{
             __typename ... on Subscription {{ {STATE} }} ... on Error {{ code message }} }} }}""",
            {"id": subscription_id, "end": at_period_end},
        )
    )["cancelSubscription"]


async def audit_log(api: Api, tenant_id: str) -> list[dict[str, Any]]:
    data = await api(
        "query($id: ID!) "
        "{ auditLog(tenantId: $id, first: 100) { edges { node { action at subjectId after } } } }",
        {"id": tenant_id},
    )
    return [edge["node"] for edge in data["auditLog"]["edges"]]


def periods(invoices: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(invoice["periodStart"], invoice["periodEnd"]) for invoice in invoices]


def local(value: str, zone: str) -> tuple[int, int, int, int, int]:
    """An API timestamp as (year, month, day, hour, minute) on the tenant's wall clock."""
    at = datetime.fromisoformat(value).astimezone(ZoneInfo(zone))
    return at.year, at.month, at.day, at.hour, at.minute


async def test_three_months_ahead_issues_three_renewals_in_order_with_chained_periods(api: Api) -> None:
    clock = await new_clock(api, "2026-01-15T12:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock)
    plan = await create_plan(api, "team", 99_00, includedSeats=5, name="Team")
    seat = await create_addon(api, "seat", 15_00, seatType="FULL", name="Seat")
    await attach(api, plan, seat)
    subscription = await subscribe(api, tenant, plan, {seat: 2})

    await advance(api, clock, "2026-04-20T00:00:00Z")  # past Feb 15, Mar 15 and Apr 15

    first, *renewed = await history(api, tenant)
    assert first["reason"] == "SUBSCRIBE"
    assert [
        (i["number"], i["reason"], i["total"]["amount"], i["amountDue"]["amount"], i["status"])
        for i in renewed
    ] == [
        ("ACME-0002", "RENEWAL", 129_00, 129_00, "OPEN"),
        ("ACME-0003", "RENEWAL", 129_00, 129_00, "OPEN"),
        ("ACME-0004", "RENEWAL", 129_00, 129_00, "OPEN"),
    ]
    assert periods(renewed) == [
        ("2026-02-15T12:00:00+00:00", "2026-03-15T12:00:00+00:00"),
        ("2026-03-15T12:00:00+00:00", "2026-04-15T12:00:00+00:00"),
        ("2026-04-15T12:00:00+00:00", "2026-05-15T12:00:00+00:00"),
    ]
    # Each period starts where the one before ended, the first where the subscription's did.
    chain = [first, *renewed]
    assert all(later["periodStart"] == earlier["periodEnd"] for earlier, later in pairwise(chain))
    assert [i["createdAt"] for i in renewed] == [i["periodStart"] for i in renewed]
    assert [[(li["kind"], li["quantity"], li["amount"]["amount"]) for li in i["lines"]] for i in renewed] == [
        [("BASE", 1, 99_00), ("ADDON", 2, 30_00)]
    ] * 3

    now = await state(api, subscription["id"])
    assert (now["status"], now["currentPeriodStart"], now["currentPeriodEnd"]) == (
        "ACTIVE",
        "2026-04-15T12:00:00+00:00",
        "2026-05-15T12:00:00+00:00",
    )
    entries = [e for e in await audit_log(api, tenant) if e["action"] == "subscription.renewed"]
    assert [(e["at"], e["subjectId"], e["after"]["invoice"]) for e in entries] == [
        (i["periodStart"], subscription["id"], i["number"]) for i in renewed
    ]


async def test_a_period_anchored_on_january_31_renews_on_the_last_day_of_shorter_months(api: Api) -> None:
    zone = "America/New_York"
    clock = await new_clock(api, "2026-02-01T04:30:00Z")  # Jan 31, 23:30 in New York
    tenant = await tenant_on(api, "Month End", clock, timezone=zone)
    plan = await create_plan(api, "team", 99_00, includedSeats=5)
    subscription = await subscribe(api, tenant, plan)
    assert local(subscription["currentPeriodEnd"], zone) == (2026, 2, 28, 23, 30)

    await advance(api, clock, "2026-04-02T00:00:00Z")

    renewed = await renewal_invoices(api, tenant)
    assert [(local(start, zone), local(end, zone)) for start, end in periods(renewed)] == [
        ((2026, 2, 28, 23, 30), (2026, 3, 31, 23, 30)),
        ((2026, 3, 31, 23, 30), (2026, 4, 30, 23, 30)),  # back to the 31st, across the DST change
    ]
    # In UTC the renewals fall on the next day, an hour apart once New York is on summer time.
    assert periods(renewed)[1] == ("2026-04-01T03:30:00+00:00", "2026-05-01T03:30:00+00:00")
    now = await state(api, subscription["id"])
    assert (now["currentPeriodStart"], now["currentPeriodEnd"]) == periods(renewed)[1]


async def test_a_yearly_plan_renews_once_a_year(api: Api) -> None:
    clock = await new_clock(api, "2026-03-10T09:00:00Z")
    tenant = await tenant_on(api, "Annual", clock)
    plan = await create_plan(api, "team_annual", 990_00, interval="YEAR", includedSeats=5)
    subscription = await subscribe(api, tenant, plan)
    assert subscription["currentPeriodEnd"] == "2027-03-10T09:00:00+00:00"

    await advance(api, clock, "2027-03-09T23:59:59Z")
    assert await renewal_invoices(api, tenant) == []  # eleven month-ends went by: nothing due

    await advance(api, clock, "2028-03-11T00:00:00Z")
    renewed = await renewal_invoices(api, tenant)
    assert periods(renewed) == [
        ("2027-03-10T09:00:00+00:00", "2028-03-10T09:00:00+00:00"),
        ("2028-03-10T09:00:00+00:00", "2029-03-10T09:00:00+00:00"),
    ]
    assert [i["total"]["amount"] for i in renewed] == [990_00, 990_00]


async def test_billing_again_issues_nothing_twice(api: Api, deps: Deps) -> None:
    clock = await new_clock(api, "2026-01-15T12:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock)
    plan = await create_plan(api, "team", 99_00, includedSeats=5)
    subscription = await subscribe(api, tenant, plan)
    await advance(api, clock, "2026-04-15T12:00:00Z")  # exactly the third period end
    before = await history(api, tenant)
    assert [i["number"] for i in before] == ["ACME-0001", "ACME-0002", "ACME-0003", "ACME-0004"]

    again = await timeline.renew_due(deps)
    assert (again.renewed, again.invoices, again.failed) == (0, [], [])
    await advance(api, clock, "2026-04-15T12:00:01Z")
    assert await history(api, tenant) == before
    now = await state(api, subscription["id"])
    assert (now["currentPeriodStart"], now["currentPeriodEnd"]) == (
        "2026-04-15T12:00:00+00:00",
        "2026-05-15T12:00:00+00:00",
    )


async def test_two_billing_runs_at_once_issue_one_invoice_per_period(
    api: Api, deps: Deps, clock: FixedClock
) -> None:
    plan = await create_plan(api, "team", 99_00, includedSeats=5)
    tenants = [await new_tenant(api, name) for name in ("Alpha", "Bravo", "Charlie", "Delta")]
    for tenant in tenants:  # on the process clock, all subscribed at START
        assert (await subscribe(api, tenant, plan))["__typename"] == "Subscription"
    clock.set(START + timedelta(days=91))  # three periods ended for each: Feb 15, Mar 15, Apr 15

    runs = await asyncio.gather(timeline.renew_due(deps), timeline.renew_due(deps))

    assert [run.failed for run in runs] == [[], []]
    assert sum(run.renewed for run in runs) == len(tenants)
    issued = [number for run in runs for number in run.invoices]
    assert sorted(issued) == sorted(
        f"{name}-{n:04d}" for name in ("ALPHA", "BRAVO", "CHARLIE", "DELTA") for n in (2, 3, 4)
    )
    for tenant in tenants:
        renewed = await renewal_invoices(api, tenant)
        assert periods(renewed) == [
            ("2026-02-15T12:00:00+00:00", "2026-03-15T12:00:00+00:00"),
            ("2026-03-15T12:00:00+00:00", "2026-04-15T12:00:00+00:00"),
            ("2026-04-15T12:00:00+00:00", "2026-05-15T12:00:00+00:00"),
        ]


async def test_a_renewal_that_fails_midway_leaves_nothing_half_done(
    api: Api, deps: Deps, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, seat = await per_seat_plan(api)
    tenant = await new_tenant(api, "Acme")
    subscription = (await subscribe(api, tenant, plan, {seat: 5}))["id"]
    # 3 seats from 5 on the first day of a 31-day period: $20.00 to the credit balance.
    downgrade = await change_plan(api, change_input(subscription, plan, {seat: 3}))
    assert downgrade["invoice"]["total"]["amount"] == -20_00
    assert await credit_balance(api, tenant) == 20_00
    clock.set(datetime(2026, 2, 15, 12, 0, tzinfo=UTC))  # the period ends

    async def written() -> tuple[int, int, int, int, tuple[datetime, datetime]]:
        async with deps.store.read() as session:
            invoices, ledger, audits = [
                await session.scalar(select(func.count()).select_from(table).where(table.tenant_id == tenant))
                for table in (InvoiceRow, CreditEntryRow, AuditEntryRow)
            ]
            numbered = (await session.get(TenantRow, tenant)).invoice_count
            row = await session.get(SubscriptionRow, subscription)
            return invoices, ledger, audits, numbered, (row.current_period_start, row.current_period_end)

    before = await written()

    def crash(*_: Any, **__: Any) -> None:
        raise RuntimeError("the process died after the invoice was written")

    monkeypatch.setattr(renewals.audit, "record", crash)
    run = await timeline.renew_due(deps)
    assert (run.renewed, run.invoices, run.failed) == (0, [], [subscription])
    assert await written() == before  # no invoice, no ledger entry, no number used, the period unchanged
    assert before[4] == (START, datetime(2026, 2, 15, 12, 0, tzinfo=UTC))
    assert await credit_balance(api, tenant) == 20_00

    monkeypatch.undo()
    run = await timeline.renew_due(deps)
    assert (run.renewed, run.invoices, run.failed) == (1, ["ACME-0003"], [])
    assert (await timeline.renew_due(deps)).renewed == 0
    (renewal,) = await renewal_invoices(api, tenant)
    assert (
        renewal["number"],
        renewal["total"]["amount"],
        renewal["creditsApplied"]["amount"],
        renewal["amountDue"]["amount"],
    ) == ("ACME-0003", 30_00, 20_00, 10_00)
    assert await credit_balance(api, tenant) == 0
    now = await state(api, subscription)
    assert (now["currentPeriodStart"], now["currentPeriodEnd"]) == (
        "2026-02-15T12:00:00+00:00",
        "2026-03-15T12:00:00+00:00",
    )


async def test_a_renewal_consumes_the_credit_balance(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock)
    plan, seat = await per_seat_plan(api)
    subscription = (await subscribe(api, tenant, plan, {seat: 5}))["id"]
    await advance(api, clock, "2026-11-16T00:00:00Z")
    # 5 -> 3 seats with 15 of 30 days left: 2 x $10 x 1/2 back.
    change = await change_plan(api, change_input(subscription, plan, {seat: 3}))
    assert change["invoice"]["amountDue"]["amount"] == 0 and change["invoice"]["total"]["amount"] == -10_00
    assert await credit_balance(api, tenant) == 10_00

    await advance(api, clock, "2027-01-01T00:00:00Z")

    december, january = await renewal_invoices(api, tenant)
    assert [
        (i["total"]["amount"], i["creditsApplied"]["amount"], i["amountDue"]["amount"], i["status"])
        for i in (december, january)
    ] == [(30_00, 10_00, 20_00, "OPEN"), (30_00, 0, 30_00, "OPEN")]
    assert await credit_balance(api, tenant) == 0


async def test_a_credit_larger_than_a_renewal_is_consumed_over_several(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock)
    plan, seat = await per_seat_plan(api, seat_price=5_00)
    subscription = (await subscribe(api, tenant, plan, {seat: 11}))["id"]
    # 11 -> 2 seats on the first day: the whole period of 9 seats, $45.00, back.
    change = await change_plan(api, change_input(subscription, plan, {seat: 2}))
    assert change["invoice"]["total"]["amount"] == -45_00
    assert await credit_balance(api, tenant) == 45_00

    await advance(api, clock, "2027-03-01T00:00:00Z")  # Dec, Jan, Feb and Mar renewals of $10.00
    renewed = await renewal_invoices(api, tenant)
    assert [(i["creditsApplied"]["amount"], i["amountDue"]["amount"], i["status"]) for i in renewed] == [
        (10_00, 0, "PAID"),
        (10_00, 0, "PAID"),
        (10_00, 0, "PAID"),
        (10_00, 0, "PAID"),
    ]
    assert await credit_balance(api, tenant) == 5_00

    await advance(api, clock, "2027-05-01T00:00:00Z")
    april, may = (await renewal_invoices(api, tenant))[4:]
    assert (april["creditsApplied"]["amount"], april["amountDue"]["amount"], april["status"]) == (
        5_00,
        5_00,
        "OPEN",
    )
    assert (may["creditsApplied"]["amount"], may["amountDue"]["amount"], may["status"]) == (0, 10_00, "OPEN")
    assert await credit_balance(api, tenant) == 0


async def test_cancelling_now_ends_seats_and_renewals_and_the_tenant_may_subscribe_again(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock)
    plan = await create_plan(api, "team", 99_00, includedSeats=5)
    subscription = (await subscribe(api, tenant, plan))["id"]
    assert (await invite(api, tenant, "ann@example.com"))["__typename"] == "Member"
    await advance(api, clock, "2026-11-10T08:00:00Z")

    cancelled = await cancel(api, subscription, at_period_end=False)
    assert cancelled["__typename"] == "Subscription", cancelled
    assert (cancelled["status"], cancelled["cancelledAt"], cancelled["cancelAtPeriodEnd"]) == (
        "CANCELLED",
        "2026-11-10T08:00:00+00:00",
        False,
    )
    assert await tenant_view(api, tenant) == {"subscription": None, "seats": {"total": 0}}
    refused = await invite(api, tenant, "bob@example.com")
    assert refused["code"] == "SUBSCRIPTION_NOT_ACTIVE", refused

    await advance(api, clock, "2026-12-05T00:00:00Z")  # past the period end
    assert await renewal_invoices(api, tenant) == []
    assert await state(api, subscription) == cancelled

    # Cancelling again changes nothing, not even the audit log.
    assert await cancel(api, subscription, at_period_end=False) == cancelled
    assert await cancel(api, subscription, at_period_end=True) == cancelled
    entries = [e for e in await audit_log(api, tenant) if e["subjectId"] == subscription]
    assert [(e["action"], e["at"]) for e in entries] == [
        ("subscription.created", "2026-11-01T00:00:00+00:00"),
        ("subscription.cancelled", "2026-11-10T08:00:00+00:00"),
    ]

    again = await subscribe(api, tenant, plan)
    assert again["__typename"] == "Subscription", again
    assert (again["status"], again["currentPeriodStart"]) == ("ACTIVE", "2026-12-05T00:00:00+00:00")
    assert again["latestInvoice"]["number"] == "ACME-0002"
    assert (await tenant_view(api, tenant))["subscription"] == {"id": again["id"], "status": "ACTIVE"}


async def test_cancelling_at_period_end_keeps_the_seats_until_the_renewal_cancels_it(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock)
    plan = await create_plan(api, "team", 99_00, includedSeats=5)
    subscription = (await subscribe(api, tenant, plan))["id"]
    await advance(api, clock, "2026-11-10T08:00:00Z")

    scheduled = await cancel(api, subscription, at_period_end=True)
    assert (scheduled["status"], scheduled["cancelAtPeriodEnd"], scheduled["cancelledAt"]) == (
        "ACTIVE",
        True,
        None,
    )
    assert await cancel(api, subscription, at_period_end=True) == scheduled
    assert (await tenant_view(api, tenant))["seats"] == {"total": 5}
    await advance(api, clock, "2026-11-30T23:59:59Z")
    assert (await invite(api, tenant, "ann@example.com"))["__typename"] == "Member"

    await advance(api, clock, "2026-12-01T00:00:00Z")  # the period end

    ended = await state(api, subscription)
    assert (ended["status"], ended["cancelledAt"]) == ("CANCELLED", "2026-12-01T00:00:00+00:00")
    assert await renewal_invoices(api, tenant) == []
    assert await tenant_view(api, tenant) == {"subscription": None, "seats": {"total": 0}}
    assert (await invite(api, tenant, "bob@example.com"))["code"] == "SUBSCRIPTION_NOT_ACTIVE"
    await advance(api, clock, "2027-02-01T00:00:00Z")
    assert await renewal_invoices(api, tenant) == []
    assert await cancel(api, subscription, at_period_end=False) == ended

    actions = [(e["action"], e["at"]) for e in await audit_log(api, tenant) if e["subjectId"] == subscription]
    # Asked twice, recorded once: the second request changed nothing.
    assert [a for a in actions if a[0] == "subscription.cancel_scheduled"] == [
        ("subscription.cancel_scheduled", "2026-11-10T08:00:00+00:00")
    ]
    assert [a for a in actions if a[0] == "subscription.cancelled"] == [
        ("subscription.cancelled", "2026-12-01T00:00:00+00:00")
    ]
    assert not any(action == "subscription.renewed" for action, _ in actions)


async def test_a_scheduled_change_the_members_no_longer_fit_is_dropped_at_renewal(api: Api) -> None:
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock)
    plan, seat = await per_seat_plan(api)
    subscription = (await subscribe(api, tenant, plan, {seat: 5}))["id"]
    assert (await invite(api, tenant, "ann@example.com"))["__typename"] == "Member"
    change = await change_plan(
        api, change_input(subscription, plan, {seat: 2}, effective_at="NEXT_BILLING_DATE")
    )
    assert change["__typename"] == "PlanChange" and change["invoice"] is None, change
    assert change["subscription"]["scheduledChange"]["addons"] == [{"addon": {"code": "seat"}, "quantity": 2}]
    for email in ("bob@example.com", "cy@example.com"):  # 3 members now, the change gives 2 seats
        assert (await invite(api, tenant, email))["__typename"] == "Member"

    await advance(api, clock, "2026-12-01T00:00:00Z")

    (renewal,) = await renewal_invoices(api, tenant)
    assert [(li["kind"], li["quantity"], li["amount"]["amount"]) for li in renewal["lines"]] == [
        ("BASE", 1, 0),
        ("ADDON", 5, 50_00),
    ]
    now = await state(api, subscription)
    assert (now["addons"], now["scheduledChange"]) == ([{"addon": {"code": "seat"}, "quantity": 5}], None)
    (dropped,) = [
        e for e in await audit_log(api, tenant) if e["action"] == "subscription.scheduled_change_dropped"
    ]
    assert dropped["at"] == "2026-12-01T00:00:00+00:00" and "members" in dropped["after"]["reason"]


async def test_the_serve_worker_renews_what_falls_due_on_the_process_clock(
    api: Api, deps: Deps, clock: FixedClock
) -> None:
    plan = await create_plan(api, "team", 99_00, includedSeats=5)
    tenant = await new_tenant(api, "Acme")
    subscription = (await subscribe(api, tenant, plan))["id"]
    clock.set(datetime(2026, 2, 15, 12, 0, 1, tzinfo=UTC))  # just past the first period end

    worker = asyncio.create_task(billing_worker(deps, 0.02))
    try:
        for _ in range(250):
            if await renewal_invoices(api, tenant):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # a few more runs: they find nothing due
    finally:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker

    (renewal,) = await renewal_invoices(api, tenant)
    assert (renewal["number"], renewal["periodStart"], renewal["periodEnd"]) == (
        "ACME-0002",
        "2026-02-15T12:00:00+00:00",
        "2026-03-15T12:00:00+00:00",
    )
    assert (await state(api, subscription))["currentPeriodEnd"] == "2026-03-15T12:00:00+00:00"
