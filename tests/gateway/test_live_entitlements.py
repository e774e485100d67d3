"""`entitlementsChanged` live, within a second: a graphql-transport-ws client of a real
uvicorn server hears of a plan change, of a consumption that uses up a LIMIT, and of
usage crossing a METERED limit (by recordUsage or recordUsageBatch) less than a second
after the mutation's response, on SQLite (the committing process fans out) and on
PostgreSQL (LISTEN/NOTIFY). The partner's `entitlements.changed` webhook, sent by the
server's own delivery worker, arrives within the second too. Latencies are printed
(`pytest -s` shows them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from gateway.settings import Settings
from models.platform.deps import Deps
from tests.builders.api import Api, new_key, new_tenant
from tests.builders.billing import change_input, change_plan, create_plan, subscribe
from tests.builders.entitlements import consume, feature, grant
from tests.builders.live_subscriptions import LiveClient, http_api, live, next_data, serve, subscribed
from tests.builders.metering import event, new_meter, record, record_batch
from tests.builders.receivers import Receiver, receiving
from tests.builders.webhook_endpoints import new_endpoint

ENTITLEMENTS = """subscription($t: ID!) { entitlementsChanged(tenantId: $t) { id tenantId at reason
  entitlements { featureCode kind enabled reason limit used remaining } } }"""
WITHIN = 1.0  # seconds, from the mutation's response to the message


async def after(
    mutation: Awaitable[dict[str, Any]], client: LiveClient
) -> tuple[dict[str, Any], dict[str, Any], float, float]:
    """Run the mutation while already reading the socket: (the mutation's result, the
    message, when the response came, seconds from it to the message's arrival:
    negative when the message came first)."""

    async def arrival() -> tuple[dict[str, Any], float]:
        message = await client.receive(timeout=10)
        return message, time.monotonic()

    reading = asyncio.create_task(arrival())
    await asyncio.sleep(0)  # the reader waits on the socket before the mutation starts
    result = await mutation
    answered = time.monotonic()
    message, arrived = await reading
    return result, message, answered, arrived - answered


async def webhook_latency(receiver: Receiver, count: int, since: float) -> float:
    """Seconds from ``since`` until the receiver has had ``count`` requests (polled every 5 ms)."""
    while len(receiver.requests) < count and time.monotonic() < since + 10:
        await asyncio.sleep(0.005)
    assert len(receiver.requests) >= count, receiver.requests
    return time.monotonic() - since


def report(what: str, dialect: str, live_s: float, hook_s: float | None = None) -> None:
    hook = "" if hook_s is None else f", webhook {hook_s * 1000:.0f} ms"
    print(f"\n[{dialect}] {what}: live {live_s * 1000:.0f} ms{hook} after the mutation's response")


def by_code(event: dict[str, Any]) -> dict[str, tuple]:
    return {
        e["featureCode"]: (e["enabled"], e["reason"], e["limit"], e["used"], e["remaining"])
        for e in event["entitlements"]
    }


async def test_a_plan_change_reaches_entitlements_changed_and_its_webhook_within_a_second(
    settings: Settings, deps: Deps, admin_key: str
) -> None:
    async with receiving() as receiver, serve(settings, deps) as address, http_api(address, admin_key) as api:
        await feature(api, "sso", "BOOLEAN")
        await feature(api, "projects", "LIMIT")
        basic = await create_plan(api, "basic", 10_00)
        pro = await create_plan(api, "pro", 50_00)
        await grant(api, "projects", plan=basic, limit=3)
        await grant(api, "projects", plan=pro, limit=10)
        await grant(api, "sso", plan=pro)
        tenant = await new_tenant(api, "Acme")
        subscription = await subscribe(api, tenant, basic)
        _, secret = await new_endpoint(api, receiver.url(), ["entitlements.changed"], tenant)
        own = (await new_key(api, "TENANT", tenant))["secret"]

        async with live(address, own) as client:
            op = await client.subscribe(ENTITLEMENTS, {"t": tenant})
            await subscribed(deps.bus, 1)
            upgrade = change_plan(api, change_input(subscription["id"], pro))
            changed, message, answered, latency = await after(upgrade, client)
            hook = await webhook_latency(receiver, 1, answered)
            report("plan change", deps.store.dialect, latency, hook)
            assert changed["__typename"] == "PlanChange", changed
            assert latency < WITHIN and hook < WITHIN

            pushed = next_data(message, op, "entitlementsChanged")
            assert (pushed["tenantId"], pushed["reason"]) == (tenant, "subscription.plan_changed")
            assert by_code(pushed) == {
                "projects": (True, None, 10, 0, 10),
                "sso": (True, None, None, None, None),
            }
            (delivered,) = receiver.requests
            body = delivered.verified(secret)
            assert (body["type"], body["data"]["reason"]) == (
                "entitlements.changed",
                "subscription.plan_changed",
            )
            assert {e["featureCode"]: e["enabled"] for e in body["data"]["entitlements"]} == {
                "projects": True,
                "sso": True,
            }
            await client.assert_silent()  # one change, one message

            # The project that uses up the new limit, through consumeEntitlement.
            for n in range(9):
                assert (await consume(api, tenant, "projects", f"project-{n}"))["__typename"] == (
                    "EntitlementConsumed"
                )
            await client.assert_silent()
            consumed, message, answered, latency = await after(
                consume(api, tenant, "projects", "project-9"), client
            )
            hook = await webhook_latency(receiver, 2, answered)
            report("consumeEntitlement up to a LIMIT", deps.store.dialect, latency, hook)
            assert consumed["entitlement"]["reason"] == "LIMIT_REACHED", consumed
            assert latency < WITHIN and hook < WITHIN
            pushed = next_data(message, op, "entitlementsChanged")
            assert pushed["reason"] == "usage.limit_reached"
            assert by_code(pushed)["projects"] == (False, "LIMIT_REACHED", 10, 10, 0)
            assert receiver.requests[1].verified(secret)["data"]["reason"] == "usage.limit_reached"


async def metered_catalog(api: Api) -> str:
    """The `api` METERED feature on the api_calls meter: 100 a period, BLOCK past it."""
    await new_meter(api, "api_calls")
    await feature(api, "api", "METERED", meter="api_calls")
    plan = await create_plan(api, "metered", 10_00)
    await grant(api, "api", plan=plan, limit=100)
    return plan


async def test_usage_crossing_a_metered_limit_reaches_entitlements_changed_within_a_second(
    settings: Settings, deps: Deps, admin_key: str
) -> None:
    async with receiving() as receiver, serve(settings, deps) as address, http_api(address, admin_key) as api:
        plan = await metered_catalog(api)
        single, batched = await new_tenant(api, "Single"), await new_tenant(api, "Batched")
        for tenant in (single, batched):
            await subscribe(api, tenant, plan)
        _, secret = await new_endpoint(api, receiver.url(), ["entitlements.changed"], single)
        partner = (await new_key(api, "PARTNER", single))["secret"]

        async with live(address, partner) as one, live(address, admin_key) as other:
            one_op = await one.subscribe(ENTITLEMENTS, {"t": single})
            other_op = await other.subscribe(ENTITLEMENTS, {"t": batched})
            await subscribed(deps.bus, 2)

            # Usage below the limit, 80% included, moves no entitlement.
            assert (await record(api, single, "api_calls", 79))["__typename"] == "UsageRecorded"
            assert (await record(api, single, "api_calls", 1))["__typename"] == "UsageRecorded"
            await one.assert_silent()

            recorded, message, answered, latency = await after(record(api, single, "api_calls", 25), one)
            hook = await webhook_latency(receiver, 1, answered)
            report("recordUsage past the limit", deps.store.dialect, latency, hook)
            assert recorded["__typename"] == "UsageRecorded", recorded
            assert latency < WITHIN and hook < WITHIN
            pushed = next_data(message, one_op, "entitlementsChanged")
            assert (pushed["tenantId"], pushed["reason"]) == (single, "usage.limit_reached")
            assert by_code(pushed) == {"api": (False, "LIMIT_REACHED", 100, 105, 0)}
            body = receiver.requests[0].verified(secret)
            assert (body["type"], body["data"]["reason"]) == ("entitlements.changed", "usage.limit_reached")
            # Usage past the limit says nothing more this period.
            assert (await record(api, single, "api_calls", 10))["__typename"] == "UsageRecorded"
            await one.assert_silent()

            # One batch that jumps from 0 past the limit (another tenant's usage in it too).
            batch = [
                event(batched, "api_calls", 60),
                event(single, "api_calls", 1),
                event(batched, "api_calls", 45),
            ]
            recorded, message, _, latency = await after(record_batch(api, batch), other)
            report("recordUsageBatch past the limit", deps.store.dialect, latency)
            assert (recorded["accepted"], recorded["errors"]) == (3, []), recorded
            assert latency < WITHIN
            pushed = next_data(message, other_op, "entitlementsChanged")
            assert (pushed["tenantId"], pushed["reason"]) == (batched, "usage.limit_reached")
            assert by_code(pushed) == {"api": (False, "LIMIT_REACHED", 100, 105, 0)}
            await other.assert_silent()
            await one.assert_silent()
            assert len(receiver.requests) == 1
