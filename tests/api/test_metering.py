"""Metering over GraphQL: usage events (ADD, SUB, DIRECT, batches, idempotency keys)
and every count query, by day and month of the tenant's timezone and on its test clock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from models.kernel.clock import FixedClock
from models.kernel.errors import ValidationFailed
from models.metering import ingest as usage
from models.platform.access import operator
from models.platform.deps import Deps
from tests.builders.api import START, Api, new_key, new_tenant
from tests.builders.billing import advance
from tests.builders.clocks import new_clock, tenant_on
from tests.builders.metering import (
    COUNT,
    PERIOD,
    create_meter,
    date_count,
    date_counts,
    delete_usage,
    error_codes,
    event,
    month_count,
    month_count_of,
    month_counts,
    new_meter,
    period_counts,
    record,
    record_all,
    record_batch,
    this_month_count,
    today_count,
    update_meter,
)

NOW = "2026-03-10T12:00:00Z"


async def test_every_count_query_combines_the_points_of_its_day_or_month(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Counted", clock)
    await new_meter(api, "api_calls", "SUM")
    await new_meter(api, "storage_gb", "MAX")
    await new_meter(api, "idle", "LATEST")
    await record_all(
        api,
        [
            event(tenant, "api_calls", 5, "2026-02-27T10:00:00Z"),
            event(tenant, "api_calls", 2, "2026-03-01T00:00:00Z"),
            event(tenant, "api_calls", 3, "2026-03-09T23:59:59Z"),
            event(tenant, "api_calls", 4, "2026-03-10T08:00:00Z"),
            event(tenant, "api_calls", 1.5, "2026-03-10T09:30:00Z"),
            event(tenant, "storage_gb", 9, "2026-03-02T00:00:00Z"),
            event(tenant, "storage_gb", 7, "2026-03-10T01:00:00Z"),
            event(tenant, "storage_gb", 3, "2026-03-10T02:00:00Z"),
        ],
    )

    assert await date_count(api, tenant, "api_calls", "2026-03-10") == 5.5
    assert await date_count(api, tenant, "api_calls", "2026-03-09") == 3
    assert await date_count(api, tenant, "api_calls", "2026-03-08") == 0
    assert await today_count(api, tenant, "api_calls") == 5.5
    assert await month_count(api, tenant, "api_calls", "2026-03") == 10.5
    assert await month_count(api, tenant, "api_calls", "2026-02") == 5
    assert await this_month_count(api, tenant, "api_calls") == 10.5
    assert await date_counts(api, tenant, "2026-03-10") == [
        {"meterName": "api_calls", "aggregation": "SUM", "count": 5.5},
        {"meterName": "storage_gb", "aggregation": "MAX", "count": 7},
        {"meterName": "idle", "aggregation": "LATEST", "count": 0},
    ]
    assert await month_counts(api, tenant, "2026-03") == [
        {"meterName": "api_calls", "aggregation": "SUM", "count": 10.5},
        {"meterName": "storage_gb", "aggregation": "MAX", "count": 9},
        {"meterName": "idle", "aggregation": "LATEST", "count": 0},
    ]
    assert await period_counts(api, tenant, "api_calls", "2026-02-27", "2026-03-02") == [
        ("2026-02-27", 5),
        ("2026-02-28", 0),
        ("2026-03-01", 2),
        ("2026-03-02", 0),
    ]

    # Today and this month follow the tenant's test clock.
    await advance(api, clock, "2026-03-11T00:00:00Z")
    assert await today_count(api, tenant, "api_calls") == 0
    assert await this_month_count(api, tenant, "api_calls") == 10.5
    assert (await record(api, tenant, "api_calls", 2))["timestamp"] == "2026-03-11T00:00:00+00:00"
    assert await today_count(api, tenant, "api_calls") == 2
    assert await this_month_count(api, tenant, "api_calls") == 12.5

    await advance(api, clock, "2026-04-02T09:00:00Z")
    assert await today_count(api, tenant, "api_calls") == 0
    assert await this_month_count(api, tenant, "api_calls") == 0
    assert await month_count(api, tenant, "api_calls", "2026-03") == 12.5


async def test_an_event_at_one_in_the_morning_in_tokyo_counts_in_tokyos_new_month(api: Api) -> None:
    clock = await new_clock(api, "2026-11-05T00:00:00Z")
    tokyo = await tenant_on(api, "Tokyo", clock, timezone="Asia/Tokyo")
    utc = await tenant_on(api, "London", clock)
    await new_meter(api, "api_calls")
    for tenant in (tokyo, utc):
        await record_all(
            api,
            [
                event(tenant, "api_calls", 1, "2026-10-31T16:00:00Z"),  # 2026-11-01 01:00 in Tokyo
                event(tenant, "api_calls", 10, "2026-10-31T14:59:59Z"),  # 2026-10-31 23:59:59 in Tokyo
            ],
        )

    assert await month_count(api, tokyo, "api_calls", "2026-11") == 1
    assert await month_count(api, tokyo, "api_calls", "2026-10") == 10
    assert await date_count(api, tokyo, "api_calls", "2026-11-01") == 1
    assert await date_count(api, tokyo, "api_calls", "2026-10-31") == 10
    assert await this_month_count(api, tokyo, "api_calls") == 1
    assert await period_counts(api, tokyo, "api_calls", "2026-10-31", "2026-11-01") == [
        ("2026-10-31", 10),
        ("2026-11-01", 1),
    ]

    assert await month_count(api, utc, "api_calls", "2026-10") == 11
    assert await month_count(api, utc, "api_calls", "2026-11") == 0
    assert await date_count(api, utc, "api_calls", "2026-10-31") == 11
    assert await date_count(api, utc, "api_calls", "2026-11-01") == 0
    assert await this_month_count(api, utc, "api_calls") == 0


async def test_changing_max_to_sum_changes_every_count_past_ones_too(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Storage heavy", clock)
    meter = await new_meter(api, "storage_gb", "MAX")
    await record_all(
        api,
        [
            event(tenant, "storage_gb", 4, "2026-02-10T01:00:00Z"),
            event(tenant, "storage_gb", 6, "2026-02-10T02:00:00Z"),
            event(tenant, "storage_gb", 5, "2026-02-11T00:00:00Z"),
            event(tenant, "storage_gb", 2, "2026-03-10T01:00:00Z"),
            event(tenant, "storage_gb", 1, "2026-03-10T03:00:00Z"),
        ],
    )

    async def counts() -> tuple[float, ...]:
        """February, 2026-02-10, this month, today, and 2026-02-10/11 by period."""
        period = await period_counts(api, tenant, "storage_gb", "2026-02-10", "2026-02-11")
        return (
            await month_count(api, tenant, "storage_gb", "2026-02"),
            await date_count(api, tenant, "storage_gb", "2026-02-10"),
            await this_month_count(api, tenant, "storage_gb"),
            await today_count(api, tenant, "storage_gb"),
            *(count for _, count in period),
        )

    assert await counts() == (6, 6, 2, 2, 6, 5)
    assert (await update_meter(api, meter, "SUM"))["aggregation"] == "SUM"
    assert await counts() == (15, 10, 3, 3, 10, 5)
    assert await month_count_of(api, tenant, "storage_gb", "2026-02") == {
        "meterName": "storage_gb",
        "aggregation": "SUM",
        "count": 15,
    }
    await update_meter(api, meter, "COUNT")
    assert await counts() == (3, 2, 2, 2, 2, 1)
    await update_meter(api, meter, "LATEST")
    assert await counts() == (5, 6, 1, 1, 6, 5)
    assert (await month_counts(api, tenant, "2026-02"))[0]["aggregation"] == "LATEST"


async def test_add_sub_and_direct_on_one_second_and_deleting_the_point(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Seconds", clock)
    meter = await new_meter(api, "api_calls")
    second = "2026-03-10T10:00:00+00:00"

    steps = [
        (5, "ADD", "2026-03-10T10:00:00.700Z", 5),
        (2.5, None, "2026-03-10T10:00:00.200Z", 7.5),
        (10, "SUB", second, -2.5),
        (4, "DIRECT", second, 4),
        (0.25, "SUB", second, 3.75),
    ]
    for value, method, at, after in steps:
        result = await record(api, tenant, "api_calls", value, at, method)
        assert result == {
            "__typename": "UsageRecorded",
            "meterName": "api_calls",
            "timestamp": second,
            "value": after,
            "duplicate": False,
        }, (value, method)
    assert (await record(api, tenant, "api_calls", 1, "2026-03-10T11:00:00Z"))["value"] == 1
    assert (await record(api, tenant, "api_calls", 2, "2026-03-10T11:30:00Z", "SUB"))["value"] == -2
    assert await date_count(api, tenant, "api_calls", "2026-03-10") == 3.75 + 1 - 2

    deleted = await delete_usage(api, tenant, "api_calls", "2026-03-10T10:00:00.999Z")
    assert deleted == {
        "__typename": "UsageDeleted",
        "meterName": "api_calls",
        "timestamp": second,
        "deleted": True,
    }
    assert await date_count(api, tenant, "api_calls", "2026-03-10") == 1 - 2
    assert (await delete_usage(api, tenant, "api_calls", second))["deleted"] is False
    # A new event at that second starts from nothing.
    assert (await record(api, tenant, "api_calls", 3, second))["value"] == 3
    assert await month_count(api, tenant, "api_calls", "2026-03") == 3 + 1 - 2

    # The day's largest and latest points follow deletions too: 10:00 = 3, 11:00 = 1, 11:30 = -2.
    await update_meter(api, meter, "LATEST")
    assert await date_count(api, tenant, "api_calls", "2026-03-10") == -2
    assert (await delete_usage(api, tenant, "api_calls", "2026-03-10T11:30:00Z"))["deleted"] is True
    assert await date_count(api, tenant, "api_calls", "2026-03-10") == 1
    await update_meter(api, meter, "MAX")
    assert await date_count(api, tenant, "api_calls", "2026-03-10") == 3
    assert (await delete_usage(api, tenant, "api_calls", second))["deleted"] is True
    assert await date_count(api, tenant, "api_calls", "2026-03-10") == 1


async def test_values_are_kept_to_six_decimals(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Precise", clock)
    await new_meter(api, "gb_hours")
    assert (await record(api, tenant, "gb_hours", 0.1, NOW))["value"] == 0.1
    assert (await record(api, tenant, "gb_hours", 0.2, NOW))["value"] == 0.3
    assert (await record(api, tenant, "gb_hours", 0.0000004, NOW))["value"] == 0.3
    assert (await record(api, tenant, "gb_hours", 0.0000006, NOW))["value"] == 0.300001
    assert await today_count(api, tenant, "gb_hours") == 0.300001
    too_big = await record(api, tenant, "gb_hours", 1.5e11, NOW)
    assert (too_big["code"], too_big["field"]) == ("VALIDATION_FAILED", "input.value"), too_big


async def test_a_retried_event_counts_once(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Retrying", clock)
    await new_meter(api, "api_calls")
    at = "2026-03-10T10:00:00Z"

    first = await record(api, tenant, "api_calls", 3, at, key="evt-1")
    again = await record(api, tenant, "api_calls", 3, at, key="evt-1")
    assert (first["duplicate"], first["value"]) == (False, 3)
    assert (again["duplicate"], again["value"], again["timestamp"]) == (True, 3, "2026-03-10T10:00:00+00:00")

    # Without a timestamp the event lands on the clock; retried later, it is the same event.
    assert (await record(api, tenant, "api_calls", 1, key="evt-now"))["duplicate"] is False
    await advance(api, clock, "2026-03-10T12:01:00Z")
    retried = await record(api, tenant, "api_calls", 1, key="evt-now")
    assert (retried["duplicate"], retried["timestamp"], retried["value"]) == (
        True,
        "2026-03-10T12:00:00+00:00",
        1,
    )
    assert await today_count(api, tenant, "api_calls") == 4

    conflict = await record(api, tenant, "api_calls", 4, at, key="evt-1")
    assert conflict["__typename"] == "IdempotencyConflictError"
    assert conflict["code"] == "IDEMPOTENCY_CONFLICT", conflict
    moved = await record(api, tenant, "api_calls", 3, "2026-03-10T10:00:01Z", key="evt-1")
    assert moved["code"] == "IDEMPOTENCY_CONFLICT", moved
    assert await today_count(api, tenant, "api_calls") == 4

    # Keys are per tenant: another tenant's "evt-1" is its own event.
    neighbour = await tenant_on(api, "Neighbour", clock)
    assert (await record(api, neighbour, "api_calls", 3, at, key="evt-1"))["duplicate"] is False
    assert await today_count(api, neighbour, "api_calls") == 3


async def test_a_replayed_batch_reports_every_event_as_a_duplicate_and_counts_once(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Replaying", clock)
    await new_meter(api, "api_calls")
    events = [event(tenant, "api_calls", n, f"2026-03-10T0{n}:00:00Z", key=f"batch-{n}") for n in (1, 2, 3)]

    assert await record_batch(api, events) == {
        "__typename": "UsageBatchRecorded",
        "accepted": 3,
        "duplicates": 0,
        "errors": [],
    }
    assert await record_batch(api, events) == {
        "__typename": "UsageBatchRecorded",
        "accepted": 0,
        "duplicates": 3,
        "errors": [],
    }
    assert await today_count(api, tenant, "api_calls") == 6

    # One replayed, one changed under its key, one new sent twice: only the new one counts, once.
    new = event(tenant, "api_calls", 4, key="batch-4")
    mixed = [events[0], {**events[1], "value": 20}, new, new]
    result = await record_batch(api, mixed)
    assert (result["accepted"], result["duplicates"]) == (1, 2), result
    assert [(e["index"], e["code"]) for e in result["errors"]] == [(1, "IDEMPOTENCY_CONFLICT")]
    assert await today_count(api, tenant, "api_calls") == 10


async def test_an_idempotency_key_is_forgotten_after_35_days(api: Api, deps: Deps, clock: FixedClock) -> None:
    test_clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Forgetful", test_clock)
    await new_meter(api, "api_calls")
    at = "2026-03-10T10:00:00Z"
    assert (await record(api, tenant, "api_calls", 3, at, key="evt-1"))["duplicate"] is False

    clock.set(START + timedelta(days=34))
    await usage.purge_expired_keys(deps)
    assert (await record(api, tenant, "api_calls", 3, at, key="evt-1"))["duplicate"] is True
    assert await today_count(api, tenant, "api_calls") == 3

    clock.set(START + timedelta(days=36))
    await usage.purge_expired_keys(deps)
    again = await record(api, tenant, "api_calls", 3, at, key="evt-1")
    assert (again["duplicate"], again["value"]) == (False, 6)
    assert await today_count(api, tenant, "api_calls") == 6


async def test_a_batch_names_each_bad_event_by_index_and_counts_the_rest(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Batching", clock)
    await new_meter(api, "api_calls")
    result = await record_batch(
        api,
        [
            event(tenant, "api_calls", 1, "2026-03-10T10:00:00Z"),
            event(tenant, "api_calls", -1, "2026-03-10T10:00:00Z"),
            event(tenant, "no_such_meter", 1, "2026-03-10T10:00:00Z"),
            event(tenant, "api_calls", 1, "2026-03-10T12:10:00Z"),
            event(tenant, "api_calls", 2, "2026-03-10T10:00:00Z"),
            event(tenant, "api_calls", 4, "2026-03-10T11:00:00Z"),
        ],
    )
    assert (result["accepted"], result["duplicates"]) == (3, 0), result
    assert [(e["index"], e["code"], e["field"]) for e in result["errors"]] == [
        (1, "VALIDATION_FAILED", "events[1].value"),
        (2, "NOT_FOUND", None),
        (3, "VALIDATION_FAILED", "events[3].timestamp"),
    ]
    assert "SUB" in result["errors"][0]["message"]
    assert "no_such_meter" in result["errors"][1]["message"]
    assert await today_count(api, tenant, "api_calls") == 7
    assert await period_counts(api, tenant, "api_calls", "2026-03-10", "2026-03-10") == [("2026-03-10", 7)]


async def test_a_batch_of_more_than_10000_events_is_refused_whole(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Flooding", clock)
    await new_meter(api, "api_calls")
    one = event(tenant, "api_calls", 1, "2026-03-10T10:00:00Z")
    result = await record_batch(api, [one] * 10_001)
    assert (result["__typename"], result["field"]) == ("ValidationError", "events"), result
    assert "10,000" in result["message"]
    assert await today_count(api, tenant, "api_calls") == 0


async def test_timestamps_more_than_five_minutes_ahead_of_the_tenants_clock_are_refused(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Early", clock)
    await new_meter(api, "api_calls")

    ahead = await record(api, tenant, "api_calls", 1, "2026-03-10T12:04:00Z")
    assert (ahead["__typename"], ahead["timestamp"]) == ("UsageRecorded", "2026-03-10T12:04:00+00:00")
    for at in ("2026-03-10T12:06:00Z", "2026-03-10T21:10:00+09:00", "2027-01-01T00:00:00Z"):
        refused = await record(api, tenant, "api_calls", 1, at)
        assert (refused["code"], refused["field"]) == ("VALIDATION_FAILED", "input.timestamp"), (at, refused)
    naive = await record(api, tenant, "api_calls", 1, "2026-03-10T10:00:00")
    assert (naive["code"], naive["field"]) == ("VALIDATION_FAILED", "input.timestamp"), naive
    assert await today_count(api, tenant, "api_calls") == 1


async def test_count_queries_refuse_bad_months_and_periods(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Asking", clock)
    await new_meter(api, "api_calls")
    month = (
        'query($t: ID!, $month: String!) { meterUnitMonthCount(tenantId: $t, meterName: "api_calls", '
        "month: $month) { count } }"
    )
    months = "query($t: ID!, $month: String!) { meterUnitMonthCounts(tenantId: $t, month: $month) { count } }"
    bad_months = ("2026-13", "2026-3", "March", "2026-03-01", "\u0662\u0660\u0662\u0666-03", "2026-03\n")
    for query, bad in [(q, m) for m in bad_months for q in (month, months)]:
        body = await api.raw(query, {"t": tenant, "month": bad})
        assert error_codes(body) == [("VALIDATION_FAILED", "month")], (bad, body)

    def period(first: str, last: str) -> dict[str, str]:
        return {"t": tenant, "m": "api_calls", "from": first, "to": last}

    body = await api.raw(PERIOD, period("2026-03-10", "2026-03-09"))
    assert error_codes(body) == [("VALIDATION_FAILED", "to")], body
    body = await api.raw(PERIOD, period("2025-01-01", "2026-01-02"))  # 367 days
    assert error_codes(body) == [("VALIDATION_FAILED", "to")], body
    year = await period_counts(api, tenant, "api_calls", "2025-01-01", "2026-01-01")  # 366 days
    assert (len(year), year[0], year[-1]) == (366, ("2025-01-01", 0), ("2026-01-01", 0))


async def test_the_last_days_of_the_calendar_count_without_a_server_error(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Far future", clock)
    await new_meter(api, "api_calls")
    assert await date_count(api, tenant, "api_calls", "9999-12-31") == 0
    assert await month_count(api, tenant, "api_calls", "9999-12") == 0
    assert [c["count"] for c in await date_counts(api, tenant, "9999-12-31")] == [0]
    assert [c["count"] for c in await month_counts(api, tenant, "9999-12")] == [0]
    days = await period_counts(api, tenant, "api_calls", "9999-12-30", "9999-12-31")
    assert days == [("9999-12-30", 0), ("9999-12-31", 0)]


async def test_a_day_a_clock_change_splits_keeps_its_maximum_and_latest_point(api: Api) -> None:
    """St. John's fell back at 00:01 in 2009: an hour of Oct 31 came after Nov 1 began."""
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Newfoundland", clock, timezone="America/St_Johns")
    await new_meter(api, "gauge", "MAX")
    await record_all(
        api,
        [
            event(tenant, "gauge", 5, "2009-11-01T02:00:00Z"),  # Oct 31, 23:30 NDT
            event(tenant, "gauge", 7, "2009-11-01T02:45:00Z"),  # Oct 31, 23:15 NST: after the fall-back
            event(
                tenant, "gauge", 9, "2009-11-01T03:00:00Z"
            ),  # Oct 31, 23:30 NST, the day's latest and largest
        ],
    )
    assert await date_count(api, tenant, "gauge", "2009-10-31") == 9
    assert (await delete_usage(api, tenant, "gauge", "2009-11-01T03:00:00Z"))["deleted"] is True
    assert await date_count(api, tenant, "gauge", "2009-10-31") == 7
    gauge = (await api("{ meters { id name } }"))["meters"][0]["id"]
    assert (await update_meter(api, gauge, "LATEST"))["aggregation"] == "LATEST"
    assert await date_count(api, tenant, "gauge", "2009-10-31") == 7  # 02:45Z is now the latest point


async def test_unknown_meters_are_not_found(api: Api) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Guessing", clock)
    await new_meter(api, "api_calls")
    result = await record(api, tenant, "api_calls_v2", 1)
    assert (result["__typename"], result["code"]) == ("NotFoundError", "NOT_FOUND"), result
    assert (await delete_usage(api, tenant, "api_calls_v2", "2026-03-10T10:00:00Z"))["code"] == "NOT_FOUND"
    body = await api.raw(
        'query($t: ID!) { meterUnitTodayCount(tenantId: $t, meterName: "nope") { count } }', {"t": tenant}
    )
    assert error_codes(body) == [("NOT_FOUND", None)], body
    body = await api.raw(PERIOD, {"t": tenant, "m": "nope", "from": "2026-03-01", "to": "2026-03-02"})
    assert error_codes(body) == [("NOT_FOUND", None)], body


async def test_meter_names_are_unique_lowercase_words(api: Api) -> None:
    created = await create_meter(api, "api_calls", "MAX", displayName="API calls")
    assert (created["name"], created["displayName"], created["aggregation"]) == (
        "api_calls",
        "API calls",
        "MAX",
    )
    assert (await create_meter(api, "storage_gb"))["aggregation"] == "SUM"
    twice = await create_meter(api, "api_calls")
    assert (twice["code"], twice["field"]) == ("VALIDATION_FAILED", "input.name"), twice
    for bad in ("API-Calls", "api calls", "", "x" * 65):
        result = await create_meter(api, bad)
        assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "input.name"), (bad, result)
    meters = (await api("{ meters { name aggregation } }"))["meters"]
    assert meters == [
        {"name": "api_calls", "aggregation": "MAX"},
        {"name": "storage_gb", "aggregation": "SUM"},
    ]


async def test_nan_and_infinity_are_refused_as_usage_values(api: Api, deps: Deps) -> None:
    clock = await new_clock(api, NOW)
    tenant = await tenant_on(api, "Not a number", clock)
    await new_meter(api, "api_calls")
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValidationFailed) as raised:
            await usage.record_usage(
                deps, operator(), {"tenantId": tenant, "meterName": "api_calls", "value": value}
            )
        assert raised.value.field == "input.value", value

    # NaN and Infinity are not JSON, but Python's parser reads them: they must not reach a 500.
    single = (
        'mutation($v: Float!, $t: ID!) { recordUsage(input: {tenantId: $t, meterName: "api_calls", '
        "value: $v}) { __typename ... on Error { code } } }"
    )
    batch = (
        "mutation($e: [RecordUsageInput!]!) { recordUsageBatch(events: $e) { __typename "
        "... on UsageBatchRecorded { accepted errors { index code field } } ... on Error { code } } }"
    )
    bodies = [
        json.dumps({"query": single, "variables": {"t": tenant}})[:-2] + ', "v": NaN}}',
        json.dumps({"query": single, "variables": {"t": tenant}})[:-2] + ', "v": Infinity}}',
        json.dumps({"query": batch})[:-1] + f', "variables": {{"e": [{{"tenantId": "{tenant}", '
        '"meterName": "api_calls", "value": NaN}]}}',
    ]
    for raw in bodies:
        response = await api.http.post(
            "/graphql",
            content=raw,
            headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
        )
        assert response.status_code < 500, (raw, response.text)
        answer = response.json()
        data = answer.get("data") or {}
        codes = [e.get("extensions", {}).get("code") for e in answer.get("errors") or []]
        for result in data.values():
            codes.append((result or {}).get("code"))
            codes.extend(e["code"] for e in (result or {}).get("errors", []))
        codes = [c for c in codes if c]
        assert codes and "INTERNAL_SERVER_ERROR" not in codes, (raw, answer)
        assert all(r is None or r.get("accepted", 0) == 0 for r in data.values()), answer
    assert await today_count(api, tenant, "api_calls") == 0


async def test_a_partner_key_records_and_reads_its_tenants_usage_only(api: Api) -> None:
    clock = await new_clock(api, NOW)
    own = await tenant_on(api, "Own", clock)
    other = await tenant_on(api, "Other", clock)
    await new_meter(api, "api_calls")
    partner = api.as_key((await new_key(api, "PARTNER", own))["secret"])
    at = "2026-03-10T10:00:00Z"

    assert (await record(partner, own, "api_calls", 2, at))["value"] == 2
    result = await record_batch(partner, [event(own, "api_calls", 3, at), event(other, "api_calls", 5, at)])
    assert (result["accepted"], [(e["index"], e["code"]) for e in result["errors"]]) == (
        1,
        [(1, "NOT_FOUND")],
    )
    assert await today_count(partner, own, "api_calls") == 5
    assert await month_count(partner, own, "api_calls", "2026-03") == 5
    assert await this_month_count(partner, own, "api_calls") == 5
    assert await date_count(partner, own, "api_calls", "2026-03-10") == 5
    assert await date_counts(partner, own, "2026-03-10") == [
        {"meterName": "api_calls", "aggregation": "SUM", "count": 5}
    ]
    assert await month_counts(partner, own, "2026-03") == [
        {"meterName": "api_calls", "aggregation": "SUM", "count": 5}
    ]
    assert await period_counts(partner, own, "api_calls", "2026-03-10", "2026-03-10") == [("2026-03-10", 5)]

    assert (await record(partner, other, "api_calls", 1, at))["code"] == "NOT_FOUND"
    body = await partner.raw(
        'query($t: ID!) { meterUnitTodayCount(tenantId: $t, meterName: "api_calls") { count } }', {"t": other}
    )
    assert error_codes(body) == [("NOT_FOUND", None)], body

    # Another tenant's TENANT key can neither write nor read this tenant's usage.
    intruder = api.as_key((await new_key(api, "TENANT", other))["secret"])
    assert (await record(intruder, own, "api_calls", 100, at))["code"] == "NOT_FOUND"
    body = await intruder.raw(
        'query($t: ID!) { meterUnitMonthCounts(tenantId: $t, month: "2026-03") { count } }', {"t": own}
    )
    assert error_codes(body) == [("NOT_FOUND", None)], body
    assert await today_count(api, own, "api_calls") == 5
    assert await today_count(api, other, "api_calls") == 0


async def test_an_event_without_a_timestamp_lands_on_the_tenants_clock(api: Api) -> None:
    clock = await new_clock(api, "2026-03-10T15:30:42.750Z")
    tokyo = await tenant_on(api, "Tokyo", clock, timezone="Asia/Tokyo")  # 2026-03-11 00:30:42 there
    await new_meter(api, "api_calls")

    recorded = await record(api, tokyo, "api_calls", 2)
    assert (recorded["timestamp"], recorded["value"]) == ("2026-03-10T15:30:42+00:00", 2)
    assert (await record(api, tokyo, "api_calls", 1.25))["value"] == 3.25  # the same second
    assert await date_count(api, tokyo, "api_calls", "2026-03-11") == 3.25
    assert await date_count(api, tokyo, "api_calls", "2026-03-10") == 0
    assert await today_count(api, tokyo, "api_calls") == 3.25


TENANT_COUNTS = f"""query {{ tenants {{ edges {{ node {{ id
  meterUnitMonthCounts {{ {COUNT} }}
  october: meterUnitMonthCounts(month: "2026-10") {{ {COUNT} }} }} }} }} }}"""


async def test_each_tenant_in_a_list_counts_its_own_month_in_its_timezone_and_on_its_clock(api: Api) -> None:
    """Tenant.meterUnitMonthCounts answers what the top-level query does, per tenant:
    Tokyo's and London's November on a test clock, and January for a tenant on the
    process clock; every aggregation."""
    clock = await new_clock(api, "2026-11-05T00:00:00Z")
    tokyo = await tenant_on(api, "Tokyo", clock, timezone="Asia/Tokyo")
    london = await tenant_on(api, "London", clock, timezone="Europe/London")
    here = await tenant_on(api, "Here", None)  # the process clock: 2026-01-15
    for name, aggregation in (
        ("api_calls", "SUM"),
        ("peak_users", "MAX"),
        ("logins", "COUNT"),
        ("storage_gb", "LATEST"),
    ):
        await new_meter(api, name, aggregation)
    for n, tenant in enumerate((tokyo, london)):
        await record_all(
            api,
            [
                event(tenant, meter, value + n, at)
                for meter in ("api_calls", "peak_users", "logins", "storage_gb")
                for value, at in (
                    (1, "2026-10-31T16:00:00Z"),
                    (10, "2026-10-31T14:59:59Z"),
                    (4, "2026-11-02T09:00:00Z"),
                    (7, "2026-10-03T00:00:00Z"),
                )
            ],
        )
    await record_all(
        api,
        [
            event(here, "api_calls", 3, "2026-01-02T00:00:00Z"),
            event(here, "api_calls", 5, "2026-01-14T00:00:00Z"),
        ],
    )

    nodes = {e["node"]["id"]: e["node"] for e in (await api(TENANT_COUNTS))["tenants"]["edges"]}
    for tenant, this_month in ((tokyo, "2026-11"), (london, "2026-11"), (here, "2026-01")):
        assert nodes[tenant]["meterUnitMonthCounts"] == await month_counts(api, tenant, this_month), tenant
        assert nodes[tenant]["october"] == await month_counts(api, tenant, "2026-10"), tenant
    # Tokyo's November starts at 2026-10-31T15:00Z, so it holds the 1 and the 4.
    assert [c["count"] for c in nodes[tokyo]["meterUnitMonthCounts"]] == [5, 4, 2, 4]
    assert [c["count"] for c in nodes[london]["meterUnitMonthCounts"]] == [5, 5, 1, 5]
    assert [c["count"] for c in nodes[london]["october"]] == [8 + 11 + 2, 11, 3, 2]
    assert [(c["meterName"], c["count"]) for c in nodes[here]["meterUnitMonthCounts"]] == [
        ("api_calls", 8),
        ("peak_users", 0),
        ("logins", 0),
        ("storage_gb", 0),
    ]

    body = await api.raw(
        'query { tenants { edges { node { meterUnitMonthCounts(month: "2026-13") { count } } } } }'
    )
    assert error_codes(body)[:1] == [("VALIDATION_FAILED", "month")] and body["data"] is None, body


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_tenant_whose_month_cannot_be_named_fails_alone_in_a_list(api: Api) -> None:
    await new_meter(api, "api_calls", "SUM")
    await new_tenant(api, "Ordinary")
    clock = await new_clock(api, "9999-12-31T20:00:00Z")
    late = await tenant_on(
        api, "Kiritimati", clock, timezone="Pacific/Kiritimati"
    )  # already year 10000 there
    body = await api.raw("{ tenants { edges { node { id meterUnitMonthCounts { count } } } } }")
    ids = [e["node"]["id"] for e in (await api("{ tenants { edges { node { id } } } }"))["tenants"]["edges"]]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["tenants", "edges", ids.index(late), "node", "meterUnitMonthCounts"], "VALIDATION_FAILED"),
    ], body
