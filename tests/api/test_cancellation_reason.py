"""cancelSubscription(reason:): why a subscription was cancelled is kept (trimmed) on
Subscription.cancellationReason, in the audit entry and in the subscription.cancelled
event; a reason over 500 characters is refused naming `reason`; no reason is fine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models.platform.deps import Deps
from models.tables import EventRow
from tests.builders.api import Api
from tests.builders.billing import advance, create_plan, subscribe
from tests.builders.clocks import new_clock, tenant_on

CANCEL = """mutation($id: ID!, $end: Boolean!, $reason: String) {
  cancelSubscription(subscriptionId: $id, atPeriodEnd: $end, reason: $reason) { __typename
    ... on Subscription { status cancelAtPeriodEnd cancellationReason }
    ... on ValidationError { field } ... on Error { code message } } }"""


async def _subscribed(api: Api, name: str) -> tuple[str, str, str]:
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant = await tenant_on(api, name, clock)
    subscription = await subscribe(api, tenant, await create_plan(api, name.lower(), 49_00))
    return clock, tenant, subscription["id"]


async def _cancel(api: Api, subscription: str, at_period_end: bool, reason: str | None = None) -> Any:
    variables = {"id": subscription, "end": at_period_end, "reason": reason}
    return (await api(CANCEL, variables))["cancelSubscription"]


async def _audit_after(api: Api, tenant: str, action: str) -> list[Any]:
    data = await api(
        "query($id: ID!) { auditLog(tenantId: $id, first: 100) { edges { node { action after } } } }",
        {"id": tenant},
    )
    return [e["node"]["after"] for e in data["auditLog"]["edges"] if e["node"]["action"] == action]


async def _cancelled_events(deps: Deps, tenant: str) -> list[dict[str, Any]]:
    async with deps.store.read() as session:
        rows = await session.scalars(
            select(EventRow)
            .where(EventRow.tenant_id == tenant, EventRow.type == "subscription.cancelled")
            .order_by(EventRow.id)
        )
        return [row.data for row in rows]


async def _shown(api: Api, subscription: str) -> Any:
    query = "query($id: ID!) { subscription(id: $id) { status cancellationReason } }"
    return (await api(query, {"id": subscription}))["subscription"]


async def test_a_reason_given_when_cancelling_now_is_trimmed_stored_shown_audited_and_sent(
    api: Api, deps: Deps
) -> None:
    _, tenant, subscription = await _subscribed(api, "Kumo")
    result = await _cancel(api, subscription, False, "  Too expensive for us  ")
    assert result == {
        "__typename": "Subscription",
        "status": "CANCELLED",
        "cancelAtPeriodEnd": False,
        "cancellationReason": "Too expensive for us",
    }
    assert await _shown(api, subscription) == {
        "status": "CANCELLED",
        "cancellationReason": "Too expensive for us",
    }
    [after] = await _audit_after(api, tenant, "subscription.cancelled")
    assert after["cancellationReason"] == "Too expensive for us"
    [event] = await _cancelled_events(deps, tenant)
    assert event["cancellationReason"] == "Too expensive for us" and event["atPeriodEnd"] is False


async def test_a_reason_given_for_the_period_end_is_kept_until_the_renewal_cancels_and_sent_then(
    api: Api, deps: Deps
) -> None:
    clock, tenant, subscription = await _subscribed(api, "Sora")
    result = await _cancel(api, subscription, True, "Switching to another tool")
    assert result["cancelAtPeriodEnd"] is True and result["status"] == "ACTIVE"
    assert result["cancellationReason"] == "Switching to another tool"
    [scheduled] = await _audit_after(api, tenant, "subscription.cancel_scheduled")
    assert scheduled["cancellationReason"] == "Switching to another tool"
    await advance(api, clock, "2026-04-01T00:00:00Z")
    assert await _shown(api, subscription) == {
        "status": "CANCELLED",
        "cancellationReason": "Switching to another tool",
    }
    [event] = await _cancelled_events(deps, tenant)
    assert event["cancellationReason"] == "Switching to another tool" and event["atPeriodEnd"] is True


async def test_a_reason_over_500_characters_is_refused_naming_reason_and_nothing_is_cancelled(
    api: Api, deps: Deps
) -> None:
    _, tenant, subscription = await _subscribed(api, "Umi")
    refused = await _cancel(api, subscription, False, "x" * 501)
    assert refused["__typename"] == "ValidationError" and refused["field"] == "reason", refused
    assert refused["code"] == "VALIDATION_FAILED" and "500" in refused["message"], refused
    assert await _shown(api, subscription) == {"status": "ACTIVE", "cancellationReason": None}
    assert await _cancelled_events(deps, tenant) == []
    accepted = await _cancel(api, subscription, False, "  " + "y" * 500 + "  ")
    assert accepted["cancellationReason"] == "y" * 500


async def test_no_reason_or_a_blank_one_cancels_with_a_null_reason(api: Api, deps: Deps) -> None:
    _, tenant, subscription = await _subscribed(api, "Yama")
    assert (await _cancel(api, subscription, False))["cancellationReason"] is None
    [event] = await _cancelled_events(deps, tenant)
    assert event["cancellationReason"] is None
    _, _, other = await _subscribed(api, "Kawa")
    blank = await _cancel(api, other, False, "   ")
    assert blank["status"] == "CANCELLED" and blank["cancellationReason"] is None


async def test_cancelling_again_keeps_the_first_reason(api: Api) -> None:
    _, _, subscription = await _subscribed(api, "Mori")
    await _cancel(api, subscription, True, "Budget cuts")
    again = await _cancel(api, subscription, True, "Something else")
    assert again["cancellationReason"] == "Budget cuts"
