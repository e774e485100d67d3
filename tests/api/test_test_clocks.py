"""Test clocks: freeze time, put a tenant on it, advance it, read the new time."""

from __future__ import annotations

from tests.builders.api import START, Api

CREATE_CLOCK = """mutation($t: DateTime!) { createTestClock(frozenTime: $t, name: "renewals") {
  __typename ... on TestClock { id frozenTime name status } ... on Error { code message }
  ... on ValidationError { field } } }"""
ADVANCE = """mutation($id: ID!, $t: DateTime!) { advanceTestClock(id: $id, frozenTime: $t) {
  __typename ... on TestClock { id frozenTime } ... on Error { code message }
  ... on ValidationError { field } } }"""
TENANT_ON = """mutation($clock: ID) { createTenant(input: {name: "Clocked", email: "c@c.example",
  currency: "JPY", timezone: "Asia/Tokyo", testClockId: $clock}) { ... on Tenant { id createdAt } } }"""
READ = "query($id: ID!) { tenant(id: $id) { now createdAt testClock { id frozenTime } } }"


async def test_a_tenant_lives_on_its_test_clock(api: Api) -> None:
    frozen = "2026-03-31T15:00:00+00:00"
    clock = (await api(CREATE_CLOCK, {"t": frozen}))["createTestClock"]
    assert (clock["frozenTime"], clock["name"], clock["status"]) == (frozen, "renewals", "READY")

    tenant = (await api(TENANT_ON, {"clock": clock["id"]}))["createTenant"]
    assert tenant["createdAt"] == frozen  # created on the clock's time, not the wall's

    read = (await api(READ, {"id": tenant["id"]}))["tenant"]
    assert read["now"] == frozen
    assert read["testClock"] == {"id": clock["id"], "frozenTime": frozen}

    later = "2026-05-01T00:00:00+09:00"  # any offset; stored and answered in UTC
    advanced = (await api(ADVANCE, {"id": clock["id"], "t": later}))["advanceTestClock"]
    assert advanced["frozenTime"] == "2026-04-30T15:00:00+00:00"
    read = (await api(READ, {"id": tenant["id"]}))["tenant"]
    assert read["now"] == "2026-04-30T15:00:00+00:00"
    assert read["createdAt"] == frozen


async def test_tenants_without_a_test_clock_live_on_the_process_clock(api: Api) -> None:
    clock = (await api(CREATE_CLOCK, {"t": "2030-01-01T00:00:00Z"}))["createTestClock"]
    tenant = (await api(TENANT_ON, {"clock": None}))["createTenant"]
    read = (await api(READ, {"id": tenant["id"]}))["tenant"]
    assert read["now"] == START.isoformat()
    assert read["testClock"] is None
    await api(ADVANCE, {"id": clock["id"], "t": "2031-01-01T00:00:00Z"})
    assert (await api(READ, {"id": tenant["id"]}))["tenant"]["now"] == START.isoformat()


async def test_test_clocks_only_move_forward(api: Api) -> None:
    clock = (await api(CREATE_CLOCK, {"t": "2026-03-01T00:00:00Z"}))["createTestClock"]
    for target in ("2026-03-01T00:00:00Z", "2026-02-01T00:00:00Z"):
        result = (await api(ADVANCE, {"id": clock["id"], "t": target}))["advanceTestClock"]
        assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "frozenTime")
        assert "only move forward" in result["message"]
    result = (await api(ADVANCE, {"id": "clock_nope", "t": "2027-01-01T00:00:00Z"}))["advanceTestClock"]
    assert result["code"] == "NOT_FOUND"


async def test_times_without_an_offset_or_beyond_the_calendar_are_refused(api: Api) -> None:
    result = (await api(CREATE_CLOCK, {"t": "2026-03-01T00:00:00"}))["createTestClock"]
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "frozenTime")
    assert "UTC offset" in result["message"]
    result = (await api(CREATE_CLOCK, {"t": "9999-12-31T23:00:00-05:00"}))["createTestClock"]
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "frozenTime")
    assert "years 1 to 9999" in result["message"]


async def test_test_clocks_are_for_admin_keys(api: Api) -> None:
    tenant = (await api(TENANT_ON, {"clock": None}))["createTenant"]
    key = (
        await api(
            "mutation($id: ID!) "
            "{ createApiKey(input: {role: TENANT, tenantId: $id}) { ... on NewApiKey { secret } } }",
            {"id": tenant["id"]},
        )
    )["createApiKey"]["secret"]
    result = (await api.as_key(key)(CREATE_CLOCK, {"t": "2026-03-01T00:00:00Z"}))["createTestClock"]
    assert result["code"] == "FORBIDDEN"
