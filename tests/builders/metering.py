"""Metering steps as a client performs them over GraphQL: meters, usage events and
every count query."""

from __future__ import annotations

from typing import Any

from tests.builders.api import Api

RECORDED = """__typename ... on UsageRecorded { meterName timestamp value duplicate }
  ... on ValidationError { field } ... on Error { code message }"""
BATCH = """__typename ... on UsageBatchRecorded { accepted duplicates errors { index code message field } }
  ... on ValidationError { field } ... on Error { code message }"""
COUNT = "meterName aggregation count"


async def create_meter(api: Api, name: str, aggregation: str = "SUM", **fields: Any) -> dict[str, Any]:
    """The CreateMeterResult: a Meter {id name displayName aggregation} or an error."""
    return (
        await api(
            """mutation($input: CreateMeterInput!) { createMeter(input: $input) { __typename
             ... on Meter { id name displayName aggregation } ... on ValidationError { field }
             ... on Error { code message } } }""",
            {"input": {"name": name, "aggregation": aggregation, **fields}},
        )
    )["createMeter"]


async def new_meter(api: Api, name: str, aggregation: str = "SUM") -> str:
    meter = await create_meter(api, name, aggregation)
    assert meter["__typename"] == "Meter", meter
    return meter["id"]


async def update_meter(api: Api, meter_id: str, aggregation: str) -> dict[str, Any]:
    return (
        await api(
            """mutation($id: ID!, $a: Aggregation!) { updateMeter(id: $id, aggregation: $a) { __typename
             ... on Meter { id name aggregation } ... on Error { code message } } }""",
            {"id": meter_id, "a": aggregation},
        )
    )["updateMeter"]


def event(
    tenant_id: str,
    meter: str,
    value: float,
    at: str | None = None,
    method: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """A RecordUsageInput; fields left out take the API's defaults."""
    spec: dict[str, Any] = {"tenantId": tenant_id, "meterName": meter, "value": value}
    if at is not None:
        spec["timestamp"] = at
    if method is not None:
        spec["method"] = method
    if key is not None:
        spec["idempotencyKey"] = key
    return spec


async def record(
    api: Api,
    tenant_id: str,
    meter: str,
    value: float,
    at: str | None = None,
    method: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """The RecordUsageResult: UsageRecorded {meterName timestamp value duplicate} or an error."""
    return (
        await api(
            f"mutation($input: RecordUsageInput!) {{ recordUsage(input: $input) {{ {RECORDED} }} }}",
            {"input": event(tenant_id, meter, value, at, method, key)},
        )
    )["recordUsage"]


async def record_batch(api: Api, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The RecordUsageBatchResult: UsageBatchRecorded {accepted duplicates errors} or a ValidationError."""
    return (
        await api(
            f"mutation($events: [RecordUsageInput!]!) {{ recordUsageBatch(events: $events) {{ {BATCH} }} }}",
            {"events": events},
        )
    )["recordUsageBatch"]


async def record_all(api: Api, events: list[dict[str, Any]]) -> None:
    """Record events that must all be accepted."""
    result = await record_batch(api, events)
    assert (result.get("accepted"), result.get("errors")) == (len(events), []), result


async def delete_usage(api: Api, tenant_id: str, meter: str, at: str) -> dict[str, Any]:
    """The DeleteUsageResult: UsageDeleted {meterName timestamp deleted} or an error."""
    return (
        await api(
            """mutation($t: ID!, $m: String!, $at: DateTime!) { deleteUsage(tenantId: $t, meterName: $m,
             timestamp: $at) { __typename ... on UsageDeleted { meterName timestamp deleted }
             ... on ValidationError { field } ... on Error { code message } } }""",
            {"t": tenant_id, "m": meter, "at": at},
        )
    )["deleteUsage"]


# -- counts: each returns the number; `*_counts` return [{meterName aggregation count}] ------------------


async def date_count(api: Api, tenant_id: str, meter: str, day: str) -> float:
    return (
        await api(
            f"""query($t: ID!, $m: String!, $d: Date!) {{
             meterUnitDateCount(tenantId: $t, meterName: $m, date: $d) {{ {COUNT} }} }}""",
            {"t": tenant_id, "m": meter, "d": day},
        )
    )["meterUnitDateCount"]["count"]


async def today_count(api: Api, tenant_id: str, meter: str) -> float:
    return (
        await api(
            f"""query($t: ID!, $m: String!) {{
             meterUnitTodayCount(tenantId: $t, meterName: $m) {{ {COUNT} }} }}""",
            {"t": tenant_id, "m": meter},
        )
    )["meterUnitTodayCount"]["count"]


async def month_count(api: Api, tenant_id: str, meter: str, month: str) -> float:
    return (await month_count_of(api, tenant_id, meter, month))["count"]


async def month_count_of(api: Api, tenant_id: str, meter: str, month: str) -> dict[str, Any]:
    """The whole MeterUnitCount {meterName aggregation count}."""
    return (
        await api(
            f"""query($t: ID!, $m: String!, $month: String!) {{
             meterUnitMonthCount(tenantId: $t, meterName: $m, month: $month) {{ {COUNT} }} }}""",
            {"t": tenant_id, "m": meter, "month": month},
        )
    )["meterUnitMonthCount"]


async def this_month_count(api: Api, tenant_id: str, meter: str) -> float:
    return (
        await api(
            f"""query($t: ID!, $m: String!) {{
             meterUnitThisMonthCount(tenantId: $t, meterName: $m) {{ {COUNT} }} }}""",
            {"t": tenant_id, "m": meter},
        )
    )["meterUnitThisMonthCount"]["count"]


async def date_counts(api: Api, tenant_id: str, day: str) -> list[dict[str, Any]]:
    return (
        await api(
            f"query($t: ID!, $d: Date!) {{ meterUnitDateCounts(tenantId: $t, date: $d) {{ {COUNT} }} }}",
            {"t": tenant_id, "d": day},
        )
    )["meterUnitDateCounts"]


async def month_counts(api: Api, tenant_id: str, month: str) -> list[dict[str, Any]]:
    return (
        await api(
            "query($t: ID!, $month: String!) "
            f"{{ meterUnitMonthCounts(tenantId: $t, month: $month) {{ {COUNT} }} }}",
            {"t": tenant_id, "month": month},
        )
    )["meterUnitMonthCounts"]


PERIOD = """query($t: ID!, $m: String!, $from: Date!, $to: Date!) {
  meterUnitPeriodCounts(tenantId: $t, meterName: $m, from: $from, to: $to) { date count } }"""


async def period_counts(
    api: Api, tenant_id: str, meter: str, first: str, last: str
) -> list[tuple[str, float]]:
    """[(date, count)] for each day from ``first`` to ``last``."""
    days = (await api(PERIOD, {"t": tenant_id, "m": meter, "from": first, "to": last}))[
        "meterUnitPeriodCounts"
    ]
    return [(d["date"], d["count"]) for d in days]


def error_codes(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    """[(extensions.code, extensions.field)] of a response's GraphQL errors."""
    return [(e["extensions"]["code"], e["extensions"].get("field")) for e in body.get("errors") or []]
