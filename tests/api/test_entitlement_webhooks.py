"""A partner's webhook endpoint hears of a METERED feature's usage thresholds: 80% and
100% of the limit, each once per billing period, however the usage comes (one event
at a time, more after each threshold, or one batch past both), signed per Standard
Webhooks; reaching the limit is an `entitlements.changed` too. After the renewal the
new period announces them again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.webhooks.outbound import run_deliveries
from models.platform.deps import Deps
from tests.builders.api import Api
from tests.builders.billing import advance, create_plan, subscribe
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.entitlements import entitlement, feature, grant
from tests.builders.metering import event, new_meter, record, record_batch
from tests.builders.receivers import Receiver, receiving
from tests.builders.webhook_endpoints import create_endpoint, new_endpoint

HOOKED = ["usage.threshold_reached", "entitlements.changed"]
MARCH = ("2026-03-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00")
APRIL = ("2026-04-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as receiver:
        yield receiver


async def metered_tenant(api: Api, deps: Deps, name: str = "Acme") -> tuple[str, str]:
    """(clock, tenant): a tenant on a test clock at 2026-03-01, subscribed to a plan that
    grants `api` (the api_calls meter) 100 a month, BLOCK past it; earlier events sent."""
    clock = await new_clock(api, "2026-03-01T00:00:00Z")
    tenant = await tenant_on(api, name, clock)
    await new_meter(api, "api_calls")
    await feature(api, "api", "METERED", meter="api_calls")
    plan = await create_plan(api, "metered", 10_00)
    await grant(api, "api", plan=plan, limit=100)
    assert (await subscribe(api, tenant, plan))["__typename"] == "Subscription"
    await run_deliveries(deps)  # the subscription's own events: no endpoint wanted them
    return clock, tenant


def sent(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """What the endpoint received, verified, in order: (type, data)."""
    return [r.verified(secret) for r in receiver.requests]


def threshold(percent: int, used: int, period: tuple[str, str]) -> dict[str, Any]:
    return {
        "featureCode": "api",
        "meterName": "api_calls",
        "percent": percent,
        "limit": 100,
        "used": used,
        "periodStart": period[0],
        "periodEnd": period[1],
    }


async def test_both_event_types_are_accepted_by_create_webhook_endpoint(api: Api, receiver: Receiver) -> None:
    created = await create_endpoint(api, receiver.url(), HOOKED)
    assert created["__typename"] == "NewWebhookEndpoint", created
    assert created["endpoint"]["events"] == HOOKED
    refused = await create_endpoint(api, receiver.url(), ["usage.threshold"])
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "input.events")


async def test_thresholds_are_sent_once_each_at_80_and_100_percent_whatever_follows(
    api: Api, deps: Deps, receiver: Receiver
) -> None:
    clock, tenant = await metered_tenant(api, deps)
    _, secret = await new_endpoint(api, receiver.url(), HOOKED, tenant)
    await advance(api, clock, "2026-03-10T12:00:00Z")

    assert (await record(api, tenant, "api_calls", 79, "2026-03-10T09:00:00Z"))[
        "__typename"
    ] == "UsageRecorded"
    await run_deliveries(deps)
    assert receiver.requests == []  # 79%: nothing yet

    for value, at in ((1, "09:10"), (5, "09:20"), (4, "09:30")):  # 80%, then 85% and 89%
        assert (await record(api, tenant, "api_calls", value, f"2026-03-10T{at}:00Z"))["__typename"] == (
            "UsageRecorded"
        )
    await run_deliveries(deps)
    (eighty,) = sent(receiver, secret)
    assert eighty == {
        "type": "usage.threshold_reached",
        "timestamp": "2026-03-10T12:00:00+00:00",
        "data": {"tenantId": tenant, **threshold(80, 80, MARCH)},
    }

    for value, at in ((11, "10:00"), (30, "10:10"), (1, "10:20")):  # 100%, then 130% and 131%
        assert (await record(api, tenant, "api_calls", value, f"2026-03-10T{at}:00Z"))["__typename"] == (
            "UsageRecorded"
        )
    await run_deliveries(deps)
    _, hundred, changed = sent(receiver, secret)
    assert hundred["data"] == {"tenantId": tenant, **threshold(100, 100, MARCH)}
    assert (changed["type"], changed["data"]["reason"]) == ("entitlements.changed", "usage.limit_reached")
    assert changed["data"]["entitlements"] == [
        {
            "featureCode": "api",
            "kind": "METERED",
            "enabled": False,
            "reason": "LIMIT_REACHED",
            "limit": 100,
            "used": 100,
            "remaining": 0,
            "overage": "BLOCK",
            "resetsAt": MARCH[1],
        }
    ]
    # More usage past 100% in this period sends nothing more.
    assert (await record(api, tenant, "api_calls", 50, "2026-03-10T11:00:00Z"))[
        "__typename"
    ] == "UsageRecorded"
    await run_deliveries(deps)
    assert len(receiver.requests) == 3
    assert (await entitlement(api, tenant, "api"))["used"] == 181


async def test_one_batch_past_both_thresholds_sends_both_once_and_a_renewal_starts_them_over(
    api: Api, deps: Deps, receiver: Receiver
) -> None:
    clock, tenant = await metered_tenant(api, deps)
    _, secret = await new_endpoint(api, receiver.url(), HOOKED, tenant)
    await advance(api, clock, "2026-03-10T12:00:00Z")

    # One batch from 0 to 120: both thresholds at once, each sent once, 80 before 100.
    jump = [event(tenant, "api_calls", v, f"2026-03-10T0{h}:00:00Z") for h, v in enumerate((50, 40, 30))]
    assert (await record_batch(api, jump))["accepted"] == 3
    await run_deliveries(deps)
    eighty, hundred, changed = sent(receiver, secret)
    assert [eighty["data"], hundred["data"]] == [
        {"tenantId": tenant, **threshold(80, 120, MARCH)},
        {"tenantId": tenant, **threshold(100, 120, MARCH)},
    ]
    assert changed["data"]["reason"] == "usage.limit_reached"
    assert (await record_batch(api, [event(tenant, "api_calls", 5, "2026-03-10T04:00:00Z")]))["accepted"] == 1
    await run_deliveries(deps)
    assert len(receiver.requests) == 3

    # The renewal starts a new period: the feature is back on, and announced as such...
    await advance(api, clock, "2026-04-02T12:00:00Z")
    await run_deliveries(deps)
    (renewed,) = sent(receiver, secret)[3:]
    assert (renewed["type"], renewed["data"]["reason"]) == ("entitlements.changed", "subscription.renewed")
    assert [(e["enabled"], e["used"], e["resetsAt"]) for e in renewed["data"]["entitlements"]] == [
        (True, 0, APRIL[1])
    ]

    # ...and its thresholds are announced again, once each.
    for value, at in ((85, "09"), (10, "10"), (15, "11"), (20, "12")):  # 85%, 95%, 110%, 130%
        assert (await record(api, tenant, "api_calls", value, f"2026-04-02T{at}:00:00Z"))["__typename"] == (
            "UsageRecorded"
        )
    await run_deliveries(deps)
    eighty, hundred, changed = sent(receiver, secret)[4:]
    assert [eighty["data"], hundred["data"]] == [
        {"tenantId": tenant, **threshold(80, 85, APRIL)},
        {"tenantId": tenant, **threshold(100, 110, APRIL)},
    ]
    assert (changed["type"], changed["data"]["reason"]) == ("entitlements.changed", "usage.limit_reached")
    assert len(receiver.requests) == 7
