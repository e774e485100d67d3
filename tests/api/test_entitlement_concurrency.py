"""consumeEntitlement under concurrency, through the real HTTP app on both databases:
the limit check and the usage it records are one atomic step under the tenant's lock,
so N concurrent consumptions against k remaining admit exactly k (as seat invites do),
and retries of one idempotency key record once. Like every change made under that
lock, a consumption first renews a period that has ended, so it counts the current one."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from models.platform.deps import Deps
from tests.builders.api import Api, new_tenant
from tests.builders.billing import create_plan, subscribe
from tests.builders.entitlements import consume, entitlement, feature, grant
from tests.builders.metering import new_meter, record, today_count

CONSUMERS = 60
REMAINING = 7


def outcomes(results: list[dict]) -> Counter[str]:
    return Counter(r["__typename"] for r in results)


async def test_60_concurrent_consumptions_of_a_limit_with_7_remaining_admit_exactly_7(api: Api) -> None:
    await feature(api, "projects", "LIMIT")
    plan = await create_plan(api, "team", 49_00)
    await grant(api, "projects", plan=plan, limit=10)
    tenant = await new_tenant(api, "Acme")
    await subscribe(api, tenant, plan)
    for n in range(10 - REMAINING):
        assert (await consume(api, tenant, "projects", f"early-{n}"))["__typename"] == "EntitlementConsumed"
    assert (await entitlement(api, tenant, "projects"))["remaining"] == REMAINING

    results = await asyncio.gather(
        *(consume(api, tenant, "projects", f"project-{n}") for n in range(CONSUMERS))
    )

    assert outcomes(results) == {"EntitlementConsumed": REMAINING, "LimitReachedError": CONSUMERS - REMAINING}
    admitted = [r for r in results if r["__typename"] == "EntitlementConsumed"]
    assert {r["duplicate"] for r in admitted} == {False}
    # Each admitted one saw its own consumption: 4, 5, ... 10 used, one each.
    assert sorted(r["entitlement"]["used"] for r in admitted) == list(range(4, 11))
    refused = [r for r in results if r["__typename"] == "LimitReachedError"]
    assert {(r["code"], r["entitlement"]["used"], r["entitlement"]["remaining"]) for r in refused} == {
        ("LIMIT_REACHED", 10, 0)
    }
    final = await entitlement(api, tenant, "projects")
    assert (final["enabled"], final["reason"], final["limit"], final["used"], final["remaining"]) == (
        False,
        "LIMIT_REACHED",
        10,
        10,
        0,
    )


async def test_60_concurrent_consumptions_of_a_metered_limit_with_7_remaining_record_exactly_7(
    api: Api,
) -> None:
    await new_meter(api, "api_calls")
    await feature(api, "api", "METERED", meter="api_calls")
    plan = await create_plan(api, "metered", 10_00)
    await grant(api, "api", plan=plan, limit=20)
    tenant = await new_tenant(api, "Acme")
    await subscribe(api, tenant, plan)
    assert (await record(api, tenant, "api_calls", 20 - REMAINING))["__typename"] == "UsageRecorded"
    assert (await entitlement(api, tenant, "api"))["remaining"] == REMAINING
    assert await today_count(api, tenant, "api_calls") == 20 - REMAINING

    results = await asyncio.gather(*(consume(api, tenant, "api", f"call-{n}") for n in range(CONSUMERS)))

    assert outcomes(results) == {"EntitlementConsumed": REMAINING, "LimitReachedError": CONSUMERS - REMAINING}
    admitted = [r for r in results if r["__typename"] == "EntitlementConsumed"]
    assert sorted(r["entitlement"]["used"] for r in admitted) == list(range(14, 21))
    # The meter counted exactly the 7 admitted, and the entitlement reads the same count.
    assert await today_count(api, tenant, "api_calls") == 20
    final = await entitlement(api, tenant, "api")
    assert (final["enabled"], final["reason"], final["limit"], final["used"], final["remaining"]) == (
        False,
        "LIMIT_REACHED",
        20,
        20,
        0,
    )


async def test_concurrent_retries_of_one_idempotency_key_record_once(api: Api) -> None:
    await new_meter(api, "api_calls")
    await feature(api, "api", "METERED", meter="api_calls")
    await feature(api, "projects", "LIMIT")
    plan = await create_plan(api, "team", 49_00)
    await grant(api, "api", plan=plan, limit=100)
    await grant(api, "projects", plan=plan, limit=10)
    tenant = await new_tenant(api, "Acme")
    await subscribe(api, tenant, plan)

    for code, amount in (("projects", 2), ("api", 5)):
        results = await asyncio.gather(
            *(consume(api, tenant, code, f"{code}-retry", amount=amount) for _ in range(20))
        )
        assert outcomes(results) == {"EntitlementConsumed": 20}, results
        assert Counter(r["duplicate"] for r in results) == {False: 1, True: 19}
        # Every answer, the first and each replay, shows the one consumption.
        assert {r["entitlement"]["used"] for r in results} == {amount}
        assert (await entitlement(api, tenant, code))["used"] == amount
    assert await today_count(api, tenant, "api_calls") == 5


async def test_a_consumption_after_the_period_ended_renews_first_and_counts_the_new_period(
    api: Api, deps: Deps
) -> None:
    await new_meter(api, "api_calls")
    await feature(api, "api", "METERED", meter="api_calls")
    plan = await create_plan(api, "metered", 10_00)
    await grant(api, "api", plan=plan, limit=5)
    tenant = await new_tenant(api, "Acme")
    subscription = await subscribe(api, tenant, plan)
    assert subscription["currentPeriodEnd"] == "2026-02-15T12:00:00+00:00"
    assert (await consume(api, tenant, "api", "january", amount=5))["__typename"] == "EntitlementConsumed"

    # The period ended a day ago and no billing run has renewed it yet.
    deps.clock.set(deps.clock.now() + timedelta(days=32))
    consumed = await consume(api, tenant, "api", "february")

    assert consumed["__typename"] == "EntitlementConsumed", consumed
    after = consumed["entitlement"]
    assert (after["enabled"], after["used"], after["remaining"], after["resetsAt"]) == (
        True,
        1,
        4,
        "2026-03-15T12:00:00+00:00",
    )
    renewed = await api(
        "query($t: ID!) { tenant(id: $t) { subscription { currentPeriodStart } } }", {"t": tenant}
    )
    assert renewed["tenant"]["subscription"]["currentPeriodStart"] == "2026-02-15T12:00:00+00:00"


async def test_consumptions_in_the_first_fraction_of_a_second_of_a_period_count_against_its_limit(
    api: Api, deps: Deps
) -> None:
    # Meters keep whole seconds; this period starts half a second into one.
    deps.clock.set(deps.clock.now() + timedelta(milliseconds=500))
    await new_meter(api, "api_calls")
    await feature(api, "api", "METERED", meter="api_calls")
    plan = await create_plan(api, "metered", 10_00)
    await grant(api, "api", plan=plan, limit=5)
    tenant = await new_tenant(api, "Acme")
    assert (await subscribe(api, tenant, plan))["currentPeriodStart"] == "2026-01-15T12:00:00.500000+00:00"

    results = await asyncio.gather(*(consume(api, tenant, "api", f"call-{n}") for n in range(20)))

    assert outcomes(results) == {"EntitlementConsumed": 5, "LimitReachedError": 15}
    final = await entitlement(api, tenant, "api")
    assert (final["enabled"], final["used"], final["remaining"]) == (False, 5, 0)
    assert await today_count(api, tenant, "api_calls") == 5
