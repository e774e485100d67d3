"""Metered plans for billing tests: meters, usage charges, usage recorded at a time."""

from __future__ import annotations

from typing import Any

from tests.builders.api import Api
from tests.builders.billing import (
    create_plan,
    subscribe,
)
from tests.builders.clocks import new_clock, tenant_on


async def meter(api: Api, name: str, aggregation: str = "SUM") -> None:
    result = (
        await api(
            """mutation($input: CreateMeterInput!) { createMeter(input: $input) { __typename
             ... on Error { code message } } }""",
            {
                "input": {
                    "name": name,
                    "displayName": name.replace("_", " ").title(),
                    "aggregation": aggregation,
                }
            },
        )
    )["createMeter"]
    assert result["__typename"] == "Meter", result


async def charge(api: Api, plan: str, meter_name: str, **fields: Any) -> dict[str, Any]:
    return (
        await api(
            """mutation($input: AddUsageChargeInput!) { addUsageCharge(input: $input) { __typename
             ... on Plan { usageCharges { meterName model unitAmount { amount } packageSize freeUnits
                                          tiers { upTo unitAmount { amount } flatAmount { amount } } } }
             ... on ValidationError { field } ... on Error { code message } } }""",
            {"input": {"planId": plan, "meterName": meter_name, **fields}},
        )
    )["addUsageCharge"]


async def record(api: Api, tenant: str, meter_name: str, value: float, at: str, method: str = "ADD") -> None:
    result = (
        await api(
            """mutation($input: RecordUsageInput!) { recordUsage(input: $input) { __typename
             ... on Error { code message } } }""",
            {
                "input": {
                    "tenantId": tenant,
                    "meterName": meter_name,
                    "value": value,
                    "timestamp": at,
                    "method": method,
                }
            },
        )
    )["recordUsage"]
    assert result["__typename"] == "UsageRecorded", result


async def metered_team(api: Api, timezone: str = "UTC") -> tuple[str, str, str, str]:
    """(clock, tenant, plan, subscription): a $10 plan with API calls at 2 cents after
    100 free each month, subscribed on 2026-11-01 in ``timezone``."""
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Metered", clock, timezone=timezone)
    plan = await create_plan(api, "metered", 10_00)
    await meter(api, "api_calls")
    assert (await charge(api, plan, "api_calls", unitAmount=2, freeUnits=100))["__typename"] == "Plan"
    subscription = (await subscribe(api, tenant, plan))["id"]
    return clock, tenant, plan, subscription
