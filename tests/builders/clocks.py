"""Test clocks, tenants on them, and a seated team on one."""

from __future__ import annotations

from tests.builders.api import Api
from tests.builders.billing import attach, create_addon, create_plan, subscribe


async def new_clock(api: Api, at: str) -> str:
    data = await api(
        "mutation($t: DateTime!) { createTestClock(frozenTime: $t) { ... on TestClock { id } } }", {"t": at}
    )
    return data["createTestClock"]["id"]


async def tenant_on(api: Api, name: str, clock: str, timezone: str = "UTC", currency: str = "USD") -> str:
    data = await api(
        """mutation($input: CreateTenantInput!) { createTenant(input: $input) {
             ... on Tenant { id } ... on Error { code message } } }""",
        {
            "input": {
                "name": name,
                "email": "billing@example.com",
                "currency": currency,
                "timezone": timezone,
                "testClockId": clock,
            }
        },
    )
    return data["createTenant"]["id"]


async def seat_team(api: Api, seats: int = 5) -> tuple[str, str, str, str, str]:
    """A tenant on a clock at 2026-11-01, subscribed to a $0 plan with `seats` seats at $10."""
    clock = await new_clock(api, "2026-11-01T00:00:00Z")
    tenant = await tenant_on(api, "Acme Analytics", clock)
    plan = await create_plan(api, "per_seat", 0, name="Per seat")
    seat = await create_addon(api, "seat", 10_00, seatType="FULL", name="Seat")
    await attach(api, plan, seat)
    subscription = await subscribe(api, tenant, plan, {seat: seats})
    assert subscription["latestInvoice"]["total"]["amount"] == seats * 10_00
    return clock, tenant, plan, seat, subscription["id"]
