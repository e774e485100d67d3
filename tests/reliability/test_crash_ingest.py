"""`kill -9` of the serving process in the middle of batched usage ingestion, on SQLite
and PostgreSQL: what a partner saw acknowledged survives, a batch is all or nothing,
and replaying every batch with its idempotency keys counts each event exactly once.

Each batch writes to a day of its own (on one of three tenants), so the day's count
says exactly what became of the batch: 0 (lost with the process, never acknowledged),
its full sum (committed), anything else a half-written or double-counted batch. Values
within a batch are all different, so one event counted twice changes the sum."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders.api import Api, new_tenant
from tests.builders.live import LiveServer, admin_api, running, server_errors
from tests.builders.metering import new_meter

pytestmark = pytest.mark.serve

BATCHES = 24
CLIENTS = 4
TENANTS = 3
KILL_AFTER = 6  # batches acknowledged before the process is killed
METER = "api_calls"
FIRST_DAY = date(2026, 1, 1)
FROZEN = "2026-03-01T00:00:00Z"  # the tenants' test clock: every batch's day is in its past
BATCH = """mutation($events: [RecordUsageInput!]!) { recordUsageBatch(events: $events) { __typename
  ... on UsageBatchRecorded { accepted duplicates errors { index code message } }
  ... on Error { code message } } }"""
PERIOD = """query($t: ID!, $m: String!, $from: Date!, $to: Date!) {
  meterUnitPeriodCounts(tenantId: $t, meterName: $m, from: $from, to: $to) { date count } }"""
MONTH = """query($t: ID!, $m: String!, $month: String!) {
  meterUnitMonthCount(tenantId: $t, meterName: $m, month: $month) { aggregation count } }"""


@dataclass(frozen=True)
class Batch:
    number: int
    tenant: str
    day: date
    events: list[dict[str, Any]] = field(repr=False)

    @property
    def total(self) -> int:
        return sum(int(e["value"]) for e in self.events)


def make_batches(tenants: list[str]) -> list[Batch]:
    """200 to 500 events a batch, one a minute from midnight of the batch's day, valued
    1, 2, 3, ... each with its own idempotency key."""
    batches = []
    for number in range(BATCHES):
        day = FIRST_DAY + timedelta(days=number)
        midnight = datetime.combine(day, time(), timezone.utc)
        size = 200 + (number * 61) % 301
        tenant = tenants[number % TENANTS]
        events = [
            {
                "tenantId": tenant,
                "meterName": METER,
                "value": float(i + 1),
                "timestamp": (midnight + timedelta(minutes=i)).isoformat(),
                "idempotencyKey": f"crash-{number}-{i}",
            }
            for i in range(size)
        ]
        batches.append(Batch(number, tenant, day, events))
    return batches


async def send(http: httpx.AsyncClient, batch: Batch) -> dict[str, Any]:
    """The UsageBatchRecorded reply; anything but one is the test's failure."""
    response = await http.post("/graphql", json={"query": BATCH, "variables": {"events": batch.events}})
    assert response.status_code == 200, f"batch {batch.number}: {response.status_code} {response.text[:500]}"
    body = response.json()
    assert not body.get("errors"), f"batch {batch.number}: {body['errors']}"
    reply = body["data"]["recordUsageBatch"]
    assert reply["__typename"] == "UsageBatchRecorded" and reply["errors"] == [], (
        f"batch {batch.number}: {reply}"
    )
    return reply


@dataclass
class Ingestion:
    """What the partner's clients saw before and after the kill."""

    acknowledged: set[int] = field(default_factory=set)
    in_flight: set[int] = field(default_factory=set)
    in_flight_at_kill: set[int] = field(default_factory=set)
    killed: bool = False


async def ingest_until_killed(server: LiveServer, batches: list[Batch]) -> Ingestion:
    """CLIENTS concurrent keep-alive clients send batches; after KILL_AFTER acknowledgements
    the serving process is SIGKILLed while the others' batches are in flight."""
    state = Ingestion()
    queue = iter(batches)
    enough = asyncio.Event()

    async def client() -> None:
        async with server.http() as http:
            while not state.killed and (batch := next(queue, None)) is not None:
                state.in_flight.add(batch.number)
                try:
                    reply = await send(http, batch)
                except httpx.TransportError:
                    if not state.killed:
                        raise
                    return  # the server is gone: this batch's fate is unknown to the client
                finally:
                    state.in_flight.discard(batch.number)
                assert (reply["accepted"], reply["duplicates"]) == (len(batch.events), 0), reply
                state.acknowledged.add(batch.number)
                if len(state.acknowledged) >= KILL_AFTER:
                    enough.set()

    async def killer() -> None:
        await enough.wait()
        # A moment later than the last acknowledgement, different each run, so that over
        # many runs the kill lands at every step of a batch: parsing, writing, committing.
        await asyncio.sleep(random.uniform(0, 0.05))
        state.in_flight_at_kill = set(state.in_flight)
        state.killed = True
        server.kill()

    kill = asyncio.create_task(killer())
    clients = [asyncio.create_task(client()) for _ in range(CLIENTS)]
    try:
        await asyncio.wait_for(asyncio.gather(*clients), timeout=120)
        await asyncio.wait_for(kill, timeout=5)
    finally:  # one client failed: stop the others and the killer
        for task in (kill, *clients):
            task.cancel()
    return state


async def day_counts(api: Api, tenants: list[str]) -> dict[tuple[str, date], float]:
    """Every (tenant, day) count over the batches' days, zeros included."""
    last = FIRST_DAY + timedelta(days=BATCHES - 1)
    counts = {}
    for tenant in tenants:
        days = await api(
            PERIOD, {"t": tenant, "m": METER, "from": FIRST_DAY.isoformat(), "to": last.isoformat()}
        )
        for entry in days["meterUnitPeriodCounts"]:
            counts[(tenant, date.fromisoformat(entry["date"]))] = entry["count"]
    return counts


async def month_totals(api: Api, tenant: str) -> float:
    months = sorted({(FIRST_DAY + timedelta(days=n)).strftime("%Y-%m") for n in range(BATCHES)})
    total = 0.0
    for month in months:
        count = (await api(MONTH, {"t": tenant, "m": METER, "month": month}))["meterUnitMonthCount"]
        assert count["aggregation"] == "SUM"
        total += count["count"]
    return total


def committed_batches(batches: list[Batch], counts: dict[tuple[str, date], float]) -> set[int]:
    """The batches whose day holds their whole sum; fails on any day holding anything
    but 0 or its batch's whole sum."""
    partial = {
        b.number: (counts[(b.tenant, b.day)], b.total)
        for b in batches
        if counts[(b.tenant, b.day)] not in (0, b.total)
    }
    assert not partial, f"half-written or double-counted batches (count, batch sum): {partial}"
    strays = {key: c for key, c in counts.items() if c and key not in {(b.tenant, b.day) for b in batches}}
    assert not strays, f"usage on days no batch wrote: {strays}"
    return {b.number for b in batches if counts[(b.tenant, b.day)] == b.total}


async def replay_all(server: LiveServer, batches: list[Batch]) -> dict[int, dict[str, Any]]:
    queue = iter(batches)
    replies: dict[int, dict[str, Any]] = {}

    async def client() -> None:
        async with server.http() as http:
            while (batch := next(queue, None)) is not None:
                replies[batch.number] = await send(http, batch)

    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(CLIENTS))), timeout=120)
    return replies


async def test_kill_9_during_batched_ingestion_loses_no_acknowledged_event_and_replays_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    first = LiveServer(db_url, tmp_path / "first.log")
    try:
        await first.start()
        async with admin_api(first) as api:
            clock = (
                await api(
                    "mutation($t: DateTime!) { createTestClock(frozenTime: $t) { ... on TestClock { id } } }",
                    {"t": FROZEN},
                )
            )["createTestClock"]["id"]
            tenants = [await new_tenant(api, f"Partner {n}", test_clock_id=clock) for n in range(TENANTS)]
            await new_meter(api, METER, "SUM")
        batches = make_batches(tenants)
        seen = await ingest_until_killed(first, batches)
    finally:
        first.stop()
    assert server_errors(first) == [], "errors logged before the kill"
    assert seen.killed and seen.in_flight_at_kill, "the kill must land while batches are in flight"
    assert len(seen.acknowledged) < BATCHES, (
        "every batch was acknowledged before the kill: nothing was in flight"
    )

    async with (
        running(db_url, tmp_path / "second.log", admin_key=first.admin_key) as second,
        admin_api(second) as api,
    ):
        counts = await day_counts(api, tenants)
        stored = committed_batches(batches, counts)
        lost = seen.acknowledged - stored
        assert not lost, f"acknowledged batches missing after the restart: {sorted(lost)}"
        for tenant in tenants:
            assert await month_totals(api, tenant) == sum(
                b.total for b in batches if b.tenant == tenant and b.number in stored
            )

        replies = await replay_all(second, batches)
        wrong = {
            b.number: replies[b.number]
            for b in batches
            if (replies[b.number]["accepted"], replies[b.number]["duplicates"])
            != ((0, len(b.events)) if b.number in stored else (len(b.events), 0))
        }
        assert not wrong, (
            f"replies that do not match what was stored before the replay ({sorted(stored)}): {wrong}"
        )

        final = await day_counts(api, tenants)
        assert committed_batches(batches, final) == {b.number for b in batches}
        by_tenant: dict[str, int] = defaultdict(int)
        for b in batches:
            by_tenant[b.tenant] += b.total
        for tenant in tenants:
            assert await month_totals(api, tenant) == by_tenant[tenant]
        assert server_errors(second) == []
