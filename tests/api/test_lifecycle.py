"""A subscription's whole life on a test clock, through GraphQL: a trial that converts
with its first invoice, is given once, and charges nothing when cancelled; payment terms
that go PAST_DUE the day after the due day, UNPAID after the grace, and ACTIVE again once
paid in full; a pause that invoices nothing until it resumes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models.platform.deps import Deps
from models.tables import EventRow
from tests.builders.api import Api, new_key
from tests.builders.billing import (
    advance,
    change_input,
    change_plan,
    create_plan,
    invite,
    invoices,
    preview_change,
)
from tests.builders.clocks import new_clock
from tests.builders.entitlements import entitlement, feature, grant
from tests.builders.stripe_webhooks import audit_actions

LIFE = """id status currentPeriodStart currentPeriodEnd trialEnd pausedAt resumesAt pastDueAt graceEndsAt"""


async def _tenant(api: Api, clock: str, **terms: Any) -> str:
    data = await api(
        """mutation($input: CreateTenantInput!) { createTenant(input: $input) { __typename
             ... on Tenant { id collectionMethod daysUntilDue } ... on Error { code message } } }""",
        {
            "input": {
                "name": "Kumo Labs",
                "email": "billing@kumo.example",
                "currency": "USD",
                "testClockId": clock,
                **terms,
            }
        },
    )
    assert data["createTenant"]["__typename"] == "Tenant", data
    return data["createTenant"]["id"]


async def _subscribe(api: Api, tenant: str, plan: str, trial: bool | None = None) -> dict[str, Any]:
    return (
        await api(
            f"""mutation($input: SubscribeInput!) {{ subscribe(input: $input) {{ __typename
             ... on Subscription {{ {LIFE} }}
             ... on ValidationError {{ field }} ... on Error {{ code message }} }} }}""",
            {"input": {"tenantId": tenant, "planId": plan, "trial": trial}},
        )
    )["subscribe"]


async def _subscription(api: Api, subscription: str) -> dict[str, Any]:
    return (await api(f"query($id: ID!) {{ subscription(id: $id) {{ {LIFE} }} }}", {"id": subscription}))[
        "subscription"
    ]


async def _events(deps: Deps, tenant: str, *types: str) -> list[tuple[str, str]]:
    async with deps.store.read() as session:
        rows = await session.scalars(
            select(EventRow)
            .where(EventRow.tenant_id == tenant, EventRow.type.in_(types))
            .order_by(EventRow.id)
        )
        return [(row.type, row.created_at.date().isoformat()) for row in rows]


async def _call(api: Api, mutation: str, **variables: Any) -> dict[str, Any]:
    data = await api(mutation, variables)
    return next(iter(data.values()))


PAUSE = f"""mutation($id: ID!, $at: DateTime) {{ pauseSubscription(subscriptionId: $id, resumesAt: $at) {{
  __typename ... on Subscription {{ {LIFE} }} ... on Error {{ code message }} }} }}"""
RESUME = f"""mutation($id: ID!) {{ resumeSubscription(subscriptionId: $id) {{
  __typename ... on Subscription {{ {LIFE} }} ... on Error {{ code message }} }} }}"""
CANCEL = """mutation($id: ID!) { cancelSubscription(subscriptionId: $id, atPeriodEnd: false) {
  __typename ... on Subscription { status } ... on Error { code message } } }"""
PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename ... on Invoice { status amountDue { amount } amountPaid { amount } paidAt }
  ... on ValidationError { field } ... on Error { code message } } }"""


async def test_a_14_day_trial_warns_on_day_11_and_converts_on_day_14_with_its_first_invoice(
    api: Api, deps: Deps
) -> None:
    clock = await new_clock(api, "2026-03-01T09:00:00Z")
    tenant = await _tenant(api, clock)
    plan = await create_plan(api, "team", 49_00, trialDays=14)
    started = await _subscribe(api, tenant, plan)
    assert started["status"] == "TRIALING", started
    assert started["trialEnd"] == started["currentPeriodEnd"] == "2026-03-15T09:00:00+00:00"
    assert await invoices(api, tenant) == []

    await advance(api, clock, "2026-03-12T08:00:00Z")  # day 10 and 23 hours: no reminder yet
    assert await _events(deps, tenant, "subscription.trial_will_end") == []
    await advance(api, clock, "2026-03-12T09:00:00Z")  # day 11
    assert await _events(deps, tenant, "subscription.trial_will_end") == [
        ("subscription.trial_will_end", "2026-03-12")
    ]
    assert await invoices(api, tenant) == []

    await advance(api, clock, "2026-03-15T09:00:00Z")  # day 14
    converted = await _subscription(api, started["id"])
    assert (converted["status"], converted["currentPeriodStart"], converted["currentPeriodEnd"]) == (
        "ACTIVE",
        "2026-03-15T09:00:00+00:00",
        "2026-04-15T09:00:00+00:00",
    )
    (first,) = await invoices(api, tenant)
    assert (first["total"]["amount"], first["periodStart"]) == (49_00, "2026-03-15T09:00:00+00:00")
    assert await _events(deps, tenant, "subscription.trial_will_end", "subscription.active") == [
        ("subscription.active", "2026-03-01"),
        ("subscription.trial_will_end", "2026-03-12"),
        ("subscription.active", "2026-03-15"),
    ]
    # The next period renews as usual, from the trial's end.
    await advance(api, clock, "2026-04-15T09:00:00Z")
    assert [i["periodStart"] for i in await invoices(api, tenant)] == [
        "2026-04-15T09:00:00+00:00",
        "2026-03-15T09:00:00+00:00",
    ]


async def test_a_plans_trial_is_given_once_per_tenant_and_a_cancelled_trial_never_invoices(
    api: Api, deps: Deps
) -> None:
    clock = await new_clock(api, "2026-03-01T09:00:00Z")
    tenant = await _tenant(api, clock)
    plan = await create_plan(api, "team", 49_00, trialDays=14)
    first = await _subscribe(api, tenant, plan)
    await advance(api, clock, "2026-03-05T09:00:00Z")
    assert (await _call(api, CANCEL, id=first["id"]))["status"] == "CANCELLED"
    await advance(api, clock, "2026-05-01T09:00:00Z")
    assert await invoices(api, tenant) == []

    again = await _subscribe(api, tenant, plan, trial=True)
    assert (again["__typename"], again["code"], again["field"]) == (
        "ValidationError",
        "VALIDATION_FAILED",
        "input.trial",
    )
    assert "already had its trial" in again["message"]
    paid = await _subscribe(api, tenant, plan)  # by default: the trial when the tenant may, else none
    assert (paid["status"], paid["trialEnd"]) == ("ACTIVE", None)
    assert [i["total"]["amount"] for i in await invoices(api, tenant)] == [49_00]


async def test_a_plan_change_during_a_trial_charges_nothing_and_the_preview_says_so(api: Api) -> None:
    clock = await new_clock(api, "2026-03-01T09:00:00Z")
    tenant = await _tenant(api, clock)
    team = await create_plan(api, "team", 49_00, trialDays=14)
    pro = await create_plan(api, "pro", 99_00)
    trial = await _subscribe(api, tenant, team)
    change = change_input(trial["id"], pro)
    preview = await preview_change(api, change)
    charge = preview["immediateCharge"]
    assert (charge["lineItems"], charge["summary"]["amountDue"]["amount"]) == ([], 0), preview
    assert "costs nothing during the trial" in charge["summary"]["text"]
    assert "$99.00" in charge["summary"]["text"]
    changed = await change_plan(api, change)
    assert (changed["subscription"]["status"], changed["subscription"]["plan"]["code"]) == ("TRIALING", "pro")
    assert changed["invoice"] is None
    await advance(api, clock, "2026-03-15T09:00:00Z")
    assert [i["total"]["amount"] for i in await invoices(api, tenant)] == [99_00]


async def test_net_30_goes_past_due_on_day_31_unpaid_14_days_later_and_active_once_paid_in_full(
    api: Api, deps: Deps
) -> None:
    clock = await new_clock(api, "2026-03-01T10:00:00Z")
    tenant = await _tenant(api, clock, collectionMethod="SEND_INVOICE", daysUntilDue=30)
    plan = await create_plan(api, "team", 300_00, includedSeats=3)
    await feature(api, "sso", "BOOLEAN")
    await grant(api, "sso", plan=plan)
    subscription = (await _subscribe(api, tenant, plan))["id"]
    (invoice,) = await _invoices_due(api, tenant)
    assert (invoice["status"], invoice["dueDate"]) == ("OPEN", "2026-04-01T00:00:00+00:00")

    await advance(api, clock, "2026-03-31T10:00:00Z")  # day 30: due today, not overdue
    assert (await _subscription(api, subscription))["status"] == "ACTIVE"
    await advance(api, clock, "2026-04-01T10:00:00Z")  # day 31
    past_due = await _subscription(api, subscription)
    assert (past_due["status"], past_due["pastDueAt"], past_due["graceEndsAt"]) == (
        "PAST_DUE",
        "2026-04-01T00:00:00+00:00",
        "2026-04-15T00:00:00+00:00",
    )
    assert (await entitlement(api, tenant, "sso"))["enabled"] is True  # within the grace

    # A partial payment leaves it PAST_DUE.
    partial = await _call(
        api, PAY, input={"invoiceId": invoice["id"], "amount": 100_00, "method": "BANK_TRANSFER"}
    )
    assert (partial["status"], partial["amountPaid"]["amount"]) == ("OPEN", 100_00), partial
    assert (await _subscription(api, subscription))["status"] == "PAST_DUE"

    await advance(api, clock, "2026-04-15T10:00:00Z")  # 14 days later
    assert (await _subscription(api, subscription))["status"] == "UNPAID"
    assert (await entitlement(api, tenant, "sso"))["reason"] == "SUBSCRIPTION_INACTIVE"
    refused = await invite(api, tenant, "new@kumo.example")
    assert refused["code"] == "SUBSCRIPTION_NOT_ACTIVE", refused

    over = await _call(api, PAY, input={"invoiceId": invoice["id"], "amount": 200_01, "method": "CHECK"})
    assert (over["code"], over["field"]) == ("VALIDATION_FAILED", "input.amount"), over
    paid = await _call(
        api,
        PAY,
        input={"invoiceId": invoice["id"], "amount": 200_00, "method": "CHECK", "reference": "chq 0042"},
    )
    assert (paid["status"], paid["amountPaid"]["amount"]) == ("PAID", 300_00), paid
    recovered = await _subscription(api, subscription)
    assert (recovered["status"], recovered["pastDueAt"], recovered["graceEndsAt"]) == ("ACTIVE", None, None)
    assert (await entitlement(api, tenant, "sso"))["enabled"] is True
    assert (await invite(api, tenant, "new@kumo.example"))["__typename"] == "Member"
    assert await _events(
        deps,
        tenant,
        "invoice.overdue",
        "subscription.past_due",
        "subscription.unpaid",
        "subscription.recovered",
    ) == [
        ("invoice.overdue", "2026-04-01"),
        ("subscription.past_due", "2026-04-01"),
        ("subscription.unpaid", "2026-04-15"),
        ("subscription.recovered", "2026-04-15"),
    ]
    actions = [action for _, action in await audit_actions(api, tenant)]
    assert actions.count("invoice.payment_recorded") == 2
    paid_at = actions.index("invoice.paid")
    assert actions[paid_at - 1 : paid_at + 2] == [
        "invoice.payment_recorded",
        "invoice.paid",
        "subscription.recovered",
    ]


async def _invoices_due(api: Api, tenant: str) -> list[dict[str, Any]]:
    data = await api(
        "query($id: ID!) { tenant(id: $id) { invoices { edges { node { id dueDate status } } } } }",
        {"id": tenant},
    )
    return [edge["node"] for edge in data["tenant"]["invoices"]["edges"]]


async def test_recording_a_payment_needs_an_admin_key(api: Api) -> None:
    clock = await new_clock(api, "2026-03-01T10:00:00Z")
    tenant = await _tenant(api, clock, collectionMethod="SEND_INVOICE")
    await _subscribe(api, tenant, await create_plan(api, "team", 300_00))
    (invoice,) = await _invoices_due(api, tenant)
    key = (await new_key(api, "TENANT", tenant))["secret"]
    refused = await api.as_key(key)(
        PAY, {"input": {"invoiceId": invoice["id"], "amount": 1, "method": "OTHER"}}
    )
    assert refused["recordPayment"]["code"] == "FORBIDDEN"


async def test_a_paused_subscription_invoices_nothing_for_two_periods_and_resuming_invoices_the_new_one(
    api: Api, deps: Deps
) -> None:
    clock = await new_clock(api, "2026-03-01T09:00:00Z")
    tenant = await _tenant(api, clock)
    plan = await create_plan(api, "team", 49_00, includedSeats=3)
    await feature(api, "sso", "BOOLEAN")
    await grant(api, "sso", plan=plan)
    subscription = (await _subscribe(api, tenant, plan))["id"]
    await advance(api, clock, "2026-03-10T09:00:00Z")
    paused = await _call(api, PAUSE, id=subscription)
    assert (paused["status"], paused["pausedAt"], paused["resumesAt"]) == (
        "PAUSED",
        "2026-03-10T09:00:00+00:00",
        None,
    )
    assert (await entitlement(api, tenant, "sso"))["reason"] == "SUBSCRIPTION_INACTIVE"
    assert (await invite(api, tenant, "new@kumo.example"))["code"] == "SUBSCRIPTION_NOT_ACTIVE"
    await advance(api, clock, "2026-05-20T09:00:00Z")  # across the April and May renewal dates
    assert len(await invoices(api, tenant)) == 1  # the subscription's first only

    resumed = await _call(api, RESUME, id=subscription)
    assert (resumed["status"], resumed["currentPeriodStart"], resumed["currentPeriodEnd"]) == (
        "ACTIVE",
        "2026-05-20T09:00:00+00:00",
        "2026-06-20T09:00:00+00:00",
    )
    newest = (await invoices(api, tenant))[0]
    assert (newest["total"]["amount"], newest["periodStart"]) == (49_00, "2026-05-20T09:00:00+00:00")
    assert (await entitlement(api, tenant, "sso"))["enabled"] is True
    assert await _events(deps, tenant, "subscription.paused", "subscription.resumed") == [
        ("subscription.paused", "2026-03-10"),
        ("subscription.resumed", "2026-05-20"),
    ]


async def test_a_pause_with_a_resume_date_resumes_on_the_clock_and_cannot_be_changed_while_paused(
    api: Api,
) -> None:
    clock = await new_clock(api, "2026-03-01T09:00:00Z")
    tenant = await _tenant(api, clock)
    plan = await create_plan(api, "team", 49_00)
    other = await create_plan(api, "pro", 99_00)
    subscription = (await _subscribe(api, tenant, plan))["id"]
    too_early = await _call(api, PAUSE, id=subscription, at="2026-02-01T00:00:00Z")
    assert too_early["code"] == "VALIDATION_FAILED", too_early
    naive = await _call(api, PAUSE, id=subscription, at="2000-01-01T00:00:00")  # no offset: UTC
    assert naive["code"] == "VALIDATION_FAILED" and "after now" in naive["message"], naive
    assert (await _call(api, PAUSE, id=subscription, at="2026-04-10T00:00:00Z"))["status"] == "PAUSED"
    assert (await _call(api, PAUSE, id=subscription))["code"] == "SUBSCRIPTION_NOT_ACTIVE"
    change = await change_plan(api, change_input(subscription, other))
    assert change["code"] == "SUBSCRIPTION_NOT_ACTIVE", change
    await advance(api, clock, "2026-04-12T00:00:00Z")
    resumed = await _subscription(api, subscription)
    assert (resumed["status"], resumed["currentPeriodStart"]) == ("ACTIVE", "2026-04-10T00:00:00+00:00")
    assert [i["periodStart"] for i in await invoices(api, tenant)] == [
        "2026-04-10T00:00:00+00:00",
        "2026-03-01T09:00:00+00:00",
    ]
    assert (await _call(api, RESUME, id=subscription))["code"] == "SUBSCRIPTION_NOT_ACTIVE"


async def test_a_subscription_set_to_cancel_at_period_end_is_not_paused_so_it_is_never_billed_again(
    api: Api,
) -> None:
    clock = await new_clock(api, "2026-03-01T09:00:00Z")
    tenant = await _tenant(api, clock)
    subscription = (await _subscribe(api, tenant, await create_plan(api, "team", 49_00)))["id"]
    scheduled = await api(
        "mutation($id: ID!) { cancelSubscription(subscriptionId: $id, atPeriodEnd: true) { __typename } }",
        {"id": subscription},
    )
    assert scheduled["cancelSubscription"]["__typename"] == "Subscription"
    refused = await _call(api, PAUSE, id=subscription, at="2026-04-10T00:00:00Z")
    assert refused["code"] == "VALIDATION_FAILED" and "cancel it now" in refused["message"], refused
    await advance(api, clock, "2026-05-01T09:00:00Z")
    assert (await _subscription(api, subscription))["status"] == "CANCELLED"
    assert len(await invoices(api, tenant)) == 1
